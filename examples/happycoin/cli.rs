//! Command-line parsing: flags to a [`Plan`] (and, with `--serve`, a
//! [`ServeConfig`]), or clap's error naming the offending flag or value and
//! what is accepted.
//!
//! clap (derive) reads the flags and checks each value on its own (ranges
//! through examples/common/flags.rs); [`resolve`] then applies the defaults
//! and the rules that tie flags together (`--procs` only for green modes,
//! `--batch` only for the pool, the `--serve` flags only with `--serve`,
//! ...). Its messages become clap errors too, so every mistake is reported
//! the same way: one line, the usage line, a pointer to `--help`, status 2.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::flags::ranged;
use crate::mine::{MineConfig, Order, Rng, DEFAULT_CHECKPOINT_EVERY};
use crate::modes::{Mode, Plan};
use crate::pool::PoolConfig;
use crate::serve_config::{
    ServeConfig, Server, DEFAULT_SERVE_CONNS, DEFAULT_SERVE_SECS, DEFAULT_SERVE_TIME_SLICE,
    MAX_LOOP_CHUNK, MAX_SERVE_CONNS, MAX_SERVE_SECS, MIN_SERVE_SECS,
};

/// Most workers accepted: enough for any machine this runs on, few enough
/// that a typo cannot start a million OS threads.
pub const MAX_WORKERS: usize = 4096;
/// Largest `--max-queue`.
pub const MAX_QUEUE: usize = 1_000_000;
/// Default `--draws`, the book's.
pub const DEFAULT_DRAWS: u64 = 10_000_000;

/// The output format, after the flags in `--help`.
const OUTPUT: &str = "\
Output on stdout: each coin, in draw order; `count : C`; then one line
  summary mode=M workers=N procs=P draws=D count=C elapsed_s=F draws_per_s=F
where procs is 1 for single and N for threads. A progress bar shows on
stderr for runs longer than a second when stderr is a terminal. With
--serve, elapsed_s covers the mining only, and one more line follows:
  serve server_mode=M addr=A conns=C time_slice_ms=T checkpoint_every=D
    loop_chunk=N baseline_secs=F baseline_round_trips=N baseline_rtt_per_s=F
    baseline_p50_us=F baseline_p99_us=F baseline_max_us=F baseline_errors=N
    baseline_mismatches=N mining_secs=F mining_round_trips=N ... (the same
    for the mining phase) mining_draws_per_s=F (during that window)
with - for a knob the design does not have. Any echo error or mismatch
makes the exit status 1.";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The job.
    pub plan: Plan,
    /// Leave the coins out of the output.
    pub quiet: bool,
    /// Serve echo beside the miners and measure it.
    pub serve: Option<ServeConfig>,
}

/// Draws random 64-bit numbers and counts the Happycoins among them: happy
/// numbers that are multiples of 10 000.
#[derive(Debug, Parser)]
#[command(name = "happycoin", after_help = OUTPUT)]
struct Flags {
    /// How the draws are spread over workers (default single)
    #[arg(long, value_name = "M", value_parser = mode_parser())]
    mode: Option<Mode>,
    /// Miners, 1 to 4096 (default: 1 for single, else the CPU count)
    #[arg(long, value_name = "N", value_parser = ranged(1usize, MAX_WORKERS))]
    workers: Option<usize>,
    /// green and pool: greenrt processors, 1 to 1024 (default: the smaller
    /// of N and GREENRT_PROCS, else of N and the CPU count)
    #[arg(long, value_name = "P", value_parser = ranged(1usize, greenrt::config::MAX_PROCS))]
    procs: Option<usize>,
    /// How many numbers to draw, 0 or more (default 10_000_000;
    /// underscores allowed)
    #[arg(long, value_name = "N", value_parser = ranged(0u64, u64::MAX))]
    draws: Option<u64>,
    /// The random number generator (default fast)
    #[arg(long = "rng", value_name = "R", value_parser = rng_parser())]
    rng_os: Option<bool>,
    /// Seed for --rng fast, 0 to 18446744073709551615 (default 0)
    #[arg(long, value_name = "S", allow_negative_numbers = true,
          value_parser = ranged(0u64, u64::MAX))]
    seed: Option<u64>,
    /// Test divisibility before happiness (the shortcut); the default tests
    /// happiness first, like the book
    #[arg(long)]
    reject_first: bool,
    /// pool: draws per batch, 1 or more (default 100_000)
    #[arg(long, value_name = "N", value_parser = ranged(1u64, u64::MAX))]
    batch: Option<u64>,
    /// pool: batches that may wait for a worker, 0 to 1_000_000 (default:
    /// 2 x N)
    #[arg(long, value_name = "N", value_parser = ranged(0usize, MAX_QUEUE))]
    max_queue: Option<usize>,
    /// Print only the count and summary lines, not the coins
    #[arg(long)]
    quiet: bool,

    /// Serve echo on ADDR, a loopback address (port 0 picks one), and
    /// measure it with an internal client: first for S seconds without
    /// mining, then while mining (until the mining ends or S seconds pass)
    #[arg(long, value_name = "ADDR", value_parser = loopback,
          help_heading = "Mining beside an echo server")]
    serve: Option<SocketAddr>,
    /// Which of examples/echo_server's designs serves (default green)
    #[arg(long = "server-mode", value_name = "M", value_parser = server_parser(),
          help_heading = "Mining beside an echo server")]
    server: Option<Server>,
    /// Client connections (one OS thread each), 1 to 256 (default 4);
    /// 64-byte round trips, every byte checked
    #[arg(long, value_name = "C", value_parser = ranged(1usize, MAX_SERVE_CONNS),
          help_heading = "Mining beside an echo server")]
    serve_conns: Option<usize>,
    /// Length of each phase in seconds, 0.1 to 60 (default 2)
    #[arg(long, value_name = "S", value_parser = ranged(MIN_SERVE_SECS, MAX_SERVE_SECS),
          help_heading = "Mining beside an echo server")]
    serve_secs: Option<f64>,
    /// green: the runtime's time slice in ms, 0.1 to 1000 (default 1;
    /// greenrt's own default is 10)
    #[arg(long, value_name = "T", value_parser = time_slice_ms_parser(),
          help_heading = "Mining beside an echo server")]
    time_slice_ms: Option<f64>,
    /// event-loop: draws mined between two polls, 1 to 10_000_000 (default
    /// 100_000, about 8 ms)
    #[arg(long, value_name = "N", value_parser = ranged(1u64, MAX_LOOP_CHUNK),
          help_heading = "Mining beside an echo server")]
    loop_chunk: Option<u64>,
}

/// `--mode`: one of [`Mode::ALL`] by name.
fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new(Mode::ALL.map(|m| {
        PossibleValue::new(m.name()).help(match m {
            Mode::Single => "One loop on the main thread, the book's reference program",
            Mode::Threads => "N OS threads, each mining a contiguous share",
            Mode::Green => {
                "N greenrt green threads on P processors, each mining a contiguous share"
            }
            Mode::Pool => "N green workers fed batches through a bounded channel",
        })
    }))
    .map(|name| Mode::from_name(&name).expect("a listed mode"))
}

/// `--rng`: true for `os`.
fn rng_parser() -> impl TypedValueParser<Value = bool> {
    PossibleValuesParser::new([
        PossibleValue::new("fast").help(
            "Seeded splitmix64: draw i depends only on the seed and i, \
             so every mode finds the same coins",
        ),
        PossibleValue::new("os").help("The OS's cryptographic generator, like the book's"),
    ])
    .map(|name| name == "os")
}

/// `--server-mode`: one of [`Server::NAMES`], with its default knob.
fn server_parser() -> impl TypedValueParser<Value = Server> {
    PossibleValuesParser::new(Server::NAMES.map(|name| {
        let server = Server::from_name(name).expect("a listed server design");
        PossibleValue::new(name).help(match server {
            Server::Green { .. } => {
                "Its green server on the miners' own runtime (--mode green or pool)"
            }
            Server::EventLoop { .. } => {
                "Its mio loop, mining on the loop's thread in chunks between polls (--mode single)"
            }
            Server::Thread => {
                "Its thread-per-connection server beside OS-thread miners (--mode threads)"
            }
        })
    }))
    .map(|name| Server::from_name(&name).expect("a listed server design"))
}

/// `--time-slice-ms`: the runtime's accepted time slices, in milliseconds.
fn time_slice_ms_parser() -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    ranged(
        ms(greenrt::config::MIN_TIME_SLICE),
        ms(greenrt::config::MAX_TIME_SLICE),
    )
}

/// Parses the arguments (without the program name). `Err` is clap's error:
/// a mistake (exit status 2), or the help text (`-h`, `--help`; status 0).
/// [`clap::Error::exit`] prints either where it belongs.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Request, clap::Error> {
    let program = std::iter::once(OsString::from("happycoin"));
    let flags = Flags::try_parse_from(program.chain(args))?;
    resolve(flags).map_err(|msg| Flags::command().error(ErrorKind::ArgumentConflict, msg))
}

/// Applies defaults and rejects flags that do not fit the mode.
fn resolve(raw: Flags) -> Result<Request, String> {
    let serve = resolve_serve(&raw)?;
    let mode = match (raw.mode, serve) {
        (Some(m), _) => m,
        (None, Some(s)) => s.server.default_mode(),
        (None, None) => Mode::Single,
    };
    if let Some(s) = serve {
        let fits = s.server.mining_modes();
        if !fits.contains(&mode) {
            let names: Vec<&str> = fits.iter().map(|m| m.name()).collect();
            return Err(format!(
                "--server-mode {} mines with --mode {}, not {mode}",
                s.server,
                names.join(" or ")
            ));
        }
    }
    if raw.procs.is_some() && !mode.is_green() {
        return Err(format!(
            "--procs applies only to --mode green and pool, not {mode}"
        ));
    }
    if mode != Mode::Pool {
        for (flag, given) in [
            ("--batch", raw.batch.is_some()),
            ("--max-queue", raw.max_queue.is_some()),
        ] {
            if given {
                return Err(format!("{flag} applies only to --mode pool, not {mode}"));
            }
        }
    }
    let rng_os = raw.rng_os.unwrap_or(false);
    if rng_os && raw.seed.is_some() {
        return Err("--seed applies only to --rng fast (os draws cannot be seeded)".into());
    }
    let workers = match (mode, raw.workers) {
        (Mode::Single, Some(n)) if n != 1 && serve.is_some() => {
            return Err(format!(
                "--server-mode event-loop mines on the loop's one thread, got --workers {n}"
            ))
        }
        (Mode::Single, Some(n)) if n != 1 => {
            return Err(format!(
                "--mode single runs one worker, got --workers {n}: use threads, green or pool"
            ))
        }
        (Mode::Single, _) => 1,
        (_, Some(n)) => n,
        (_, None) => cpu_count().min(MAX_WORKERS),
    };
    let procs = match mode {
        Mode::Single => 1,
        Mode::Threads => workers,
        Mode::Green | Mode::Pool => match raw.procs {
            Some(p) => p,
            None => workers.min(default_procs()?),
        },
    };
    let plan = Plan {
        mode,
        workers,
        procs,
        draws: raw.draws.unwrap_or(DEFAULT_DRAWS),
        rng: if rng_os {
            Rng::Os
        } else {
            Rng::Fast {
                seed: raw.seed.unwrap_or(0),
            }
        },
        mine: MineConfig {
            order: if raw.reject_first {
                Order::RejectFirst
            } else {
                Order::HappyFirst
            },
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
        },
        pool: PoolConfig {
            batch: raw.batch.unwrap_or(PoolConfig::default().batch),
            max_queue: raw.max_queue,
        },
    };
    Ok(Request {
        plan,
        quiet: raw.quiet,
        serve,
    })
}

/// The `--serve` part of the command line, checked for flags that belong to
/// another server design or need `--serve`.
fn resolve_serve(raw: &Flags) -> Result<Option<ServeConfig>, String> {
    let Some(addr) = raw.serve else {
        for (flag, given) in [
            ("--server-mode", raw.server.is_some()),
            ("--serve-conns", raw.serve_conns.is_some()),
            ("--serve-secs", raw.serve_secs.is_some()),
            ("--time-slice-ms", raw.time_slice_ms.is_some()),
            ("--loop-chunk", raw.loop_chunk.is_some()),
        ] {
            if given {
                return Err(format!("{flag} applies only with --serve ADDR"));
            }
        }
        return Ok(None);
    };
    let mut server = raw.server.unwrap_or(Server::Green {
        time_slice: DEFAULT_SERVE_TIME_SLICE,
    });
    match (&mut server, raw.time_slice_ms, raw.loop_chunk) {
        (Server::Green { time_slice }, Some(ms), None) => {
            // Whole nanoseconds, so 0.1 ms is exactly the runtime's minimum.
            *time_slice = Duration::from_nanos((ms * 1e6).round() as u64);
        }
        (Server::EventLoop { chunk }, None, Some(n)) => *chunk = n,
        (_, None, None) => {}
        (s, Some(_), _) => {
            return Err(format!(
                "--time-slice-ms applies only to --server-mode green, not {s}"
            ))
        }
        (s, _, Some(_)) => {
            return Err(format!(
                "--loop-chunk applies only to --server-mode event-loop, not {s}"
            ))
        }
    }
    Ok(Some(ServeConfig {
        addr,
        server,
        conns: raw.serve_conns.unwrap_or(DEFAULT_SERVE_CONNS),
        secs: Duration::from_secs_f64(raw.serve_secs.unwrap_or(DEFAULT_SERVE_SECS)),
    }))
}

/// Resolves `--serve`'s address and insists on loopback: the internal
/// client loads it as hard as it can, which is for this machine only.
fn loopback(v: &str) -> Result<SocketAddr, String> {
    let addr = v
        .to_socket_addrs()
        .map_err(|e| format!("{e}: expected an address such as 127.0.0.1:7000"))?
        .next()
        .ok_or_else(|| "it resolves to no address".to_string())?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to serve on {addr}: --serve takes a loopback address \
             (127.0.0.0/8 or [::1]), since happycoin loads it with its own client"
        ));
    }
    Ok(addr)
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// greenrt's own default processor count: `GREENRT_PROCS`, else the CPUs.
fn default_procs() -> Result<usize, String> {
    match greenrt::config::procs_from_env() {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Ok(cpu_count().min(greenrt::config::MAX_PROCS)),
        Err(e) => Err(e.to_string()),
    }
}

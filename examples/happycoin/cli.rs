//! Command-line parsing: flags to a [`Plan`] (and, with `--serve`, a
//! [`ServeConfig`]), or a message saying what was wrong and which values are
//! accepted.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

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

pub const USAGE: &str = "\
usage: happycoin [--mode single|threads|green|pool] [--workers N] [--procs N]
                 [--draws N] [--rng fast|os] [--seed S] [--reject-first]
                 [--batch N] [--max-queue N] [--quiet]
                 [--serve ADDR [--server-mode green|event-loop|thread]
                  [--serve-conns C] [--serve-secs S] [--time-slice-ms T]
                  [--loop-chunk N]]

Draws random 64-bit numbers and counts the Happycoins among them: happy
numbers that are multiples of 10 000.

  --mode M        single (default): one loop on the main thread, the book's
                    reference program
                  threads: N OS threads, each mining a contiguous share
                  green: N greenrt green threads on P processors, each
                    mining a contiguous share
                  pool: N green workers fed batches through a bounded channel
  --workers N     miners, 1 to 4096 (default: 1 for single, else the CPU count)
  --procs P       green and pool: greenrt processors, 1 to 1024 (default: the
                    smaller of N and GREENRT_PROCS, else of N and the CPU count)
  --draws N       how many numbers to draw, 0 or more (default 10_000_000;
                    underscores allowed)
  --rng R         fast (default): seeded splitmix64; draw i depends only on
                    the seed and i, so every mode finds the same coins
                  os: the OS's cryptographic generator, like the book's
  --seed S        seed for --rng fast, 0 to 18446744073709551615 (default 0)
  --reject-first  test divisibility before happiness (the shortcut); the
                    default tests happiness first, like the book
  --batch N       pool: draws per batch, 1 or more (default 100_000)
  --max-queue N   pool: batches that may wait for a worker, 0 to 1_000_000
                    (default: 2 x N)
  --quiet         print only the count and summary lines, not the coins
  -h, --help      print this help

Mining beside an echo server (one process):
  --serve ADDR    serve echo on ADDR, a loopback address (port 0 picks one),
                    and measure it with an internal client: first for S
                    seconds without mining, then while mining (until the
                    mining ends or S seconds pass)
  --server-mode M green (default): examples/echo_server's green server on
                    the miners' own runtime (--mode green or pool)
                  event-loop: its mio loop, mining on the loop's thread in
                    chunks between polls (--mode single)
                  thread: its thread-per-connection server beside OS-thread
                    miners (--mode threads)
  --serve-conns C client connections (one OS thread each), 1 to 256
                    (default 4); 64-byte round trips, every byte checked
  --serve-secs S  length of each phase in seconds, 0.1 to 60 (default 2)
  --time-slice-ms T  green: the runtime's time slice in ms, 0.1 to 1000
                    (default 1; greenrt's own default is 10)
  --loop-chunk N  event-loop: draws mined between two polls, 1 to
                    10_000_000 (default 100_000, about 8 ms)

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
makes the exit status 1.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print the usage text and exit successfully.
    Help,
    /// Mine.
    Run {
        /// The job.
        plan: Plan,
        /// Leave the coins out of the output.
        quiet: bool,
        /// Serve echo beside the miners and measure it.
        serve: Option<ServeConfig>,
    },
}

/// Flags as given, before defaults and cross-checks.
#[derive(Default)]
struct Raw {
    mode: Option<Mode>,
    workers: Option<usize>,
    procs: Option<usize>,
    draws: Option<u64>,
    rng_os: Option<bool>,
    seed: Option<u64>,
    reject_first: bool,
    batch: Option<u64>,
    max_queue: Option<usize>,
    quiet: bool,
    serve: Option<SocketAddr>,
    server: Option<Server>,
    serve_conns: Option<usize>,
    serve_secs: Option<f64>,
    time_slice_ms: Option<f64>,
    loop_chunk: Option<u64>,
}

/// Parses the arguments (without the program name). `Err` is a one-line
/// message naming the offending flag or value and what is accepted.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut raw = Raw::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
        // `--flag=value` or `--flag value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = || match inline.clone() {
            Some(v) => Ok(v),
            None => args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|v| format!("the value {v:?} of {flag} is not valid UTF-8")),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--mode" => {
                let v = value()?;
                raw.mode = Some(Mode::from_name(&v).ok_or_else(|| {
                    format!("unknown --mode {v:?}: expected single, threads, green or pool")
                })?);
            }
            "--workers" => raw.workers = Some(number(&flag, &value()?, 1, MAX_WORKERS)?),
            "--procs" => {
                raw.procs = Some(number(&flag, &value()?, 1, greenrt::config::MAX_PROCS)?);
            }
            "--draws" => raw.draws = Some(number(&flag, &value()?, 0, u64::MAX)?),
            "--rng" => {
                raw.rng_os = Some(match value()?.as_str() {
                    "fast" => false,
                    "os" => true,
                    other => return Err(format!("unknown --rng {other:?}: expected fast or os")),
                });
            }
            "--seed" => raw.seed = Some(number(&flag, &value()?, 0, u64::MAX)?),
            "--batch" => raw.batch = Some(number(&flag, &value()?, 1, u64::MAX)?),
            "--max-queue" => raw.max_queue = Some(number(&flag, &value()?, 0, MAX_QUEUE)?),
            "--serve" => raw.serve = Some(loopback(&value()?)?),
            "--server-mode" => {
                let v = value()?;
                raw.server = Some(Server::from_name(&v).ok_or_else(|| {
                    format!(
                        "unknown --server-mode {v:?}: expected {}",
                        Server::NAMES.join(", ")
                    )
                })?);
            }
            "--serve-conns" => {
                raw.serve_conns = Some(number(&flag, &value()?, 1, MAX_SERVE_CONNS)?);
            }
            "--serve-secs" => {
                raw.serve_secs = Some(decimal(&flag, &value()?, MIN_SERVE_SECS, MAX_SERVE_SECS)?);
            }
            "--time-slice-ms" => {
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                raw.time_slice_ms = Some(decimal(
                    &flag,
                    &value()?,
                    ms(greenrt::config::MIN_TIME_SLICE),
                    ms(greenrt::config::MAX_TIME_SLICE),
                )?);
            }
            "--loop-chunk" => raw.loop_chunk = Some(number(&flag, &value()?, 1, MAX_LOOP_CHUNK)?),
            "--reject-first" | "--quiet" if inline.is_some() => {
                return Err(format!("{flag} takes no value"));
            }
            "--reject-first" => raw.reject_first = true,
            "--quiet" => raw.quiet = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    resolve(raw)
}

/// Applies defaults and rejects flags that do not fit the mode.
fn resolve(raw: Raw) -> Result<Command, String> {
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
    Ok(Command::Run {
        plan,
        quiet: raw.quiet,
        serve,
    })
}

/// The `--serve` part of the command line, checked for flags that belong to
/// another server design or need `--serve`.
fn resolve_serve(raw: &Raw) -> Result<Option<ServeConfig>, String> {
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
        .map_err(|e| {
            format!("invalid --serve {v:?} ({e}): expected an address such as 127.0.0.1:7000")
        })?
        .next()
        .ok_or_else(|| format!("invalid --serve {v:?}: it resolves to no address"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to serve on {addr}: --serve takes a loopback address \
             (127.0.0.0/8 or [::1]), since happycoin loads it with its own client"
        ));
    }
    Ok(addr)
}

/// Parses a decimal number in `min..=max` (`0.5`, `2`, `1e-1`).
fn decimal(flag: &str, v: &str, min: f64, max: f64) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x >= min && x <= max => Ok(x),
        _ => Err(format!(
            "invalid {flag} {v:?}: expected a number from {min} to {max}"
        )),
    }
}

/// Parses a whole number in `min..=max`; underscores are allowed as digit
/// separators (`10_000_000`).
fn number<T>(flag: &str, v: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let digits: String = v.chars().filter(|&c| c != '_').collect();
    let ok =
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !v.starts_with('_');
    match digits.parse::<T>() {
        Ok(n) if ok && n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "invalid {flag} {v:?}: expected a whole number from {min} to {max}"
        )),
    }
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

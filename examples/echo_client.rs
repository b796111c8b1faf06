//! A load generator for `echo_server`: `--conns` connections each do
//! request/response round trips of `--bytes` bytes for `--secs` seconds,
//! verifying every echoed byte.
//!
//! ```text
//! cargo run --release --example echo_client -- --conns 1000 --bytes 64 --secs 5 --addr 127.0.0.1:7000
//! ```
//!
//! It prints round trips per second, p50/p99/max latency, and the numbers of
//! connect errors, I/O errors and mismatches — also as one `RESULT key=value
//! ...` line for scripts — and exits with status 1 on any mismatch.
//!
//! The client itself runs on greenrt green threads, one per connection
//! (`--procs`, default 1, processors). Driving 10 000 connections from OS
//! threads would make the client's own thread overhead part of what is
//! measured, while an event loop would make it a second copy of the server's
//! event-loop mode; green threads keep the client a straight-line "write,
//! read, compare" loop per connection and dogfood greenrt::net under load.
//! The same client drives every server mode, so the comparison is fair.
//! happycoin `--serve` compiles this file in for [`run_conn`] and [`Totals`]
//! (examples/happycoin/echo.rs), driving them from OS threads instead.
//!
//! It refuses non-loopback addresses: it is a benchmark tool, not a way to
//! load someone else's machine. The run is bounded: connects time out after
//! 10 s, and a watchdog ends the process (status 3) if a run overruns by a
//! minute.

use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use greenrt::net::TcpStream;

const USAGE: &str = "\
usage: echo_client [--addr ADDR] [--conns C] [--bytes B] [--secs D] [--procs N]

  --addr ADDR   echo server address, loopback only (default 127.0.0.1:7000)
  --conns C     concurrent connections, 1 to 100000 (default 100)
  --bytes B     bytes per round trip, 1 to 1048576 (default 64)
  --secs D      measured duration in seconds, 0.1 to 3600 (default 5)
  --procs N     greenrt processors for the client (default 1)
  -h, --help    print this help
";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const WATCHDOG_GRACE: Duration = Duration::from_secs(60);

struct Args {
    addr: SocketAddr,
    conns: usize,
    bytes: usize,
    secs: f64,
    procs: usize,
}

fn parse_num<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    v: &str,
    lo: T,
    hi: T,
) -> Result<T, String> {
    match v.parse::<T>() {
        Ok(n) if n >= lo && n <= hi => Ok(n),
        _ => Err(format!(
            "invalid {name} {v:?}: expected a number from {lo} to {hi}"
        )),
    }
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut addr = "127.0.0.1:7000".to_string();
    let (mut conns, mut bytes, mut secs, mut procs) = (100, 64, 5.0, 1);
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => addr = value()?,
            "--conns" => conns = parse_num("--conns", &value()?, 1, 100_000)?,
            "--bytes" => bytes = parse_num("--bytes", &value()?, 1, 1 << 20)?,
            "--secs" => secs = parse_num("--secs", &value()?, 0.1, 3600.0)?,
            "--procs" => procs = parse_num("--procs", &value()?, 1, greenrt::config::MAX_PROCS)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --addr {addr:?}: {e}"))?
        .collect();
    if let Some(bad) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "refusing to load {bad}: echo_client only targets loopback addresses \
             (127.0.0.0/8 or ::1)"
        ));
    }
    let addr = *resolved
        .first()
        .ok_or_else(|| format!("--addr {addr:?} resolves to no address"))?;
    Ok(Some(Args {
        addr,
        conns,
        bytes,
        secs,
        procs,
    }))
}

/// What one connection did during the run.
#[derive(Default)]
pub struct ConnReport {
    pub round_trips: u64,
    pub io_errors: u64,
    pub mismatches: u64,
    /// Round-trip times in nanoseconds.
    pub latencies: Vec<u64>,
}

/// What all connections did: totals and latency percentiles.
pub struct Totals {
    pub round_trips: u64,
    pub io_errors: u64,
    pub mismatches: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Totals {
    /// Sums the connections' reports; percentiles by nearest rank over
    /// every round trip, in microseconds.
    pub fn of(reports: Vec<ConnReport>) -> Totals {
        let round_trips = reports.iter().map(|r| r.round_trips).sum();
        let io_errors = reports.iter().map(|r| r.io_errors).sum();
        let mismatches = reports.iter().map(|r| r.mismatches).sum();
        let mut lat: Vec<u64> = reports.into_iter().flat_map(|r| r.latencies).collect();
        lat.sort_unstable();
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
            lat[i] as f64 / 1000.0
        };
        Totals {
            round_trips,
            io_errors,
            mismatches,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            max_us: pct(1.0),
        }
    }
}

/// Fills `buf` with bytes unique to (connection, round trip), so a byte
/// echoed to the wrong connection or out of order is caught.
fn fill(buf: &mut [u8], conn: u64, seq: u64) {
    let mut x = (conn << 32) ^ seq ^ 0x9E37_79B9_7F4A_7C15;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// Round trips of `bytes` bytes on `s` while `more()` says so, each one
/// checked byte for byte; stops at the first error or mismatch.
pub fn run_conn(
    mut s: impl Read + Write,
    id: u64,
    bytes: usize,
    mut more: impl FnMut() -> bool,
) -> ConnReport {
    let mut r = ConnReport::default();
    let mut out = vec![0u8; bytes];
    let mut back = vec![0u8; bytes];
    let mut seq = 0u64;
    while more() {
        fill(&mut out, id, seq);
        let t0 = Instant::now();
        if s.write_all(&out)
            .and_then(|()| s.read_exact(&mut back))
            .is_err()
        {
            r.io_errors += 1;
            break;
        }
        r.latencies.push(t0.elapsed().as_nanos() as u64);
        r.round_trips += 1;
        if back != out {
            // The stream is out of step now: stop this connection.
            r.mismatches += 1;
            break;
        }
        seq += 1;
    }
    r
}

/// Raises the soft fd limit to the hard one (10 000 connections need it).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("echo_client: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    raise_fd_limit();
    let run_for = Duration::from_secs_f64(args.secs);
    let limit = CONNECT_TIMEOUT + run_for + WATCHDOG_GRACE;
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("echo_client: the run did not finish within {limit:?}; is the server stuck?");
        std::process::exit(3);
    });
    let rt = match greenrt::Runtime::builder()
        .procs(args.procs)
        .thread_name("client")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo_client: cannot start greenrt: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Args {
        addr, conns, bytes, ..
    } = args;
    let (reports, connect_errors, first_error, elapsed) = rt.block_on(move || {
        // Connect everything first, so the measured window is steady state.
        let connecting: Vec<_> = (0..conns)
            .map(|_| {
                greenrt::spawn(move || {
                    let s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
                    s.set_nodelay(true)?;
                    Ok::<_, std::io::Error>(s)
                })
            })
            .collect();
        let mut streams = Vec::with_capacity(conns);
        let mut connect_errors = 0u64;
        let mut first_error = None;
        for h in connecting {
            match h.join().expect("connect green thread") {
                Ok(s) => streams.push(s),
                Err(e) => {
                    connect_errors += 1;
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        let start = Instant::now();
        let end = start + run_for;
        let workers: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                greenrt::spawn(move || run_conn(s, i as u64, bytes, || Instant::now() < end))
            })
            .collect();
        let reports: Vec<ConnReport> = workers
            .into_iter()
            .map(|h| h.join().expect("connection green thread"))
            .collect();
        (reports, connect_errors, first_error, start.elapsed())
    });
    drop(rt);

    let Totals {
        round_trips,
        io_errors,
        mismatches,
        p50_us,
        p99_us,
        max_us,
    } = Totals::of(reports);
    let rtps = round_trips as f64 / elapsed.as_secs_f64();
    println!(
        "echo_client: {conns} conns x {bytes} B for {:.2} s against {addr}: \
         {rtps:.0} round trips/s, latency p50 {p50_us:.1} us, p99 {p99_us:.1} us, \
         max {max_us:.1} us; {connect_errors} connect errors, {io_errors} I/O errors, \
         {mismatches} mismatches",
        elapsed.as_secs_f64(),
    );
    if let Some(e) = first_error {
        println!("echo_client: first connect error: {e}");
    }
    println!(
        "RESULT conns={conns} bytes={bytes} secs={:.2} round_trips={round_trips} rtps={rtps:.0} \
         p50_us={p50_us:.1} p99_us={p99_us:.1} max_us={max_us:.1} \
         connect_errors={connect_errors} io_errors={io_errors} mismatches={mismatches}",
        elapsed.as_secs_f64(),
    );
    if mismatches > 0 {
        eprintln!("echo_client: {mismatches} echoed messages did not match what was sent");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

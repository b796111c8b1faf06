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
//! The round-trip loop and its latency histogram (fixed memory however
//! long the run) are examples/common/round_trips.rs, which happycoin
//! `--serve` drives from OS threads instead.
//!
//! Each source address has about 28 000 ephemeral ports (Linux's default
//! `ip_local_port_range`), and ports stay in TIME_WAIT for a minute after
//! a run, so many connections — or several runs back to back — exhaust
//! one address; the kernel's port search also slows sharply as it fills.
//! `--sources N` spreads the connections over the source addresses
//! 127.0.0.1 … 127.0.0.N (all of 127/8 is this machine), binding each
//! socket with `IP_BIND_ADDRESS_NO_PORT` so ports are picked per
//! destination at connect. The default picks one source per 10 000
//! connections.
//!
//! It refuses non-loopback addresses: it is a benchmark tool, not a way to
//! load someone else's machine. The run is bounded: connects time out after
//! 10 s, and a watchdog ends the process (status 3) if a run overruns by a
//! minute. A bad command line exits with status 2 and clap's one-line
//! error.

#[path = "common/fd_limit.rs"]
mod fd_limit;
#[path = "common/flags.rs"]
mod flags;
#[path = "common/round_trips.rs"]
mod round_trips;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use greenrt::net::{TcpSocket, TcpStream};

use crate::flags::ranged;
use crate::round_trips::{run_conn, ConnReport, Latencies, Totals};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const WATCHDOG_GRACE: Duration = Duration::from_secs(60);

/// A load generator for echo_server: connections doing request/response
/// round trips, every echoed byte checked.
#[derive(Debug, Parser)]
#[command(name = "echo_client")]
struct Args {
    /// Echo server address, loopback only
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000", value_parser = loopback)]
    addr: SocketAddr,
    /// Concurrent connections, 1 to 100000
    #[arg(long, value_name = "C", default_value_t = 100, value_parser = ranged(1usize, 100_000))]
    conns: usize,
    /// Bytes per round trip, 1 to 1048576
    #[arg(long, value_name = "B", default_value_t = 64, value_parser = ranged(1usize, 1 << 20))]
    bytes: usize,
    /// Measured duration in seconds, 0.1 to 3600
    #[arg(long, value_name = "D", default_value_t = 5.0, value_parser = ranged(0.1, 3600.0))]
    secs: f64,
    /// Round trips per connection, 1 to 1e9: each connection stops after
    /// that many (or at the end of --secs); the run reports connections
    /// that fell short as incomplete_conns
    #[arg(long, value_name = "K", value_parser = ranged(1u64, 1_000_000_000))]
    rounds: Option<u64>,
    /// Source addresses 127.0.0.1..=127.0.0.N to spread connections over,
    /// 1 to 254 (default: one per 10000 connections; IPv4 servers only)
    #[arg(long, value_name = "N", value_parser = ranged(1usize, 254))]
    sources: Option<usize>,
    /// greenrt processors for the client, 1 to 1024
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = ranged(1, greenrt::config::MAX_PROCS))]
    procs: usize,
}

/// `--addr`: resolved, and every address it resolves to on loopback.
fn loopback(addr: &str) -> Result<SocketAddr, String> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve it: {e}"))?
        .collect();
    if let Some(bad) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "refusing to load {bad}: echo_client only targets loopback addresses \
             (127.0.0.0/8 or ::1)"
        ));
    }
    resolved
        .first()
        .copied()
        .ok_or_else(|| "it resolves to no address".to_string())
}

/// Connections per source address when `--sources` is not given.
const CONNS_PER_SOURCE: usize = 10_000;

/// The source address of connection `i` (`None`: let the kernel choose).
fn source_for(i: usize, sources: usize) -> Option<std::net::IpAddr> {
    (sources > 1).then(|| std::net::Ipv4Addr::new(127, 0, 0, 1 + (i % sources) as u8).into())
}

/// Connects to `addr`, from `source` when given (any port).
fn connect(addr: SocketAddr, source: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT);
    };
    let socket = TcpSocket::new_v4()?;
    socket.set_bind_address_no_port(true)?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect_timeout(addr, CONNECT_TIMEOUT)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let sources = args
        .sources
        .unwrap_or_else(|| args.conns.div_ceil(CONNS_PER_SOURCE));
    if sources > 1 && !args.addr.is_ipv4() {
        eprintln!("echo_client: --sources spreads over 127.0.0.x, so it needs an IPv4 --addr");
        return ExitCode::from(2);
    }
    // 10 000 connections need 10 000 descriptors.
    if let Err(e) = fd_limit::raise_to_hard() {
        eprintln!("echo_client: cannot raise the open-file limit: {e}");
    }
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
        addr,
        conns,
        bytes,
        rounds,
        ..
    } = args;
    let latencies = Latencies::new();
    let recorded = latencies.clone();
    let (reports, connect_errors, first_error, elapsed) = rt.block_on(move || {
        // Connect everything first, so the measured window is steady state.
        let connecting: Vec<_> = (0..conns)
            .map(|i| {
                greenrt::spawn(move || {
                    let s = connect(addr, source_for(i, sources))?;
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
                let latencies = recorded.clone();
                greenrt::spawn(move || {
                    let mut started = 0u64;
                    let more = move || {
                        let go = Instant::now() < end && rounds.map_or(true, |k| started < k);
                        started += 1;
                        go
                    };
                    run_conn(s, i as u64, bytes, &latencies, more)
                })
            })
            .collect();
        let reports: Vec<ConnReport> = workers
            .into_iter()
            .map(|h| h.join().expect("connection green thread"))
            .collect();
        (reports, connect_errors, first_error, start.elapsed())
    });
    drop(rt);

    let incomplete = rounds.map_or(0, |k| reports.iter().filter(|r| r.round_trips < k).count());
    let Totals {
        round_trips,
        io_errors,
        mismatches,
        p50_us,
        p99_us,
        max_us,
    } = Totals::of(reports, &latencies);
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
         connect_errors={connect_errors} io_errors={io_errors} mismatches={mismatches} \
         incomplete_conns={incomplete}",
        elapsed.as_secs_f64(),
    );
    if mismatches > 0 {
        eprintln!("echo_client: {mismatches} echoed messages did not match what was sent");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

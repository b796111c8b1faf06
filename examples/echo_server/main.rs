//! An echo server in three designs, for comparing them on equal terms:
//!
//! * `--mode green` — one greenrt green thread per connection, blocking-style
//!   code on `greenrt::net`;
//! * `--mode event-loop` — a single-threaded mio readiness loop with
//!   per-connection buffers;
//! * `--mode thread` — `std::net`, one OS thread per connection.
//!
//! The serving loops live in examples/common/serve, which happycoin
//! `--serve` runs too; this example adds what a standalone server needs:
//! the command line, signal handling (signals.rs), each design's driver
//! (run.rs) and the exit summary.
//!
//! All three echo every byte exactly, hold at most 4 KiB per connection and
//! stop reading from a client that does not read, survive clients that
//! vanish mid-message or never send, keep serving when `accept` fails
//! (EMFILE...) by logging and backing off, and exit cleanly (status 0, with a
//! summary) on SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --release --example echo_server -- --mode green --procs 1 --addr 127.0.0.1:7000
//! ```
//!
//! With `--reuseport` the listener is bound with `SO_REUSEPORT`: start the
//! server several times on one `--addr` (say one process per core, each
//! `--procs 1`) and the kernel spreads the connections among them.
//!
//! On startup it prints `echo_server: listening on <addr> (...)` on stdout;
//! with `--addr 127.0.0.1:0` that line carries the port the OS picked. A bad
//! command line exits with status 2 and clap's one-line error.

#[path = "../common/fd_limit.rs"]
mod fd_limit;
#[path = "../common/flags.rs"]
mod flags;
#[path = "../common/listen.rs"]
mod listen;
mod run;
#[path = "../common/serve/mod.rs"]
mod serve;
mod signals;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};

use crate::flags::ranged;
use crate::serve::stats::{Stats, STATS};

/// An echo server in three designs, for comparing them on equal terms.
#[derive(Debug, Parser)]
#[command(name = "echo_server")]
struct Args {
    /// Address to listen on (port 0 picks one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000")]
    addr: String,
    /// Server design
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Mode::Green)]
    mode: Mode,
    /// Green mode: greenrt processors, 1 to 1024 (default: GREENRT_PROCS,
    /// else the CPU count)
    #[arg(long, value_name = "N", value_parser = ranged(1, greenrt::config::MAX_PROCS))]
    procs: Option<usize>,
    /// Bind with SO_REUSEPORT, so several echo_server processes can listen
    /// on one port and the kernel spreads connections among them
    #[arg(long)]
    reuseport: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// A green thread per connection on greenrt
    Green,
    /// A single-threaded mio readiness loop
    EventLoop,
    /// std::net with an OS thread per connection
    Thread,
}

impl Args {
    /// The command line, or exit: status 2 with clap's short error for a
    /// mistake (the cross-flag rules included), 0 after `--help`.
    fn parse_or_exit() -> Args {
        let args = Args::parse();
        if args.procs.is_some() && args.mode != Mode::Green {
            Args::command()
                .error(
                    ErrorKind::ArgumentConflict,
                    "--procs only applies to --mode green",
                )
                .exit();
        }
        args
    }
}

/// The counters as the exit line prints them.
fn summary(stats: &Stats) -> String {
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    format!(
        "accepted {} connections, closed {}, {} ended in errors, {} accept errors, \
         {} refused for lack of threads, {} bytes echoed",
        g(&stats.accepted),
        g(&stats.closed),
        g(&stats.conn_errors),
        g(&stats.accept_errors),
        g(&stats.refused),
        g(&stats.bytes)
    )
}

fn main() -> ExitCode {
    // Before any thread exists, so that all of them inherit the mask.
    signals::block();
    let args = Args::parse_or_exit();
    // A descriptor per connection: go as high as this process may.
    match fd_limit::raise_to_hard() {
        Ok(n) => eprintln!("echo_server: open-file limit {n}"),
        Err(e) => eprintln!("echo_server: cannot raise the open-file limit: {e}"),
    }
    // The kernel's largest accept backlog, which a burst of 10 000 connects
    // needs; the other modes take the socket over.
    let listener = match listen::listen(&args.addr, args.reuseport) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| args.addr.clone(), |a| a.to_string());
    let mut detail = match (args.mode, args.procs) {
        (Mode::Green, Some(p)) => format!("mode green, {p} procs"),
        (Mode::Green, None) => "mode green".to_string(),
        (Mode::EventLoop, _) => "mode event-loop".to_string(),
        (Mode::Thread, _) => "mode thread".to_string(),
    };
    if args.reuseport {
        detail.push_str(", SO_REUSEPORT");
    }
    println!("echo_server: listening on {local} ({detail})");
    let _ = std::io::stdout().flush();

    let result = match args.mode {
        Mode::Green => run::green(listener, args.procs),
        Mode::EventLoop => listener.into_std().and_then(run::event_loop),
        Mode::Thread => listener.into_std().and_then(run::thread),
    };
    let how = signals::received().unwrap_or("end of the accept loop");
    match result {
        Ok(()) => {
            println!("echo_server: stopped by {how}; {}", summary(&STATS));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_server: failed: {e}; {}", summary(&STATS));
            ExitCode::FAILURE
        }
    }
}

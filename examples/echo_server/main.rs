//! An echo server in three designs, for comparing them on equal terms:
//!
//! * `--mode green` — one greenrt green thread per connection, blocking-style
//!   code on `greenrt::net` (green.rs);
//! * `--mode event-loop` — a single-threaded mio readiness loop with
//!   per-connection buffers (event_loop.rs);
//! * `--mode thread` — `std::net`, one OS thread per connection (threads.rs).
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
//! On startup it prints `echo_server: listening on <addr> (...)` on stdout;
//! with `--addr 127.0.0.1:0` that line carries the port the OS picked.

mod event_loop;
mod green;
mod signals;
mod stats;
mod threads;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: echo_server [--addr ADDR] [--mode green|event-loop|thread] [--procs N]

  --addr ADDR   address to listen on (default 127.0.0.1:7000; port 0 picks one)
  --mode MODE   green (default): a green thread per connection on greenrt
                event-loop: a single-threaded mio readiness loop
                thread: std::net with an OS thread per connection
  --procs N     green mode: number of greenrt processors (default:
                GREENRT_PROCS, else the CPU count)
  -h, --help    print this help
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Green,
    EventLoop,
    Thread,
}

#[derive(Debug)]
struct Args {
    addr: String,
    mode: Mode,
    procs: Option<usize>,
}

/// Parses the command line; `Err` carries the message for stderr.
fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        addr: "127.0.0.1:7000".into(),
        mode: Mode::Green,
        procs: None,
    };
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
            "--addr" => args.addr = value()?,
            "--mode" => {
                args.mode = match value()?.as_str() {
                    "green" => Mode::Green,
                    "event-loop" => Mode::EventLoop,
                    "thread" => Mode::Thread,
                    other => {
                        return Err(format!(
                            "unknown mode {other:?}: expected green, event-loop or thread"
                        ))
                    }
                }
            }
            "--procs" => {
                let v = value()?;
                match v.parse::<usize>() {
                    Ok(n) if (1..=greenrt::config::MAX_PROCS).contains(&n) => args.procs = Some(n),
                    _ => {
                        return Err(format!(
                            "invalid --procs {v:?}: expected a whole number from 1 to {}",
                            greenrt::config::MAX_PROCS
                        ))
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.procs.is_some() && args.mode != Mode::Green {
        return Err("--procs only applies to --mode green".into());
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    // Before any thread exists, so that all of them inherit the mask.
    signals::block();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("echo_server: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // greenrt's bind asks for the kernel's largest accept backlog, which a
    // burst of 10 000 connects needs; the other modes take the socket over.
    let listener = match greenrt::net::TcpListener::bind(&args.addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| args.addr.clone(), |a| a.to_string());
    let detail = match (args.mode, args.procs) {
        (Mode::Green, Some(p)) => format!("mode green, {p} procs"),
        (Mode::Green, None) => "mode green".to_string(),
        (Mode::EventLoop, _) => "mode event-loop".to_string(),
        (Mode::Thread, _) => "mode thread".to_string(),
    };
    println!("echo_server: listening on {local} ({detail})");
    let _ = std::io::stdout().flush();

    let result = match args.mode {
        Mode::Green => green::run(listener, args.procs),
        Mode::EventLoop => listener.into_std().and_then(event_loop::run),
        Mode::Thread => listener.into_std().and_then(threads::run),
    };
    let how = signals::received().unwrap_or("end of the accept loop");
    match result {
        Ok(()) => {
            println!("echo_server: stopped by {how}; {}", stats::STATS.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_server: failed: {e}; {}", stats::STATS.summary());
            ExitCode::FAILURE
        }
    }
}

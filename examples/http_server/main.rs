//! An HTTP/1.1 server on green threads: one green thread per connection,
//! keep-alive, pipelining (all the answers to one read's requests in one
//! write), `Content-Length` bodies, a `Date` cached per second, 400 / 431 /
//! 413 for malformed or oversized requests. Routes: TechEmpower's
//! `GET /plaintext` and `GET /json`, and with `--root DIR` static files
//! through `greenrt::fs`. The protocol lives in http/ (tests/http_server.rs
//! drives the same code).
//!
//! ```text
//! cargo run --release --example http_server -- --addr 127.0.0.1:8080 --procs 1
//! wrk -t1 -c256 -d10s http://127.0.0.1:8080/plaintext
//! ```
//!
//! scripts/http_bench.sh measures it with wrk beside may_minihttp and
//! hyper (examples/peers/). It prints `http_server: listening on <addr>` on
//! stdout once it accepts connections, and runs until killed.

#[path = "../common/flags.rs"]
mod flags;
mod http;
#[path = "../common/listen.rs"]
mod listen;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::flags::ranged;

/// An HTTP/1.1 server on greenrt green threads.
#[derive(Debug, Parser)]
#[command(name = "http_server")]
struct Args {
    /// Address to listen on (port 0 picks one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// greenrt processors, 1 to 1024 (default: GREENRT_PROCS, else the CPU
    /// count)
    #[arg(long, value_name = "N", value_parser = ranged(1, greenrt::config::MAX_PROCS))]
    procs: Option<usize>,
    /// Bind with SO_REUSEPORT, so several processes can share the port
    #[arg(long)]
    reuseport: bool,
    /// Serve the files under DIR for paths other than /plaintext and /json
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let listener = match listen::listen(&args.addr, args.reuseport) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("http_server: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let mut builder = greenrt::Runtime::builder().thread_name("http");
    if let Some(p) = args.procs {
        builder = builder.procs(p);
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| args.addr.clone(), |a| a.to_string());
    println!("http_server: listening on {local}");
    let _ = std::io::stdout().flush();
    let server = http::Server::new(args.root);
    rt.block_on(move || http::accept_loop(listener, server));
    ExitCode::SUCCESS
}

//! Happycoin mining, the CPU-bound example of *Multithreaded JavaScript*,
//! in four designs that find the same coins:
//!
//! * `--mode single` — the book's reference program, one loop;
//! * `--mode threads` — N OS threads splitting the draws;
//! * `--mode green` — N green threads on P greenrt processors, each calling
//!   `greenrt::coop::checkpoint()` every 1 024 draws;
//! * `--mode pool` — a fixed set of green workers fed batches by a bounded
//!   channel, like the book's piscina pool with `maxQueue`.
//!
//! With `--serve ADDR --server-mode green|event-loop|thread` it mines beside
//! one of examples/echo_server's designs in the same process (for green, on
//! the same runtime) and reports the echo round trips/s and latencies an
//! internal client measured without and then with mining (serve.rs).
//!
//! A Happycoin is a random `u64` that is a happy number (replace it by the sum
//! of the squares of its digits until that reaches 1, not 4) and a multiple of
//! 10 000: about 13 in a million draws. Like the book, the happy test runs
//! first, so every draw costs the same digit loops and the job is CPU-bound;
//! `--reject-first` shows the shortcut.
//!
//! ```text
//! cargo run --release --example happycoin -- --mode green --workers 2 --procs 2 --quiet
//! ```
//!
//! Layout: `mine.rs` (the tests, the generators, the mining loop — no
//! threads), `modes.rs` and `pool.rs` (where the loop runs), `cli.rs`,
//! `progress.rs`; for `--serve`: `serve.rs` (the two phases),
//! `serve_green.rs`, `serve_event_loop.rs`, `serve_thread.rs` (the three
//! designs), `serve_client.rs` (the measuring client), `serve_config.rs`;
//! the echo servers' loops and the client's round-trip loop come from
//! examples/common/, the very code echo_server and echo_client run. Figures:
//! docs/BENCHMARKS.md, "Happycoin" and "Mining beside serving".

mod cli;
// examples/common/serve: the echo servers' loops.
#[path = "../common/serve/mod.rs"]
mod echo;
#[path = "../common/flags.rs"]
mod flags;
mod mine;
mod modes;
mod pool;
mod progress;
#[path = "../common/round_trips.rs"]
mod round_trips;
mod serve;
mod serve_client;
mod serve_config;
mod serve_event_loop;
mod serve_green;
mod serve_thread;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::Request;
use crate::mine::Control;
use crate::modes::{Outcome, Plan};
use crate::progress::Progress;
use crate::serve::ServeReport;

fn main() -> ExitCode {
    let Request { plan, quiet, serve } = match cli::parse(std::env::args_os().skip(1)) {
        Ok(request) => request,
        // The help on stdout (status 0), or a mistake on stderr (status 2).
        Err(e) => e.exit(),
    };

    let ctl = Arc::new(Control::new());
    let result = match &serve {
        None => {
            let progress = Progress::start(plan.draws, ctl.clone());
            let outcome = modes::run(&plan, ctl);
            drop(progress);
            outcome.map(|o| (o, None))
        }
        Some(cfg) => serve::run(&plan, cfg, ctl).map(|(o, r)| (o, Some(r))),
    };

    let (outcome, served) = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("happycoin: {e}");
            return ExitCode::FAILURE;
        }
    };
    match report(
        &mut BufWriter::new(io::stdout().lock()),
        &plan,
        &outcome,
        served.as_ref(),
        quiet,
    ) {
        Ok(()) if served.as_ref().is_some_and(|r| !r.clean()) => {
            eprintln!("happycoin: the echo check failed: see the errors and mismatches above");
            ExitCode::FAILURE
        }
        Ok(()) => ExitCode::SUCCESS,
        // `happycoin | head` closes the pipe early: not worth a panic.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("happycoin: cannot write the results: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The coins (unless `quiet`), the book's `count : N` line, then the
/// machine-readable summary line, and the `serve ...` line if it served.
fn report(
    out: &mut impl Write,
    plan: &Plan,
    outcome: &Outcome,
    served: Option<&ServeReport>,
    quiet: bool,
) -> io::Result<()> {
    if !quiet {
        for coin in &outcome.coins {
            writeln!(out, "{}", coin.value)?;
        }
    }
    writeln!(out, "count : {}", outcome.coins.len())?;
    writeln!(
        out,
        "summary mode={} workers={} procs={} draws={} count={} elapsed_s={:.6} draws_per_s={:.1}",
        plan.mode,
        plan.workers,
        plan.procs,
        outcome.draws,
        outcome.coins.len(),
        outcome.elapsed.as_secs_f64(),
        outcome.draws_per_sec(),
    )?;
    if let Some(r) = served {
        writeln!(out, "{r}")?;
    }
    out.flush()
}

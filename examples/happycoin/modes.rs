//! The four ways to run the same mining job.
//!
//! * `single` — the book's reference program: one loop on the main thread.
//! * `threads` — N OS threads, each mining a contiguous share of the draws.
//! * `green` — N greenrt green threads on P processors, each mining a
//!   contiguous share and calling `greenrt::coop::checkpoint()` every
//!   [`MineConfig::checkpoint_every`] draws, so a processor can be shared.
//! * `pool` — a fixed set of green workers fed batches through a bounded
//!   channel (pool.rs).
//!
//! All of them return the same [`Outcome`] for the same seeded job.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mine::{split, Coin, Control, MineConfig, Mined, Rng, Source};
use crate::pool::{self, PoolConfig};

/// How the draws are spread over workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One loop on the calling thread.
    Single,
    /// One OS thread per worker.
    Threads,
    /// One green thread per worker.
    Green,
    /// Green workers fed batches through a bounded channel.
    Pool,
}

impl Mode {
    /// Every mode, in the order the usage text lists them.
    pub const ALL: [Mode; 4] = [Mode::Single, Mode::Threads, Mode::Green, Mode::Pool];

    /// The name used on the command line and in the summary line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Threads => "threads",
            Mode::Green => "green",
            Mode::Pool => "pool",
        }
    }

    /// The mode called `name`, if any.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True for the modes that run on a greenrt runtime (and take `procs`).
    pub fn is_green(self) -> bool {
        matches!(self, Mode::Green | Mode::Pool)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fully resolved mining job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// How to spread the work.
    pub mode: Mode,
    /// Miners (1 for `single`).
    pub workers: usize,
    /// greenrt processors for `green` and `pool`; ignored by the others.
    pub procs: usize,
    /// Total draws.
    pub draws: u64,
    /// Random number source.
    pub rng: Rng,
    /// Test order and checkpoint interval.
    pub mine: MineConfig,
    /// Batch size and queue bound for `pool`; ignored by the others.
    pub pool: PoolConfig,
}

/// What a run found and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every coin, in ascending draw order.
    pub coins: Vec<Coin>,
    /// Draws made (fewer than planned only after a stop request).
    pub draws: u64,
    /// Wall-clock time from the start of the run (runtime and thread start-up
    /// included) until every result was gathered.
    pub elapsed: Duration,
}

impl Outcome {
    /// Draws per second of wall-clock time (0 for an empty run).
    pub fn draws_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.draws as f64 / secs
        } else {
            0.0
        }
    }
}

/// Runs `plan`. `ctl` can stop it early and counts its progress.
///
/// Errors: the OS random source or a greenrt runtime could not be set up.
/// A panic in a miner is resumed on the caller.
pub fn run(plan: &Plan, ctl: Arc<Control>) -> io::Result<Outcome> {
    let start = Instant::now();
    let parts = match plan.mode {
        Mode::Single => vec![Source::new(plan.rng)?.mine(0..plan.draws, &plan.mine, &ctl, || {})],
        Mode::Threads => mine_threads(plan, &ctl)?,
        Mode::Green => green(plan, ctl)?,
        Mode::Pool => pool::run(plan, ctl)?,
    };
    let elapsed = start.elapsed();
    Ok(gather(parts, elapsed))
}

/// Merges the miners' results into one outcome, coins in draw order.
pub fn gather(parts: Vec<Mined>, elapsed: Duration) -> Outcome {
    let draws = parts.iter().map(|m| m.draws).sum();
    let mut coins: Vec<Coin> = parts.into_iter().flat_map(|m| m.coins).collect();
    coins.sort_unstable();
    Outcome {
        coins,
        draws,
        elapsed,
    }
}

/// `--mode threads`: one OS thread per worker, each mining a contiguous
/// share; returns when all are done.
pub fn mine_threads(plan: &Plan, ctl: &Control) -> io::Result<Vec<Mined>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = split(plan.draws, plan.workers)
            .into_iter()
            .enumerate()
            .map(|(k, range)| {
                std::thread::Builder::new()
                    .name(format!("miner-{k}"))
                    .spawn_scoped(s, move || {
                        Ok(Source::new(plan.rng)?.mine(range, &plan.mine, ctl, || {}))
                    })
            })
            .collect::<io::Result<_>>()
            // The scope still waits for the miners already started: stop them.
            .inspect_err(|_| ctl.request_stop())?;
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn green(plan: &Plan, ctl: Arc<Control>) -> io::Result<Vec<Mined>> {
    let plan = *plan;
    runtime(&plan)?.block_on(move || mine_green(&plan, &ctl))
}

/// `--mode green` on the caller's runtime: spawns one green thread per
/// worker, each mining a contiguous share, and waits for them. Call it from
/// a green thread (it then parks, not blocks) — for instance beside other
/// green threads sharing the runtime's processors.
pub fn mine_green(plan: &Plan, ctl: &Arc<Control>) -> io::Result<Vec<Mined>> {
    let handles: Vec<_> = split(plan.draws, plan.workers)
        .into_iter()
        .enumerate()
        .map(|(k, range)| {
            let (plan, ctl) = (*plan, ctl.clone());
            greenrt::spawn_named(format!("miner-{k}"), move || {
                let mut source = Source::new(plan.rng)?;
                Ok(source.mine(range, &plan.mine, &ctl, greenrt::coop::checkpoint))
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .collect()
}

/// The runtime of a green run: `plan.procs` processors, OS threads named
/// after the example so they are easy to find in `top -H`.
pub(crate) fn runtime(plan: &Plan) -> io::Result<greenrt::Runtime> {
    runtime_builder(plan).build()
}

/// [`runtime`]'s settings, for a caller that adds its own (`--serve`).
pub(crate) fn runtime_builder(plan: &Plan) -> greenrt::Builder {
    greenrt::Runtime::builder()
        .procs(plan.procs)
        .thread_name("happycoin")
}

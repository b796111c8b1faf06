//! `--mode pool`: the book's piscina pool, on green threads.
//!
//! A fixed set of `workers` green threads takes batches of draw indices from
//! one bounded job channel and sends what each batch found down a results
//! channel. A producer green thread cuts `0..draws` into batches and sends
//! them; when `max_queue` batches are waiting, its `send` parks it until a
//! worker takes one — piscina's `maxQueue` with backpressure, except that the
//! producer simply blocks instead of waiting for a `drain` event. The calling
//! green thread gathers results until every worker has hung up.
//!
//! Shutdown needs no extra signalling: the producer drops the job sender
//! when it is done (or stopped), so workers see the channel disconnect after
//! draining it; each worker's results sender goes with it, which ends the
//! gathering loop. If the gatherer gives up early (a worker failed), dropping
//! the results receiver makes the workers' next `send` fail, they return and
//! drop their job receivers, and the producer's next `send` fails too.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use greenrt::sync::{bounded, Receiver, Sender};

use crate::mine::{Control, Mined, Source};
use crate::modes::{runtime, Plan};

/// Default draws per batch: about 7 ms of mining, so a channel hand-off
/// (a microsecond or two) is noise, while the last batches still spread
/// evenly over the workers (the tail is at most one batch per worker).
pub const DEFAULT_BATCH: u64 = 100_000;

/// How the pool is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Draws per batch (at least 1).
    pub batch: u64,
    /// Batches that may wait in the job channel; `None`: twice the number
    /// of workers — one waiting batch per busy worker plus one spare each,
    /// so no worker waits for the producer, while the producer is held back
    /// as soon as it runs ahead.
    pub max_queue: Option<usize>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            batch: DEFAULT_BATCH,
            max_queue: None,
        }
    }
}

impl PoolConfig {
    /// The job channel's capacity for `workers` workers.
    pub fn queue_bound(&self, workers: usize) -> usize {
        self.max_queue.unwrap_or(workers.saturating_mul(2))
    }
}

/// Runs `plan` on a pool on its own runtime; returns one [`Mined`] per
/// batch, in no particular order.
pub fn run(plan: &Plan, ctl: Arc<Control>) -> io::Result<Vec<Mined>> {
    let plan = *plan;
    runtime(&plan)?.block_on(move || mine_pool(&plan, &ctl))
}

/// `--mode pool` on the caller's runtime: starts the workers and the
/// producer as green threads and gathers the results. Call it from a green
/// thread, so that waiting for results parks rather than blocks.
pub fn mine_pool(plan: &Plan, ctl: &Arc<Control>) -> io::Result<Vec<Mined>> {
    let plan = *plan;
    let (jobs_tx, jobs_rx) = bounded::<Range<u64>>(plan.pool.queue_bound(plan.workers));
    let (results_tx, results_rx) = bounded::<io::Result<Mined>>(plan.workers);
    let workers: Vec<_> = (0..plan.workers)
        .map(|k| {
            let (jobs, results, ctl) = (jobs_rx.clone(), results_tx.clone(), ctl.clone());
            greenrt::spawn_named(format!("pool-worker-{k}"), move || {
                worker(&plan, jobs, results, &ctl)
            })
        })
        .collect();
    // Only the workers may hold these, or the channels never disconnect.
    drop((jobs_rx, results_tx));
    let producer_ctl = ctl.clone();
    let producer = greenrt::spawn_named("pool-producer", move || {
        produce(plan.draws, plan.pool.batch, jobs_tx, &producer_ctl)
    });

    let mut found = Vec::new();
    let mut failure = None;
    for result in results_rx.iter() {
        match result {
            Ok(mined) => found.push(mined),
            Err(e) => {
                ctl.request_stop();
                failure = Some(e);
                break;
            }
        }
    }
    drop(results_rx);
    for h in workers.into_iter().chain([producer]) {
        if let Err(panic) = h.join() {
            std::panic::resume_unwind(panic);
        }
    }
    failure.map_or(Ok(found), Err)
}

/// Cuts `0..draws` into batches and queues them, parking while the queue is
/// full. Stops early on a stop request or when every worker has gone.
fn produce(draws: u64, batch: u64, jobs: Sender<Range<u64>>, ctl: &Control) {
    let batch = batch.max(1);
    let mut start = 0;
    while start < draws && !ctl.stop_requested() {
        let end = start.saturating_add(batch).min(draws);
        if jobs.send(start..end).is_err() {
            return;
        }
        start = end;
    }
}

/// Mines batches until the job channel is drained and closed.
fn worker(
    plan: &Plan,
    jobs: Receiver<Range<u64>>,
    results: Sender<io::Result<Mined>>,
    ctl: &Control,
) {
    let mut source = match Source::new(plan.rng) {
        Ok(s) => s,
        Err(e) => {
            let _ = results.send(Err(e));
            return;
        }
    };
    for range in jobs.iter() {
        let mined = source.mine(range, &plan.mine, ctl, greenrt::coop::checkpoint);
        if results.send(Ok(mined)).is_err() {
            return;
        }
    }
}

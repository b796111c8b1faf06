//! Shutdown: cancel every unfinished G on the Ms themselves, then stop them,
//! within a time limit (docs/ARCHITECTURE.md, "Shutdown").
//!
//! # Cancelling a G
//! Shutdown sets the scheduler's `cancelling` flag and wakes every parked G
//! (the registry lists them). A G that has not begun its cancellation
//! begins it at its next switch (`GreenThread::switch_out`, before or after
//! the switch): it unwinds from there with a private payload, so the
//! destructors of everything on its stack run *on that stack*, on an M, like
//! any user code; `Packet::run`'s `catch_unwind` ends the unwind and settles
//! the join slot with "cancelled". A G that never ran drops its closure on
//! its own stack instead of running it. Nothing user-written runs on the
//! thread that drops the runtime.
//!
//! # What a cancelled G's waits do
//! * A timed wait (`sleep`, `recv_timeout`, a socket deadline…) finds its
//!   deadline passed: it yields once and returns, so a destructor that sleeps
//!   does not hold shutdown up, and a loop of them cannot hold its P.
//! * Any other wait (`recv`, `lock`, `join`, `WaitGroup::wait`, a socket
//!   read) parks as usual and is woken as usual: 0 CPU while it waits. One
//!   that can never be satisfied (two cancelled Gs waiting on each other)
//!   waits until the time limit.
//!
//! # The time limit
//! Shutdown waits until no G is left (none registered, none queued, every P
//! idle) or until its deadline, then stops the Ms. A G still unfinished
//! then is *leaked*: its stack, memory and runtime are never freed, so
//! nothing it or its waiters point at dangles, and it is named on stderr.
//! An M still running user code at the deadline is left running, detached.
//! Waiting polls with a growing pause (50 µs up to 5 ms): a shutdown with
//! nothing stuck ends within microseconds, a stuck one costs a few hundred
//! wake-ups a second until its deadline.

use std::collections::HashSet;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{self, MachineContext};
use super::green_thread::{Coro, GreenThread};
use super::scheduler::Scheduler;

/// The unwind payload of a G's cancellation (never seen by users:
/// `Packet::run` replaces it with the cancellation message).
struct Cancelled;

/// Begins the running G's cancellation by unwinding its stack from here.
#[cold]
#[inline(never)]
pub(crate) fn begin_cancel_unwind(g: &GreenThread) -> ! {
    g.mark_cancelled();
    // `resume_unwind`: no panic hook, so no "panicked" report.
    std::panic::resume_unwind(Box::new(Cancelled))
}

/// Drops `coro` (a started G's coroutine), unwinding its stack with `g`
/// installed as the current G. `g` should be a `GRef`'s pointer, since
/// destructors on that stack may take references to their G. Only for a G
/// dropped while started, which is a bug (`GreenThread`'s `Drop`).
pub(crate) fn unwind_coroutine(g: NonNull<GreenThread>, coro: Coro) {
    // SAFETY: the caller's G is alive for this call.
    let gr = unsafe { g.as_ref() };
    gr.mark_cancelled();
    let ctx = MachineContext {
        sched: Arc::as_ptr(gr.sched()),
        p: std::cell::Cell::new(std::ptr::null_mut()),
        g: std::cell::Cell::new(Some(g)),
        // Never lent anything (no P): any state will do.
        lendee: super::lend::Lendee::take(0),
        lent: std::cell::Cell::new(std::ptr::null()),
    };
    let prev = context::install(&ctx);
    drop(coro);
    context::install(prev);
}

/// Calls `done` with growing pauses until it says true or `deadline`
/// passes. Returns whether it said true.
pub(crate) fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    let mut pause = Duration::from_micros(50);
    loop {
        if done() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// The whole shutdown, once `cancelling` is set (`Scheduler::shutdown`).
pub(crate) fn shutdown(sched: &Scheduler, timeout: Duration) {
    let deadline = Instant::now().checked_add(timeout);
    let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
    // Wake every parked G so that it begins its cancellation. A G whose
    // park is committed after this sweep is woken by its M
    // (`Machine::execute`), which re-reads the flag after registering it.
    let parked = sched.registry.snapshot();
    for g in parked {
        if !g.is_cancelled() && g.wake() {
            sched.ready(g);
        }
    }
    sched.netpoll.wake();
    sched.wakep();
    let finished = wait_until(deadline, || sched.is_quiescent());
    sched.stop_machines(deadline);
    if !finished {
        leak_unfinished(sched, timeout);
    }
    sched.timers.clear();
    sched.return_p_units();
}

/// Names and leaks every G still unfinished after the time limit.
fn leak_unfinished(sched: &Scheduler, timeout: Duration) {
    let mut seen = HashSet::new();
    let left = sched
        .registry
        .take_all()
        .into_iter()
        .chain(sched.drain_queues());
    for g in left {
        if seen.insert(g.id()) {
            let name = g.name().map(|n| format!(" ({n})")).unwrap_or_default();
            eprintln!(
                "greenrt: shutdown: green thread {}{name} was still unfinished after {timeout:?} \
                 (waiting: {:?}); it is leaked: its stack and memory are not freed",
                g.id(),
                g.wait_reason(),
            );
        }
        // Leaked on purpose (module docs, "The time limit").
        std::mem::forget(g);
    }
}

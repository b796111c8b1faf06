//! Shutdown: cancel every unfinished G once the Ms have stopped.
//!
//! A G that never ran just has its task dropped (its join slot says
//! "cancelled"). A started G is resumed one last time on the dropping thread
//! by corosensei's forced unwind, so the destructors of everything on its
//! stack run; the task's `catch_unwind` sees the unwind and settles the join
//! slot with the cancellation message. While unwinding, this thread's context
//! names the G, so runtime calls made by destructors (a park, a yield) keep
//! unwinding instead of blocking the OS thread.

use std::ptr::NonNull;
use std::sync::Arc;

use super::context::{self, MachineContext};
use super::g_ref::GRef;
use super::green_thread::{Body, Coro, GreenThread};
use super::scheduler::Scheduler;

/// Drops `coro` (a started G's coroutine), unwinding its stack with `g`
/// installed as the current G. `g` should be a `GRef`'s pointer, since
/// destructors on that stack may take references to their G.
pub(crate) fn unwind_coroutine(g: NonNull<GreenThread>, coro: Coro) {
    // SAFETY: the caller's G is alive for this call.
    let gr = unsafe { g.as_ref() };
    gr.mark_cancelled();
    let ctx = MachineContext {
        sched: Arc::as_ptr(gr.sched()),
        p: std::cell::Cell::new(std::ptr::null_mut()),
        g: std::cell::Cell::new(Some(g)),
    };
    let prev = context::install(&ctx);
    drop(coro);
    context::install(prev);
}

/// Cancels one G (shutdown only: no M may be running it).
fn cancel(g: &GRef) {
    // SAFETY: every M has stopped, so no other thread can be running `g` or
    // touching its body; the registry handed us the only scheduler reference.
    let body = unsafe { g.body_mut() };
    match std::mem::replace(body, Body::Done) {
        Body::Started(coro) => unwind_coroutine(g.as_ptr(), coro),
        Body::Fresh | Body::Prepared(_) => g.cancel_task(),
        Body::Done => {}
    }
}

/// Cancels everything queued, sleeping or parked.
///
/// Newest first (highest id): a G that borrows from another G's stack
/// (`greenrt::scope`) is always newer than the G that lent it, so its
/// destructors run while what they borrow still exists.
pub(crate) fn cancel_everything(sched: &Scheduler) {
    // A started G may be both queued and registered; the second `cancel`
    // finds it done. Fresh ones are settled when cancelled.
    let mut gs = sched.drain_queues();
    sched.timers.clear();
    // Unwinding may run destructors that wake or spawn Gs; `ready` drops
    // those at once during shutdown, so one pass suffices. Loop anyway in
    // case a destructor started a G before the flag was visible.
    loop {
        gs.extend(sched.registry.take_all());
        if gs.is_empty() {
            break;
        }
        gs.sort_unstable_by_key(|g| std::cmp::Reverse(g.id()));
        for g in gs.drain(..) {
            cancel(&g);
        }
    }
}

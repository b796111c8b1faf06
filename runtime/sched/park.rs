//! Park and unpark the current *thread of control*, green or OS.
//!
//! Every blocking primitive (join, sleep, channels, locks, the netpoller) is
//! written once against this module: `Unparker::current()` names whoever is
//! about to wait, `park`/`park_until` wait, and `Unparker::unpark` wakes.
//! Inside a green thread only the G parks (docs/ARCHITECTURE.md, "Parking and
//! waking"); on a plain OS thread the thread itself blocks
//! (`std::thread::park`). So every primitive works from Gs, from OS threads,
//! and across the two.
//!
//! Both kinds of park may return spuriously: callers wait in a loop on their
//! own condition.

use std::sync::Arc;
use std::time::Instant;

use super::context;
use super::g_ref::GRef;
use super::scheduler::{Placement, Scheduler};
use super::timers::TimerAction;
use super::wait_reason::WaitReason;

/// A handle that wakes one parked G or OS thread.
#[derive(Clone)]
pub(crate) enum Unparker {
    Green(GRef),
    Os(std::thread::Thread),
}

impl Unparker {
    /// The unparker of whoever is running this code.
    pub(crate) fn current() -> Unparker {
        match context::current_g() {
            Some(g) => Unparker::Green(g),
            None => Unparker::Os(std::thread::current()),
        }
    }

    /// Wakes the target (a no-op beyond leaving a permit if it is not parked).
    pub(crate) fn unpark(&self) {
        match self {
            Unparker::Green(g) => {
                if g.wake() {
                    trace_unpark(g);
                    g.sched().ready(g.clone());
                }
            }
            Unparker::Os(t) => t.unpark(),
        }
    }

    /// Like [`unpark`](Self::unpark), but consumes the handle: a woken G's
    /// reference moves into the run queue instead of being cloned there (and
    /// the handle's own reference dropped later). Sync primitives wake this
    /// way; see `sync/waiter.rs`.
    pub(crate) fn unpark_owned(self) {
        self.unpark_owned_to(Placement::Next);
    }

    /// Like [`unpark_owned`](Self::unpark_owned), but a woken G queued on
    /// this thread's P goes behind the Gs already queued there instead of
    /// running next (`Placement::Last`: a finishing G waking its joiner).
    pub(crate) fn unpark_owned_last(self) {
        self.unpark_owned_to(Placement::Last);
    }

    #[inline]
    fn unpark_owned_to(self, placement: Placement) {
        match self {
            Unparker::Green(g) => {
                if g.wake() {
                    trace_unpark(&g);
                    ready_owned(g, placement);
                }
            }
            Unparker::Os(t) => t.unpark(),
        }
    }

    /// Like `unpark`, but hands a woken G back to the caller instead of
    /// queueing it (timers and the netpoller return lists; invariant 6, one-way imports).
    pub(crate) fn wake_for_list(self) -> Option<GRef> {
        match self {
            Unparker::Green(g) => {
                let woken = g.wake();
                if woken {
                    trace_unpark(&g);
                }
                woken.then_some(g)
            }
            Unparker::Os(t) => {
                t.unpark();
                None
            }
        }
    }
}

/// Records the wake of `g` in its runtime's trace, if tracing.
#[inline]
fn trace_unpark(g: &GRef) {
    if let Some(t) = g.sched().tracer.as_deref() {
        // On the waker's P's track when it holds one of this runtime's.
        let local = context::claim_local_p(Arc::as_ptr(g.sched()));
        // SAFETY: a non-null P is this thread's, claimed while `local` lives.
        let p = unsafe { local.get().as_ref() }.map_or(super::trace::NO_P, |p| p.id as u32);
        drop(local);
        t.unpark(p, g.id());
    }
}

/// Queues the woken `g` on its runtime, giving up our reference to it.
///
/// `ready` needs its scheduler after `g` — whose reference keeps that
/// scheduler alive — has gone into a queue, where another M may run, finish
/// and free it at once. When this thread is an M of that same runtime (the
/// usual case: one G waking another), its installed context already keeps
/// the scheduler alive, so no scheduler reference is taken; otherwise one
/// is held for the call.
fn ready_owned(g: GRef, placement: Placement) {
    let sched: *const Scheduler = Arc::as_ptr(g.sched());
    let ctx = context::current();
    // SAFETY: a non-null context points at this thread's live
    // `MachineContext` (it is uninstalled before its frame ends).
    if !ctx.is_null() && std::ptr::eq(unsafe { (*ctx).sched }, sched) {
        // SAFETY: an installed context's scheduler outlives the context (an
        // M holds an `Arc<Scheduler>` for its whole loop; a thread unwinding
        // a G holds that G, hence its scheduler), and the context stays
        // installed for this whole call, which cannot switch. So `sched` is
        // valid after `g` moves into the queue, and the context's P (null
        // or the one this M holds) is this thread's P of that runtime.
        unsafe { (*sched).ready_on(g, context::claim_local_p(sched), placement) }
    } else {
        // Not an M of g's runtime, so there is no local P to use.
        let sched = g.sched().clone();
        // SAFETY: an empty claim is always allowed.
        unsafe { sched.ready_on(g, context::LocalP::NONE, placement) }
    }
}

/// Parks the current G (or OS thread) until unparked. May return spuriously.
///
/// Inlined into the waiting frame: see "Where a G switches" in
/// `sched/green_thread.rs`.
#[inline(always)]
pub(crate) fn park(reason: WaitReason) {
    match context::current_g_ptr() {
        None => std::thread::park(),
        // SAFETY: the running G is alive while it runs (its M holds an Arc).
        Some(g) => unsafe { g.as_ref().park(reason) },
    }
}

/// Parks until unparked or `deadline`. Returns `true` once the deadline has
/// passed. May return `false` spuriously.
pub(crate) fn park_until(deadline: Instant, reason: WaitReason) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return true;
    }
    match context::current_g() {
        None => std::thread::park_timeout(deadline - now),
        // A cancelled G's deadlines have all passed (`sched/shutdown.rs`):
        // it only yields, so a loop of timed waits cannot hold its P.
        Some(g) if g.is_cancelled() => {
            g.switch_out(super::green_thread::SwitchRequest::Yield);
            return true;
        }
        Some(g) => {
            let sched = g.sched().clone();
            let timer = sched.add_timer(deadline, TimerAction::Wake(Unparker::Green(g)));
            park(reason);
            timer.cancel();
        }
    }
    Instant::now() >= deadline
}

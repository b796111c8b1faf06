//! Thread identity: which M / P / G is running on this OS thread right now.
//!
//! Green threads migrate between OS threads. A `thread_local!` read that the
//! compiler inlines into code that parks may have its TLS *address* computed
//! once and reused after the switch — now pointing at another thread's slot.
//! So every lookup of "the current M / P / G" goes through the
//! `#[inline(never)]` accessors below, never an inlined TLS read
//! (docs/ARCHITECTURE.md, "Thread identity"). Call them again after anything
//! that can switch.

use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::g_ref::GRef;
use super::green_thread::GreenThread;
use super::lend::{Claim, LendState, Lendee};
use super::processor::{Processor, ProcessorShared};
use super::scheduler::Scheduler;

/// Per-M state visible to code running on that M. Lives on the M's native
/// stack for as long as the M's scheduling loop runs.
pub(crate) struct MachineContext {
    pub(crate) sched: *const Scheduler,
    /// The P this M holds (null while it holds none). While a G runs, the M
    /// *lends* its P here as an owned pointer (from `Box::into_raw`): the G
    /// may move it to its syscall slot and back, or come back with another P
    /// or none, and the M takes whatever is here when the G switches out.
    pub(crate) p: Cell<*mut Processor>,

    /// The G being run (`None` while the M is in its own loop): the thin
    /// pointer a `GRef` holds (`GRef::as_ptr`), valid for the G's whole
    /// allocation.
    pub(crate) g: Cell<GPtr>,

    /// This M's thread's side of its lends (`lend.rs`), with its thread
    /// key (`thread_state.rs`).
    pub(crate) lendee: Lendee,
    /// The shared half of the P in `p` while that P is lent to the running
    /// G (null otherwise): G-side code claims it there before using it
    /// (invariant 8, lent P; [`claim_local_p`]).
    pub(crate) lent: Cell<*const ProcessorShared>,
}

/// A pointer to a running G, if any.
pub(crate) type GPtr = Option<NonNull<GreenThread>>;

thread_local! {
    static CONTEXT: Cell<*const MachineContext> = const { Cell::new(ptr::null()) };
}

/// Installs `ctx` as this thread's context, returning the previous one.
#[inline(never)]
pub(crate) fn install(ctx: *const MachineContext) -> *const MachineContext {
    CONTEXT.with(|c| c.replace(ctx))
}

/// The current thread's M context, or null on a plain OS thread.
#[inline(never)]
pub(crate) fn current() -> *const MachineContext {
    CONTEXT.try_with(|c| c.get()).unwrap_or(ptr::null())
}

/// The G running on this thread, or null when not inside a green thread.
/// (One TLS read on the hot path of every yield and park.)
#[inline(never)]
pub(crate) fn current_g_ptr() -> GPtr {
    let ctx = CONTEXT.try_with(|c| c.get()).unwrap_or(ptr::null());
    if ctx.is_null() {
        return None;
    }
    // SAFETY: a non-null context points at the live `MachineContext` on this
    // thread's M stack (it is uninstalled before that frame ends).
    unsafe { (*ctx).g.get() }
}

/// True when sysmon asked the G running on this thread's P to yield.
#[inline(never)]
pub(crate) fn preempt_requested() -> bool {
    let ctx = CONTEXT.try_with(|c| c.get()).unwrap_or(ptr::null());
    if ctx.is_null() {
        return false;
    }
    // SAFETY: as in `current_g_ptr`; `lent` points into the scheduler's
    // array of shared P halves, which outlives every M context, and the
    // running G is kept alive by its M.
    unsafe {
        let Some(g) = (*ctx).g.get() else {
            return false;
        };
        let lent = (*ctx).lent.get();
        if lent.is_null() {
            // A G running without a P: its P was retaken while it was
            // asleep in an unwrapped blocking call (invariant 8, lent P).
            // Yield so its M can find one; not inside `greenrt::syscall`,
            // which runs without a P on purpose and must not switch.
            return (*ctx).p.get().is_null() && !g.as_ref().in_syscall.get();
        }
        let shared: &ProcessorShared = &*lent;
        shared.preempt.load(std::sync::atomic::Ordering::Relaxed)
            || !shared.lend.is_lent_to((*ctx).lendee.state())
    }
}

/// A counted reference to the running G, if any.
pub(crate) fn current_g() -> Option<GRef> {
    let g = current_g_ptr()?;
    // SAFETY: the running G is kept alive by the `GRef` its M holds while it
    // runs, and `ctx.g` is that GRef's own pointer (`GRef::as_ptr`).
    Some(unsafe { GRef::clone_from_ptr(g) })
}

/// The scheduler of the runtime this thread belongs to (as an M, or as a
/// thread unwinding one of its Gs), if any.
pub(crate) fn current_sched() -> Option<Arc<Scheduler>> {
    let ctx = current();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: see `current_g_ptr`; the scheduler outlives every M context
    // (each M holds an `Arc<Scheduler>` for its whole loop).
    unsafe {
        let s = (*ctx).sched;
        Arc::increment_strong_count(s);
        Some(Arc::from_raw(s))
    }
}

/// A scheduler reference that took no count: what a spawn needs for the
/// length of the call, without the increment and decrement of an `Arc`
/// clone (a measurable share of a spawn; docs/BENCHMARKS.md).
/// Not `Send`: it is valid only for the runtime call that made it.
pub(crate) struct SchedRef(
    std::mem::ManuallyDrop<Arc<Scheduler>>,
    std::marker::PhantomData<*const ()>,
);

impl SchedRef {
    /// Borrows `sched` without counting.
    ///
    /// # Safety
    /// `sched` is `Arc::as_ptr` of a live `Arc<Scheduler>` that outlives
    /// the returned value.
    unsafe fn new(sched: *const Scheduler) -> SchedRef {
        // SAFETY: per the contract; never dropped, so no count is given back.
        SchedRef(
            std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(sched) }),
            std::marker::PhantomData,
        )
    }

    /// Borrows a scheduler that lives for ever (the default runtime's).
    pub(crate) fn of_static(sched: &'static Arc<Scheduler>) -> SchedRef {
        // SAFETY: a `'static` Arc outlives everything.
        unsafe { SchedRef::new(Arc::as_ptr(sched)) }
    }
}

impl std::ops::Deref for SchedRef {
    type Target = Arc<Scheduler>;
    fn deref(&self) -> &Arc<Scheduler> {
        &self.0
    }
}

/// [`current_sched`] without counting a reference: the result must be
/// dropped before the current runtime call returns (it is valid for that
/// call even if the G switches and moves to another M meanwhile).
pub(crate) fn current_sched_ref() -> Option<SchedRef> {
    let ctx = current();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: `(*ctx).sched` is `Arc::as_ptr` of the scheduler's `Arc` that
    // this thread's M holds for its whole loop (see `current_sched`). For
    // the rest of the runtime call it stays alive: code on an M's own stack
    // runs inside that M's loop, and a G (running, or unwinding on this
    // thread) holds an `Arc` of its own runtime, the one whose M runs it.
    Some(unsafe { SchedRef::new((*ctx).sched) })
}

/// This thread's P, usable while the guard lives (see [`claim_local_p`]).
pub(crate) struct LocalP {
    p: *const Processor,
    /// The lend word this guard claimed, to release on drop (null: none).
    claimed: *const ProcessorShared,
    /// The claiming thread's lend state (null when `claimed` is).
    by: *const LendState,
}

impl LocalP {
    /// No P: queue globally.
    pub(crate) const NONE: LocalP = LocalP {
        p: ptr::null(),
        claimed: ptr::null(),
        by: ptr::null(),
    };

    /// The P (null when this thread holds none of the runtime's Ps).
    #[inline]
    pub(crate) fn get(&self) -> *const Processor {
        self.p
    }
}

impl Drop for LocalP {
    #[inline]
    fn drop(&mut self) {
        if !self.claimed.is_null() {
            // SAFETY: `claimed` is one of the scheduler's shared P halves,
            // which outlive every M context; `by` is a lend state, never
            // freed.
            unsafe { (*self.claimed).lend.release(&*self.by) }
        }
    }
}

/// This thread's P when it is an M of `sched` holding one, claimed for the
/// guard's life when it is lent to the running G (invariant 8, lent P). A P
/// that sysmon retook while the G was asleep is forgotten here: the guard
/// is empty, and the G runs without a P until it next switches. The guard
/// must be dropped before anything that may switch.
#[inline(never)]
pub(crate) fn claim_local_p(sched: *const Scheduler) -> LocalP {
    let ctx = current();
    if ctx.is_null() {
        return LocalP::NONE;
    }
    // SAFETY: see `current_g_ptr`. The P pointer is owned by this M: held
    // by it in its own loop (`lent` null), or lent to the running G, which
    // uses it only under the claim taken here. The claim, or the M's
    // ownership, lasts while the guard lives, and the guard does not
    // outlive this thread's time in the runtime call that made it.
    unsafe {
        let ctx = &*ctx;
        if !ptr::eq(ctx.sched, sched) {
            return LocalP::NONE;
        }
        let p = ctx.p.get();
        if p.is_null() {
            return LocalP::NONE;
        }
        let lent = ctx.lent.get();
        if lent.is_null() {
            return LocalP {
                p,
                claimed: ptr::null(),
                by: ptr::null(),
            };
        }
        match (*lent).lend.claim(ctx.lendee.state()) {
            Claim::Taken => LocalP {
                p,
                claimed: lent,
                by: ctx.lendee.state(),
            },
            Claim::Nested => LocalP {
                p,
                claimed: ptr::null(),
                by: ptr::null(),
            },
            Claim::Lost => {
                ctx.p.set(ptr::null_mut());
                ctx.lent.set(ptr::null());
                LocalP::NONE
            }
        }
    }
}

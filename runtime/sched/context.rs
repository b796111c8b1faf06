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
use super::processor::Processor;
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
    // SAFETY: as in `current_g_ptr`; the P pointer is this M's own (lent to
    // the running G) and valid while it runs.
    unsafe {
        let p = (*ctx).p.get();
        if p.is_null() || (*ctx).g.get().is_none() {
            return false;
        }
        let p: &Processor = &*p;
        p.shared.preempt.load(std::sync::atomic::Ordering::Relaxed)
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

/// Runs `f` with the current context's P, if this thread is an M of `sched`
/// that holds one.
#[inline(never)]
pub(crate) fn with_local_p<R>(sched: &Scheduler, f: impl FnOnce(&Processor) -> R) -> Option<R> {
    let ctx = current();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: see `current_g_ptr`. The P pointer is owned by this M, which is
    // the only thread that uses it; it stays valid until the M releases it,
    // which cannot happen while we run on this thread inside `f`.
    unsafe {
        if !ptr::eq((*ctx).sched, sched) {
            return None;
        }
        let p = (*ctx).p.get();
        if p.is_null() {
            return None;
        }
        Some(f(&*p))
    }
}

//! Syscall handoff (Go: `entersyscall` / `exitsyscall`).
//!
//! `greenrt::syscall(|| blocking_call())` runs a call that may block the OS
//! thread. On entry the M parks its P in the P's syscall slot (one store) and
//! runs the call without a P. If the call returns quickly, the M swaps its P
//! back out of the slot (one atomic swap) — no lock, no wake-up. If it blocks
//! longer than a sysmon tick (~20 µs) while other Gs wait, sysmon swaps the P
//! out of the slot first and hands it to another M, so those Gs keep running.
//! On return without its P, the M takes any idle P; failing that, the G is
//! queued on the global run queue and the M goes idle.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use crate::sched::context;
use crate::sched::green_thread::SwitchRequest;

/// Runs `f`, a call that may block the OS thread, without holding up the
/// other green threads of this processor.
///
/// Use it around blocking calls greenrt has no green version of: file I/O
/// (or use [`greenrt::fs`](crate::fs)), DNS lookups, `std::thread::sleep`,
/// C libraries. Outside a green thread it simply calls `f`.
///
/// ```
/// let pid = greenrt::run(|| greenrt::syscall(std::process::id));
/// assert_eq!(pid, std::process::id());
/// ```
///
/// # Panics
/// `f` must not call runtime functions that wait (join, sleep, channel or
/// lock operations, green socket I/O, `yield_now`): it runs without a
/// processor, so those panic with a message saying so instead of deadlocking.
/// Spawning is fine. A panic in `f` propagates to the caller after the
/// processor is taken back.
pub fn syscall<R>(f: impl FnOnce() -> R) -> R {
    let ctx = context::current();
    if ctx.is_null() {
        return f();
    }
    // SAFETY: a non-null context is the live MachineContext of this thread's
    // M (see context.rs); the scheduler outlives it.
    let (ctx_ref, sched) = unsafe { (&*ctx, &*(*ctx).sched) };
    let p = ctx_ref.p.get();
    let Some(g) = ctx_ref.g.get() else {
        // Not in a G: nothing to hand off.
        return f();
    };
    // SAFETY: `g` is the running G, alive while it runs.
    let g = unsafe { g.as_ref() };
    if p.is_null() || g.in_syscall.get() {
        // Already inside a syscall: nothing to hand off.
        return f();
    }
    // --- enter: park the P in its slot; the M runs on without it.
    // SAFETY: `p` is the P lent to this G by its M (context.rs).
    let shared = &sched.ps[unsafe { (*p).id }];
    let tick = shared.syscall_tick.load(Ordering::Relaxed);
    shared
        .syscall_tick
        .store(tick.wrapping_add(1), Ordering::Relaxed);
    shared.syscall_slot.store(p, Ordering::Release);
    ctx_ref.p.set(std::ptr::null_mut());
    g.in_syscall.set(true);

    let result = catch_unwind(AssertUnwindSafe(f));

    // --- exit. The G did not switch inside `f` (that panics), so this is
    // still the same thread and context; read it again anyway (invariant 4).
    let ctx = context::current();
    // SAFETY: as above.
    let ctx_ref = unsafe { &*ctx };
    g.in_syscall.set(false);
    let back = shared
        .syscall_slot
        .swap(std::ptr::null_mut(), Ordering::AcqRel);
    if !back.is_null() {
        // Fast path: nobody took the P.
        ctx_ref.p.set(back);
    } else if let Some(p) = sched.take_idle_p() {
        ctx_ref.p.set(Box::into_raw(p));
    } else {
        // No P free: queue this G globally and let the M go idle; the M that
        // resumes us lends us its P.
        g.switch_out(SwitchRequest::NeedsP);
    }
    match result {
        Ok(r) => r,
        Err(payload) => resume_unwind(payload),
    }
}

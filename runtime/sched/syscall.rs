//! The syscall enter/exit protocol (Go: `entersyscall` / `exitsyscall`).
//!
//! On entry the M parks its P in the P's syscall slot (one store) and runs
//! the call without a P. If the call returns quickly, the M swaps its P back
//! out of the slot (one atomic swap) — no lock, no wake-up. If it blocks
//! longer than a sysmon tick (~20 µs) while other Gs wait, sysmon swaps the P
//! out of the slot first and hands it to another M (`sysmon.rs`, the retake),
//! so those Gs keep running. On return without its P, the M takes any idle P;
//! failing that, the G is queued on the global run queue and the M goes idle
//! (invariant 1, P ownership, of `sched/mod.rs`: while the M is in the call
//! the slot owns the P, and whoever swaps it out owns it next).
//!
//! The public wrapper is `greenrt::syscall` (`runtime/syscall.rs`).

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use super::context::{self, MachineContext};
use super::g_status::Phase;
use super::green_thread::{GreenThread, SwitchRequest};
use super::lend::Claim;
use super::processor::{Processor, ProcessorShared};
use super::scheduler::Scheduler;

/// Proof that the running G has entered a syscall: its P sits in the slot.
/// [`exit`](Self::exit) takes a P back. `!Send`: the exit must run on the
/// thread that entered (the G cannot switch while it is in a syscall).
pub(crate) struct InSyscall {
    g: NonNull<GreenThread>,
    sched: *const Scheduler,
    shared: *const ProcessorShared,
    _not_send: PhantomData<*const ()>,
}

impl InSyscall {
    /// Enters a syscall: parks this M's P in its syscall slot. `None` when
    /// there is nothing to hand off (not in a G, no P, already in a syscall).
    pub(crate) fn enter() -> Option<InSyscall> {
        let ctx = context::current();
        if ctx.is_null() {
            return None;
        }
        // SAFETY: a non-null context is the live MachineContext of this
        // thread's M (context.rs); the scheduler outlives it.
        let (ctx_ref, sched) = unsafe { (&*ctx, &*(*ctx).sched) };
        let g = ctx_ref.g.get()?;
        // SAFETY: `g` is the running G, alive while it runs.
        let g_ref = unsafe { g.as_ref() };
        let lent = ctx_ref.lent.get();
        if lent.is_null() || g_ref.in_syscall.get() {
            return None;
        }
        // SAFETY: `lent` is one of the scheduler's shared P halves.
        let shared: &ProcessorShared = unsafe { &*lent };
        // The lent P is used only under its claim (invariant 8, lent P).
        match shared.lend.claim(ctx_ref.lendee.state()) {
            Claim::Taken => {}
            // Runtime code on this thread holds the claim: it keeps the P.
            Claim::Nested => return None,
            Claim::Lost => {
                ctx_ref.p.set(std::ptr::null_mut());
                ctx_ref.lent.set(std::ptr::null());
                return None;
            }
        }
        let p = ctx_ref.p.get();
        // No longer lent (so sysmon's unwrapped-call retake leaves it) before
        // it is visible in the slot (where its syscall retake may take it).
        shared.lend.end_lend_claimed(ctx_ref.lendee.state());
        ctx_ref.lent.set(std::ptr::null());
        // Before the P goes into the slot, where another M may take it.
        // SAFETY: `g` is the running G, kept alive by its M's `GRef`, and
        // this thread holds the P claimed.
        unsafe { sched.note_left_p(g, shared, Phase::Syscall) };
        if let Some(t) = sched.tracer.as_deref() {
            // SAFETY: `p` is the P lent to this G by its M (context.rs).
            t.syscall_enter(unsafe { (*p).id }, g_ref.id());
        }
        let tick = shared.syscall_tick.load(Ordering::Relaxed);
        shared
            .syscall_tick
            .store(tick.wrapping_add(1), Ordering::Relaxed);
        // SAFETY: `p` is this M's owned P (a `Box::into_raw` pointer, as
        // every P the context holds); the context gives it up just below.
        unsafe { shared.syscall_slot.put(p) };
        ctx_ref.p.set(std::ptr::null_mut());
        g_ref.in_syscall.set(true);
        Some(InSyscall {
            g,
            sched,
            shared,
            _not_send: PhantomData,
        })
    }

    /// Leaves the syscall with a P: the one in the slot if sysmon did not
    /// take it, else an idle one, else the G queues globally and waits for
    /// an M to lend it one.
    pub(crate) fn exit(self) {
        // The G did not switch during the call (runtime waits panic there),
        // so this is still the same thread and context; read it again anyway
        // (invariant 5, no cached identity, of sched/mod.rs).
        let ctx = context::current();
        // SAFETY: as in `enter`; the G, its scheduler and its P's shared
        // half are kept alive by the M running this G.
        let (ctx_ref, g, sched, shared) =
            unsafe { (&*ctx, self.g.as_ref(), &*self.sched, &*self.shared) };
        g.in_syscall.set(false);
        if let Some(back) = shared.syscall_slot.take() {
            // Fast path: nobody took the P.
            let back = Box::into_raw(back);
            lend_to_running_g(ctx_ref, shared, back, self.g);
            note_running(sched, g, back);
        } else if let Some(p) = sched.take_idle_p() {
            let shared: &ProcessorShared = &sched.ps[p.id];
            let p = Box::into_raw(p);
            lend_to_running_g(ctx_ref, shared, p, self.g);
            note_running(sched, g, p);
        } else {
            if let Some(t) = sched.tracer.as_deref() {
                t.syscall_exit(u32::MAX, g.id());
            }
            // No P free: queue this G globally and let the M go idle; the M
            // that resumes us lends us its P.
            g.switch_out(SwitchRequest::NeedsP);
        }
    }
}

/// Gives the running G an owned P (`p`, whose shared half is `shared`):
/// lent, as its M lent the one it started with (invariant 8, lent P).
fn lend_to_running_g(
    ctx: &MachineContext,
    shared: &ProcessorShared,
    p: *mut Processor,
    g: NonNull<GreenThread>,
) {
    shared.lend.lend(ctx.lendee.state(), p, g.as_ptr());
    ctx.lent.set(shared);
    ctx.p.set(p);
}

/// Records that `g`, back from its syscall, runs on `p` (for dumps).
fn note_running(sched: &Scheduler, g: &GreenThread, p: *mut Processor) {
    // SAFETY: `p` is the P this M just took ownership of, lent to `g`.
    let p: &Processor = unsafe { &*p };
    // Registered at entry: the status alone places it (`g_status.rs`).
    g.status.set_running(p.id, sched.sysmon.clock.now_us());
    if let Some(t) = sched.tracer.as_deref() {
        t.syscall_exit(p.id as u32, g.id());
    }
}

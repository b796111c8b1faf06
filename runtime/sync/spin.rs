//! Bounded spinning before parking, and when it is worth it.
//!
//! A lock held for a few hundred nanoseconds is usually released before a
//! park/unpark round trip (two context switches) could complete, so the lock
//! types try a short spin first. Spinning only helps if the holder can run at
//! the same time: never inside a runtime with a single P (the holder is a G
//! queued behind us on the same P), never on a single-CPU machine.

use std::sync::OnceLock;

use crate::sched::context;

/// Spin rounds before parking, each `SPIN_PAUSES` pause instructions (Go:
/// sync/runtime `active_spin = 4`, `active_spin_cnt = 30`).
pub(crate) const SPIN_ROUNDS: u32 = 4;
const SPIN_PAUSES: u32 = 30;

/// True when spinning for a lock can succeed: the caller is an OS thread on a
/// multi-CPU machine, or a G of a runtime with more than one P.
pub(crate) fn worthwhile() -> bool {
    static MULTI_CPU: OnceLock<bool> = OnceLock::new();
    let multi =
        *MULTI_CPU.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1));
    if !multi {
        return false;
    }
    match context::current_sched() {
        Some(sched) => sched.procs() > 1,
        None => true,
    }
}

/// One round of busy-waiting.
#[inline]
pub(crate) fn pause() {
    for _ in 0..SPIN_PAUSES {
        std::hint::spin_loop();
    }
}

//! Cooperative preemption checkpoints.
//!
//! greenrt cannot interrupt a green thread: it switches only when the green
//! thread calls into the runtime. sysmon marks a processor whose green thread
//! has run for more than 10 ms without switching; the next checkpoint then
//! yields. Put [`checkpoint`] in long CPU-bound loops (every few microseconds
//! of work is plenty: it costs about a nanosecond when no yield is due).

use crate::sched::context;

/// Yields if sysmon asked the running green thread to (it has run ≥ 10 ms).
/// Outside a green thread, does nothing.
#[inline]
pub fn checkpoint() {
    if should_yield() {
        crate::yield_preempted();
    }
}

/// True when sysmon has asked the running green thread to yield.
#[inline]
pub fn should_yield() -> bool {
    context::preempt_requested()
}

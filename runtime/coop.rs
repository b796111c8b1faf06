//! Cooperative preemption checkpoints.
//!
//! greenrt cannot interrupt a green thread: it switches only when the green
//! thread calls into the runtime. sysmon marks a processor whose green thread
//! has run for more than 10 ms without switching; the next checkpoint then
//! yields. Put [`checkpoint`] in long CPU-bound loops (every few microseconds
//! of work is plenty: it costs about a nanosecond when no yield is due).
//!
//! The runtime's own operations that never park are checkpoints where a
//! loop of them could run without end, since at `procs = 1` such a loop
//! would keep the green thread it waits for, or feeds, from ever running:
//! a send into an unbounded channel, and every non-blocking operation that
//! fails (`after_poll`): `try_recv`, `try_send`, a `select!` taking its
//! `default`, `try_lock`, `try_read`, `try_write`, `try_acquire`, a socket
//! in non-blocking mode giving `WouldBlock`, a `JoinHandle::is_finished`
//! that says `false`. Operations that can park need none: a loop of them
//! parks when it gets ahead.

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

/// The outcome of a non-blocking operation: a failure is a checkpoint (module
/// docs). Returns `succeeded`.
#[inline]
pub(crate) fn after_poll(succeeded: bool) -> bool {
    if !succeeded {
        checkpoint();
    }
    succeeded
}

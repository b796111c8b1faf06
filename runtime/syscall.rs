//! `greenrt::syscall`: run a blocking call without holding up the other
//! green threads of this processor (the handoff protocol is the scheduler's,
//! `sched/syscall.rs`).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::sched::InSyscall;

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
    let Some(entered) = InSyscall::enter() else {
        return f();
    };
    let result = catch_unwind(AssertUnwindSafe(f));
    entered.exit();
    match result {
        Ok(r) => r,
        Err(payload) => resume_unwind(payload),
    }
}

//! `sleep`, `sleep_until` and the deadline helpers of timer channels and
//! timeouts.
//!
//! The timer heap itself is the scheduler's (`sched/timers.rs`): this module
//! only turns user requests into timers on the caller's runtime and parks.

use std::time::{Duration, Instant};

use crate::sched::{park, TimerAction, TimerHandle, WaitReason};

/// Puts the current green thread (or OS thread) to sleep for at least `dur`.
///
/// In a green thread only the G parks; its P runs other Gs meanwhile. On a
/// plain OS thread this is `std::thread::sleep`.
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        // A duration too large to represent: sleep "forever", in slices.
        None => loop {
            sleep_until(Instant::now() + Duration::from_secs(86_400 * 365));
        },
    }
}

/// Puts the current green thread (or OS thread) to sleep until `deadline`.
pub fn sleep_until(deadline: Instant) {
    if !crate::in_green_thread() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    if deadline <= Instant::now() {
        crate::yield_now();
        return;
    }
    while !park::park_until(deadline, WaitReason::Sleep) {}
}

/// Adds a timer on the caller's runtime (the default runtime outside any
/// green thread). Used by timer channels and timeouts.
pub(crate) fn add_timer(when: Instant, action: TimerAction) -> TimerHandle {
    crate::runtime::current_or_default().add_timer(when, action)
}

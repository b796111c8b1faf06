//! Waiting for a condition a test needs, observed instead of slept for.
//!
//! A sleep "long enough for the G to park" is a guess that fails on a
//! loaded machine and wastes time on an idle one; the runtime tells us
//! what each G waits for (`wait_reason()`), so tests wait on that.

use std::time::Duration;

use greenrt::{JoinHandle, WaitReason};

fn all_parked<T>(handles: &[JoinHandle<T>], reason: WaitReason) -> bool {
    handles.iter().all(|h| h.thread().wait_reason() == reason)
}

/// From a green thread: yields until every handle's G is parked for
/// `reason`.
pub fn until_parked<T>(handles: &[JoinHandle<T>], reason: WaitReason) {
    while !all_parked(handles, reason) {
        greenrt::yield_now();
    }
}

/// Like [`until_parked`], for a caller that is not a green thread (it
/// cannot yield to the scheduler, so it polls).
pub fn until_parked_from_os_thread<T>(handles: &[JoinHandle<T>], reason: WaitReason) {
    while !all_parked(handles, reason) {
        std::thread::sleep(Duration::from_micros(100));
    }
}

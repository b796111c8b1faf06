//! `GreenThread`: the public, cloneable handle to a G (like `std::thread::Thread`).

use std::fmt;

use crate::sched;

/// A handle to a green thread: its id and name.
///
/// Returned by [`JoinHandle::thread`](crate::JoinHandle::thread) and
/// [`current`](crate::current).
#[derive(Clone)]
pub struct GreenThread {
    inner: sched::GRef,
}

impl GreenThread {
    pub(crate) fn new(inner: sched::GRef) -> Self {
        GreenThread { inner }
    }

    /// The green thread's id: unique within its runtime, never reused, and
    /// starting at 1. Ids are not in spawn order: each processor takes
    /// them in batches.
    pub fn id(&self) -> u64 {
        self.inner.id()
    }

    /// The name given at spawn, if any.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Why the green thread is parked right now (`WaitReason::None` if it is
    /// running or runnable).
    pub fn wait_reason(&self) -> sched::WaitReason {
        self.inner.wait_reason()
    }

    /// Wakes the green thread if it is blocked in [`park`](crate::park), or
    /// makes its next `park` return at once (like `std::thread::Thread::unpark`).
    pub fn unpark(&self) {
        crate::sched::park::Unparker::Green(self.inner.clone()).unpark();
    }
}

impl fmt::Debug for GreenThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenThread")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish()
    }
}

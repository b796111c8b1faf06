//! `WaitGroup`: Go's `sync.WaitGroup` — wait for a set of tasks to finish.
//!
//! A counter plus a list of parked waiters. `add` with a result of zero
//! wakes every waiter. The counter is checked again under the list lock
//! before a waiter parks, and the waker takes that lock after updating the
//! counter, so a wake-up cannot slip between the check and the park.

use std::fmt;
use std::sync::atomic::{AtomicIsize, Ordering};

use super::wait_queue::{WaitQueue, Withdraw};
use crate::sched::WaitReason;

/// Waits for a collection of tasks to finish, with Go's semantics: `add(n)`
/// before starting tasks, `done()` as each finishes, `wait()` until the
/// count is zero. Share it with `Arc`.
///
/// ```
/// use std::sync::Arc;
/// use greenrt::sync::WaitGroup;
///
/// greenrt::run(|| {
///     let wg = Arc::new(WaitGroup::new());
///     for _ in 0..8 {
///         wg.add(1);
///         let wg = wg.clone();
///         greenrt::spawn(move || wg.done());
///     }
///     wg.wait();
/// });
/// ```
pub struct WaitGroup {
    count: AtomicIsize,
    waiters: WaitQueue<()>,
}

impl WaitGroup {
    /// A wait group with a count of zero.
    pub const fn new() -> Self {
        WaitGroup {
            count: AtomicIsize::new(0),
            waiters: WaitQueue::new(),
        }
    }

    /// Adds `delta` (which may be negative) to the count. Reaching zero
    /// releases every waiter.
    ///
    /// # Panics
    /// If the count would become negative (more `done()` than `add()`); the
    /// count is left unchanged.
    pub fn add(&self, delta: isize) {
        let prev = self.count.fetch_add(delta, Ordering::AcqRel);
        let now = prev.checked_add(delta);
        match now {
            Some(n) if n >= 0 => {
                if n == 0 && delta != 0 {
                    self.waiters.lock().grant_all();
                }
            }
            _ => {
                self.count.fetch_sub(delta, Ordering::AcqRel);
                panic!(
                    "greenrt::sync::WaitGroup: negative counter \
                     (done() called more often than add(), or add({delta}) with count {prev})"
                );
            }
        }
    }

    /// Decrements the count by one (a task finished).
    pub fn done(&self) {
        self.add(-1);
    }

    /// The current count.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire).max(0) as usize
    }

    /// Waits until the count is zero (returns at once if it is).
    pub fn wait(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let waiters = self.waiters.lock();
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        waiters.enqueue(self, ()).wait(WaitReason::WaitGroup);
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// A waiter unwound while parked just leaves the queue (the defaults):
/// there is nothing to give back.
impl Withdraw for WaitGroup {
    type Kind = ();

    fn wait_queue(&self) -> &WaitQueue<()> {
        &self.waiters
    }
}

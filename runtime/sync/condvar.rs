//! `Condvar`: wait for a condition under a green-aware [`Mutex`](super::Mutex).
//!
//! A waiter queues itself *before* releasing the mutex, so a notification
//! sent after the release always finds it (no lost wake-up); then it parks
//! (only its green thread) and re-locks the mutex when woken. Notifications
//! go to waiters in arrival order. As with std, wake-ups may be spurious
//! from the caller's point of view (another thread may change the state
//! before the woken one re-locks): check the condition in a loop, or use
//! [`wait_while`](Condvar::wait_while).

use std::fmt;
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::wait_queue::{WaitQueue, Withdraw};
use crate::sched::WaitReason;

/// Whether a timed wait on a [`Condvar`] returned because time ran out.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout elapsed.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable for [`Mutex`](super::Mutex), parking green threads.
///
/// Same methods as `std::sync::Condvar`, minus poisoning: the `wait`
/// family takes and returns the guard directly.
///
/// ```
/// use std::sync::Arc;
/// use greenrt::sync::{Condvar, Mutex};
///
/// greenrt::run(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let pair2 = pair.clone();
///     greenrt::spawn(move || {
///         *pair2.0.lock() = true;
///         pair2.1.notify_one();
///     });
///     let (lock, cvar) = &*pair;
///     let ready = cvar.wait_while(lock.lock(), |ready| !*ready);
///     assert!(*ready);
/// });
/// ```
pub struct Condvar {
    waiters: WaitQueue<()>,
}

impl Condvar {
    /// A condition variable with no waiters.
    pub const fn new() -> Self {
        Condvar {
            waiters: WaitQueue::new(),
        }
    }

    /// Releases the guard's mutex, waits for a notification, and re-locks.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until_inner(guard, None).0
    }

    /// Waits while `condition` holds (checked under the lock, first before
    /// waiting at all).
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Condvar::wait), giving up after `timeout`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let (guard, timed_out) = self.wait_until_inner(guard, Instant::now().checked_add(timeout));
        (guard, WaitTimeoutResult(timed_out))
    }

    /// Like [`wait_while`](Condvar::wait_while), giving up after `timeout`;
    /// `timed_out()` is true if time ran out with the condition still true.
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult)
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if !condition(&mut *guard) {
                return (guard, WaitTimeoutResult(false));
            }
            let (g, timed_out) = self.wait_until_inner(guard, deadline);
            guard = g;
            if timed_out {
                let still = condition(&mut *guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
    }

    /// Wakes the longest-waiting thread, if any.
    pub fn notify_one(&self) {
        self.waiters.lock().grant_front();
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.waiters.lock().grant_all();
    }

    /// Returns the re-locked guard and whether the deadline passed.
    fn wait_until_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        // Queued before the mutex is released: a notification sent after
        // the release finds us.
        let ticket = self.waiters.lock().enqueue(self, ());
        let mutex = MutexGuard::mutex(&guard);
        drop(guard);
        let notified = ticket.wait_until(deadline, WaitReason::Condvar);
        (mutex.lock(), !notified)
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}

impl Withdraw for Condvar {
    type Kind = ();

    fn wait_queue(&self) -> &WaitQueue<()> {
        &self.waiters
    }

    /// Notified, but unwinding: pass the notification on, so it is not lost.
    fn abandoned(&self, _: ()) {
        self.notify_one();
    }
}

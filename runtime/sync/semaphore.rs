//! `Semaphore`: a pool of permits, handed out in arrival order.
//!
//! The permit count and a `QUEUED` bit share one atomic word, so acquiring
//! and releasing without contention is one CAS. Once anyone waits, nobody
//! overtakes: new acquirers queue, and released permits go straight to the
//! queue head (hand-off), so a waiter asking for a permit is never starved
//! by a stream of `try_acquire`s.
//!
//! Invariant: while `QUEUED` is set no permits are free, and the word
//! changes only under the queue lock.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::wait_queue::{Locked, WaitQueue, Withdraw};
use crate::sched::WaitReason;

const QUEUED: usize = 1;
const ONE: usize = 2;

/// A counting semaphore that parks the green thread (or blocks the OS
/// thread) waiting for a permit.
///
/// ```
/// use greenrt::sync::Semaphore;
///
/// let sem = Semaphore::new(2);
/// let a = sem.acquire();
/// let _b = sem.acquire();
/// assert!(sem.try_acquire().is_none());
/// drop(a);
/// assert!(sem.try_acquire().is_some());
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    queue: WaitQueue<()>,
}

/// A permit from a [`Semaphore`]; returned to it when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> 1;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "too many permits for a Semaphore"
        );
        Semaphore {
            state: AtomicUsize::new(permits * ONE),
            queue: WaitQueue::new(),
        }
    }

    /// Permits free right now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Acquire) / ONE
    }

    /// Takes a permit if one is free and nobody is queued before us.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & QUEUED == 0 && s >= ONE {
            match self
                .state
                .compare_exchange_weak(s, s - ONE, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(SemaphorePermit { sem: self }),
                Err(now) => s = now,
            }
        }
        None
    }

    /// Takes a permit, waiting for one if none is free.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        match self.try_acquire() {
            Some(p) => p,
            None => self
                .acquire_slow(None)
                .expect("a wait without deadline ends with a permit"),
        }
    }

    /// Takes a permit, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.try_acquire()
            .or_else(|| self.acquire_slow(Instant::now().checked_add(timeout)))
    }

    /// Adds one permit (e.g. one given up with [`SemaphorePermit::forget`]).
    pub fn release(&self) {
        self.add_permits(1);
    }

    /// Adds `n` permits, handing them to waiters first.
    ///
    /// # Panics
    /// If the count would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn add_permits(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.state.load(Ordering::Relaxed);
        while s & QUEUED == 0 {
            let next = Self::plus(s, n);
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => s = now,
            }
        }
        self.hand_off(&mut self.queue.lock(), n);
    }

    /// Gives `n` released permits to the queue head first, the rest to the
    /// pool once nobody waits.
    fn hand_off(&self, queue: &mut Locked<'_, ()>, mut n: usize) {
        while n > 0 && queue.grant_front().is_some() {
            n -= 1;
        }
        if queue.is_empty() {
            let _ = self
                .state
                .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                    Some(Self::plus(s & !QUEUED, n))
                });
        }
    }

    fn plus(s: usize, n: usize) -> usize {
        match n.checked_mul(ONE).and_then(|add| s.checked_add(add)) {
            Some(v) => v,
            None => panic!("Semaphore permit count overflow"),
        }
    }

    #[cold]
    fn acquire_slow(&self, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        let ticket = {
            let queue = self.queue.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                let (next, take) = if s & QUEUED == 0 && s >= ONE {
                    (s - ONE, true)
                } else {
                    (s | QUEUED, false)
                };
                if !take && deadline.is_some_and(|d| Instant::now() >= d) {
                    return None;
                }
                match self.state.compare_exchange_weak(
                    s,
                    next,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) if take => return Some(SemaphorePermit { sem: self }),
                    Ok(_) => break,
                    Err(now) => s = now,
                }
            }
            queue.enqueue(self, ())
        };
        // (Not `then_some`: a permit made eagerly would be released on drop.)
        if ticket.wait_until(deadline, WaitReason::Semaphore) {
            Some(SemaphorePermit { sem: self })
        } else {
            None
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit out of the semaphore for good (it is not returned
    /// on drop); [`Semaphore::release`] can add it back later.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SemaphorePermit { .. }")
    }
}

impl Withdraw for Semaphore {
    type Kind = ();

    fn wait_queue(&self) -> &WaitQueue<()> {
        &self.queue
    }

    fn withdrawn(&self, queue: &mut Locked<'_, ()>, _: ()) {
        if queue.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }

    /// Granted a permit, but unwinding: return it.
    fn abandoned(&self, _: ()) {
        self.add_permits(1);
    }
}

//! `Semaphore`: a pool of permits, handed out in arrival order.
//!
//! The permit count and a `QUEUED` bit share one atomic word, so acquiring
//! and releasing without contention is one CAS. Once anyone waits, nobody
//! overtakes: new acquirers queue, and released permits go straight to the
//! queue head (hand-off), so a waiter is never starved by a stream of
//! `try_acquire`s — nor one asking for many permits by a stream of
//! waiters asking for one: the head collects released permits until it has
//! all it asked for, and those behind it wait (tokio's rule).
//!
//! Invariant: while `QUEUED` is set no permits are free (the head may hold
//! some of those it asked for), and the word changes only under the queue
//! lock.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::wait_queue::{Locked, WaitQueue, Withdraw};
use crate::sched::WaitReason;

const QUEUED: usize = 1;
const ONE: usize = 2;

/// A counting semaphore that parks the green thread (or blocks the OS
/// thread) waiting for permits.
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
///
/// To move a permit into a spawned green thread, share the semaphore in an
/// `Arc` and take an [`OwnedSemaphorePermit`]:
///
/// ```
/// use std::sync::Arc;
/// use greenrt::sync::Semaphore;
///
/// greenrt::run(|| {
///     let sem = Arc::new(Semaphore::new(4));
///     let handles: Vec<_> = (0..16)
///         .map(|_| {
///             let permit = sem.clone().acquire_owned();
///             greenrt::spawn(move || {
///                 // at most 4 of these bodies run at a time
///                 drop(permit);
///             })
///         })
///         .collect();
///     handles.into_iter().for_each(|h| h.join().unwrap());
///     assert_eq!(sem.available_permits(), 4);
/// });
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    queue: WaitQueue<Request>,
}

/// A queued acquirer: permits it asked for, and those still missing.
#[derive(Clone, Copy)]
pub(crate) struct Request {
    wanted: usize,
    missing: usize,
}

/// Permits from a [`Semaphore`]; returned to it when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

/// Permits from a [`Semaphore`] held in an `Arc`: the permit owns a
/// reference to the semaphore, so it can move into another (green) thread.
/// Returned to the semaphore when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
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
        self.try_acquire_many(1)
    }

    /// Takes `n` permits at once if they are free and nobody is queued
    /// before us; otherwise takes none.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        // (`then`, not `then_some`: a permit built eagerly would be
        // released on drop.)
        // A failure is a checkpoint (a loop of them polls, `coop.rs`).
        crate::coop::after_poll(self.try_take(n)).then(|| SemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Takes a permit, waiting for one if none is free.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits, waiting until all of them are free (`n == 0`
    /// returns at once). Waiters are
    /// served in arrival order: while this one waits, released permits
    /// collect for it, and later acquirers (even of one permit) wait behind
    /// it.
    ///
    /// # Panics
    /// If `n` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS) (it could never be
    /// granted).
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        self.take(n, None)
            .expect("a wait without deadline ends with the permits");
        SemaphorePermit {
            sem: self,
            permits: n,
        }
    }

    /// Takes a permit, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.take(1, Instant::now().checked_add(timeout))?;
        Some(SemaphorePermit {
            sem: self,
            permits: 1,
        })
    }

    /// Like [`acquire`](Self::acquire), for a semaphore in an `Arc`: the
    /// permit keeps the semaphore alive and can move into a spawned green
    /// thread.
    pub fn acquire_owned(self: Arc<Self>) -> OwnedSemaphorePermit {
        self.acquire_many_owned(1)
    }

    /// Like [`acquire_many`](Self::acquire_many), returning an owned permit.
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> OwnedSemaphorePermit {
        self.take(n, None)
            .expect("a wait without deadline ends with the permits");
        OwnedSemaphorePermit {
            sem: self,
            permits: n,
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), returning an owned permit.
    pub fn try_acquire_owned(self: Arc<Self>) -> Option<OwnedSemaphorePermit> {
        self.try_acquire_many_owned(1)
    }

    /// Like [`try_acquire_many`](Self::try_acquire_many), returning an owned
    /// permit.
    pub fn try_acquire_many_owned(self: Arc<Self>, n: usize) -> Option<OwnedSemaphorePermit> {
        let taken = crate::coop::after_poll(self.try_take(n));
        taken.then(|| OwnedSemaphorePermit {
            sem: self,
            permits: n,
        })
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

    /// Gives `n` released permits to the queue, head first (granting each
    /// waiter once it has all it asked for), the rest to the pool once
    /// nobody waits.
    fn hand_off(&self, queue: &mut Locked<'_, Request>, mut n: usize) {
        while n > 0 {
            let Some(head) = queue.front_mut() else { break };
            let given = n.min(head.missing);
            head.missing -= given;
            n -= given;
            if head.missing == 0 {
                queue.grant_front();
            }
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

    /// Takes `n` permits without waiting, or none.
    fn try_take(&self, n: usize) -> bool {
        let Some(need) = n.checked_mul(ONE) else {
            return false;
        };
        let mut s = self.state.load(Ordering::Relaxed);
        while s & QUEUED == 0 && s >= need {
            match self.state.compare_exchange_weak(
                s,
                s - need,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    /// Takes `n` permits, waiting until `deadline` (if any). `None`: the
    /// deadline passed and nothing was taken.
    fn take(&self, n: usize, deadline: Option<Instant>) -> Option<()> {
        assert!(
            n <= Self::MAX_PERMITS,
            "cannot acquire more than Semaphore::MAX_PERMITS permits"
        );
        // Zero permits are always there, even for a caller behind a queue.
        if n == 0 || self.try_take(n) {
            return Some(());
        }
        self.take_slow(n, deadline)
    }

    #[cold]
    fn take_slow(&self, n: usize, deadline: Option<Instant>) -> Option<()> {
        let ticket = {
            let queue = self.queue.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                debug_assert!(s & QUEUED == 0 || s / ONE == 0, "free permits while QUEUED");
                let free = s / ONE;
                let take = s & QUEUED == 0 && free >= n;
                if !take && deadline.is_some_and(|d| Instant::now() >= d) {
                    return None;
                }
                // Queuing takes the free permits along: they wait with us
                // for the rest (no permit is free while QUEUED).
                let next = if take { s - n * ONE } else { QUEUED };
                match self.state.compare_exchange_weak(
                    s,
                    next,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) if take => return Some(()),
                    Ok(_) => {
                        break queue.enqueue(
                            self,
                            Request {
                                wanted: n,
                                missing: n - free,
                            },
                        )
                    }
                    Err(now) => s = now,
                }
            }
        };
        ticket
            .wait_until(deadline, WaitReason::Semaphore)
            .then_some(())
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
    /// Keeps the permits out of the semaphore for good (they are not
    /// returned on drop); [`Semaphore::add_permits`] can add them back later.
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good (they are not
    /// returned on drop); [`Semaphore::add_permits`] can add them back later.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.add_permits(self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

impl Withdraw for Semaphore {
    type Kind = Request;

    fn wait_queue(&self) -> &WaitQueue<Request> {
        &self.queue
    }

    /// Timed out or unwound while queued: the permits it collected so far
    /// go on to the next waiter (or the pool, which also clears `QUEUED`
    /// once the queue is empty).
    fn withdrawn(&self, queue: &mut Locked<'_, Request>, req: Request) {
        self.hand_off(queue, req.wanted - req.missing);
    }

    /// Granted its permits, but unwinding: return them.
    fn abandoned(&self, req: Request) {
        self.add_permits(req.wanted);
    }
}

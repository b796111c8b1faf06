//! The lock behind [`Mutex`](super::Mutex): one atomic byte on the fast
//! path, a FIFO of parked waiters on the slow path, and direct hand-off.
//!
//! * **Fast path**: lock is one CAS `0 → LOCKED`, unlock one CAS back, as
//!   cheap as `parking_lot`'s.
//! * **Spin, then park**: a contended locker spins briefly (only where the
//!   holder can be running at the same time, see `spin.rs`), then queues a
//!   [`Waiter`] and parks — only its green thread, never the OS thread, so a
//!   G that holds the lock across a park (a channel receive, a sleep) does
//!   not stall the other Gs of its P.
//! * **Hand-off**: while anyone is queued (`QUEUED`), unlock does not release
//!   the lock; it passes ownership straight to the queue head. Newcomers see
//!   `QUEUED` and queue behind instead of barging, so a parked waiter gets
//!   the lock after at most as many hand-offs as there are waiters ahead of
//!   it — bounded, unlike a barging lock where a running G can re-take the
//!   lock forever while the woken one waits for a CPU. The price is a lock
//!   convoy under heavy contention (each hand-off waits for the next owner
//!   to be scheduled); Go's `sync.Mutex` makes the same trade in its
//!   starvation mode.
//!
//! Invariant: `QUEUED` implies `LOCKED`, and `QUEUED` changes only under
//! the queue lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex as QueueLock;

use super::spin;
use super::waiter::Waiter;
use crate::sched::WaitReason;

const LOCKED: u8 = 1;
const QUEUED: u8 = 2;

pub(crate) struct RawMutex {
    state: AtomicU8,
    queue: QueueLock<VecDeque<Arc<Waiter>>>,
}

impl RawMutex {
    pub(crate) const fn new() -> Self {
        RawMutex {
            state: AtomicU8::new(0),
            queue: QueueLock::new(VecDeque::new()),
        }
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    pub(crate) fn lock(&self) {
        if !self.try_lock() {
            self.lock_slow();
        }
    }

    /// Releases the lock. The caller must hold it.
    #[inline]
    pub(crate) fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    #[cold]
    fn lock_slow(&self) {
        if spin::worthwhile() {
            for _ in 0..spin::SPIN_ROUNDS {
                let s = self.state.load(Ordering::Relaxed);
                if s & QUEUED != 0 {
                    break; // the lock will be handed to the queue
                }
                if s & LOCKED == 0
                    && self
                        .state
                        .compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    return;
                }
                spin::pause();
            }
        }
        let waiter = {
            let mut queue = self.queue.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if s & LOCKED == 0 {
                    // Free, hence nobody queued: take it.
                    match self.state.compare_exchange_weak(
                        s,
                        s | LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return,
                        Err(now) => s = now,
                    }
                } else {
                    match self.state.compare_exchange_weak(
                        s,
                        s | QUEUED,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => s = now,
                    }
                }
            }
            let waiter = Arc::new(Waiter::new());
            queue.push_back(waiter.clone());
            waiter
        };
        let cancel = CancelOnUnwind {
            mutex: self,
            waiter: &waiter,
        };
        // Granted: the lock is ours (the unlocker left it LOCKED for us).
        waiter.wait(WaitReason::Mutex);
        std::mem::forget(cancel);
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut queue = self.queue.lock();
        match queue.pop_front() {
            Some(next) => {
                if queue.is_empty() {
                    // Still LOCKED: ownership passes to `next`.
                    self.state.store(LOCKED, Ordering::Relaxed);
                }
                drop(queue);
                // Release ordering for the protected data comes from the
                // waiter's publication (Acquire on the owner's side).
                next.try_wake(0);
            }
            None => {
                // The only waiter withdrew after we saw QUEUED.
                self.state.store(0, Ordering::Release);
            }
        }
    }
}

/// Withdraws a queued locker whose green thread is unwound while parked
/// (runtime shutdown), so the lock is not handed to a thread that is gone.
struct CancelOnUnwind<'a> {
    mutex: &'a RawMutex,
    waiter: &'a Arc<Waiter>,
}

impl Drop for CancelOnUnwind<'_> {
    fn drop(&mut self) {
        let mut queue = self.mutex.queue.lock();
        match queue.iter().position(|w| Arc::ptr_eq(w, self.waiter)) {
            Some(i) => {
                queue.remove(i);
                if queue.is_empty() {
                    self.mutex.state.fetch_and(!QUEUED, Ordering::Relaxed);
                }
            }
            None => {
                // Already handed the lock: pass it on.
                drop(queue);
                self.mutex.unlock();
            }
        }
    }
}

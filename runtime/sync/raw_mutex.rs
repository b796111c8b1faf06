//! The lock behind [`Mutex`](super::Mutex): one atomic byte on the fast
//! path, a FIFO of parked waiters on the slow path, and direct hand-off.
//!
//! * **Fast path**: lock is one CAS `0 → LOCKED`, unlock one CAS back, as
//!   cheap as `parking_lot`'s.
//! * **Spin, then park**: a contended locker spins briefly (only where the
//!   holder can be running at the same time, see `spin.rs`), then queues a
//!   waiter (`wait_queue.rs`) and parks — only its green thread, never the OS thread, so a
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

use std::sync::atomic::{AtomicU8, Ordering};

use super::spin;
use super::wait_queue::{Locked, WaitQueue, Withdraw};
use crate::sched::WaitReason;

const LOCKED: u8 = 1;
const QUEUED: u8 = 2;

pub(crate) struct RawMutex {
    state: AtomicU8,
    queue: WaitQueue<()>,
}

impl RawMutex {
    pub(crate) const fn new() -> Self {
        RawMutex {
            state: AtomicU8::new(0),
            queue: WaitQueue::new(),
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
        let queue = self.queue.lock();
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
        // Granted: the lock is ours (the unlocker left it LOCKED for us).
        queue.enqueue(self, ()).wait(WaitReason::Mutex);
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut queue = self.queue.lock();
        if queue.is_empty() {
            // The only waiter withdrew after we saw QUEUED.
            self.state.store(0, Ordering::Release);
            return;
        }
        if queue.len() == 1 {
            // Still LOCKED: ownership passes to the head.
            self.state.store(LOCKED, Ordering::Relaxed);
        }
        // Release ordering for the protected data comes from the waiter's
        // publication (Acquire on the owner's side).
        queue.grant_front();
    }
}

impl Withdraw for RawMutex {
    type Kind = ();

    fn wait_queue(&self) -> &WaitQueue<()> {
        &self.queue
    }

    fn withdrawn(&self, queue: &mut Locked<'_, ()>, _: ()) {
        if queue.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }

    /// Handed the lock, but unwinding: pass it on.
    fn abandoned(&self, _: ()) {
        self.unlock();
    }
}

//! `Waiter`: one blocked thread of control (a G or an OS thread), as every
//! primitive in `sync` sees it.
//!
//! Primitives never park on their own flags directly. A thread that must
//! wait creates a `Waiter`, puts a reference to it in the primitive's queue
//! (under the primitive's lock), releases the lock and calls [`Waiter::wait`].
//! Whoever wakes it first *claims* it with one compare-and-swap, writes
//! whatever it hands over (a message, a lock, a permit) and then *publishes*,
//! which is what the waiting side loops on. Because the flag lives in the
//! waiter and not in the park permit, spurious returns from `park` (a leftover
//! permit, an OS-thread spurious wakeup; docs/ARCHITECTURE.md, "Parking and
//! waking") are harmless.
//!
//! Claiming is what makes `select` work: one waiter sits in the queues of
//! several channels at once, every channel's waker races for the same CAS,
//! and exactly one wins. The state also records *which* operation won, and
//! the owner can withdraw (`try_abort`) when its deadline passes — if that
//! CAS loses, a waker has already committed and the owner waits for its
//! publication instead of returning, so nothing handed over is ever lost.
//!
//! State encoding (one `AtomicUsize`):
//!
//! | value      | meaning                                                     |
//! |------------|-------------------------------------------------------------|
//! | `0`        | waiting                                                     |
//! | `1`        | aborted by its owner (final)                                |
//! | `2 + 2k`   | claimed for operation `k`; the hand-over is being written   |
//! | `3 + 2k`   | claimed for operation `k` and published: the owner may run  |
//!
//! The unparker belongs to the waiter until publication, then to the
//! publisher: [`publish`](Waiter::publish) moves it out *before* the
//! publishing store and wakes through that moved value. So a publisher
//! never reads the waiter after the store (the owner may free it at once),
//! and the G reference the unparker holds goes straight into the run queue
//! instead of being cloned there and dropped later with the waiter. (Plain
//! channel operations use a leaner, lock-protected variant of this
//! protocol: `channel/entry.rs`, `Slot`.)

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::sched::park::{self, Unparker};
use crate::sched::WaitReason;

const WAITING: usize = 0;
const ABORTED: usize = 1;
const READY_BIT: usize = 1;

#[inline]
fn claimed(op: usize) -> usize {
    2 + 2 * op
}

#[inline]
fn is_published(s: usize) -> bool {
    s >= 2 && s & READY_BIT != 0
}

/// One blocked G or OS thread; see the module docs for the protocol.
pub(crate) struct Waiter {
    state: AtomicUsize,
    /// Present until published; then moved out by the publisher.
    unparker: UnsafeCell<ManuallyDrop<Unparker>>,
}

// SAFETY: `state` is atomic. `unparker` (an `Unparker` is `Send + Sync`) is
// touched by exactly one party at a time: its creator until the waiter is
// shared, then only by the one publisher — whoever won the claim (or, for a
// `new_claimed` waiter, the one partner it was handed to) — which takes it
// before the publishing store, and finally by `Drop` (exclusive access)
// only if nobody published.
unsafe impl Send for Waiter {}
// SAFETY: see `Send`.
unsafe impl Sync for Waiter {}

impl Waiter {
    /// A waiter for the calling G (or OS thread), not yet claimed.
    pub(crate) fn new() -> Waiter {
        Waiter {
            state: AtomicUsize::new(WAITING),
            unparker: UnsafeCell::new(ManuallyDrop::new(Unparker::current())),
        }
    }

    /// A waiter that is already claimed for `op`, waking `unparker`: it sits
    /// in no queue and waits for one known party to publish.
    pub(crate) fn new_claimed(op: usize, unparker: Unparker) -> Waiter {
        Waiter {
            state: AtomicUsize::new(claimed(op)),
            unparker: UnsafeCell::new(ManuallyDrop::new(unparker)),
        }
    }

    /// True while nobody has claimed or aborted it.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Claims the waiter for operation `op`. Exactly one claim (or abort)
    /// ever succeeds; the winner must then [`publish`](Self::publish).
    #[inline]
    pub(crate) fn try_claim(&self, op: usize) -> bool {
        self.state
            .compare_exchange(WAITING, claimed(op), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Lets the owner run: everything the claimer wrote before this call is
    /// visible to the owner after its `wait` returns. The caller must have
    /// claimed the waiter (or been handed a `new_claimed` one); it does not
    /// touch the waiter after the publishing store, so the owner may free it
    /// at once.
    #[inline]
    pub(crate) fn publish(&self) {
        self.publish_deferring_wake().unpark_owned();
    }

    /// Publishes like [`publish`](Self::publish) but hands the wake to the
    /// caller: under a lock, publish, and wake (`Unparker::unpark_owned`)
    /// after unlocking, so that neither the wake nor the drop of the
    /// unparker's G reference happens under the lock.
    #[inline]
    pub(crate) fn publish_deferring_wake(&self) -> Unparker {
        // Only the claimer changes a claimed state, so a load and a store
        // suffice (no read-modify-write).
        let s = self.state.load(Ordering::Relaxed);
        debug_assert!(s >= 2 && s & READY_BIT == 0, "publish without a claim");
        // SAFETY: we hold the claim, so we are the only publisher, and the
        // unparker is still present (it leaves only here). The owner does not
        // read it. After the store below we never touch `self` again.
        let unparker = unsafe { ManuallyDrop::take(&mut *self.unparker.get()) };
        self.state.store(s | READY_BIT, Ordering::Release);
        unparker
    }

    /// The owner withdraws (deadline passed, or it found an operation ready
    /// by itself). Fails if a waker claimed it first.
    #[inline]
    pub(crate) fn try_abort(&self) -> bool {
        self.state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The operation it was claimed for, published or not.
    #[inline]
    pub(crate) fn claimed_op(&self) -> Option<usize> {
        match self.state.load(Ordering::Acquire) {
            WAITING | ABORTED => None,
            s => Some((s - 2) / 2),
        }
    }

    /// True once published: whatever was handed over is the owner's.
    #[inline]
    pub(crate) fn is_published(&self) -> bool {
        is_published(self.state.load(Ordering::Acquire))
    }

    /// The published operation, if any.
    #[inline]
    fn ready_op(&self) -> Option<usize> {
        let s = self.state.load(Ordering::Acquire);
        is_published(s).then(|| (s - 3) / 2)
    }

    /// Waits until published; returns the operation it was claimed for.
    pub(crate) fn wait(&self, reason: WaitReason) -> usize {
        loop {
            if let Some(op) = self.ready_op() {
                return op;
            }
            park::park(reason);
        }
    }

    /// Like [`wait`](Self::wait) but gives up at `deadline` (if any):
    /// returns `None` only when the owner's abort won, i.e. nobody claimed it
    /// and nobody ever will.
    pub(crate) fn wait_until(
        &self,
        deadline: Option<Instant>,
        reason: WaitReason,
    ) -> Option<usize> {
        let Some(deadline) = deadline else {
            return Some(self.wait(reason));
        };
        loop {
            if let Some(op) = self.ready_op() {
                return Some(op);
            }
            if park::park_until(deadline, reason) {
                if self.try_abort() {
                    return None;
                }
                // Claimed just before the deadline: the claimer is committed
                // and publishes promptly.
                return Some(self.wait(reason));
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if !is_published(*self.state.get_mut()) {
            // SAFETY: nobody published, so the unparker was never moved out;
            // `&mut self` gives exclusive access, and it is dropped once.
            unsafe { ManuallyDrop::drop(self.unparker.get_mut()) }
        }
    }
}

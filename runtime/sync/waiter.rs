//! `Waiter`: one blocked thread of control (a G or an OS thread), as every
//! primitive in `sync` sees it.
//!
//! Primitives never park on their own flags directly. A thread that must
//! wait creates a `Waiter`, puts a reference to it in the primitive's queue
//! (under the primitive's lock), releases the lock and calls [`Waiter::wait`].
//! Whoever wakes it first *claims* it with one compare-and-swap, writes
//! whatever it hands over (a message, a lock, a permit) and then *publishes*,
//! which is what the waiting side loops on. Because the flag lives in the
//! waiter and not in the park permit, spurious returns from `park` (DESIGN.md
//! §3: a leftover permit, an OS-thread spurious wakeup) are harmless.
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::park::{self, Unparker};
use crate::sched::WaitReason;

const WAITING: usize = 0;
const ABORTED: usize = 1;
const READY_BIT: usize = 1;

#[inline]
fn claimed(op: usize) -> usize {
    2 + 2 * op
}

/// One blocked G or OS thread; see the module docs for the protocol.
pub(crate) struct Waiter {
    state: AtomicUsize,
    unparker: Unparker,
}

impl Waiter {
    /// A waiter for the calling G (or OS thread), not yet claimed.
    pub(crate) fn new() -> Waiter {
        Waiter {
            state: AtomicUsize::new(WAITING),
            unparker: Unparker::current(),
        }
    }

    /// A waiter for the calling thread that is already claimed for `op`: it
    /// sits in no queue and waits for one known party to publish.
    pub(crate) fn new_claimed(op: usize) -> Waiter {
        Waiter {
            state: AtomicUsize::new(claimed(op)),
            unparker: Unparker::current(),
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
    /// visible to the owner after its `wait` returns. The caller must hold its
    /// own strong reference to the waiter (the owner may free its reference as
    /// soon as the state changes) and must have claimed it.
    #[inline]
    pub(crate) fn publish(&self) {
        let prev = self.state.fetch_or(READY_BIT, Ordering::Release);
        debug_assert!(prev >= 2, "publish without a claim");
        self.unparker.unpark();
    }

    /// Claim and publish in one step, for wakes that hand nothing over
    /// besides the operation index. Returns false if it was not waiting.
    #[inline]
    pub(crate) fn try_wake(&self, op: usize) -> bool {
        let ok = self
            .state
            .compare_exchange(
                WAITING,
                claimed(op) | READY_BIT,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if ok {
            self.unparker.unpark();
        }
        ok
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

    /// The published operation, if any.
    #[inline]
    fn ready_op(&self) -> Option<usize> {
        let s = self.state.load(Ordering::Acquire);
        (s >= 2 && s & READY_BIT != 0).then(|| (s - 3) / 2)
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

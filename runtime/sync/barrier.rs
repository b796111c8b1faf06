//! `Barrier`: std's `Barrier` for green threads — `n` parties wait until
//! all `n` have arrived, then all go on; reusable, one generation after
//! another.
//!
//! Built directly on the wait queue: the arrival count is changed only
//! under the queue lock, so the last arrival resets it and grants every
//! queued party in one step, and an arrival of the next generation (which
//! needs that lock to count itself) can only queue after that. No
//! generation number is needed: the queue never holds two generations.
//! The last arrival is the leader, as in std.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::wait_queue::{Locked, WaitQueue, Withdraw};
use crate::sched::WaitReason;

/// Lets `n` green threads (or OS threads) wait until all of them reach the
/// same point. Waiting parks only the green thread.
///
/// ```
/// use std::sync::Arc;
/// use greenrt::sync::Barrier;
///
/// greenrt::run(|| {
///     let barrier = Arc::new(Barrier::new(4));
///     let handles: Vec<_> = (0..4)
///         .map(|_| {
///             let barrier = barrier.clone();
///             greenrt::spawn(move || barrier.wait().is_leader())
///         })
///         .collect();
///     let leaders = handles.into_iter();
///     let leaders = leaders.map(|h| h.join().unwrap()).filter(|&l| l).count();
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    parties: usize,
    /// Parties of the current generation waiting (changed only under the
    /// queue lock).
    arrived: AtomicUsize,
    waiters: WaitQueue<()>,
}

/// What [`Barrier::wait`] returns: whether this party was the leader.
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one party per generation (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.0)
            .finish()
    }
}

impl Barrier {
    /// A barrier for `n` parties. As with std, `n == 0` behaves like 1:
    /// every `wait` returns at once, as leader.
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            parties: n,
            arrived: AtomicUsize::new(0),
            waiters: WaitQueue::new(),
        }
    }

    /// Waits until all parties of this generation have called `wait`.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut queue = self.waiters.lock();
        let arrived = self.arrived.load(Ordering::Relaxed) + 1;
        if arrived < self.parties {
            self.arrived.store(arrived, Ordering::Relaxed);
            queue.enqueue(self, ()).wait(WaitReason::Barrier);
            return BarrierWaitResult(false);
        }
        debug_assert_eq!(
            queue.len() + 1,
            self.parties.max(1),
            "one generation queued"
        );
        self.arrived.store(0, Ordering::Relaxed);
        queue.grant_all();
        BarrierWaitResult(true)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .finish_non_exhaustive()
    }
}

impl Withdraw for Barrier {
    type Kind = ();

    fn wait_queue(&self) -> &WaitQueue<()> {
        &self.waiters
    }

    /// A party unwound while waiting (runtime shutdown) no longer counts
    /// as arrived. (A granted one has nothing to give back: its generation
    /// has gone on.)
    fn withdrawn(&self, _queue: &mut Locked<'_, ()>, _: ()) {
        let arrived = self.arrived.load(Ordering::Relaxed);
        debug_assert!(arrived > 0, "a queued party was counted");
        self.arrived.store(arrived - 1, Ordering::Relaxed);
    }
}

//! `WaitQueue`: the one FIFO of parked waiters behind `Mutex`, `RwLock`,
//! `Condvar`, `Semaphore`, `WaitGroup`, `Barrier` and `OnceLock`, and the
//! [`Ticket`] that takes a waiter out of it again.
//!
//! # Why one queue
//! Each of those primitives has its own state word (the fast path is a CAS
//! on it and never touches the queue) and its own hand-off rule (a lock to
//! the head; a run of readers; permits; everyone). What they share is the
//! slow path's bookkeeping, which is where the subtle bugs live: a waiter
//! that times out, or whose green thread is unwound while parked (runtime
//! shutdown), must leave the queue — and if it was granted just before,
//! what it was granted (a lock, a permit, a notification) must be passed on,
//! not lost with it. Written once here, the primitives only say *what* to
//! do in those two cases ([`Withdraw`]).
//!
//! # The rule that keeps it simple
//! **A grant is one step under the queue lock**: the granter takes the
//! waiter off the queue and publishes it (`Waiter`'s claim + publish) while
//! it holds the lock; only the wake-up itself, which may run scheduler code
//! and drop a G reference, waits until the lock is released ([`Locked`]
//! defers it). So under the queue lock a waiter is either still queued and
//! not granted, or off the queue and granted — never in between. A ticket
//! that withdraws locks the queue and reads its own waiter's state: one
//! load says whether it was granted, and nothing can change that answer
//! while it holds the lock. (Before this module, each primitive decided it
//! in its own way, some by searching the queue, some by racing an abort
//! CAS against the waker.)
//!
//! Each queued waiter carries a `Kind` (`()` for most; reader or writer for
//! the rwlock; permits still wanted for the semaphore), which the hand-off
//! rule reads at the head of the queue.
//!
//! # Why channels and `select` do not use it
//! A channel's waiters live inside the channel's own state lock next to the
//! buffer, carry a slot for the message being handed over, and one select
//! waiter sits in the queues of several channels at once (claimed by
//! whichever channel wins its CAS). That is a different protocol
//! (`channel/entry.rs`), and folding it into this queue would cost the
//! channel hot path an extra lock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use super::waiter::Waiter;
use crate::sched::park::{self, Unparker};
use crate::sched::WaitReason;

/// A FIFO of waiters, each waiting for a grant of kind `K`.
pub(crate) struct WaitQueue<K> {
    queue: Mutex<VecDeque<Node<K>>>,
}

struct Node<K> {
    waiter: Arc<Waiter>,
    kind: K,
}

impl<K: Copy> WaitQueue<K> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            queue: Mutex::new(VecDeque::new()),
        }
    }

    /// Locks the queue. Grants made through the returned handle wake their
    /// waiters when it is dropped, after the lock is released.
    pub(crate) fn lock(&self) -> Locked<'_, K> {
        Locked {
            queue: self.queue.lock(),
            wakes: Wakes::default(),
        }
    }
}

/// What a primitive does when one of its waiters leaves the queue without
/// using a grant. Both default to doing nothing (a `WaitGroup` waiter has
/// nothing to give back).
pub(crate) trait Withdraw {
    type Kind: Copy;

    fn wait_queue(&self) -> &WaitQueue<Self::Kind>;

    /// Under the queue lock: a waiter left the queue *without* a grant (it
    /// timed out, or its thread unwound). `kind` is its entry as the queue
    /// last held it. Restore the state word's invariants, typically by
    /// clearing a `QUEUED` bit when the queue is now empty.
    fn withdrawn(&self, _queue: &mut Locked<'_, Self::Kind>, _kind: Self::Kind) {}

    /// Without the queue lock: a waiter that asked for `kind` *was*
    /// granted, but its thread unwinds before it could use the grant. Pass
    /// the grant on (unlock, return the permits, forward the notification).
    fn abandoned(&self, _kind: Self::Kind) {}
}

/// The locked queue. Fields drop in order: the lock is released first,
/// then the deferred wakes run.
pub(crate) struct Locked<'a, K> {
    queue: MutexGuard<'a, VecDeque<Node<K>>>,
    wakes: Wakes,
}

impl<'a, K: Copy> Locked<'a, K> {
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The kind of the longest-waiting waiter.
    pub(crate) fn front(&self) -> Option<K> {
        self.queue.front().map(|n| n.kind)
    }

    /// The head's kind, to update in place (the semaphore hands a head
    /// that asked for several permits those released so far).
    pub(crate) fn front_mut(&mut self) -> Option<&mut K> {
        self.queue.front_mut().map(|n| &mut n.kind)
    }

    /// How many waiters from the head on have a kind matching `pred`.
    pub(crate) fn count_front_while(&self, pred: impl Fn(K) -> bool) -> usize {
        self.queue.iter().take_while(|n| pred(n.kind)).count()
    }

    /// Grants the head: takes it off the queue and publishes it; it wakes
    /// once this handle is dropped. Returns its kind.
    ///
    /// The granted waiter may run at once (it may not have parked yet), so
    /// the caller must have put the state word in its granted shape first.
    pub(crate) fn grant_front(&mut self) -> Option<K> {
        let node = self.queue.pop_front()?;
        let claimed = node.waiter.try_claim(0);
        assert!(claimed, "a queued waiter is claimed only by its grant");
        self.wakes.push(node.waiter.publish_deferring_wake());
        Some(node.kind)
    }

    /// Grants every waiter, in order.
    pub(crate) fn grant_all(&mut self) {
        while self.grant_front().is_some() {}
    }

    /// Queues the caller (a G or an OS thread) at the back with `kind` and
    /// releases the lock. The ticket parks until granted and withdraws if it
    /// is dropped before (unwinding included).
    pub(crate) fn enqueue<O>(mut self, owner: &'a O, kind: K) -> Ticket<'a, O>
    where
        O: Withdraw<Kind = K> + ?Sized,
    {
        debug_assert!(
            std::ptr::eq(MutexGuard::mutex(&self.queue), &owner.wait_queue().queue),
            "enqueued on another primitive's queue"
        );
        let waiter = Arc::new(Waiter::new());
        self.queue.push_back(Node {
            waiter: waiter.clone(),
            kind,
        });
        Ticket {
            owner,
            waiter,
            kind,
            settled: false,
        }
    }

    /// Takes a waiter that was not granted off the queue.
    fn remove(&mut self, waiter: &Arc<Waiter>) -> K {
        let i = self
            .queue
            .iter()
            .position(|n| Arc::ptr_eq(&n.waiter, waiter))
            .expect("a waiter that was not granted is still queued");
        self.queue.remove(i).expect("index in range").kind
    }
}

/// Wakes deferred until the queue lock is released; nearly always one.
#[derive(Default)]
struct Wakes {
    first: Option<Unparker>,
    rest: Vec<Unparker>,
}

impl Wakes {
    fn push(&mut self, u: Unparker) {
        if self.first.is_none() {
            self.first = Some(u);
        } else {
            self.rest.push(u);
        }
    }
}

impl Drop for Wakes {
    fn drop(&mut self) {
        if let Some(u) = self.first.take() {
            u.unpark_owned();
        }
        for u in self.rest.drain(..) {
            u.unpark_owned();
        }
    }
}

/// A place in a [`WaitQueue`]. Waiting consumes it; dropping it unsettled
/// (the wait was unwound) withdraws it and passes on a grant that arrived
/// meanwhile ([`Withdraw::abandoned`]).
#[must_use = "dropping a ticket withdraws it at once"]
pub(crate) struct Ticket<'a, O: Withdraw + ?Sized> {
    owner: &'a O,
    waiter: Arc<Waiter>,
    kind: O::Kind,
    /// Waiting ended (granted, or withdrawn at the deadline): nothing left
    /// for `Drop`.
    settled: bool,
}

impl<O: Withdraw + ?Sized> Ticket<'_, O> {
    /// Parks until granted.
    pub(crate) fn wait(mut self, reason: WaitReason) {
        self.waiter.wait(reason);
        self.settled = true;
    }

    /// Parks until granted or `deadline` (none: no limit). Returns whether
    /// it was granted; if not, it has left the queue.
    pub(crate) fn wait_until(mut self, deadline: Option<Instant>, reason: WaitReason) -> bool {
        let Some(deadline) = deadline else {
            self.wait(reason);
            return true;
        };
        loop {
            if self.waiter.is_published() {
                self.settled = true;
                return true;
            }
            if park::park_until(deadline, reason) {
                self.settled = true;
                return self.withdraw();
            }
        }
    }

    /// Leaves the queue; returns true if it had been granted after all (the
    /// caller then owns the grant).
    fn withdraw(&self) -> bool {
        let mut queue = self.owner.wait_queue().lock();
        if self.waiter.is_published() {
            return true;
        }
        let kind = queue.remove(&self.waiter);
        self.owner.withdrawn(&mut queue, kind);
        false
    }
}

impl<O: Withdraw + ?Sized> Drop for Ticket<'_, O> {
    fn drop(&mut self) {
        if !self.settled && self.withdraw() {
            self.owner.abandoned(self.kind);
        }
    }
}

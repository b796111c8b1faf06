//! A P's local run queue, and why a runtime with one P keeps it private.
//!
//! With several Ps the queue is a work-stealing deque (`crossbeam_deque`):
//! the owner pushes and pops at one end, other Ms steal from the other. Its
//! owner's pop is an atomic read-modify-write, because a thief may race for
//! the last G — a locked instruction on every schedule from the queue, the
//! largest single cost of a `yield_now` once the switch itself is cheap.
//!
//! With one P there is no thief: a steal takes from *other* Ps, and the
//! only other parties that touch a P's queue (sysmon's retake, shutdown)
//! first own the whole P (invariant 1, P ownership). So a one-P runtime
//! keeps its Gs in a plain owner-only FIFO ("sole" mode) and pops without
//! atomics. What other threads may still ask — is there queued work, how
//! much — is answered from a length the owner publishes with plain stores
//! ([`QueueView`]); nobody relies on its freshness for a wake-up, since a
//! G made runnable by a thread that does not own the P goes to the global
//! queue (invariant 2, no stranded G, pairs on that queue, not on this one).
//!
//! Batches taken from the global queue land in the deque (the only
//! destination `crossbeam_deque` offers) and, in sole mode, move on into
//! the FIFO at once, so queued Gs keep their order and none waits behind
//! a pair that keeps re-queueing itself.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use super::g_ref::GRef;

/// What other Ms, sysmon and dumps may see of a P's local queue. (Generic
/// over what it queues, like the queue, so the tests can queue plain values.)
pub(crate) struct QueueView<T = GRef> {
    stealer: Stealer<T>,
    /// Gs in the owner-only FIFO (sole mode; always 0 otherwise). Written by
    /// the owner with plain stores.
    sole_len: AtomicUsize,
}

impl<T> QueueView<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.stealer.is_empty() && self.sole_len.load(Ordering::Acquire) == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.stealer.len() + self.sole_len.load(Ordering::Acquire)
    }

    /// Steals about half of the queue into `dest`, returning one G. Only
    /// another P steals, so a sole-mode queue (no other P) is never asked.
    pub(crate) fn steal_batch_and_pop(&self, dest: &LocalQueue<T>) -> Steal<T> {
        debug_assert_eq!(
            self.sole_len.load(Ordering::Relaxed),
            0,
            "a steal from a one-P runtime's queue"
        );
        self.stealer.steal_batch_and_pop(&dest.deque)
    }
}

/// The owner's side of a P's local run queue (see the module docs).
pub(crate) struct LocalQueue<T = GRef> {
    deque: Worker<T>,
    /// `Some` in sole mode: the owner-only FIFO.
    sole: Option<RefCell<VecDeque<T>>>,
}

impl<T> LocalQueue<T> {
    /// A queue for a P of a runtime with `procs` Ps, and its shared view.
    pub(crate) fn new(procs: usize) -> (LocalQueue<T>, QueueView<T>) {
        let deque = Worker::new_fifo();
        let view = QueueView {
            stealer: deque.stealer(),
            sole_len: AtomicUsize::new(0),
        };
        let sole = (procs == 1).then(|| RefCell::new(VecDeque::new()));
        (LocalQueue { deque, sole }, view)
    }

    #[inline]
    pub(crate) fn push(&self, g: T, view: &QueueView<T>) {
        match &self.sole {
            None => self.deque.push(g),
            Some(fifo) => {
                let mut fifo = fifo.borrow_mut();
                fifo.push_back(g);
                publish_len(view, fifo.len());
            }
        }
    }

    #[inline]
    pub(crate) fn pop(&self, view: &QueueView<T>) -> Option<T> {
        match &self.sole {
            None => self.deque.pop(),
            Some(fifo) => {
                let mut fifo = fifo.borrow_mut();
                let g = fifo.pop_front()?;
                publish_len(view, fifo.len());
                Some(g)
            }
        }
    }

    /// Takes a batch from the global queue into this queue, returning one
    /// G of it to run now.
    pub(crate) fn refill_from(&self, global: &Injector<T>, view: &QueueView<T>) -> Option<T> {
        let first = loop {
            match global.steal_batch_and_pop(&self.deque) {
                Steal::Success(g) => break g,
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        };
        if let Some(fifo) = &self.sole {
            let mut fifo = fifo.borrow_mut();
            while let Some(g) = self.deque.pop() {
                fifo.push_back(g);
            }
            publish_len(view, fifo.len());
        }
        Some(first)
    }
}

/// The owner publishes its FIFO's length: a load-free store, since only the
/// owner writes it. Release: a reader that sees a length sees the pushes
/// behind it (it never dereferences them, but the pairing keeps the count
/// honest with respect to what the owner did before).
#[inline]
fn publish_len<T>(view: &QueueView<T>, len: usize) {
    view.sole_len.store(len, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_are_fifo_and_report_their_length() {
        for procs in [1, 2] {
            let (q, view) = LocalQueue::new(procs);
            assert!(view.is_empty());
            for i in 0..3u32 {
                q.push(i, &view);
            }
            assert_eq!(view.len(), 3);
            assert!(!view.is_empty());
            let popped: Vec<u32> = std::iter::from_fn(|| q.pop(&view)).collect();
            assert_eq!(popped, [0, 1, 2], "first in, first out at procs {procs}");
            assert!(view.is_empty());
        }
    }

    #[test]
    fn a_global_batch_joins_the_sole_fifo_behind_what_was_queued() {
        let (q, view) = LocalQueue::new(1);
        q.push(100u32, &view);
        let global = Injector::new();
        for i in 0..4 {
            global.push(i);
        }
        let first = q.refill_from(&global, &view).expect("a batch");
        assert_eq!(first, 0);
        // The batch left the stealable deque: in sole mode, only the FIFO
        // holds Gs between schedules.
        assert!(view.stealer.is_empty());
        let rest: Vec<u32> = std::iter::from_fn(|| q.pop(&view)).collect();
        assert_eq!(rest[0], 100, "queued before the batch");
        assert!(
            rest[1..].windows(2).all(|w| w[0] < w[1]),
            "the batch keeps its order: {rest:?}"
        );
        assert_eq!(rest.len() + 1 + global.len(), 5, "nothing lost");
        assert_eq!(q.refill_from(&Injector::new(), &view), None);
    }

    #[test]
    fn shared_mode_can_be_stolen_from() {
        let (victim, victim_view) = LocalQueue::new(2);
        let (thief, thief_view) = LocalQueue::new(2);
        for i in 0..8u32 {
            victim.push(i, &victim_view);
        }
        let got = match victim_view.steal_batch_and_pop(&thief) {
            Steal::Success(g) => g,
            other => panic!("steal found {other:?}"),
        };
        assert_eq!(got, 0);
        let stolen = std::iter::from_fn(|| thief.pop(&thief_view)).count();
        let kept = std::iter::from_fn(|| victim.pop(&victim_view)).count();
        assert_eq!(1 + stolen + kept, 8);
        assert!(kept > 0 && stolen > 0);
    }
}

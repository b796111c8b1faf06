//! The lock behind [`RwLock`](super::RwLock): a reader count and a writer
//! bit in one atomic word, a FIFO of parked waiters, and hand-off in phases.
//!
//! Fast paths are one CAS each. Once anyone is queued (`QUEUED`), nobody
//! barges: new readers and writers queue too, and each release hands the
//! lock to the queue head — a writer alone, or the whole run of readers at
//! the head together. So writers cannot be starved by a stream of readers,
//! readers still share the lock, and every waiter is served in arrival
//! order (phase-fair). Waiting parks only the green thread.
//!
//! Invariant: while `QUEUED` is set, the state changes only under the queue
//! lock or by holders releasing it.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::spin;
use super::wait_queue::{Locked, WaitQueue, Withdraw};
use crate::sched::WaitReason;

const WRITER: usize = 1;
const QUEUED: usize = 2;
const READER: usize = 4;

/// What a queued waiter asks for (its kind in the wait queue).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Read,
    Write,
}

pub(crate) struct RawRwLock {
    state: AtomicUsize,
    queue: WaitQueue<Want>,
}

impl RawRwLock {
    pub(crate) const fn new() -> Self {
        RawRwLock {
            state: AtomicUsize::new(0),
            queue: WaitQueue::new(),
        }
    }

    fn can_read(s: usize) -> bool {
        s & (WRITER | QUEUED) == 0
    }

    fn with_reader(s: usize) -> usize {
        s.checked_add(READER).expect("RwLock reader count overflow")
    }

    #[inline]
    pub(crate) fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while Self::can_read(s) {
            match self.state.compare_exchange_weak(
                s,
                Self::with_reader(s),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    #[inline]
    pub(crate) fn try_write(&self) -> bool {
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn read(&self) {
        if !self.try_read() {
            self.lock_slow(Want::Read);
        }
    }

    pub(crate) fn write(&self) {
        if !self.try_write() {
            self.lock_slow(Want::Write);
        }
    }

    /// Releases a read lock the caller holds.
    #[inline]
    pub(crate) fn read_unlock(&self) {
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        if prev - READER == QUEUED {
            // Last reader out, someone waiting.
            self.hand_off(0);
        }
    }

    /// Releases the write lock the caller holds.
    #[inline]
    pub(crate) fn write_unlock(&self) {
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.hand_off(WRITER);
        }
    }

    /// Would `want` be granted at once in state `s`?
    fn free_for(want: Want, s: usize) -> bool {
        match want {
            Want::Read => Self::can_read(s),
            Want::Write => s == 0,
        }
    }

    #[cold]
    fn lock_slow(&self, want: Want) {
        if spin::worthwhile() {
            for _ in 0..spin::SPIN_ROUNDS {
                let s = self.state.load(Ordering::Relaxed);
                if s & QUEUED != 0 {
                    break;
                }
                let acquired = match want {
                    Want::Read => self.try_read(),
                    Want::Write => self.try_write(),
                };
                if acquired {
                    return;
                }
                spin::pause();
            }
        }
        let queue = self.queue.lock();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let acquire = Self::free_for(want, s);
            let (next, ordering) = match (acquire, want) {
                (true, Want::Read) => (Self::with_reader(s), Ordering::Acquire),
                (true, Want::Write) => (WRITER, Ordering::Acquire),
                (false, _) => (s | QUEUED, Ordering::Relaxed),
            };
            match self
                .state
                .compare_exchange_weak(s, next, ordering, Ordering::Relaxed)
            {
                Ok(_) if acquire => return,
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // Granted: the hand-off already counted us in the state.
        queue.enqueue(self, want).wait(WaitReason::RwLock);
    }

    /// The lock is being released (`released`: the bits the caller held,
    /// readers already subtracted) with waiters queued: grant it to the head
    /// of the queue.
    #[cold]
    fn hand_off(&self, released: usize) {
        let mut queue = self.queue.lock();
        let (granted, mut next) = match queue.front() {
            Some(Want::Write) => (1, WRITER),
            Some(Want::Read) => {
                let readers = queue.count_front_while(|want| want == Want::Read);
                (readers, readers * READER)
            }
            None => {
                // Every waiter withdrew meanwhile (and cleared QUEUED);
                // another thread may even hold the lock now. Release only
                // our part.
                let _ = self
                    .state
                    .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                        Some((s - released) & !QUEUED)
                    });
                return;
            }
        };
        if queue.len() > granted {
            next |= QUEUED;
        }
        // QUEUED was set, so nobody else changed the state (invariant).
        self.state.store(next, Ordering::Release);
        for _ in 0..granted {
            queue.grant_front();
        }
    }
}

impl Withdraw for RawRwLock {
    type Kind = Want;

    fn wait_queue(&self) -> &WaitQueue<Want> {
        &self.queue
    }

    fn withdrawn(&self, queue: &mut Locked<'_, Want>, _: Want) {
        if queue.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }

    /// Granted, but unwinding: give it back.
    fn abandoned(&self, want: Want) {
        match want {
            Want::Read => self.read_unlock(),
            Want::Write => self.write_unlock(),
        }
    }
}

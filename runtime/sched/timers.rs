//! The timer heap: one per runtime, behind a lock.
//!
//! One timer heap per runtime, behind a lock, with the earliest deadline
//! mirrored in an atomic so the scheduling loop can check "is anything due?"
//! with one load. Any M that holds a P runs due timers at the top of its
//! scheduling loop; an idle M sleeps in the poller no longer than the earliest
//! deadline. Firing a timer never calls into the scheduler: the timer code
//! hands back the list of Gs it woke and the scheduler queues them
//! (docs/ARCHITECTURE.md, "One-way imports"), so imports run one way.
//!
//! The user-facing `sleep`/`sleep_until` and the deadline helpers live in
//! `runtime/time.rs`, outside the scheduler.
//!
//! Cancelled timers are deleted lazily: they stay in the heap, marked, until
//! they reach the top or until they outnumber the live ones, when the heap is
//! rebuilt without them.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::g_ref::GRef;
use super::park::Unparker;

/// What happens when a timer fires.
pub(crate) enum TimerAction {
    /// Wake a parked G or OS thread.
    Wake(Unparker),
    /// Run a callback (timer channels). It runs on an M without the timer
    /// lock and may wake Gs itself.
    Call(Box<dyn FnOnce() + Send>),
}

/// Cancellation handle of a pending timer.
#[derive(Clone)]
pub(crate) struct TimerHandle {
    cancelled: Arc<AtomicBool>,
    timers: Arc<Timers>,
}

impl TimerHandle {
    /// Cancels the timer if it has not fired yet.
    pub(crate) fn cancel(&self) {
        if !self.cancelled.swap(true, Ordering::AcqRel) {
            self.timers.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Entry {
    when: u64,
    seq: u64,
    cancelled: Arc<AtomicBool>,
    action: TimerAction,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.seq) == (other.when, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // BinaryHeap is a max-heap: reverse so the earliest deadline is on top,
    // ties broken by insertion order.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// No timer pending.
const NONE: u64 = u64::MAX;

/// A runtime's timer heap.
pub(crate) struct Timers {
    heap: Mutex<(BinaryHeap<Entry>, u64)>,
    /// Earliest deadline in the heap, in `nanos_since_epoch` units.
    next: AtomicU64,
    /// Timers cancelled but still in the heap.
    cancelled: AtomicUsize,
}

/// The process-wide time origin of the atomics above.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn to_nanos(t: Instant) -> u64 {
    t.saturating_duration_since(epoch())
        .as_nanos()
        .min(NONE as u128 - 1) as u64
}

fn from_nanos(n: u64) -> Instant {
    epoch() + Duration::from_nanos(n)
}

/// Outcome of running due timers: Gs to make runnable and callbacks to run.
#[derive(Default)]
pub(crate) struct Fired {
    pub(crate) ready: Vec<GRef>,
    pub(crate) calls: Vec<Box<dyn FnOnce() + Send>>,
}

impl Fired {
    pub(crate) fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.calls.is_empty()
    }
}

impl Timers {
    pub(crate) fn new() -> Arc<Self> {
        epoch();
        Arc::new(Timers {
            heap: Mutex::new((BinaryHeap::new(), 0)),
            next: AtomicU64::new(NONE),
            cancelled: AtomicUsize::new(0),
        })
    }

    /// Adds a timer. Returns its handle and whether it became the earliest
    /// (the caller then nudges the sleeping poller).
    pub(crate) fn add(self: &Arc<Self>, when: Instant, action: TimerAction) -> (TimerHandle, bool) {
        let when = to_nanos(when);
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut guard = self.heap.lock();
        let (heap, seq) = &mut *guard;
        *seq += 1;
        heap.push(Entry {
            when,
            seq: *seq,
            cancelled: cancelled.clone(),
            action,
        });
        let earliest = when < self.next.load(Ordering::Relaxed);
        if earliest {
            self.next.store(when, Ordering::Release);
        }
        let stale = self.cancelled.load(Ordering::Relaxed);
        // Invariant 7 (nothing dropped under a runtime lock): a cancelled
        // entry may hold the last reference to a G, so the rebuild moves them
        // out and they are dropped after the guard.
        let mut dead = Vec::new();
        if stale > 1024 && stale > heap.len() / 2 {
            let (live, gone): (Vec<Entry>, Vec<Entry>) = std::mem::take(heap)
                .into_vec()
                .into_iter()
                .partition(|e| !e.cancelled.load(Ordering::Relaxed));
            *heap = BinaryHeap::from(live);
            dead = gone;
            self.cancelled.store(0, Ordering::Relaxed);
        }
        drop(guard);
        drop(dead);
        let handle = TimerHandle {
            cancelled,
            timers: self.clone(),
        };
        (handle, earliest)
    }

    /// The earliest pending deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self.next.load(Ordering::Acquire) {
            NONE => None,
            n => Some(from_nanos(n)),
        }
    }

    /// Cheap check for the scheduling loop: is any timer pending at all?
    #[inline]
    pub(crate) fn any_pending(&self) -> bool {
        self.next.load(Ordering::Relaxed) != NONE
    }

    /// Pops every timer due at `now`.
    ///
    /// The due entries are only moved out under the lock; deciding whether
    /// each fired or was cancelled, waking, and dropping them happen after
    /// it is released (invariant 7, nothing dropped under a runtime lock): an
    /// entry may hold the last reference to a G, or a callback's captures.
    pub(crate) fn run_due(&self, now: Instant) -> Fired {
        let mut fired = Fired::default();
        let now = to_nanos(now);
        if self.next.load(Ordering::Acquire) > now {
            return fired;
        }
        let mut due = Vec::new();
        {
            let mut guard = self.heap.lock();
            let heap = &mut guard.0;
            while heap.peek().is_some_and(|top| top.when <= now) {
                due.push(heap.pop().expect("peeked"));
            }
            let next = heap.peek().map_or(NONE, |e| e.when);
            self.next.store(next, Ordering::Release);
        }
        for e in due {
            if e.cancelled.swap(true, Ordering::AcqRel) {
                let _ = self
                    .cancelled
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
                continue;
            }
            match e.action {
                TimerAction::Wake(u) => {
                    if let Some(g) = u.wake_for_list() {
                        fired.ready.push(g);
                    }
                }
                TimerAction::Call(f) => fired.calls.push(f),
            }
        }
        fired
    }

    /// Drops every pending timer (shutdown). Returns how many were live.
    pub(crate) fn clear(&self) -> usize {
        let entries = {
            let mut guard = self.heap.lock();
            self.next.store(NONE, Ordering::Release);
            std::mem::take(&mut guard.0)
        };
        let live = entries
            .iter()
            .filter(|e| !e.cancelled.load(Ordering::Relaxed))
            .count();
        drop(entries);
        live
    }
}

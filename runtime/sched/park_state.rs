//! `ParkState`: the three-valued atomic at the heart of "The park protocol"
//! (`green_thread.rs`), as a type of its own so that the loom model below
//! checks the very code every G runs.
//!
//! * `RUNNING`  — running, or runnable in some queue;
//! * `PARKED`   — switched out and waiting for `wake`;
//! * `NOTIFIED` — a wake arrived while it was RUNNING: a one-shot permit.

use super::loom::atomic::{AtomicU8, Ordering};

const RUNNING: u8 = 0;
const PARKED: u8 = 1;
const NOTIFIED: u8 = 2;

/// The park state of one G (see the module docs).
pub(crate) struct ParkState(AtomicU8);

impl ParkState {
    /// A running G with no permit.
    pub(crate) fn new() -> ParkState {
        ParkState(AtomicU8::new(RUNNING))
    }

    /// The G, about to park, consumes a pending permit instead. Returns
    /// `true` when it did (the park returns at once); the consume acquires
    /// every wake that left or renewed the permit.
    #[inline(always)]
    pub(crate) fn take_permit(&self) -> bool {
        // A leftover permit is rare: test for it with a plain load before
        // paying for a CAS. A wake that lands after the load is not lost —
        // it makes `commit_park` fail and the G resume at once.
        self.0.load(Ordering::Relaxed) == NOTIFIED
            && self
                .0
                .compare_exchange(NOTIFIED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Called by the M after the G switched out to park. Returns `true` when
    /// the G is now parked (the M must forget it), `false` when a wake raced
    /// in and the G must be resumed at once.
    pub(crate) fn commit_park(&self) -> bool {
        match self
            .0
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // NOTIFIED: consume the permit and keep running. A swap, not
                // a store: it must read the latest waker's write (see
                // `wake`), so that the condition that waker published is
                // visible when the G re-checks it.
                let prev = self.0.swap(RUNNING, Ordering::AcqRel);
                debug_assert_eq!(prev, NOTIFIED);
                false
            }
        }
    }

    /// Wakes the G. Returns `true` when the caller must make it runnable
    /// (it was parked); `false` when it was running and now holds a permit.
    ///
    /// Always a read-modify-write, even when a permit is already pending
    /// (NOTIFIED → NOTIFIED). A waker publishes its condition, then wakes;
    /// the G consumes a permit, then re-checks the condition. Returning on a
    /// plain load of NOTIFIED let the waker's load pass its own earlier
    /// store (store buffering): the G could consume that *older* permit,
    /// re-check before the new condition was visible, and park for good —
    /// a lost wake-up seen as a rare hang of `select_stress_exactly_once`.
    /// Written with release, every wake heads a release sequence that the
    /// G's acquiring consume (`take_permit`, the swap in `commit_park`)
    /// synchronizes with, whichever permit it consumes.
    pub(crate) fn wake(&self) -> bool {
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            let next = match s {
                PARKED => RUNNING,
                _ => NOTIFIED,
            };
            match self
                .0
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return s == PARKED,
                Err(actual) => s = actual,
            }
        }
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test --lib loom`; see
/// `.ci/run`). A G waits for its wakers' conditions — plain relaxed flags,
/// so only the park state can order them — consuming permits and committing
/// parks as the runtime does. The main thread runs it first (as its M); a G
/// that commits a park leaves that thread, and the waker told to queue it
/// runs it next (as the M that picks it up). The G's body is a loom cell
/// touched at every run, so two runners at once (invariant 4, one runner
/// per G) are a data race loom reports. At the end the G must have finished
/// exactly once, after every park was followed by exactly one queueing: a
/// lost wake leaves a park nobody queued.
#[cfg(all(test, loom))]
mod loom_model {
    use super::ParkState;
    use crate::sched::loom::UnsafeCell;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::sync::Arc;

    struct G {
        state: ParkState,
        /// Runs so far: only the G's current runner touches it.
        body: UnsafeCell<usize>,
        conditions: Vec<AtomicBool>,
        parks: AtomicUsize,
        dones: AtomicUsize,
    }

    /// Runs the G until it finishes or commits a park: the wait loop of
    /// `Waiter::wait` and of the plain channel operations.
    fn run_g(g: &G) {
        // SAFETY: loom checks that no other runner touches the cell now.
        g.body.with_mut(|runs| unsafe { *runs += 1 });
        loop {
            if g.conditions.iter().all(|c| c.load(Ordering::Relaxed)) {
                g.dones.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if g.state.take_permit() {
                continue;
            }
            // Switched out; the M commits the park.
            if g.state.commit_park() {
                g.parks.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }

    fn check(wakers: usize, leftover_permit: bool) {
        loom::model(move || {
            let g = Arc::new(G {
                state: ParkState::new(),
                body: UnsafeCell::new(0),
                conditions: (0..wakers).map(|_| AtomicBool::new(false)).collect(),
                parks: AtomicUsize::new(0),
                dones: AtomicUsize::new(0),
            });
            if leftover_permit {
                // A permit from an earlier, abandoned wait.
                assert!(!g.state.wake());
            }
            let handles: Vec<_> = (0..wakers)
                .map(|i| {
                    let g = g.clone();
                    loom::thread::spawn(move || {
                        g.conditions[i].store(true, Ordering::Relaxed);
                        let queued = g.state.wake();
                        if queued {
                            run_g(&g);
                        }
                        queued
                    })
                })
                .collect();
            run_g(&g);
            let queued = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|&q| q)
                .count();
            let (parks, dones) = (
                g.parks.load(Ordering::Relaxed),
                g.dones.load(Ordering::Relaxed),
            );
            assert_eq!(dones, 1, "parks {parks}, queued {queued}: a lost wake");
            assert_eq!(parks, queued, "a G queued while running");
        });
    }

    #[test]
    fn loom_park_one_waker() {
        check(1, false);
    }

    #[test]
    fn loom_park_one_waker_leftover_permit() {
        check(1, true);
    }

    #[test]
    fn loom_park_two_wakers() {
        check(2, false);
    }
}

//! Why a scheduler outlives its Gs, without an atomic per G.
//!
//! A G may outlive everything else that refers to its runtime: a
//! `JoinHandle` dropped after the `Runtime`, a waiter list held outside the
//! runtime. Until its last `GRef` goes, a waker may queue it
//! (`Scheduler::ready`), and that last `GRef` gives the G's memory back to
//! the scheduler's block lists (`g_alloc.rs`). So the scheduler must stay
//! alive while any of its Gs does (invariant 9, scheduler outlives its Gs).
//!
//! Each G used to hold an `Arc<Scheduler>`: a clone at spawn and a drop at
//! destruction, two atomic read-modify-writes on one line shared by every
//! G, about a tenth of a spawn-and-join. Instead each G holds one *unit*:
//! the scheduler counts the units out ([`KeepAlive`]) and holds one `Arc`
//! reference to itself while that count is not zero. Each P takes units in
//! batches and keeps the units of the Gs destroyed on it ([`Stash`]), so a
//! G spawned and destroyed on Ps of its runtime costs no atomic here. The G
//! itself points at its scheduler with an `Arc` that owns no count
//! ([`SchedPtr`]), valid while its unit is held.
//!
//! # Why one reference is enough
//! The count leaves zero only in [`KeepAlive::take`], whose caller holds an
//! `Arc` of its own, and the reference it adds is in place before any of the
//! new units is handed on. It returns to zero only in [`KeepAlive::give`],
//! called by the holder of the last units, which drops that reference. Each
//! change is one read-modify-write, so "left zero" and "back to zero"
//! alternate and each adds or drops the one reference exactly once. Between
//! a give that reached zero and its drop, the next `take`'s caller holds its
//! own `Arc`, so the count of references never reaches zero early.
//!
//! # Where the P's units go
//! A P's stash is a reference the scheduler holds to itself: shutdown gives
//! every idle P's stash back after the Ms have stopped
//! (`Scheduler::return_p_units`), or the scheduler would never be freed.
//! A P still held by an M left running at the shutdown deadline keeps its
//! stash, and so its runtime, forever, like the Gs that M may still run
//! (`shutdown.rs`, "The time limit").

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;

use super::loom::atomic::{fence, AtomicUsize, Ordering};
use super::scheduler::Scheduler;

/// Units a P takes from its scheduler at once; it gives back what it holds
/// beyond twice this many, keeping this many.
const BATCH: usize = 256;

/// The units of one scheduler handed out to Gs and P stashes.
pub(crate) struct KeepAlive {
    units: AtomicUsize,
}

/// What the units keep alive: the scheduler, or the loom model's stand-in
/// (generic only so that the model checks this very code).
pub(crate) trait KeptAlive {
    fn keep_alive(&self) -> &KeepAlive;
}

impl KeptAlive for Scheduler {
    #[inline]
    fn keep_alive(&self) -> &KeepAlive {
        &self.keep_alive
    }
}

impl KeepAlive {
    pub(crate) fn new() -> KeepAlive {
        KeepAlive {
            units: AtomicUsize::new(0),
        }
    }

    /// Takes `n` units of `sched`, keeping it alive until they are given
    /// back.
    pub(crate) fn take<S: KeptAlive>(sched: &Arc<S>, n: usize) {
        debug_assert!(n > 0);
        // Relaxed: the caller's own `Arc` keeps the scheduler alive here, and
        // whoever gives the last units back acquires every earlier give.
        if sched.keep_alive().units.fetch_add(n, Ordering::Relaxed) == 0 {
            // SAFETY: `sched` is a live `Arc`; the count added is the
            // scheduler's reference to itself, dropped by the `give` that
            // brings the units back to zero (module docs).
            unsafe { Arc::increment_strong_count(Arc::as_ptr(sched)) };
        }
    }

    /// Gives back `n` units of the scheduler at `sched`.
    ///
    /// # Safety
    /// `sched` points at a live scheduler of which the caller holds `n`
    /// units (taken with [`take`](Self::take), or received with a G or a
    /// stash), and gives them up: unless it holds an `Arc` of its own, it
    /// must not touch the scheduler after this call, which may free it.
    pub(crate) unsafe fn give<S: KeptAlive>(sched: *const S, n: usize) {
        // SAFETY: the caller's units keep the scheduler alive until the
        // `fetch_sub` below has returned.
        let units = unsafe { &(*sched).keep_alive().units };
        // Release: this holder's uses of the scheduler happen before the
        // last give's `Arc` drop, which acquires them (as `Arc` does).
        let before = units.fetch_sub(n, Ordering::Release);
        assert!(before >= n, "greenrt: scheduler units given back twice");
        if before == n {
            fence(Ordering::Acquire);
            // SAFETY: the units went back to zero: drop the reference that
            // `take` added when they left it (module docs). `sched` came from
            // an `Arc`; nothing here touches it afterwards.
            unsafe { Arc::decrement_strong_count(sched) };
        }
    }
}

/// The units a P holds for the Gs it spawns (owner only: it lives in the
/// `Processor`).
pub(crate) struct Stash(Cell<usize>);

impl Stash {
    pub(crate) fn new() -> Stash {
        Stash(Cell::new(0))
    }

    /// Takes the unit for a G about to be spawned on this P, a P of `sched`.
    #[inline]
    pub(crate) fn take_one(&self, sched: &Arc<Scheduler>) {
        match self.0.get() {
            0 => {
                KeepAlive::take(sched, BATCH);
                self.0.set(BATCH - 1);
            }
            n => self.0.set(n - 1),
        }
    }

    /// Keeps the unit of a G of `sched` destroyed on this P, a P of `sched`.
    ///
    /// # Safety
    /// The caller held that unit and gives it up to this P.
    #[inline]
    pub(crate) unsafe fn keep_one(&self, sched: &Scheduler) {
        let n = self.0.get() + 1;
        if n <= 2 * BATCH {
            self.0.set(n);
            return;
        }
        self.0.set(BATCH);
        // SAFETY: this P held `n` units and keeps `BATCH` of them, so the
        // count stays above zero: the scheduler outlives this call.
        unsafe { KeepAlive::give(sched, n - BATCH) };
    }

    /// Empties the stash, returning how many units it held: the caller gives
    /// them back (`KeepAlive::give`).
    pub(crate) fn take_all(&self) -> usize {
        self.0.replace(0)
    }
}

/// A G's pointer to its scheduler: an `Arc` that owns no count, valid while
/// the G holds its unit (module docs). Never dropped.
pub(crate) struct SchedPtr(ManuallyDrop<Arc<Scheduler>>);

impl SchedPtr {
    /// # Safety
    /// The caller holds a unit of `sched` (or another reason for it to live)
    /// that it passes to the G this pointer goes into, and keeps until that
    /// G's last use of the pointer.
    pub(crate) unsafe fn new(sched: &Arc<Scheduler>) -> SchedPtr {
        // SAFETY: the pointer is a live `Arc`'s. The `Arc` made here is never
        // dropped (`ManuallyDrop`, and `SchedPtr` gives it out only by
        // reference), so it never gives up the count it does not own; per
        // the contract the scheduler lives while this pointer is used.
        SchedPtr(ManuallyDrop::new(unsafe {
            Arc::from_raw(Arc::as_ptr(sched))
        }))
    }
}

impl Deref for SchedPtr {
    type Target = Arc<Scheduler>;

    #[inline]
    fn deref(&self) -> &Arc<Scheduler> {
        &self.0
    }
}

/// Model check (`RUSTFLAGS="--cfg loom" cargo test --lib loom`; see
/// `.ci/run`) of "Why one reference is enough": two holders each take a
/// unit with an `Arc` of their own, drop that `Arc`, use the object through
/// their unit alone and give the unit back. The units may leave zero twice
/// (the second holder takes after the first gave back) or once. In every
/// interleaving the object must be destroyed exactly once, after both uses:
/// loom reports a data race if a use is not ordered before the
/// destructor's access (the give's release and the acquire fence are what
/// order them), and the count of destructions says the self-reference was
/// added and dropped in pairs.
///
/// The `Arc` is std's, whose own orderings loom does not see; so every
/// `Arc` but the holders' is gone before they start, and each holder drops
/// its own while it holds its unit. The destructor then always runs in a
/// give, where the units' orderings alone must carry the uses to it.
#[cfg(all(test, loom))]
mod loom_model {
    use super::{KeepAlive, KeptAlive};
    use crate::sched::loom::atomic::{AtomicUsize, Ordering};
    use crate::sched::loom::UnsafeCell;
    use std::sync::Arc;

    struct Kept {
        keep_alive: KeepAlive,
        /// One per holder, written while it holds its unit, read by the
        /// destructor.
        uses: [UnsafeCell<bool>; 2],
        destroyed: Arc<AtomicUsize>,
    }

    impl KeptAlive for Kept {
        fn keep_alive(&self) -> &KeepAlive {
            &self.keep_alive
        }
    }

    impl Drop for Kept {
        fn drop(&mut self) {
            for used in &self.uses {
                // SAFETY: loom checks that no holder's write races this read.
                assert!(used.with_mut(|u| unsafe { *u }), "destroyed before a use");
            }
            self.destroyed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn holder(mine: Arc<Kept>, me: usize) {
        KeepAlive::take(&mine, 1);
        let at = Arc::as_ptr(&mine);
        drop(mine);
        // SAFETY: the unit keeps the object alive (what the model checks).
        unsafe { (*at).uses[me].with_mut(|u| *u = true) };
        // SAFETY: we hold the one unit taken above and give it up.
        unsafe { KeepAlive::give(at, 1) };
    }

    #[test]
    fn loom_keep_alive_units_outlive_every_arc() {
        loom::model(|| {
            let destroyed = Arc::new(AtomicUsize::new(0));
            let kept = Arc::new(Kept {
                keep_alive: KeepAlive::new(),
                uses: [UnsafeCell::new(false), UnsafeCell::new(false)],
                destroyed: destroyed.clone(),
            });
            let theirs = [kept.clone(), kept];
            let threads: Vec<_> = theirs
                .into_iter()
                .enumerate()
                .map(|(me, mine)| loom::thread::spawn(move || holder(mine, me)))
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(destroyed.load(Ordering::Relaxed), 1, "destroyed once");
        });
    }
}

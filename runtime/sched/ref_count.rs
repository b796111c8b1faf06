//! `RefCount`: the count of `GRef`s (`g_ref.rs`) to one G, as a type of its
//! own so that the loom model below checks the code every `GRef` runs.
//!
//! The orderings are `Arc`'s: a new reference is derived from a live one,
//! which already orders everything before it, so taking one is relaxed;
//! giving one up releases this holder's uses of the G, and the holder that
//! gives up the last one acquires them all before destroying the G.

use super::loom::atomic::{fence, AtomicUsize, Ordering};

/// The number of live references to one G.
pub(crate) struct RefCount(AtomicUsize);

impl RefCount {
    pub(crate) fn new(references: usize) -> RefCount {
        RefCount(AtomicUsize::new(references))
    }

    /// The count now (for assertions: another holder may change it at once).
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Takes one more reference. The caller must hold one for the call.
    #[inline]
    pub(crate) fn acquire(&self) {
        let old = self.0.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            // Billions of leaked references: give up like `Arc` does.
            std::process::abort();
        }
    }

    /// Gives up one reference. Returns `true` when it was the last: every
    /// use of the G through any reference happens before this return, and
    /// the caller must destroy it.
    #[inline]
    pub(crate) fn release(&self) -> bool {
        if self.0.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        fence(Ordering::Acquire);
        true
    }
}

/// Model check (`RUSTFLAGS="--cfg loom" cargo test --lib loom`; see
/// `.ci/run`): three holders of one G — the main thread, a thread it gave a
/// reference to, and a thread that one cloned its own for — each use the G
/// (write their own loom cell in it), then let go. Exactly one of them must
/// see the last release, and its destroy must read every cell: loom reports
/// a read that does not happen after some holder's write as a data race.
#[cfg(all(test, loom))]
mod loom_model {
    use super::RefCount;
    use crate::sched::loom::UnsafeCell;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;

    struct G {
        refs: RefCount,
        /// One per holder: what each wrote while it held its reference.
        uses: [UnsafeCell<usize>; 3],
        destroyed: AtomicUsize,
    }

    /// One holder: uses the G, then gives up its reference.
    fn hold(g: &G, holder: usize) {
        // SAFETY: each holder writes only its own cell; loom checks the
        // destroyer's reads against these writes.
        g.uses[holder].with_mut(|u| unsafe { *u = holder + 1 });
        if g.refs.release() {
            for (i, cell) in g.uses.iter().enumerate() {
                // SAFETY: the last release orders every holder's write
                // before this read (loom reports it otherwise).
                assert_eq!(cell.with(|u| unsafe { *u }), i + 1);
            }
            g.destroyed.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn loom_gref_count() {
        loom::model(|| {
            // `Arc` only lets the threads share the memory; the G's life is
            // what `refs` says (two references, as `GRef::new_pair` makes).
            let g = Arc::new(G {
                refs: RefCount::new(2),
                uses: [UnsafeCell::new(0), UnsafeCell::new(0), UnsafeCell::new(0)],
                destroyed: AtomicUsize::new(0),
            });
            let given = g.clone();
            let first = loom::thread::spawn(move || {
                // Clones the reference it was given for a third holder.
                given.refs.acquire();
                let cloned = given.clone();
                let second = loom::thread::spawn(move || hold(&cloned, 2));
                hold(&given, 1);
                second
            });
            hold(&g, 0);
            first.join().unwrap().join().unwrap();
            assert_eq!(g.destroyed.load(Ordering::Relaxed), 1);
        });
    }
}

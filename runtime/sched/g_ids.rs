//! G ids: unique within a runtime, taken by each P in batches.
//!
//! One runtime-wide counter handing out every id cost an atomic
//! read-modify-write per spawn, about a twentieth of a spawn-and-join at
//! procs 1. A P takes [`BATCH`] ids at once and hands them out itself (Go
//! does the same with `goidcache`), so ids stay unique and are never
//! reused, but are no longer in spawn order across Ps. A spawn from outside
//! the runtime's Ms takes one id from the counter.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Ids a P takes from the runtime's counter at once.
const BATCH: u64 = 64;

/// The ids one P has taken and not handed out yet: `next..end` (owner
/// only: it lives in the `Processor`).
pub(crate) struct IdCache {
    next: Cell<u64>,
    end: Cell<u64>,
}

impl IdCache {
    pub(crate) fn new() -> IdCache {
        IdCache {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    /// An id not handed out before, from this P's batch, refilled from the
    /// runtime's `counter` when empty.
    #[inline]
    pub(crate) fn next(&self, counter: &AtomicU64) -> u64 {
        let mut id = self.next.get();
        if id == self.end.get() {
            // Relaxed: uniqueness needs only the read-modify-write itself.
            id = counter.fetch_add(BATCH, Ordering::Relaxed);
            self.end.set(id + BATCH);
        }
        self.next.set(id + 1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_from_two_caches_and_the_counter_never_repeat() {
        let counter = AtomicU64::new(1);
        let (a, b) = (IdCache::new(), IdCache::new());
        let mut seen = HashSet::new();
        for i in 0..3 * BATCH {
            assert!(seen.insert(a.next(&counter)));
            assert!(seen.insert(b.next(&counter)));
            if i % 7 == 0 {
                assert!(seen.insert(counter.fetch_add(1, Ordering::Relaxed)));
            }
        }
        assert_eq!(seen.iter().min(), Some(&1));
    }
}

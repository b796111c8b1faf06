//! The registry of green threads that have parked (a subset of Go's `allgs`).
//!
//! A parked G may be reachable only from a user's data structure (a
//! channel's wait list, say). At shutdown the runtime must still unwind its
//! stack so its destructors run, so a G is entered here the first time it
//! parks and removed when it returns. Gs that never park are always in some
//! run queue (or running) and need no entry, which keeps short-lived Gs off
//! this lock entirely. Shards keep the lock uncontended when several Ps
//! register Gs at once.

use parking_lot::Mutex;

use super::g_ref::GRef;
use super::green_thread::GreenThread;

const SHARDS: usize = 16;

#[derive(Default)]
struct Slab {
    slots: Vec<Option<GRef>>,
    free: Vec<usize>,
}

pub(crate) struct Registry {
    shards: [Mutex<Slab>; SHARDS],
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            shards: std::array::from_fn(|_| Mutex::new(Slab::default())),
        }
    }

    /// Records a G that is about to start. Must be called by the M that owns it.
    pub(crate) fn insert(&self, g: &GRef) {
        let shard = (g.id() as usize) % SHARDS;
        let mut s = self.shards[shard].lock();
        let idx = match s.free.pop() {
            Some(i) => {
                s.slots[i] = Some(g.clone());
                i
            }
            None => {
                s.slots.push(Some(g.clone()));
                s.slots.len() - 1
            }
        };
        g.registry_slot.set(idx);
    }

    /// Forgets a G that has returned. Must be called by the M that owns it.
    pub(crate) fn remove(&self, g: &GreenThread) {
        let idx = g.registry_slot.replace(usize::MAX);
        if idx == usize::MAX {
            return;
        }
        let shard = (g.id() as usize) % SHARDS;
        let removed = {
            let mut s = self.shards[shard].lock();
            let removed = s.slots[idx].take();
            s.free.push(idx);
            removed
        };
        // Drop our reference outside the lock.
        drop(removed);
    }

    /// A reference to every registered G (shutdown's cancel sweep). The
    /// caller drops them, outside the shard locks (invariant 7).
    pub(crate) fn snapshot(&self) -> Vec<GRef> {
        let mut out = Vec::new();
        for shard in &self.shards {
            out.extend(shard.lock().slots.iter().flatten().cloned());
        }
        out
    }

    /// True when no registered G is left (every G that parked has finished).
    pub(crate) fn is_empty(&self) -> bool {
        self.shards
            .iter()
            .all(|s| s.lock().slots.iter().all(Option::is_none))
    }

    /// Takes every registered G out (shutdown).
    pub(crate) fn take_all(&self) -> Vec<GRef> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let mut s = shard.lock();
            let slab = std::mem::take(&mut *s);
            out.extend(slab.slots.into_iter().flatten());
        }
        for g in &out {
            g.registry_slot.set(usize::MAX);
        }
        out
    }
}

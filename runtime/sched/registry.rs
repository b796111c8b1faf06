//! The registry of started green threads (Go's `allgs`).
//!
//! A started G that is parked may be reachable only from a user's data
//! structure (a channel's wait list, say). At shutdown the runtime must still
//! unwind its stack so its destructors run, so every G is entered here when it
//! first runs and removed when it returns. Shards keep the lock uncontended
//! when several Ps start and finish Gs at once.

use std::sync::Arc;

use parking_lot::Mutex;

use super::green_thread::GreenThread;

const SHARDS: usize = 16;

#[derive(Default)]
struct Slab {
    slots: Vec<Option<Arc<GreenThread>>>,
    free: Vec<usize>,
    live: usize,
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
    pub(crate) fn insert(&self, g: &Arc<GreenThread>) {
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
        s.live += 1;
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
            s.live -= 1;
            removed
        };
        // Drop our reference outside the lock.
        drop(removed);
    }

    /// Number of started, unfinished Gs.
    pub(crate) fn live(&self) -> usize {
        self.shards.iter().map(|s| s.lock().live).sum()
    }

    /// Takes every registered G out (shutdown).
    pub(crate) fn take_all(&self) -> Vec<Arc<GreenThread>> {
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

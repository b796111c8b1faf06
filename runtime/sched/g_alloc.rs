//! Memory for Gs: freed G allocations are kept and reused (Go keeps dead Gs
//! on free lists for the same reason).
//!
//! A G and its task share one allocation (`green_thread.rs`, "One
//! allocation per G") whose size depends on the closure. Handing every one
//! back to `malloc` costs twice: the allocator's own bookkeeping (a few
//! hundred instructions per G once more Gs are alive than its thread cache
//! holds), and, when a wave of Gs ends, glibc trims the freed top of its heap
//! and the next wave faults every page back in — about a third of the time
//! of a 100 000-G spawn-and-join wave. So blocks are recycled here.
//!
//! * **Size classes** of 64 bytes up to 1 KiB; a task type whose allocation
//!   is larger, or aligned beyond 16, bypasses the cache.
//! * **Per-P caches** ([`BlockCache`], in each `Processor`, no lock): a G
//!   released on an M holding a P of its runtime goes there; spawning takes
//!   from there first. A cache holds at most [`P_CACHE_MAX`] blocks per class
//!   and spills half to the global list beyond that.
//! * **The global list** ([`GlobalBlocks`], one lock) takes spills and the
//!   blocks of Gs released off the runtime's Ms, and refills P caches in
//!   batches. It is not capped (a wave of 100 000 Gs reuses the blocks of the
//!   previous wave), but it does not keep memory forever: sysmon calls
//!   [`GlobalBlocks::scavenge`] about once a second and frees half of what
//!   stayed unused for that whole period, and all but [`GLOBAL_KEEP`] per
//!   class when the runtime goes idle. Everything is freed with the runtime.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use parking_lot::Mutex;

/// Block sizes are multiples of this.
const CLASS_STEP: usize = 64;
/// Number of classes: blocks of 64, 128, …, 1024 bytes.
const CLASSES: usize = 16;
/// Every cached block is allocated with this alignment (glibc's natural
/// one, so `malloc` serves it directly).
const BLOCK_ALIGN: usize = 16;
/// Blocks per class a P keeps before spilling to the global list.
const P_CACHE_MAX: usize = 256;
/// Blocks moved between a P cache and the global list at once.
const BATCH: usize = P_CACHE_MAX / 2;
/// Blocks per class the global list keeps however long they go unused.
const GLOBAL_KEEP: usize = 256;

/// The class serving `layout`, or `None` when it bypasses the cache.
#[inline]
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > BLOCK_ALIGN || layout.size() > CLASS_STEP * CLASSES {
        return None;
    }
    Some(layout.size().max(1).div_ceil(CLASS_STEP) - 1)
}

fn block_layout(class: usize) -> Layout {
    // Cannot fail: the size is at most 1 KiB and the alignment a power of two.
    Layout::from_size_align((class + 1) * CLASS_STEP, BLOCK_ALIGN).expect("valid block layout")
}

/// A fresh block from the global allocator (aborts on out-of-memory, like
/// `Box::new`).
fn fresh(layout: Layout) -> NonNull<u8> {
    // SAFETY: every layout used here has a non-zero size (a G header).
    let p = unsafe { alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Frees blocks of `class`.
fn free_all(class: usize, blocks: impl IntoIterator<Item = Block>) {
    let layout = block_layout(class);
    for b in blocks {
        // SAFETY: every cached block of this class was allocated with
        // exactly this layout (`fresh(block_layout(class))`) and is owned by
        // the cache (no G lives in it).
        unsafe { alloc::dealloc(b.0.as_ptr(), layout) }
    }
}

/// An unused block owned by a cache.
pub(crate) struct Block(NonNull<u8>);

// SAFETY: a cached block is plain unused memory with no owner but the cache
// holding it; it may be freed or reused from any thread.
unsafe impl Send for Block {}

/// The blocks one P keeps (owner only: it lives in the `Processor`).
pub(crate) struct BlockCache {
    classes: [Vec<Block>; CLASSES],
}

impl BlockCache {
    pub(crate) fn new() -> Self {
        BlockCache {
            classes: std::array::from_fn(|_| Vec::new()),
        }
    }

    /// Blocks held, over all classes.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.classes.iter().map(Vec::len).sum()
    }
}

impl Drop for BlockCache {
    fn drop(&mut self) {
        for (class, blocks) in self.classes.iter_mut().enumerate() {
            free_all(class, blocks.drain(..));
        }
    }
}

/// The runtime-wide list of unused blocks (see the module docs).
pub(crate) struct GlobalBlocks {
    inner: Mutex<Global>,
}

struct Global {
    classes: [Vec<Block>; CLASSES],
    /// Per class, the fewest blocks the list held since the last scavenge:
    /// that many went unused for the whole period.
    low: [usize; CLASSES],
}

impl GlobalBlocks {
    pub(crate) fn new() -> Self {
        GlobalBlocks {
            inner: Mutex::new(Global {
                classes: std::array::from_fn(|_| Vec::new()),
                low: [0; CLASSES],
            }),
        }
    }

    /// Memory for a G of `layout`: from `cache` (the caller's P's, if it
    /// holds one), else a batch from the global list, else the allocator.
    pub(crate) fn alloc(&self, cache: Option<&mut BlockCache>, layout: Layout) -> NonNull<u8> {
        let Some(class) = class_of(layout) else {
            return fresh(layout);
        };
        match cache {
            Some(cache) => {
                let local = &mut cache.classes[class];
                if let Some(b) = local.pop() {
                    return b.0;
                }
                let mut g = self.inner.lock();
                let global = &mut g.classes[class];
                let take = global.len().min(BATCH);
                let from = global.len() - take;
                local.extend(global.drain(from..));
                g.low[class] = g.low[class].min(g.classes[class].len());
                drop(g);
                match local.pop() {
                    Some(b) => b.0,
                    None => fresh(block_layout(class)),
                }
            }
            None => {
                let mut g = self.inner.lock();
                let b = g.classes[class].pop();
                g.low[class] = g.low[class].min(g.classes[class].len());
                drop(g);
                match b {
                    Some(b) => b.0,
                    None => fresh(block_layout(class)),
                }
            }
        }
    }

    /// Takes back the memory of a G of `layout`, whose value has been
    /// dropped.
    ///
    /// # Safety
    /// `p` came from [`alloc`](Self::alloc) of this list (through any of its
    /// caches) with the same `layout`, nothing refers to it any more, and
    /// `cache`, if given, belongs to a P of the same runtime.
    pub(crate) unsafe fn free(
        &self,
        cache: Option<&mut BlockCache>,
        p: NonNull<u8>,
        layout: Layout,
    ) {
        let Some(class) = class_of(layout) else {
            // SAFETY: uncached layouts were allocated with exactly `layout`.
            unsafe { alloc::dealloc(p.as_ptr(), layout) };
            return;
        };
        match cache {
            Some(cache) => {
                let local = &mut cache.classes[class];
                local.push(Block(p));
                if local.len() > P_CACHE_MAX {
                    // Spill the coldest blocks (the bottom of the stack);
                    // the ones just freed are likely still in this CPU's
                    // cache.
                    let mut g = self.inner.lock();
                    g.classes[class].extend(local.drain(..BATCH));
                }
            }
            None => self.inner.lock().classes[class].push(Block(p)),
        }
    }

    /// Frees half of the blocks of each class that went unused since the
    /// last call (`idle`: all but [`GLOBAL_KEEP`] per class). Returns how
    /// many were freed.
    pub(crate) fn scavenge(&self, idle: bool) -> usize {
        let mut freed = Vec::new();
        {
            let mut g = self.inner.lock();
            for class in 0..CLASSES {
                let len = g.classes[class].len();
                let unused = if idle { len } else { g.low[class].min(len) };
                let excess = unused.saturating_sub(GLOBAL_KEEP);
                let n = if idle { excess } else { excess.div_ceil(2) };
                if n > 0 {
                    let blocks = g.classes[class].split_off(len - n);
                    freed.push((class, blocks));
                }
                g.low[class] = g.classes[class].len();
            }
        }
        // Freed outside the lock: `free` may take a while for many blocks.
        let mut count = 0;
        for (class, blocks) in freed {
            count += blocks.len();
            free_all(class, blocks);
        }
        count
    }

    /// Blocks held, over all classes.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().classes.iter().map(Vec::len).sum()
    }
}

impl Drop for GlobalBlocks {
    fn drop(&mut self) {
        let g = self.inner.get_mut();
        for (class, blocks) in g.classes.iter_mut().enumerate() {
            free_all(class, blocks.drain(..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_to_64_bytes_and_skip_big_or_overaligned_layouts() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class_of(l(1, 8)), Some(0));
        assert_eq!(class_of(l(64, 8)), Some(0));
        assert_eq!(class_of(l(65, 8)), Some(1));
        assert_eq!(class_of(l(184, 8)), Some(2));
        assert_eq!(class_of(l(1024, 16)), Some(15));
        assert_eq!(class_of(l(1025, 8)), None);
        assert_eq!(class_of(l(64, 32)), None);
    }

    #[test]
    fn freed_blocks_are_reused_lifo_through_the_p_cache() {
        let global = GlobalBlocks::new();
        let mut cache = BlockCache::new();
        let layout = Layout::from_size_align(184, 8).unwrap();
        let a = global.alloc(Some(&mut cache), layout);
        let b = global.alloc(Some(&mut cache), layout);
        assert_ne!(a, b);
        // SAFETY: both came from `alloc` with `layout` and are unused.
        unsafe {
            global.free(Some(&mut cache), a, layout);
            global.free(Some(&mut cache), b, layout);
        }
        assert_eq!(global.alloc(Some(&mut cache), layout), b);
        assert_eq!(global.alloc(Some(&mut cache), layout), a);
        // SAFETY: as above.
        unsafe {
            global.free(None, a, layout);
            global.free(None, b, layout);
        }
        assert_eq!(global.len(), 2);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_full_p_cache_spills_to_the_global_list_and_refills_from_it() {
        let global = GlobalBlocks::new();
        let mut cache = BlockCache::new();
        let layout = Layout::from_size_align(100, 8).unwrap();
        let n = P_CACHE_MAX + 1;
        let blocks: Vec<_> = (0..n)
            .map(|_| global.alloc(Some(&mut cache), layout))
            .collect();
        for &b in &blocks {
            // SAFETY: each came from `alloc` with `layout`, freed once.
            unsafe { global.free(Some(&mut cache), b, layout) };
        }
        assert_eq!(cache.len(), n - BATCH);
        assert_eq!(global.len(), BATCH);
        // Drain the P cache; the next allocation refills from the global list.
        let mut again: Vec<_> = (0..n)
            .map(|_| global.alloc(Some(&mut cache), layout))
            .collect();
        again.sort();
        let mut blocks = blocks;
        blocks.sort();
        assert_eq!(again, blocks, "every block reused, none allocated afresh");
        for b in again {
            // SAFETY: as above.
            unsafe { global.free(None, b, layout) };
        }
    }

    #[test]
    fn scavenge_frees_half_of_what_went_unused_and_idle_keeps_a_floor() {
        let global = GlobalBlocks::new();
        let layout = Layout::from_size_align(200, 8).unwrap();
        let n = GLOBAL_KEEP + 1000;
        let blocks: Vec<_> = (0..n).map(|_| global.alloc(None, layout)).collect();
        for b in blocks {
            // SAFETY: each came from `alloc` with `layout`, freed once.
            unsafe { global.free(None, b, layout) };
        }
        // The low-water mark starts at 0: nothing counted as unused yet.
        assert_eq!(global.scavenge(false), 0);
        // A whole period unused: half of the excess over the floor goes.
        assert_eq!(global.scavenge(false), 500);
        assert_eq!(global.len(), n - 500);
        // Use some: only what stayed unused counts.
        let used: Vec<_> = (0..400).map(|_| global.alloc(None, layout)).collect();
        for b in used {
            // SAFETY: as above.
            unsafe { global.free(None, b, layout) };
        }
        assert_eq!(
            global.scavenge(false),
            (n - 500 - 400 - GLOBAL_KEEP).div_ceil(2)
        );
        // Idle: down to the floor.
        global.scavenge(true);
        assert_eq!(global.len(), GLOBAL_KEEP);
    }
}

//! Slab stacks: many green-thread stacks carved from one large mapping.
//!
//! A stack that is its own `mmap` plus an `mprotect`ed guard page costs two
//! memory mappings, and Linux caps a process at `vm.max_map_count` (65 530 by
//! default), so only about 32 000 green threads could be live. Since Linux
//! 6.13, `madvise(MADV_GUARD_INSTALL)` marks a range of an existing mapping
//! as a guard region (any access raises SIGSEGV) without splitting the
//! mapping. So a slab is one `MAP_NORESERVE` mapping of `STACKS_PER_SLAB`
//! slots, each slot a guard region followed by a stack; a million stacks are
//! about a thousand mappings. A slot costs nothing until it is carved (one
//! guard `madvise`) and its top page is first touched.
//!
//! A dropped stack's slot is reused while its pages are still resident; past
//! a small batch, the pages are released (`MADV_DONTNEED`) and the slot goes
//! on the free list. A slab none of whose stacks is alive is unmapped when
//! sysmon trims (`SlabAllocator::trim`), so a burst of a million green
//! threads does not keep its page tables and guard markers for ever; the
//! rest are unmapped when the allocator and every stack from it are gone.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::{Arc, OnceLock};

use corosensei::stack::{Stack, StackPointer};
use parking_lot::Mutex;

/// `MADV_GUARD_INSTALL` (Linux 6.13+); the libc crate may not name it yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;
/// Stack slots per slab mapping.
const STACKS_PER_SLAB: usize = 1024;

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Whether this kernel supports `MADV_GUARD_INSTALL` (probed once).
pub(crate) fn guard_install_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let page = page_size();
        // SAFETY: a fresh private anonymous mapping of two pages, advised and
        // unmapped here; nobody else knows its address.
        unsafe {
            let mem = libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if mem == libc::MAP_FAILED {
                return false;
            }
            let ok = libc::madvise(mem, page, MADV_GUARD_INSTALL) == 0;
            libc::munmap(mem, 2 * page);
            ok
        }
    })
}

/// Hands out slots from slab mappings, growing by one slab when all are used.
pub(crate) struct SlabAllocator {
    stack_size: usize,
    guard: usize,
    state: Mutex<SlabState>,
}

/// Dropped stacks wait in `SlabState::dirty` until this many gather, then
/// their pages go back to the OS in as few `madvise` calls as their
/// addresses allow (see `SlabAllocator::release_dirty`).
const RELEASE_BATCH: usize = 64;

struct SlabState {
    /// Slot start addresses (guard included) whose stacks were dropped and
    /// whose pages have been released, lowest address first: reusing low
    /// slots first packs live stacks into few slabs, so the others empty
    /// out and `trim` can unmap them.
    free: BinaryHeap<Reverse<usize>>,
    /// Slots of dropped stacks whose pages may still be resident. Reused
    /// first (no fault, no syscall); released in batches otherwise.
    dirty: Vec<usize>,
    /// Batches of dirty slots being released outside the lock; while any
    /// is, `trim` unmaps nothing (those slots are on no list, and would be
    /// put on the free list after their slab was gone).
    releasing: usize,
    /// Next never-carved slot in the newest slab, and where that slab ends.
    next: usize,
    end: usize,
    /// Every slab mapping, sorted by address.
    slabs: Vec<Slab>,
}

/// One slab mapping and how many live `SlabStack`s it holds.
struct Slab {
    start: usize,
    len: usize,
    live: usize,
}

impl SlabState {
    /// The slab holding `slot`.
    fn slab_of(&mut self, slot: usize) -> &mut Slab {
        let i = self.slabs.partition_point(|s| s.start <= slot) - 1;
        let slab = &mut self.slabs[i];
        debug_assert!(slot < slab.start + slab.len, "slot outside every slab");
        slab
    }
}

impl SlabAllocator {
    pub(crate) fn new(stack_size: usize) -> Self {
        let page = page_size();
        SlabAllocator {
            stack_size: stack_size.div_ceil(page) * page,
            guard: page,
            state: Mutex::new(SlabState {
                free: BinaryHeap::new(),
                dirty: Vec::new(),
                releasing: 0,
                next: 0,
                end: 0,
                slabs: Vec::new(),
            }),
        }
    }

    fn slot_size(&self) -> usize {
        self.guard + self.stack_size
    }

    /// A stack from a free slot, else a newly carved one (guard installed).
    pub(crate) fn alloc(self: &Arc<Self>) -> io::Result<SlabStack> {
        let slot = {
            let mut st = self.state.lock();
            if let Some(slot) = st
                .dirty
                .pop()
                .or_else(|| st.free.pop().map(|Reverse(slot)| slot))
            {
                st.slab_of(slot).live += 1;
                return Ok(self.stack_at(slot));
            }
            if st.next == st.end {
                let len = self.slot_size() * STACKS_PER_SLAB;
                // SAFETY: a fresh private anonymous mapping; only this
                // allocator hands out addresses inside it.
                let mem = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                        -1,
                        0,
                    )
                };
                if mem == libc::MAP_FAILED {
                    return Err(io::Error::last_os_error());
                }
                let start = mem as usize;
                st.next = start;
                st.end = start + len;
                let at = st.slabs.partition_point(|s| s.start < start);
                st.slabs.insert(
                    at,
                    Slab {
                        start,
                        len,
                        live: 0,
                    },
                );
            }
            let slot = st.next;
            st.next += self.slot_size();
            st.slab_of(slot).live += 1;
            slot
        };
        // SAFETY: `slot` is the start of a slot no one else has been given;
        // its first page becomes the guard below this stack.
        if unsafe { libc::madvise(slot as *mut _, self.guard, MADV_GUARD_INSTALL) } != 0 {
            // The slot is abandoned, not freed: every slot on the free lists
            // has its guard, and this one has none. Only its address space
            // is lost (no page of it was touched), and its slab stays mapped.
            return Err(io::Error::last_os_error());
        }
        Ok(self.stack_at(slot))
    }

    /// Takes back a dropped stack's slot; every `RELEASE_BATCH` slots, their
    /// pages are released.
    fn put_dirty(&self, slot: usize) {
        let batch = {
            let mut st = self.state.lock();
            st.slab_of(slot).live -= 1;
            st.dirty.push(slot);
            if st.dirty.len() < RELEASE_BATCH {
                return;
            }
            st.releasing += 1;
            std::mem::take(&mut st.dirty)
        };
        self.release_dirty(batch);
    }

    /// Releases the pages of `slots` (outside the lock) and frees them. The
    /// caller counted the batch in `SlabState::releasing`.
    ///
    /// Each `MADV_DONTNEED` flushes the TLBs of every CPU running this
    /// process, so adjacent slots — green threads spawned together tend to
    /// finish together — are released as one range. The guard regions
    /// between them survive `MADV_DONTNEED` (only `MADV_GUARD_REMOVE` or
    /// unmapping removes them).
    fn release_dirty(&self, mut slots: Vec<usize>) {
        slots.sort_unstable();
        let slot_size = self.slot_size();
        let mut i = 0;
        while i < slots.len() {
            let mut j = i + 1;
            while j < slots.len() && slots[j] == slots[j - 1] + slot_size {
                j += 1;
            }
            let start = slots[i] + self.guard;
            let end = slots[j - 1] + slot_size;
            // SAFETY: [start, end) covers the stacks of dropped SlabStacks
            // (and the guards between them): no coroutine runs there and
            // their contents are dead.
            unsafe {
                libc::madvise(start as *mut _, end - start, libc::MADV_DONTNEED);
            }
            i = j;
        }
        let mut st = self.state.lock();
        st.free.extend(slots.into_iter().map(Reverse));
        st.releasing -= 1;
    }

    /// Releases the pages of every dropped stack and unmaps each slab that
    /// holds no live stack (but the one being carved). Called by sysmon,
    /// about once a second; returns how many slabs were unmapped.
    pub(crate) fn trim(&self) -> usize {
        let dirty = {
            let mut st = self.state.lock();
            st.releasing += 1;
            std::mem::take(&mut st.dirty)
        };
        self.release_dirty(dirty);
        let unused: Vec<(usize, usize)> = {
            let mut st = self.state.lock();
            if st.releasing > 0 {
                return 0; // try again next time
            }
            let carving = st.next.wrapping_sub(1);
            let empty = |s: &Slab| s.live == 0 && !(s.start..s.start + s.len).contains(&carving);
            let unused: Vec<_> = st
                .slabs
                .iter()
                .filter(|s| empty(s))
                .map(|s| (s.start, s.len))
                .collect();
            if unused.is_empty() {
                return 0;
            }
            st.slabs.retain(|s| !empty(s));
            let in_unused =
                |slot: &usize| unused.iter().any(|&(a, len)| (a..a + len).contains(slot));
            st.free.retain(|Reverse(slot)| !in_unused(slot));
            st.dirty.retain(|slot| !in_unused(slot));
            unused
        };
        for &(start, len) in &unused {
            // SAFETY: no live stack is in this slab and its slots were taken
            // off the free list under the lock, so nothing can be handed out
            // from it again; the mapping was made by `alloc`.
            unsafe {
                libc::munmap(start as *mut _, len);
            }
        }
        unused.len()
    }

    /// Mappings held (slabs), for tests and stats.
    #[cfg(test)]
    fn slab_count(&self) -> usize {
        self.state.lock().slabs.len()
    }

    fn stack_at(self: &Arc<Self>, slot: usize) -> SlabStack {
        SlabStack {
            limit: slot + self.guard,
            base: slot + self.slot_size(),
            owner: Arc::clone(self),
        }
    }
}

impl Drop for SlabAllocator {
    fn drop(&mut self) {
        // Every SlabStack holds an Arc to us, so none is live now.
        for slab in &self.state.get_mut().slabs {
            // SAFETY: this mapping was made by `alloc` and no stack in it lives.
            unsafe {
                libc::munmap(slab.start as *mut _, slab.len);
            }
        }
    }
}

/// One stack inside a slab. Dropping it releases its pages and frees the slot.
pub(crate) struct SlabStack {
    limit: usize,
    base: usize,
    owner: Arc<SlabAllocator>,
}

impl SlabStack {
    /// Releases every page but the top `keep` bytes (a stack returned to the
    /// pool after a deep run must not pin its peak RSS).
    ///
    /// Most green threads never leave their top page, so the range is first
    /// checked with `mincore` (a page-table walk): `MADV_DONTNEED` is issued
    /// only when some page in it is resident. The check matters because
    /// dropping pages from a mapping shared by running threads flushes the
    /// other CPUs' TLBs by IPI — about 10 µs per call on a 2-vCPU VM, which
    /// was most of the time to wake and finish 100 000 shallow green threads.
    pub(crate) fn release_below(&self, keep: usize) {
        let top = self.base.saturating_sub(keep).max(self.limit);
        if top > self.limit && any_page_resident(self.limit, top) {
            // SAFETY: [limit, top) lies inside this stack, which no coroutine
            // runs on now (it was handed back); its contents are dead.
            unsafe {
                libc::madvise(self.limit as *mut _, top - self.limit, libc::MADV_DONTNEED);
            }
        }
    }
}

/// Whether any page of the page-aligned range [start, end) is resident.
/// Answers "yes" when the kernel cannot tell, so the caller releases.
fn any_page_resident(start: usize, end: usize) -> bool {
    const CHUNK_PAGES: usize = 256;
    let page = page_size();
    let mut vec = [0u8; CHUNK_PAGES];
    let mut at = start;
    while at < end {
        let len = (end - at).min(CHUNK_PAGES * page);
        // SAFETY: [at, at + len) lies inside one of our mappings (mincore
        // only reads page tables), and `vec` has room for len / page bytes.
        let rc = unsafe { libc::mincore(at as *mut _, len, vec.as_mut_ptr()) };
        if rc != 0 || vec[..len.div_ceil(page)].iter().any(|b| b & 1 != 0) {
            return true;
        }
        at += len;
    }
    false
}

impl Drop for SlabStack {
    fn drop(&mut self) {
        self.owner.put_dirty(self.limit - self.owner.guard);
    }
}

// SAFETY: [limit, base) is a read-write range owned by this value alone, with
// a guard region installed directly below `limit`.
unsafe impl Stack for SlabStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.base).expect("slab addresses are non-zero")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.limit).expect("slab addresses are non-zero")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: usize = 64 * 1024;

    fn touch_all(s: &SlabStack) {
        for at in (s.limit..s.base).step_by(page_size()) {
            // SAFETY: [limit, base) is this stack's read-write range and no
            // coroutine runs on it.
            unsafe { (at as *mut u8).write_volatile(1) };
        }
    }

    #[test]
    fn dropped_stacks_are_reused_dirty_then_released_in_batches() {
        if !guard_install_supported() {
            return; // the mprotect fallback has no slabs
        }
        let slabs = Arc::new(SlabAllocator::new(STACK));
        let stacks: Vec<_> = (0..RELEASE_BATCH + 1)
            .map(|_| slabs.alloc().unwrap())
            .collect();
        let ranges: Vec<_> = stacks.iter().map(|s| (s.limit, s.base)).collect();
        stacks.iter().for_each(touch_all);
        drop(stacks);
        // RELEASE_BATCH drops filled one batch and released it; the last
        // one waits, resident, and is the first to be handed out again.
        let released = ranges.iter().filter(|&&(a, b)| !any_page_resident(a, b));
        assert_eq!(released.count(), RELEASE_BATCH);
        let (last_limit, last_base) = *ranges.last().unwrap();
        assert!(any_page_resident(last_limit, last_base));
        let again = slabs.alloc().unwrap();
        assert_eq!((again.limit, again.base), (last_limit, last_base));
    }

    #[test]
    fn release_below_keeps_the_top_and_skips_untouched_stacks() {
        if !guard_install_supported() {
            return;
        }
        let slabs = Arc::new(SlabAllocator::new(STACK));
        let s = slabs.alloc().unwrap();
        assert!(!any_page_resident(s.limit, s.base), "a fresh stack");
        touch_all(&s);
        s.release_below(8 * 1024);
        assert!(!any_page_resident(s.limit, s.base - 8 * 1024));
        assert!(any_page_resident(s.base - 8 * 1024, s.base));
    }

    #[test]
    fn trim_unmaps_slabs_without_live_stacks_but_the_one_being_carved() {
        if !guard_install_supported() {
            return;
        }
        let slabs = Arc::new(SlabAllocator::new(STACK));
        let first: Vec<_> = (0..STACKS_PER_SLAB)
            .map(|_| slabs.alloc().unwrap())
            .collect();
        let second = slabs.alloc().unwrap(); // carves a second slab
        assert_eq!(slabs.slab_count(), 2);
        touch_all(&second);
        assert_eq!(slabs.trim(), 0, "both slabs hold live stacks");
        drop(first);
        assert_eq!(slabs.trim(), 1, "the first slab holds none now");
        assert_eq!(slabs.slab_count(), 1);
        drop(second);
        assert_eq!(slabs.trim(), 0, "the slab being carved stays");
        // Every slot handed out now lies in the remaining slab: none of the
        // unmapped one's slots stayed on a free list.
        let again: Vec<_> = (0..4).map(|_| slabs.alloc().unwrap()).collect();
        again.iter().for_each(touch_all);
        assert_eq!(slabs.slab_count(), 1);
    }
}

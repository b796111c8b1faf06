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
//! Slabs are unmapped when the allocator and every stack from it are gone; a
//! slot whose stack is dropped earlier has its pages released
//! (`MADV_DONTNEED`) and goes on the allocator's free list for reuse.

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

struct SlabState {
    /// Slot start addresses (guard included) whose stacks were dropped.
    free: Vec<usize>,
    /// Next never-carved slot in the newest slab, and where that slab ends.
    next: usize,
    end: usize,
    /// Every slab mapping (start, length), unmapped when the allocator drops.
    slabs: Vec<(usize, usize)>,
}

impl SlabAllocator {
    pub(crate) fn new(stack_size: usize) -> Self {
        let page = page_size();
        SlabAllocator {
            stack_size: stack_size.div_ceil(page) * page,
            guard: page,
            state: Mutex::new(SlabState {
                free: Vec::new(),
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
            if let Some(slot) = st.free.pop() {
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
                st.next = mem as usize;
                st.end = mem as usize + len;
                st.slabs.push((mem as usize, len));
            }
            let slot = st.next;
            st.next += self.slot_size();
            slot
        };
        // SAFETY: `slot` is the start of a slot no one else has been given;
        // its first page becomes the guard below this stack.
        if unsafe { libc::madvise(slot as *mut _, self.guard, MADV_GUARD_INSTALL) } != 0 {
            let e = io::Error::last_os_error();
            self.state.lock().free.push(slot);
            return Err(e);
        }
        Ok(self.stack_at(slot))
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
        for &(start, len) in &self.state.get_mut().slabs {
            // SAFETY: this mapping was made by `alloc` and no stack in it lives.
            unsafe {
                libc::munmap(start as *mut _, len);
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
    pub(crate) fn release_below(&self, keep: usize) {
        let top = self.base.saturating_sub(keep).max(self.limit);
        if top > self.limit {
            // SAFETY: [limit, top) lies inside this stack, which no coroutine
            // runs on now (it was handed back); its contents are dead.
            unsafe {
                libc::madvise(self.limit as *mut _, top - self.limit, libc::MADV_DONTNEED);
            }
        }
    }
}

impl Drop for SlabStack {
    fn drop(&mut self) {
        self.release_below(0);
        self.owner
            .state
            .lock()
            .free
            .push(self.limit - self.owner.guard);
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

//! Stack pool: green-thread stacks are mmap'd once and reused.
//!
//! A fresh stack (mmap + guard page + mprotect) costs about 11 µs here, far
//! more than the rest of a spawn, so finished Gs hand their stack back: first
//! to their P's cache (no lock), spilling half to a global list when that
//! cache is full. All allocation sits behind this one small type so that a
//! slab allocator (many stacks per mapping) can replace it later.
//!
//! On kernels with `MADV_GUARD_INSTALL` (Linux 6.13+) stacks come from slabs
//! (see `stack_slab.rs`): one mapping per thousand stacks. Elsewhere, or with
//! `GREENRT_STACK_GUARD=mprotect`, each stack is two memory mappings (the
//! stack and its guard page), and Linux allows `vm.max_map_count` (65 530 by
//! default) per process, so about 32 000 stacks can be live at once. Past
//! that, `mmap` fails and the G that needed the stack fails with an error
//! naming the limit — never a crash.

use std::io;
use std::sync::Arc;

use corosensei::stack::{DefaultStack, Stack, StackPointer};
use parking_lot::Mutex;

use super::stack_slab::{self, SlabAllocator, SlabStack};

/// Env var that forces the per-stack `mprotect` guard (tests of the fallback).
pub const STACK_GUARD_ENV: &str = "GREENRT_STACK_GUARD";
/// Bytes at the top of a pooled stack kept resident; the rest is released.
const KEEP_RESIDENT: usize = 8 * 1024;

/// A green thread's stack: a slab slot, or its own mapping (the fallback).
pub(crate) enum GreenStack {
    Slab(SlabStack),
    Mapped(DefaultStack),
    /// A size asked for one green thread (`spawn_builder().stack_size`):
    /// its own mapping, never pooled (the pool holds one size only), and
    /// the size asked for.
    Own(DefaultStack, usize),
}

impl GreenStack {
    /// The size asked for a stack sized for one green thread (`None` for a
    /// pooled one, whose size is the pool's).
    pub(crate) fn own_size(&self) -> Option<usize> {
        match self {
            GreenStack::Own(_, size) => Some(*size),
            _ => None,
        }
    }
}

// SAFETY: all variants are valid stacks; we forward to them unchanged.
unsafe impl Stack for GreenStack {
    fn base(&self) -> StackPointer {
        match self {
            GreenStack::Slab(s) => s.base(),
            GreenStack::Mapped(s) | GreenStack::Own(s, _) => s.base(),
        }
    }

    fn limit(&self) -> StackPointer {
        match self {
            GreenStack::Slab(s) => s.limit(),
            GreenStack::Mapped(s) | GreenStack::Own(s, _) => s.limit(),
        }
    }
}

/// Stacks a P keeps for itself before spilling to the global list.
/// (Go keeps a per-P stack cache of 32 KiB worth of each size class; we keep
/// a count, since all our stacks are one size.)
const P_CACHE_MAX: usize = 64;
/// Stacks kept globally; beyond this, finished stacks are unmapped.
const GLOBAL_MAX: usize = 4096;
/// Stacks moved between a P cache and the global list at once.
const BATCH: usize = P_CACHE_MAX / 2;

pub(crate) struct StackPool {
    size: usize,
    /// `None` when stacks are their own mappings (no guard-install support,
    /// or forced by `GREENRT_STACK_GUARD=mprotect`).
    slabs: Option<Arc<SlabAllocator>>,
    global: Mutex<GlobalStacks>,
}

/// The global list, and the fewest stacks it held since sysmon last looked
/// (those went unused for a whole period; see `StackPool::scavenge`).
struct GlobalStacks {
    list: Vec<GreenStack>,
    low: usize,
}

/// Stacks the global list keeps however long they go unused.
const GLOBAL_KEEP: usize = 64;

impl StackPool {
    pub(crate) fn new(size: usize) -> Self {
        let forced = std::env::var(STACK_GUARD_ENV).is_ok_and(|v| v == "mprotect");
        let slabs = (!forced && stack_slab::guard_install_supported())
            .then(|| Arc::new(SlabAllocator::new(size)));
        StackPool {
            size,
            slabs,
            global: Mutex::new(GlobalStacks {
                list: Vec::new(),
                low: 0,
            }),
        }
    }

    pub(crate) fn stack_size(&self) -> usize {
        self.size
    }

    /// A stack for a G about to start: from `cache`, else the global list,
    /// else a fresh mapping.
    pub(crate) fn get(&self, cache: &mut Vec<GreenStack>) -> io::Result<GreenStack> {
        if let Some(s) = cache.pop() {
            return Ok(s);
        }
        {
            let mut global = self.global.lock();
            if !global.list.is_empty() {
                let take = global.list.len().min(BATCH);
                let from = global.list.len() - take;
                cache.extend(global.list.drain(from..));
                global.low = global.low.min(from);
            }
        }
        if let Some(s) = cache.pop() {
            return Ok(s);
        }
        match &self.slabs {
            Some(slabs) => slabs.alloc().map(GreenStack::Slab).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("could not map a slab of green-thread stacks: {e}"),
                )
            }),
            None => DefaultStack::new(self.size)
                .map(GreenStack::Mapped)
                .map_err(|e| self.explain(e)),
        }
    }

    /// Returns a finished G's stack.
    ///
    /// Pages below the top `KEEP_RESIDENT` bytes are released only when a
    /// stack spills from the P cache: a release is a syscall (and a re-fault
    /// if the next G grows as deep), which would multiply the cost of a
    /// spawn if paid on every return. So a deep burst pins at most
    /// `P_CACHE_MAX` full stacks per P; the rest go back to the OS.
    pub(crate) fn put(&self, cache: &mut Vec<GreenStack>, stack: GreenStack) {
        if let GreenStack::Own(..) = stack {
            return; // unmapped here: it is not the pool's size
        }
        cache.push(stack);
        if cache.len() > P_CACHE_MAX {
            let spill = cache.split_off(cache.len() - BATCH);
            self.keep_globally(spill);
        }
    }

    /// A stack of `size` bytes for one green thread: the pool's own size
    /// comes from the pool (and goes back to it), any other is mapped for
    /// that green thread alone.
    pub(crate) fn get_sized(
        &self,
        cache: &mut Vec<GreenStack>,
        size: usize,
    ) -> io::Result<GreenStack> {
        if size == self.size {
            return self.get(cache);
        }
        DefaultStack::new(size)
            .map(|s| GreenStack::Own(s, size))
            .map_err(|e| self.explain_sized(e, size))
    }

    /// Returns a whole P cache (a P being dropped at shutdown).
    pub(crate) fn put_all(&self, cache: &mut Vec<GreenStack>) {
        self.keep_globally(std::mem::take(cache));
    }

    /// Moves `stacks` to the global list, their deep pages released, as far
    /// as it has room; the rest are dropped (back to their slab) after the
    /// list's lock is released, so no syscall runs under it.
    fn keep_globally(&self, mut stacks: Vec<GreenStack>) {
        let room = GLOBAL_MAX.saturating_sub(self.global.lock().list.len());
        let excess = stacks.split_off(stacks.len().min(room));
        for stack in &stacks {
            if let GreenStack::Slab(s) = stack {
                s.release_below(KEEP_RESIDENT);
            }
        }
        {
            let mut global = self.global.lock();
            let room = GLOBAL_MAX.saturating_sub(global.list.len());
            let late = stacks.split_off(stacks.len().min(room));
            global.list.extend(stacks);
            drop(global);
            drop(late);
        }
        drop(excess);
    }

    /// Gives back stacks nobody needed (sysmon, about once a second): half
    /// of those the global list held unused for the whole period beyond
    /// `GLOBAL_KEEP` (`idle`: all of them), then every slab left with no
    /// live stack is unmapped. Returns (stacks dropped, slabs unmapped).
    pub(crate) fn scavenge(&self, idle: bool) -> (usize, usize) {
        let dropped = {
            let mut global = self.global.lock();
            let len = global.list.len();
            let unused = if idle { len } else { global.low.min(len) };
            let excess = unused.saturating_sub(GLOBAL_KEEP);
            let n = if idle { excess } else { excess.div_ceil(2) };
            let dropped = global.list.split_off(len - n);
            global.low = global.list.len();
            dropped
        };
        let count = dropped.len();
        drop(dropped); // outside the lock: back to their slab
        let unmapped = self.slabs.as_ref().map_or(0, |s| s.trim());
        (count, unmapped)
    }

    fn explain(&self, e: io::Error) -> io::Error {
        self.explain_sized(e, self.size)
    }

    fn explain_sized(&self, e: io::Error, size: usize) -> io::Error {
        let max_maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        io::Error::new(
            e.kind(),
            format!(
                "could not map a {} KiB green-thread stack: {e}. Each live green thread \
                 holds a stack of two memory mappings and vm.max_map_count = {max_maps} \
                 limits this process (about half that many live green threads); \
                 raise it with `sysctl vm.max_map_count=N`, or keep fewer green threads \
                 blocked at once",
                size / 1024
            ),
        )
    }
}

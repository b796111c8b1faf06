//! P — the right to run green threads: a local run queue, a `runnext` slot,
//! a stack cache and a cache of G memory.
//!
//! A `Processor` is owned by at most one M at a time (it moves between Ms
//! through the scheduler's idle list), so its queue's push/pop end and its
//! stack cache need no locks. The parts other Ms touch — the steal end of the
//! queue and `runnext` — live in [`ProcessorShared`], indexed by P id.

use super::counters::PCounters;
use super::g_status::RunningRecord;
use super::lend::LendSlot;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::stack::GreenStack;

use super::g_alloc::BlockCache;
use super::g_ids::IdCache;
use super::g_ref::GRef;
use super::green_thread::GreenThread;
use super::keep_alive::Stash;
use super::run_queue::{LocalQueue, QueueView};
use super::syscall_slot::SyscallSlot;

/// The steal-side view of a P, shared with every M.
pub(crate) struct ProcessorShared {
    /// The local queue as other threads see it (`run_queue.rs`).
    pub(crate) queue: QueueView,
    pub(crate) runnext: RunNext,
    /// Counts schedules (written by the owner only; sysmon reads it to see
    /// whether one G has run for too long). Every 61st looks at the global
    /// queue first.
    pub(crate) schedtick: AtomicU32,
    /// Set by sysmon: the running G should yield at its next checkpoint.
    pub(crate) preempt: AtomicBool,
    /// While the P's M is in a syscall: the P itself, parked here so that
    /// sysmon can take it (one `swap`) and hand it to another M, or the M can
    /// take it back on return (the same `swap`: whoever gets non-null owns it).
    pub(crate) syscall_slot: SyscallSlot<Processor>,
    /// Counts syscall entries, so sysmon can tell a long syscall from a new one.
    pub(crate) syscall_tick: AtomicU64,
    /// Gs started / finished on this P (owner-written; a G may start on one P
    /// and finish on another, so only the sums over all Ps mean anything).
    pub(crate) started: AtomicU64,
    pub(crate) finished: AtomicU64,
    /// Cumulative event counts and busy time (owner-written, `counters.rs`).
    pub(crate) counters: PCounters,
    /// Whether the P is lent to a running G, and who may use it (`lend.rs`).
    pub(crate) lend: LendSlot,
    /// The G this P runs now, for dumps (owner-written, `g_status.rs`).
    pub(crate) running: RunningRecord,
}

impl ProcessorShared {
    /// True when this P has queued work another M could take.
    pub(crate) fn has_work(&self) -> bool {
        !self.queue.is_empty() || self.runnext.is_some()
    }
}

/// A one-slot, stealable "run this G next" cell (Go's `p.runnext`).
///
/// A G made runnable by the running G (a spawn, a channel hand-off) goes here
/// so it runs next on the same P, keeping ping-pong pairs on one core and
/// their data in its cache.
pub(crate) struct RunNext(AtomicPtr<GreenThread>);

impl RunNext {
    fn new() -> Self {
        RunNext(AtomicPtr::new(ptr::null_mut()))
    }

    /// Puts `g` in the slot, returning the previous occupant. Only the
    /// P's owner may call this.
    #[inline]
    pub(crate) fn replace(&self, g: GRef) -> Option<GRef> {
        // Only the owner ever fills the slot; thieves only empty it. So an
        // empty slot stays empty until our store, and a plain store does
        // (a thief that swaps in the meantime swaps null for null, or takes
        // our G after the store, which is a legitimate steal).
        if self.0.load(Ordering::Relaxed).is_null() {
            self.0.store(g.into_raw(), Ordering::Release);
            return None;
        }
        let old = self.0.swap(g.into_raw(), Ordering::AcqRel);
        // SAFETY: every non-null pointer in the slot came from `into_raw`
        // and is owned by the slot; swapping it out transfers that ownership.
        (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
    }

    /// Empties the slot.
    #[inline]
    pub(crate) fn take(&self) -> Option<GRef> {
        if self.0.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let old = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `replace`.
        (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
    }

    /// [`replace`](Self::replace) in a runtime with this one P: with no
    /// thief (see `take_sole`) the occupant cannot leave meanwhile, so a
    /// load and a store replace the swap.
    #[inline]
    pub(crate) fn replace_sole(&self, g: GRef) -> Option<GRef> {
        let old = self.0.load(Ordering::Relaxed);
        self.0.store(g.into_raw(), Ordering::Release);
        // SAFETY: as in `replace`; only we empty the slot, so `old` is the
        // occupant we displaced, and ours now.
        (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
    }

    /// Empties the slot of a runtime with this one P: with no other P
    /// there is no thief (a steal takes only from other Ps), so the owner
    /// is the only party that empties the slot and a load and a store
    /// replace the swap: one atomic read-modify-write less per schedule
    /// from `runnext`, the hand-off path of every wake.
    #[inline]
    pub(crate) fn take_sole(&self) -> Option<GRef> {
        let g = self.0.load(Ordering::Acquire);
        if g.is_null() {
            return None;
        }
        self.0.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: as in `replace`; only we empty the slot, so the pointer
        // we loaded is still its occupant and ours now.
        Some(unsafe { GRef::from_raw(g) })
    }

    pub(crate) fn is_some(&self) -> bool {
        !self.0.load(Ordering::Acquire).is_null()
    }
}

impl Drop for RunNext {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The owner's side of a P.
pub(crate) struct Processor {
    pub(crate) id: usize,
    pub(crate) local: LocalQueue,
    pub(crate) shared: Arc<ProcessorShared>,
    /// Consecutive schedules served from `runnext`; bounded so a ping-pong
    /// pair cannot starve the local queue.
    pub(crate) runnext_streak: Cell<u32>,
    /// Stacks of finished Gs, reused by the next G this P starts.
    pub(crate) stacks: RefCell<Vec<GreenStack>>,
    /// Memory of dropped Gs, reused by the next G spawned here (`g_alloc.rs`).
    pub(crate) gblocks: RefCell<BlockCache>,
    /// Units of the scheduler for the Gs spawned here (`keep_alive.rs`).
    pub(crate) keep_alive: Stash,
    /// G ids taken for the Gs spawned here (`g_ids.rs`).
    pub(crate) ids: IdCache,
}

impl Processor {
    /// P number `id` of a runtime with `procs` Ps (one P: a private queue,
    /// `run_queue.rs`).
    pub(crate) fn new(id: usize, procs: usize) -> (Box<Processor>, Arc<ProcessorShared>) {
        let (local, queue) = LocalQueue::new(procs);
        let shared = Arc::new(ProcessorShared {
            queue,
            runnext: RunNext::new(),
            schedtick: AtomicU32::new(0),
            preempt: AtomicBool::new(false),
            syscall_slot: SyscallSlot::new(),
            syscall_tick: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            counters: PCounters::default(),
            lend: LendSlot::new(),
            running: RunningRecord::default(),
        });
        let p = Box::new(Processor {
            id,
            local,
            shared: shared.clone(),
            runnext_streak: Cell::new(0),
            stacks: RefCell::new(Vec::new()),
            gblocks: RefCell::new(BlockCache::new()),
            keep_alive: Stash::new(),
            ids: IdCache::new(),
        });
        (p, shared)
    }

    /// Queues `g` at the local queue's tail.
    #[inline]
    pub(crate) fn push_local(&self, g: GRef) {
        self.local.push(g, &self.shared.queue);
    }

    /// The G at the local queue's head.
    #[inline]
    pub(crate) fn pop_local(&self) -> Option<GRef> {
        self.local.pop(&self.shared.queue)
    }

    /// Queues `g` to run next; the G it displaces goes to the local tail.
    pub(crate) fn push_next(&self, g: GRef) {
        if let Some(old) = self.shared.runnext.replace(g) {
            self.push_local(old);
        }
    }

    /// Counts one schedule; returns the new tick. (Only the owner writes, so
    /// a load and a store suffice: no atomic read-modify-write.)
    #[inline]
    pub(crate) fn tick(&self) -> u32 {
        let t = self
            .shared
            .schedtick
            .load(Ordering::Relaxed)
            .wrapping_add(1);
        self.shared.schedtick.store(t, Ordering::Relaxed);
        t
    }

    /// [`push_next`](Self::push_next) in a runtime with this one P
    /// (`RunNext::replace_sole`).
    pub(crate) fn push_next_sole(&self, g: GRef) {
        if let Some(old) = self.shared.runnext.replace_sole(g) {
            self.push_local(old);
        }
    }

    /// Takes every queued G (used at shutdown).
    pub(crate) fn drain(&self) -> Vec<GRef> {
        let mut out: Vec<_> = self.shared.runnext.take().into_iter().collect();
        while let Some(g) = self.pop_local() {
            out.push(g);
        }
        out
    }
}

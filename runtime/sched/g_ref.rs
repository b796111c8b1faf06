//! `GRef`: an owned, reference-counted pointer to a G — what queues, wakers
//! and handles hold.
//!
//! A G and its task (the user's closure and join slot) share one allocation,
//! a `GreenThreadWith<B>`, whose first field is the sized `GreenThread`
//! header. A `GRef` is a *thin* pointer to that header: queues and the
//! `runnext` slot move one word, and every field the scheduler reads sits at
//! a fixed offset, the reference count (`refs`) included. The few operations
//! that need the task's real type — running it, cancelling it, destroying
//! it — go through the header's `TaskVtable`, filled in per task type at
//! spawn. The memory comes from, and goes back to, the runtime's block
//! lists (`g_alloc.rs`), not straight from the allocator; that is why the
//! count is ours rather than an `Arc`'s.

use std::alloc::Layout;
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use super::g_alloc::{BlockCache, GlobalBlocks};
use super::green_thread::{GreenThread, GreenThreadWith, Task};
use super::scheduler::Scheduler;

/// What a G's header knows about its task type (one static per type).
pub(crate) struct TaskVtable {
    /// Runs the task once (on the G's own stack).
    run: unsafe fn(NonNull<GreenThread>),
    /// Settles the join slot with `Err(message)` without running.
    cancel: unsafe fn(NonNull<GreenThread>, String),
    /// Drops the G and its task in place and gives the memory back to the
    /// runtime (after the last reference is gone).
    destroy: unsafe fn(NonNull<GreenThread>),
}

/// The vtable of task type `B` (a promoted `'static` constant).
pub(crate) struct VtableOf<B>(std::marker::PhantomData<B>);

impl<B: Task + 'static> VtableOf<B> {
    pub(crate) const VTABLE: TaskVtable = TaskVtable {
        run: run::<B>,
        cancel: cancel::<B>,
        destroy: destroy::<B>,
    };
}

/// The allocation a header belongs to.
///
/// # Safety
/// `g` must be the header of a live `GreenThreadWith<B>` (`repr(C)`, header
/// first, so both have the same address) *as a `GRef` holds it*: the
/// pointer to the whole block (`GRef::new_pair`), never one derived from a
/// `&GreenThread`, which covers the header only.
unsafe fn whole<B: Task>(g: NonNull<GreenThread>) -> *mut GreenThreadWith<B> {
    g.as_ptr().cast()
}

/// # Safety
/// `g` is a `GRef`'s pointer to a live `GreenThreadWith<B>`.
unsafe fn run<B: Task>(g: NonNull<GreenThread>) {
    // SAFETY: see `whole`; the G outlives this call (its M holds a GRef).
    unsafe { (*whole::<B>(g)).task.run(g.as_ref()) }
}

/// # Safety
/// As for `run`.
unsafe fn cancel<B: Task>(g: NonNull<GreenThread>, message: String) {
    // SAFETY: as in `run`.
    unsafe { (*whole::<B>(g)).task.cancel(message) }
}

/// # Safety
/// `g` is a `GRef`'s pointer to a `GreenThreadWith<B>` whose last reference
/// was just given up (nobody can reach it any more).
unsafe fn destroy<B: Task>(g: NonNull<GreenThread>) {
    // SAFETY: a `GRef`'s pointer to a `GreenThreadWith<B>`, per the contract.
    let whole = unsafe { whole::<B>(g) };
    // SAFETY: per the contract we own the G exclusively. Its unit keeps the
    // scheduler alive until `free_g_block` gives it back (invariant 9).
    let sched: *const Scheduler = unsafe { Arc::as_ptr(&(*whole).g.sched) };
    // SAFETY: as above; the value is dropped once, here. Its destructors
    // (user data in the task) may run runtime code, even switch: nothing
    // below depends on the thread we started on.
    unsafe { std::ptr::drop_in_place(whole) };
    let layout = Layout::new::<GreenThreadWith<B>>();
    // SAFETY: the block came from that scheduler's `gblocks` with this
    // layout (`GRef::new_pair`), its value is gone, and the G's unit is ours
    // to give back; nothing here touches the G or the scheduler after.
    unsafe { Scheduler::free_g_block(sched, g.cast(), layout) };
}

/// An owned strong reference to a G (see the module docs).
pub(crate) struct GRef(NonNull<GreenThread>);

// SAFETY: a GRef is a counted reference to a `GreenThreadWith<B>`, and that
// type is `Send + Sync` (see `GreenThread`'s impls; `B: Task` is
// `Send + Sync`); the count is atomic.
unsafe impl Send for GRef {}
// SAFETY: as above.
unsafe impl Sync for GRef {}

impl GRef {
    /// Builds a G with `init` (`GreenThreadWith::write_new`) in memory from
    /// `blocks` — from `cache`, the spawning P's, if any — and returns its
    /// two references: one for the run queue, one for the join handle.
    ///
    /// # Safety
    /// `init` writes a whole `GreenThreadWith<B>`, whose count says 2, to
    /// the pointer it is given. The caller took a unit of the G's scheduler
    /// for it (`keep_alive.rs`), which moves into the G: its destruction
    /// gives it back.
    #[inline(always)]
    pub(crate) unsafe fn new_pair<B: Task + 'static>(
        blocks: &GlobalBlocks,
        cache: Option<&mut BlockCache>,
        init: impl FnOnce(*mut GreenThreadWith<B>),
    ) -> (GRef, GRef) {
        let p = blocks
            .alloc(cache, Layout::new::<GreenThreadWith<B>>())
            .cast::<GreenThreadWith<B>>();
        // `alloc` returned memory for this layout (size and alignment),
        // unused; `repr(C)` puts the header at its start.
        init(p.as_ptr());
        // SAFETY: per the contract, `init` wrote a whole G there.
        debug_assert_eq!(unsafe { p.as_ref() }.g.refs.get(), 2);
        (GRef(p.cast()), GRef(p.cast()))
    }

    /// A new reference to the G at `g`.
    ///
    /// # Safety
    /// `g` must point at a live G kept alive by some `GRef` for the duration
    /// of this call.
    pub(crate) unsafe fn clone_from_ptr(g: NonNull<GreenThread>) -> GRef {
        // SAFETY: per the contract, the G is alive.
        unsafe { g.as_ref() }.refs.acquire();
        GRef(g)
    }

    /// Gives up ownership as a thin raw pointer (for an `AtomicPtr`).
    pub(crate) fn into_raw(self) -> *mut GreenThread {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Takes back a pointer from [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    /// `p` must come from `into_raw`, and each such pointer is taken back once.
    pub(crate) unsafe fn from_raw(p: *mut GreenThread) -> GRef {
        // SAFETY: `into_raw` pointers are non-null.
        GRef(unsafe { NonNull::new_unchecked(p) })
    }

    /// The pointer, valid for the whole allocation while `self` lives.
    pub(crate) fn as_ptr(&self) -> NonNull<GreenThread> {
        self.0
    }

    /// Runs the task (once, on the G's own stack).
    ///
    /// # Safety
    /// `g` must be a `GRef`'s pointer ([`as_ptr`](Self::as_ptr)) to a G that
    /// stays alive during the call.
    pub(crate) unsafe fn run_task(g: NonNull<GreenThread>) {
        // SAFETY: per the contract; the vtable was made for this allocation.
        unsafe { (g.as_ref().vtable.run)(g) }
    }

    /// Settles the join slot of a G that never ran with `message`.
    pub(crate) fn cancel_task_with(&self, message: String) {
        // SAFETY: `self.0` is valid for the whole allocation while we hold it.
        unsafe { (self.vtable.cancel)(self.0, message) }
    }

    /// Settles the join slot of a G that never ran ("cancelled").
    pub(crate) fn cancel_task(&self) {
        self.cancel_task_with(super::green_thread::cancel_message(self.id(), self.name()))
    }

    pub(crate) fn ptr_eq(a: &GRef, b: &GRef) -> bool {
        a.0 == b.0
    }
}

impl Deref for GRef {
    type Target = GreenThread;

    fn deref(&self) -> &GreenThread {
        // SAFETY: we own a strong reference, so the G is alive.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for GRef {
    fn clone(&self) -> GRef {
        // SAFETY: `self` keeps the G alive during the call.
        unsafe { GRef::clone_from_ptr(self.0) }
    }
}

impl Drop for GRef {
    #[inline]
    fn drop(&mut self) {
        // Every use of the G through any reference happens before its
        // destruction (`ref_count.rs`).
        if !self.refs.release() {
            return;
        }
        // SAFETY: that was the last reference; the vtable was made for the
        // allocation's real type.
        unsafe { (self.vtable.destroy)(self.0) }
    }
}

impl fmt::Debug for GRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "G{}", self.id())
    }
}

//! `GRef`: an owned, reference-counted pointer to a G — what queues, wakers
//! and handles hold.
//!
//! A G and its task (the user's closure and join slot) share one allocation,
//! a `GreenThreadWith<B>` behind an `Arc`, whose first field is the sized
//! `GreenThread` header. A `GRef` is a *thin* pointer to that header: queues
//! and the `runnext` slot move one word, and every field the scheduler reads
//! sits at a fixed offset. The few operations that need the task's real type
//! — running it, cancelling it, and the reference count itself (which lives
//! in the `Arc` around the whole allocation) — go through the header's
//! `TaskVtable`, filled in per task type at spawn.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use super::green_thread::{GreenThread, GreenThreadWith, Task};

/// What a G's header knows about its task type (one static per type).
pub(crate) struct TaskVtable {
    /// Runs the task once (on the G's own stack).
    run: unsafe fn(NonNull<GreenThread>),
    /// Settles the join slot with `Err(message)` without running.
    cancel: unsafe fn(NonNull<GreenThread>, String),
    /// Adds one strong reference to the allocation.
    clone: unsafe fn(NonNull<GreenThread>),
    /// Drops one strong reference (freeing the G with the last one).
    release: unsafe fn(NonNull<GreenThread>),
}

/// The vtable of task type `B` (a promoted `'static` constant).
pub(crate) struct VtableOf<B>(std::marker::PhantomData<B>);

impl<B: Task + 'static> VtableOf<B> {
    pub(crate) const VTABLE: TaskVtable = TaskVtable {
        run: run::<B>,
        cancel: cancel::<B>,
        clone: clone::<B>,
        release: release::<B>,
    };
}

/// The allocation a header belongs to.
///
/// # Safety
/// `g` must be the header of a live `GreenThreadWith<B>` (`repr(C)`, header
/// first, so both have the same address) *as a `GRef` holds it*: a pointer
/// derived from `Arc::into_raw`, valid for the whole allocation — never one
/// derived from a `&GreenThread`, which covers the header only.
unsafe fn whole<B: Task>(g: NonNull<GreenThread>) -> *const GreenThreadWith<B> {
    g.as_ptr().cast_const().cast()
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
/// `g` is a `GRef`'s pointer to a `GreenThreadWith<B>` with at least one
/// strong reference.
unsafe fn clone<B: Task>(g: NonNull<GreenThread>) {
    // SAFETY: the pointer came from `Arc::into_raw` of that type (see
    // `GRef::new`), and the caller holds a reference, so the count is ≥ 1.
    unsafe { Arc::increment_strong_count(whole::<B>(g)) }
}

/// # Safety
/// As for `clone`; the caller gives up one strong reference.
unsafe fn release<B: Task>(g: NonNull<GreenThread>) {
    // SAFETY: as in `clone`; this consumes the caller's reference.
    unsafe { drop(Arc::from_raw(whole::<B>(g))) }
}

/// An owned strong reference to a G (see the module docs).
pub(crate) struct GRef(NonNull<GreenThread>);

// SAFETY: a GRef is an `Arc` of a `GreenThreadWith<B>`, and that type is
// `Send + Sync` (see `GreenThread`'s impls; `B: Task` is `Send + Sync`).
unsafe impl Send for GRef {}
// SAFETY: as above.
unsafe impl Sync for GRef {}

impl GRef {
    /// Takes ownership of a freshly built G.
    pub(crate) fn new<B: Task + 'static>(g: Arc<GreenThreadWith<B>>) -> GRef {
        let raw = Arc::into_raw(g) as *mut GreenThread;
        // SAFETY: `Arc::into_raw` never returns null; `repr(C)` puts the
        // header at the start of the allocation.
        GRef(unsafe { NonNull::new_unchecked(raw) })
    }

    /// A new reference to the G at `g`.
    ///
    /// # Safety
    /// `g` must point at a live G kept alive by some `GRef` for the duration
    /// of this call.
    pub(crate) unsafe fn clone_from_ptr(g: NonNull<GreenThread>) -> GRef {
        // SAFETY: per the contract, the allocation has a strong reference.
        unsafe { (g.as_ref().vtable.clone)(g) };
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
    fn drop(&mut self) {
        // SAFETY: we own one strong reference and give it up here; the vtable
        // was made for the allocation's real type.
        unsafe { (self.vtable.release)(self.0) }
    }
}

impl fmt::Debug for GRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "G{}", self.id())
    }
}

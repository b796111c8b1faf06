//! `JoinHandle`: the user's closure, its result slot and its joiner.
//!
//! # Who drops the result
//! A result is user data: its `Drop` may block, park or panic, so it is
//! dropped only where user code may run (docs/ARCHITECTURE.md, "User code
//! runs only on a green thread"). A handle dropped before its G finishes
//! marks the slot DETACHED, and the G drops its own result on its own stack,
//! before its last switch, with a panic there contained
//! ([`drop_contained`]). A handle dropped after completion takes the result
//! and drops it on the user's side. Either way the M that finishes the G
//! never drops a user value.
//!
//! A `Packet` holds the closure until it runs and the result after. It is the
//! task of its G and lives in the G's own allocation (see
//! `sched/green_thread.rs`, "One allocation per G"): the G sees it as a
//! `Task`, the handle reaches its typed `Slot<T>` through a pointer kept valid
//! by the handle's reference to the G. `join` parks the calling G — or blocks
//! the calling OS thread — until the result is published, so it works from
//! inside and outside the runtime.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;

use crate::handle::GreenThread;
use crate::sched::park::{self, Unparker};
use crate::sched::Scheduler;
use crate::sched::{self, WaitReason};
use crate::sched::{cancel_message, Task};

// Join-slot states. PENDING → (WAITING →) READY → TAKEN, or PENDING →
// DETACHED (the handle was dropped first; the G drops its result itself).
const PENDING: u8 = 0;
/// A joiner stored its unparker in `joiner` and waits.
const WAITING: u8 = 1;
const READY: u8 = 2;
const TAKEN: u8 = 3;
/// The handle was dropped before completion: nobody will take the result.
const DETACHED: u8 = 4;

/// Where a G's outcome waits for its joiner.
pub(crate) struct Slot<T> {
    state: AtomicU8,
    result: UnsafeCell<Option<thread::Result<T>>>,
    joiner: UnsafeCell<Option<Unparker>>,
}

pub(crate) struct Packet<F, T> {
    slot: Slot<T>,
    func: UnsafeCell<Option<F>>,
}

// SAFETY: `func` is taken exactly once, by the M running the G (or by
// cancellation after every M stopped). `result` is written once before
// `state` becomes READY (release) and read once by the joiner after it sees
// READY (acquire) and moves it to TAKEN. `joiner` is written by the (single)
// joiner before its PENDING → WAITING CAS (release) and read by the completer
// only after its swap to READY returned WAITING (acquire). `F` and `T` move
// between threads, hence the `Send` bounds.
unsafe impl<F: Send, T: Send> Send for Packet<F, T> {}
// SAFETY: see above.
unsafe impl<F: Send, T: Send> Sync for Packet<F, T> {}

impl<T> Slot<T> {
    /// Publishes the outcome. Returns it back when nobody will take it (the
    /// handle is gone, or an outcome was published already): the caller, a
    /// G on its own stack, drops it.
    #[must_use]
    fn publish(&self, r: thread::Result<T>) -> Option<thread::Result<T>> {
        match self.state.load(Ordering::Acquire) {
            PENDING | WAITING => {}
            _ => return Some(r),
        }
        // SAFETY: only the single completer writes, before READY is published.
        unsafe { *self.result.get() = Some(r) };
        match self.state.swap(READY, Ordering::AcqRel) {
            WAITING => {
                // Owned: the joiner's reference moves into the run queue
                // instead of being cloned there and dropped here. Queued
                // last, not next: see `Placement::Last`.
                // SAFETY: the joiner wrote `joiner` before publishing WAITING
                // and never touches it again; we saw WAITING with acquire.
                if let Some(u) = unsafe { (*self.joiner.get()).take() } {
                    u.unpark_owned_last();
                }
                None
            }
            DETACHED => {
                // The handle was dropped between our load and the swap, and
                // saw PENDING, so it left the result to us.
                self.state.store(TAKEN, Ordering::Relaxed);
                // SAFETY: the handle is gone, so we are the only party left.
                unsafe { (*self.result.get()).take() }
            }
            _ => None,
        }
    }

    /// The handle is going away without joining: marks the slot DETACHED,
    /// or hands back the outcome if it is already there.
    fn detach(&self) -> Option<thread::Result<T>> {
        match self
            .state
            .compare_exchange(PENDING, DETACHED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => None,
            Err(READY) => Some(self.take()),
            // TAKEN: joined. WAITING cannot be seen here: only `join`
            // publishes it, and `join` consumes the handle.
            Err(s) => {
                debug_assert_eq!(s, TAKEN, "join slot state when its handle is dropped");
                None
            }
        }
    }

    fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) >= READY
    }

    /// Registers `u` to be woken at completion; false if already complete.
    fn set_joiner(&self, u: Unparker) -> bool {
        // Only one joiner exists (`join` consumes the handle), and it calls
        // this at most once.
        // SAFETY: nobody reads `joiner` until the CAS below publishes it.
        unsafe { *self.joiner.get() = Some(u) };
        self.state
            .compare_exchange(PENDING, WAITING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn take(&self) -> thread::Result<T> {
        // A load and a store, not a swap: READY is final for the completer
        // (after publishing it, `publish` writes the state again only when
        // it found DETACHED, with no handle left), so the handle — the one
        // caller of `take` — is the only writer from here on.
        assert_eq!(
            self.state.load(Ordering::Acquire),
            READY,
            "join result taken twice"
        );
        self.state.store(TAKEN, Ordering::Relaxed);
        // SAFETY: READY was published after the result was written (the
        // load above acquires it), and only the handle, here, moves READY
        // to TAKEN, so this is the only reader.
        unsafe {
            (*self.result.get())
                .take()
                .expect("result present when READY")
        }
    }
}

impl<F, T> Task for Packet<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(&self, g: &sched::GreenThread) {
        if g.must_begin_cancel() {
            // Shutdown began before this G first ran: its closure is
            // dropped here, on its own stack, instead of being run.
            g.mark_cancelled();
            return self.cancel(cancel_message(g.id(), g.name()));
        }
        // SAFETY: see the `Send` impl: only this run takes the closure.
        let f = unsafe { (*self.func.get()).take() };
        let Some(f) = f else { return };
        let r = catch_unwind(AssertUnwindSafe(f));
        let r = match r {
            // The runtime unwound this G at shutdown: report that plainly
            // instead of corosensei's internal unwind payload.
            Err(_) if g.is_cancelled() => Err(cancelled_payload(g.id(), g.name())),
            r => r,
        };
        // Still on the G's stack, before its result is visible.
        let r = match crate::green_local::drop_all(g) {
            Some(payload) if r.is_ok() => Err(payload),
            _ => r,
        };
        if let Some(unwanted) = self.slot.publish(r) {
            // Detached: this G drops its own result (module docs).
            drop_contained(unwanted);
        }
    }

    fn cancel(&self, message: String) {
        // SAFETY: see the `Send` impl.
        let f = unsafe { (*self.func.get()).take() };
        drop_contained(f);
        if let Some(unwanted) = self.slot.publish(Err(Box::new(message))) {
            drop_contained(unwanted);
        }
    }
}

/// Drops user data on the running G, containing a panic in its `Drop`: the
/// panic hook has reported it, naming the green thread (`panic_hook.rs`),
/// and the G, its M and its P carry on. A payload whose own `Drop` panics
/// too is leaked rather than dropped a third time.
fn drop_contained<V>(v: V) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(v))) {
        if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
    }
}

fn cancelled_payload(id: u64, name: Option<&str>) -> Box<dyn Any + Send> {
    Box::new(cancel_message(id, name))
}

/// Spawns `f` as a G of `sched` and returns its handle.
#[track_caller]
pub(crate) fn spawn_on<F, T>(sched: &Arc<Scheduler>, name: Option<Box<str>>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (g, packet) = sched.spawn(name, Packet::new(f));
    JoinHandle::new(g, packet)
}

/// [`spawn_on`] with a stack of `stack_size` bytes taken now: `Err` when it
/// cannot be had (`spawn_builder`).
pub(crate) fn spawn_with_stack_on<F, T>(
    sched: &Arc<Scheduler>,
    name: Option<Box<str>>,
    stack_size: usize,
    f: F,
) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (g, packet) = sched.spawn_with_stack(name, Packet::new(f), stack_size)?;
    Ok(JoinHandle::new(g, packet))
}

impl<F, T> Packet<F, T> {
    fn new(f: F) -> Self {
        Packet {
            slot: Slot {
                state: AtomicU8::new(PENDING),
                result: UnsafeCell::new(None),
                joiner: UnsafeCell::new(None),
            },
            func: UnsafeCell::new(Some(f)),
        }
    }
}

impl<T> JoinHandle<T> {
    /// The handle of `g`, whose task is `packet`.
    fn new<F>(g: sched::GRef, packet: NonNull<Packet<F, T>>) -> Self {
        // SAFETY: the packet lives in the G's allocation, alive while `g` is.
        let slot = NonNull::from(unsafe { &packet.as_ref().slot });
        JoinHandle {
            slot,
            thread: GreenThread::new(g),
        }
    }
}

/// An owned permission to join a green thread (wait for it to finish).
///
/// Like `std::thread::JoinHandle`: dropping it detaches the green thread, and
/// [`join`](JoinHandle::join) returns `Err` with the panic payload if the
/// green thread panicked — or a `String` saying it was cancelled, if its
/// runtime shut down before it finished.
pub struct JoinHandle<T> {
    /// Points into the allocation of the G that `thread` keeps alive.
    slot: NonNull<Slot<T>>,
    thread: GreenThread,
}

// SAFETY: a `JoinHandle` only reaches the slot (whose protocol is safe across
// threads, see `Packet`) and the G's handle (Send + Sync); `T` itself moves
// to the joining thread, hence `T: Send`, exactly like `Packet`'s bounds.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: through `&JoinHandle` only `is_finished` and `thread` are reachable,
// neither of which touches a `T`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    fn slot(&self) -> &Slot<T> {
        // SAFETY: the slot lives inside the G that `self.thread` holds a
        // strong reference to, and is never moved (the G is behind an `Arc`).
        unsafe { self.slot.as_ref() }
    }

    /// Waits for the green thread to finish and returns its result.
    ///
    /// Inside a green thread this parks only the calling G; on a plain OS
    /// thread it blocks that thread.
    pub fn join(self) -> thread::Result<T> {
        // Joined, not detached: skip `Drop`, but still let go of the G, after
        // the result has left its slot.
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the G reference is
        // moved out exactly once.
        let thread = unsafe { std::ptr::read(&this.thread) };
        let slot = this.slot();
        if !slot.is_ready() && slot.set_joiner(Unparker::current()) {
            // Loop: the park may return spuriously.
            while !slot.is_ready() {
                park::park(WaitReason::Join);
            }
        }
        let result = slot.take();
        drop(thread);
        result
    }

    /// True once the green thread has finished (returned, panicked or been
    /// cancelled). Does not block. A `false` is a preemption checkpoint, as
    /// a failed `try_recv` is: a loop polling it must let the green thread
    /// it waits for run (`coop.rs`).
    pub fn is_finished(&self) -> bool {
        crate::coop::after_poll(self.slot().is_ready())
    }

    /// A handle to the green thread (its id and name).
    pub fn thread(&self) -> &GreenThread {
        &self.thread
    }
}

/// Detaches the green thread (module docs, "Who drops the result").
impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // Dropped here, in the user's own code, if the G already finished.
        drop(self.slot().detach());
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .field("finished", &self.slot().is_ready())
            .finish()
    }
}

//! `JoinHandle`: the user's closure, its result slot and its joiner.
//!
//! One allocation (`Packet`) holds the closure until it runs and the result
//! after; the G sees it as a `Task`, the handle as a `JoinSlot<T>`. `join`
//! parks the calling G — or blocks the calling OS thread — until the result is
//! published, so it works from inside and outside the runtime.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;

use crate::handle::GreenThread;
use crate::park::{self, Unparker};
use crate::sched::green_thread::{cancel_message, Task};
use crate::sched::{self, WaitReason};

// Join-slot states. PENDING → (WAITING →) READY → TAKEN.
const PENDING: u8 = 0;
/// A joiner stored its unparker in `joiner` and waits.
const WAITING: u8 = 1;
const READY: u8 = 2;
const TAKEN: u8 = 3;

pub(crate) struct Packet<F, T> {
    state: AtomicU8,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<thread::Result<T>>>,
    joiner: UnsafeCell<Option<Unparker>>,
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

impl<F, T> Packet<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(f: F) -> Arc<Self> {
        Arc::new(Packet {
            state: AtomicU8::new(PENDING),
            func: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(None),
            joiner: UnsafeCell::new(None),
        })
    }

    fn publish(&self, r: thread::Result<T>) {
        if self.state.load(Ordering::Relaxed) >= READY {
            return;
        }
        // SAFETY: only the single completer writes, before READY is published.
        unsafe { *self.result.get() = Some(r) };
        if self.state.swap(READY, Ordering::AcqRel) == WAITING {
            // SAFETY: the joiner wrote `joiner` before publishing WAITING and
            // never touches it again; we saw WAITING with acquire ordering.
            if let Some(u) = unsafe { (*self.joiner.get()).take() } {
                u.unpark();
            }
        }
    }
}

impl<F, T> Task for Packet<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(&self, g: &sched::GreenThread) {
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
        self.publish(r);
    }

    fn cancel(&self, message: String) {
        // SAFETY: see the `Send` impl.
        drop(unsafe { (*self.func.get()).take() });
        self.publish(Err(Box::new(message)));
    }
}

fn cancelled_payload(id: u64, name: Option<&str>) -> Box<dyn Any + Send> {
    Box::new(cancel_message(id, name))
}

/// The typed view of a `Packet` that a `JoinHandle` needs.
pub(crate) trait JoinSlot<T>: Send + Sync {
    fn is_ready(&self) -> bool;
    /// Registers `u` to be woken at completion; false if already complete.
    fn set_joiner(&self, u: Unparker) -> bool;
    fn take(&self) -> thread::Result<T>;
}

impl<F, T> JoinSlot<T> for Packet<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) >= READY
    }

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
        assert_eq!(
            self.state.swap(TAKEN, Ordering::Acquire),
            READY,
            "join result taken twice"
        );
        // SAFETY: READY was published after the result was written, and the
        // swap to TAKEN makes this the only reader.
        unsafe {
            (*self.result.get())
                .take()
                .expect("result present when READY")
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
    slot: Arc<dyn JoinSlot<T>>,
    thread: GreenThread,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(slot: Arc<dyn JoinSlot<T>>, thread: GreenThread) -> Self {
        JoinHandle { slot, thread }
    }

    /// Waits for the green thread to finish and returns its result.
    ///
    /// Inside a green thread this parks only the calling G; on a plain OS
    /// thread it blocks that thread.
    pub fn join(self) -> thread::Result<T> {
        if !self.slot.is_ready() && self.slot.set_joiner(Unparker::current()) {
            // Loop: the park may return spuriously.
            while !self.slot.is_ready() {
                park::park(WaitReason::Join);
            }
        }
        self.slot.take()
    }

    /// True once the green thread has finished (returned, panicked or been
    /// cancelled). Does not block.
    pub fn is_finished(&self) -> bool {
        self.slot.is_ready()
    }

    /// A handle to the green thread (its id and name).
    pub fn thread(&self) -> &GreenThread {
        &self.thread
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .field("finished", &self.is_finished())
            .finish()
    }
}

//! `OnceLock`: std's `OnceLock` whose waiters park their green thread.
//!
//! `std::sync::OnceLock::get_or_init` blocks the *OS thread* of a caller
//! that finds another thread initialising: in a green thread that stalls
//! the M and every G queued on its P, and if the initialiser is one of
//! those Gs (or waits for one), nothing runs it to completion. Here the
//! waiting G parks instead.
//!
//! State: `INCOMPLETE → RUNNING → COMPLETE`, or back to `INCOMPLETE` when the
//! initialiser panics (the next caller tries again, as with std). The
//! initialiser runs on its caller's stack with no lock held. It leaves
//! `RUNNING` only under the wait queue's lock, and a waiter queues only
//! after seeing `RUNNING` under that lock, so no wake-up is lost.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

use super::wait_queue::{WaitQueue, Withdraw};
use crate::sched::WaitReason;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;

/// A cell written once; [`get_or_init`](OnceLock::get_or_init) parks a
/// green thread that finds another one initialising (an OS thread blocks).
///
/// Same methods as `std::sync::OnceLock` (minus the unstable ones). Use it
/// for lazily initialised statics shared by green threads.
///
/// ```
/// use greenrt::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
///
/// greenrt::run(|| {
///     let handles: Vec<_> = (0..8)
///         .map(|_| greenrt::spawn(|| CONFIG.get_or_init(|| "loaded".to_string()).len()))
///         .collect();
///     for h in handles {
///         assert_eq!(h.join().unwrap(), 6);
///     }
/// });
/// ```
///
/// Calling `get_or_init` on the same cell from inside its own initialiser
/// deadlocks (std's may panic instead).
pub struct OnceLock<T> {
    state: AtomicU8,
    waiters: WaitQueue<()>,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the one caller that moved the state
// to RUNNING, and read only after an Acquire load saw COMPLETE (published
// with Release after the write). Sharing it lets other threads get `&T`
// (needs `T: Sync`) and the thread that initialises may be any (needs
// `T: Send`), as for std's `OnceLock`.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: moving the cell moves the `T` it may hold.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            state: AtomicU8::new(INCOMPLETE),
            waiters: WaitQueue::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if initialised (never waits).
    pub fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) == COMPLETE {
            // SAFETY: COMPLETE was stored (Release) after the value was
            // written, and it is never written again while shared.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, mutably, if initialised.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if *self.state.get_mut() == COMPLETE {
            // SAFETY: initialised (COMPLETE), and `&mut self` is exclusive.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Sets the value if the cell is empty; otherwise hands `value` back.
    /// Waits (parks) if another thread is initialising it.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initialiser runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initialising it with `f` if the cell is empty. If another
    /// thread is initialising it, parks the calling green thread (or blocks
    /// the OS thread) until that finishes. If `f` panics, the panic
    /// propagates, the cell stays empty, and the next caller (a waiter
    /// included) tries its own initialiser.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.initialize(f);
        self.get().expect("initialised")
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_inner()
    }

    /// The value, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        if *self.state.get_mut() != COMPLETE {
            return None;
        }
        *self.state.get_mut() = INCOMPLETE;
        // SAFETY: initialised (COMPLETE), and marked empty again so `Drop`
        // does not drop it a second time.
        Some(unsafe { self.value.get_mut().assume_init_read() })
    }

    #[cold]
    fn initialize<F: FnOnce() -> T>(&self, f: F) {
        let mut f = Some(f);
        loop {
            match self.state.compare_exchange(
                INCOMPLETE,
                RUNNING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let f = f.take().expect("only one successful claim");
                    let reset = ResetOnUnwind(self);
                    let value = f();
                    std::mem::forget(reset);
                    // SAFETY: we moved the state to RUNNING, so nobody else
                    // writes or reads the value until we publish COMPLETE.
                    unsafe { (*self.value.get()).write(value) };
                    self.finish(COMPLETE);
                    return;
                }
                Err(COMPLETE) => return,
                Err(_running) => {
                    let queue = self.waiters.lock();
                    if self.state.load(Ordering::Acquire) == RUNNING {
                        queue.enqueue(self, ()).wait(WaitReason::OnceLock);
                    }
                    // Finished, or the initialiser panicked: look again.
                }
            }
        }
    }

    /// Leaves RUNNING (for `state`) and wakes every waiter.
    fn finish(&self, state: u8) {
        let mut queue = self.waiters.lock();
        self.state.store(state, Ordering::Release);
        queue.grant_all();
    }
}

/// The initialiser panicked: the cell is empty again and the waiters look
/// again (one of them becomes the next initialiser).
struct ResetOnUnwind<'a, T>(&'a OnceLock<T>);

impl<T> Drop for ResetOnUnwind<'_, T> {
    fn drop(&mut self) {
        self.0.finish(INCOMPLETE);
    }
}

impl<T> Withdraw for OnceLock<T> {
    type Kind = ();

    fn wait_queue(&self) -> &WaitQueue<()> {
        &self.waiters
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        OnceLock {
            state: AtomicU8::new(COMPLETE),
            waiters: WaitQueue::new(),
            value: UnsafeCell::new(MaybeUninit::new(value)),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if *self.state.get_mut() == COMPLETE {
            // SAFETY: initialised, and dropped once (we own the cell).
            unsafe { self.value.get_mut().assume_init_drop() }
        }
    }
}

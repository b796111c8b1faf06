//! `lock_os_thread`: wiring a G to its current M (Go's `LockOSThread`,
//! `m.lockedg` / `g.lockedm`).
//!
//! While a G holds an [`OsThreadGuard`], it runs only on the M (OS thread)
//! it locked on, and that M runs no other G. What happens at each step:
//!
//! * **Locking** records, in the G, an [`OsThreadLock`] naming the current
//!   OS thread. Only the G itself sets or clears it, while it runs.
//! * **Switching out.** When a locked G yields, parks or is preempted, its M
//!   queues it as usual (or not, if it parked), gives its P away
//!   (`Scheduler::handoff_p`, as for a syscall), and sleeps on the lock
//!   until it is handed a P together with its G. So the rest of the runtime
//!   keeps every P while the locked G waits.
//! * **Resuming.** Whoever makes the G runnable queues it as usual. The M
//!   that takes it from a queue sees the lock and, instead of running it,
//!   hands the G *and its own P* to the locked M and goes idle (Go's
//!   `startlockedm`). The locked M runs the G on that P.
//! * **Unlocking** (the last guard dropped) clears the lock; from the next
//!   switch on, the M behaves as any other. A G that finishes while locked
//!   (a forgotten guard) releases its M the same way — Go ends such an OS
//!   thread instead, in case the G left it in a state other Gs must not
//!   inherit; greenrt keeps it, since it cannot tell what the G changed, and
//!   says so in docs/GUIDE.md.
//! * **Shutdown** wakes every sleeping locked M (`LockedMs`) so it exits.
//!
//! Each switch of a locked G therefore costs two OS-thread hand-offs (its M
//! to another and back), as in Go: lock only where thread identity matters.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::thread::ThreadId;

use parking_lot::{Condvar, Mutex};

use super::context;
use super::g_ref::GRef;
use super::green_thread::GreenThread;
use super::processor::Processor;

/// The lock of one G to one M (see the module docs).
pub(crate) struct OsThreadLock {
    /// The OS thread the G is locked to.
    thread: ThreadId,
    /// Guards alive (locks nest, like Go's since 1.10). Only the locked G
    /// touches it, while it runs.
    depth: Cell<usize>,
    handoff: Mutex<Handoff>,
    cv: Condvar,
}

// SAFETY: `depth` is touched only by the locked G on its own stack, which
// runs on one thread at a time (it cannot even migrate: that is the lock);
// everything else is behind the mutex.
unsafe impl Sync for OsThreadLock {}
// SAFETY: as above.
unsafe impl Send for OsThreadLock {}

enum Handoff {
    /// The locked M is running its G, or about to sleep.
    Empty,
    /// A P and the G, handed over by the M that took the G from a queue.
    Handed(Box<Processor>, GRef),
    /// The runtime is shutting down: the locked M exits.
    Shutdown,
}

impl OsThreadLock {
    /// True when the calling OS thread is the locked one.
    #[inline(never)]
    pub(crate) fn is_current_thread(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// Hands `p` and the locked `g` to the locked M. Gives them back when
    /// that M has exited (shutdown).
    pub(crate) fn hand_off(
        &self,
        p: Box<Processor>,
        g: GRef,
    ) -> Result<(), (Box<Processor>, GRef)> {
        let mut st = self.handoff.lock();
        match *st {
            Handoff::Shutdown => Err((p, g)),
            Handoff::Handed(..) => unreachable!("a locked G is queued once at a time"),
            Handoff::Empty => {
                *st = Handoff::Handed(p, g);
                self.cv.notify_one();
                Ok(())
            }
        }
    }

    /// Sleeps (the locked M, without a P) until handed a P and its G;
    /// `None` at shutdown.
    pub(crate) fn wait(
        self: &Arc<Self>,
        locked: &LockedMs,
        shutdown: impl Fn() -> bool,
    ) -> Option<(Box<Processor>, GRef)> {
        locked.waiting.lock().push(self.clone());
        // After registering: a shutdown begun before is seen here, one
        // begun after finds us in the list (`LockedMs::shutdown`).
        if shutdown() {
            self.set_shutdown();
        }
        let handed = {
            let mut st = self.handoff.lock();
            loop {
                match std::mem::replace(&mut *st, Handoff::Empty) {
                    Handoff::Handed(p, g) => break Some((p, g)),
                    Handoff::Shutdown => {
                        *st = Handoff::Shutdown;
                        break None;
                    }
                    Handoff::Empty => self.cv.wait(&mut st),
                }
            }
        };
        locked.waiting.lock().retain(|l| !Arc::ptr_eq(l, self));
        handed
    }

    fn set_shutdown(&self) {
        let mut st = self.handoff.lock();
        // A hand-off already made is still taken (its P must go back to
        // the idle list); the next wait sees `Shutdown`.
        if let Handoff::Empty = *st {
            *st = Handoff::Shutdown;
            self.cv.notify_one();
        }
    }
}

/// The locked Ms asleep in [`OsThreadLock::wait`], for shutdown to wake.
#[derive(Default)]
pub(crate) struct LockedMs {
    waiting: Mutex<Vec<Arc<OsThreadLock>>>,
}

impl LockedMs {
    /// Wakes every sleeping locked M so that it exits (call after the
    /// shutdown flag is set).
    pub(crate) fn shutdown(&self) {
        let waiting = self.waiting.lock().clone();
        for l in waiting {
            l.set_shutdown();
        }
    }
}

/// Keeps the calling green thread on its current OS thread, and every other
/// green thread off it, until dropped (Go's `runtime.LockOSThread`).
///
/// For code that needs thread identity across parks: thread-local state of
/// a C library, an OpenGL context, `std::io::StdoutLock`, a
/// `std::sync::MutexGuard`. The green thread may still park, yield or be
/// preempted; it resumes on the same OS thread. Meanwhile the processor it
/// leaves goes to another OS thread, so the rest of the runtime keeps its
/// parallelism. Guards nest: the lock ends with the last one.
///
/// On a plain OS thread (outside any green thread) the guard does nothing:
/// that thread is already its own.
///
/// Costs: each switch of a locked green thread is two OS-thread hand-offs
/// (microseconds, not nanoseconds). Lock around the code that needs it.
///
/// ```
/// let h = greenrt::spawn(|| {
///     let _guard = greenrt::lock_os_thread();
///     let tid = std::thread::current().id();
///     greenrt::yield_now();
///     tid == std::thread::current().id()
/// });
/// assert!(h.join().unwrap());
/// ```
#[inline(never)]
pub fn lock_os_thread() -> OsThreadGuard {
    let Some(g) = context::current_g() else {
        return OsThreadGuard {
            g: None,
            not_send: PhantomData,
        };
    };
    // SAFETY: `g` is the running G and this is its own code.
    let lock = unsafe { g.os_lock() };
    match lock {
        Some(lock) => lock.depth.set(lock.depth.get() + 1),
        None => {
            let lock = Arc::new(OsThreadLock {
                thread: std::thread::current().id(),
                depth: Cell::new(1),
                handoff: Mutex::new(Handoff::Empty),
                cv: Condvar::new(),
            });
            // SAFETY: as above.
            unsafe { g.set_os_lock(Some(lock)) };
        }
    }
    OsThreadGuard {
        g: Some(g),
        not_send: PhantomData,
    }
}

/// The lock taken by [`lock_os_thread`]; dropping it unlocks. `!Send`:
/// it stays with the green thread (and OS thread) that took it.
#[must_use = "the lock ends when the guard is dropped"]
pub struct OsThreadGuard {
    /// The locked G (`None`: taken on a plain OS thread).
    g: Option<GRef>,
    not_send: PhantomData<*const ()>,
}

impl Drop for OsThreadGuard {
    fn drop(&mut self) {
        let Some(g) = &self.g else { return };
        let current = context::current_g_ptr();
        if current != Some(g.as_ptr()) {
            // Reachable only by smuggling the guard out of its green thread
            // (say, into a `thread_local!` dropped by another green thread):
            // that green thread's lock is not ours to end.
            misplaced_guard(g);
            return;
        }
        let g: &GreenThread = g;
        // SAFETY: `g` is the running G (checked above), in its own code.
        let lock = unsafe { g.os_lock() }.expect("a live guard's G is locked");
        // (A G cancelled at shutdown is unwound on the dropping thread.)
        debug_assert!(
            g.is_cancelled() || lock.is_current_thread(),
            "greenrt: a locked green thread runs on another OS thread than it locked \
             (runtime bug; see docs/GUIDE.md, \"Thread identity: lock_os_thread\")"
        );
        let depth = lock.depth.get() - 1;
        lock.depth.set(depth);
        if depth == 0 {
            // SAFETY: as above.
            unsafe { g.set_os_lock(None) };
        }
    }
}

#[cold]
fn misplaced_guard(g: &GRef) {
    if cfg!(debug_assertions) {
        panic!(
            "greenrt: an OsThreadGuard of green thread {} was dropped by another green thread \
             or OS thread; drop it in the green thread that took it (docs/GUIDE.md, \
             \"Thread identity: lock_os_thread\")",
            g.id()
        );
    }
}

impl std::fmt::Debug for OsThreadGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsThreadGuard")
            .field("green_thread", &self.g.as_ref().map(|g| g.id()))
            .finish()
    }
}

//! `greenrt::scope`: green threads that borrow from the caller's stack,
//! `std::thread::scope`'s shape and guarantees.
//!
//! Every green thread spawned through a [`Scope`] is finished — its closure
//! returned or unwound, and every capture dropped — before [`scope`]
//! returns, so its closure may borrow anything that outlives the call.
//!
//! # Why a scope cannot be forgotten out of
//! Unsound scoped-thread APIs (the pre-1.0 `thread::scoped`, may's
//! `coroutine::scope`) returned a guard whose `Drop` did the joining: a
//! `mem::forget` of the guard skipped the join while the borrows it
//! protected ended. Here there is no such guard. [`scope`] itself waits
//! until the count of running scoped green threads is zero, after the
//! caller's closure has returned (or panicked) and before `scope` returns
//! or resumes that panic; the `'scope` lifetime every borrow is tied to
//! ends only when `scope` returns. The count is decremented by a guard
//! that is *captured by the erased closure*, not held by the user: it is
//! dropped when the closure is dropped — after running, during its unwind,
//! or unrun (a green thread that could not start, or was cancelled before
//! it ran). Forgetting a [`ScopedJoinHandle`] only leaks its result slot;
//! the join is not skipped.
//!
//! # Shutdown
//! A runtime that shuts down cancels every unfinished green thread on its
//! Ms (`sched/shutdown.rs`): each unwinds from its next switch, in no
//! particular order. A green thread unwound out of [`scope`] still waits in
//! `WaitAll`'s `Drop` until its scoped green threads have finished — a
//! cancelled green thread's untimed waits park as usual — so what they
//! borrow outlives them. If one of them never finishes (its destructor
//! waits forever), both are leaked at the shutdown timeout, stacks
//! included: nothing they borrow is freed.
//!
//! # Deviations from `std::thread::scope`
//! The wait parks only the calling green thread (or blocks a plain OS
//! thread) and shows as [`crate::WaitReason::Join`].
//! A scoped green thread that the runtime could not start (no stack) or
//! cancelled at shutdown counts as panicked.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use crate::join::JoinHandle;
use crate::sched::park::{self, Unparker};
use crate::sched::WaitReason;
use crate::GreenThread;

/// A scope to spawn green threads in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariant in `'scope` (as in std), so a handle cannot be stretched
    /// past the scope it belongs to.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// What the waiting caller and the scoped green threads share.
struct ScopeData {
    /// Scoped green threads whose closure has not yet been dropped.
    running: AtomicUsize,
    /// Scoped green threads that panicked (or never ran) and whose handle
    /// has not reported it through `join`.
    unjoined_failures: AtomicUsize,
    /// Whoever called `scope`: woken when `running` reaches zero.
    waiter: Unparker,
}

impl ScopeData {
    fn finished_one(&self) {
        // Release: everything the closure did (its writes through borrows,
        // its captures' drops) happens before the caller sees zero.
        if self.running.fetch_sub(1, Ordering::Release) == 1 {
            self.waiter.unpark();
        }
    }
}

/// Captured by every scoped closure: its drop is the scope's signal that
/// the closure and its captures are gone (see the module docs).
struct Finished {
    data: Arc<ScopeData>,
    ran_to_completion: bool,
}

impl Drop for Finished {
    fn drop(&mut self) {
        if !self.ran_to_completion {
            self.data.unjoined_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.data.finished_one();
    }
}

/// Where a scoped green thread leaves its value for its handle.
struct ResultSlot<T> {
    value: UnsafeCell<Option<T>>,
}

// SAFETY: the value is written once by the scoped green thread before it
// finishes, and read once by the handle's `join` after the green thread's
// own join slot said it finished (that join synchronizes with the write).
// `T` moves from the green thread to the joiner, hence `T: Send`.
unsafe impl<T: Send> Sync for ResultSlot<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for ResultSlot<T> {}

/// An owned permission to join a scoped green thread; see [`Scope::spawn`].
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinHandle<()>,
    result: Arc<ResultSlot<T>>,
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope ()>,
}

/// Runs `f` with a [`Scope`] in which green threads may borrow from the
/// caller, and returns `f`'s value once every one of them has finished.
///
/// Like `std::thread::scope`: green threads not joined by hand are joined
/// before this returns; if any of them panicked, this panics after all
/// have finished; a panic of `f` itself is resumed after all have finished.
/// From a green thread this parks it; from a plain OS thread it blocks.
///
/// ```
/// let mut data = vec![1, 2, 3, 4];
/// greenrt::scope(|s| {
///     for chunk in data.chunks_mut(2) {
///         s.spawn(move || chunk.iter_mut().for_each(|x| *x *= 10));
///     }
/// });
/// assert_eq!(data, [10, 20, 30, 40]);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            unjoined_failures: AtomicUsize::new(0),
            waiter: Unparker::current(),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let outcome = {
        // Waits even if this frame is unwound (a forced unwind at shutdown
        // passes through the park below, not through `catch_unwind`).
        let _wait = WaitAll(&scope.data);
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&scope)));
        wait_all(&scope.data);
        outcome
    };
    match outcome {
        Err(payload) => resume_unwind(payload),
        Ok(_) if scope.data.unjoined_failures.load(Ordering::Relaxed) > 0 => {
            panic!("a scoped green thread panicked")
        }
        Ok(value) => value,
    }
}

/// Parks (or blocks) until no scoped green thread of `data` runs.
fn wait_all(data: &ScopeData) {
    // Acquire: pairs with `finished_one`.
    while data.running.load(Ordering::Acquire) != 0 {
        park::park(WaitReason::Join);
    }
}

/// Keeps a scope's frame alive while its green threads still run, even
/// when the frame is unwound (shutdown cancels the waiting green thread
/// and its scoped ones concurrently; see the module docs).
struct WaitAll<'a>(&'a ScopeData);

impl Drop for WaitAll<'_> {
    fn drop(&mut self) {
        wait_all(self.0);
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a green thread that may borrow anything outliving the scope.
    /// It is joined when the scope ends, if not before by its handle.
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.try_spawn(None, None, f)
            .expect("a spawn without a stack size does not fail")
    }

    /// [`spawn`](Self::spawn) with a name (shown in `current()`, panic
    /// messages and traces).
    pub fn spawn_named<F, T>(
        &'scope self,
        name: impl Into<String>,
        f: F,
    ) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.try_spawn(Some(name.into().into_boxed_str()), None, f)
            .expect("a spawn without a stack size does not fail")
    }

    /// Spawns `f`; with a `stack_size`, its stack is taken now and a failure
    /// is returned (`SpawnBuilder::spawn_scoped`), else it cannot fail.
    pub(crate) fn try_spawn<F, T>(
        &'scope self,
        name: Option<Box<str>>,
        stack_size: Option<usize>,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let result = Arc::new(ResultSlot {
            value: UnsafeCell::new(None),
        });
        self.data.running.fetch_add(1, Ordering::Relaxed);
        let finished = Finished {
            data: Arc::clone(&self.data),
            ran_to_completion: false,
        };
        let their_result = Arc::clone(&result);
        let body = move || {
            // Moved out of the environment into locals, which drop in
            // reverse order: `finished` last, after `f`'s captures (dropped
            // inside the call) and `their_result`, on return and on unwind.
            let mut finished = finished;
            let their_result = their_result;
            let value = f();
            // SAFETY: only this green thread writes, once; see `ResultSlot`.
            unsafe { *their_result.value.get() = Some(value) };
            drop(their_result);
            finished.ran_to_completion = true;
        };
        let body: Box<dyn FnOnce() + Send + 'scope> = Box::new(body);
        // SAFETY: only the lifetime changes. The closure and everything it
        // borrows are gone before `'scope` ends: `scope` does not return
        // (nor unwind: `WaitAll`) until `Finished`, captured by this very
        // closure, has been dropped, which happens only after the closure
        // ran or was dropped unrun. See the module docs.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        let sched = crate::runtime::current_or_default();
        let inner = match stack_size {
            None => crate::join::spawn_on(&sched, name, body),
            Some(size) => match crate::join::spawn_with_stack_on(&sched, name, size, body) {
                Ok(inner) => inner,
                Err(e) => {
                    // The closure was dropped unrun, and its `Finished`
                    // counted a failure; the caller gets this one as `Err`.
                    self.data.unjoined_failures.fetch_sub(1, Ordering::Relaxed);
                    return Err(e);
                }
            },
        };
        Ok(ScopedJoinHandle {
            inner,
            result,
            data: Arc::clone(&self.data),
            scope: PhantomData,
        })
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the green thread to finish and returns its value, or
    /// `Err` with its panic payload (a panic reported here is not raised
    /// again by the scope). Parks a green thread; blocks an OS thread.
    pub fn join(self) -> thread::Result<T> {
        match self.inner.join() {
            Ok(()) => {
                // SAFETY: the green thread finished (its join slot said so,
                // with acquire ordering), so its one write is done.
                let value = unsafe { (*self.result.value.get()).take() };
                Ok(value.expect("a scoped green thread that returned left its value"))
            }
            Err(payload) => {
                // `Finished` counted this failure before the green thread's
                // join slot was settled; the caller now handles it.
                self.data.unjoined_failures.fetch_sub(1, Ordering::Relaxed);
                Err(payload)
            }
        }
    }

    /// True once the green thread has finished. Does not block.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// A handle to the green thread (its id and name).
    pub fn thread(&self) -> &GreenThread {
        self.inner.thread()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("thread", self.thread())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.load(Ordering::Relaxed))
            .finish()
    }
}

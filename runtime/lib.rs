//! # greenrt — Go-style green threads for Rust
//!
//! `spawn!` starts a stackful green thread (a **G**) that is scheduled onto
//! `procs` **P**rocessors (Go's GOMAXPROCS), each run by an OS thread, a
//! **M**achine. Ps keep local run queues and steal work from each other;
//! blocking calls on greenrt's primitives park only the green thread.
//!
//! ```
//! let sum: u64 = greenrt::run(|| {
//!     let handles: Vec<_> = (1..=10u64).map(|i| greenrt::spawn!(move || i * i)).collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum()
//! });
//! assert_eq!(sum, 385);
//! ```
//!
//! Green threads migrate between OS threads: do not hold thread-local
//! references or `!Send` values (`Rc`, `RefCell` borrows of thread-locals,
//! `std::sync::MutexGuard`) across a call that can park, and do not block the
//! OS thread with `std` locks or blocking I/O while other Gs need the P. See
//! docs/GUIDE.md for the hazards and the tuning knobs. For state per green
//! thread use [`green_local!`]; to keep a green thread on its OS thread,
//! [`lock_os_thread`]. [`scope()`] runs green threads that borrow from the
//! caller; [`spawn_builder()`] names them and sizes their stacks.
//!
//! Architecture: docs/ARCHITECTURE.md; the scheduler's model and invariants
//! open `runtime/sched/mod.rs`.

#![warn(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn)]

pub mod config;
pub mod coop;
mod dump_signal;
pub mod fs;
mod green_local;
mod handle;
#[cfg(test)]
mod idle_poller_tests;
mod join;
#[cfg(test)]
mod keep_alive_tests;
#[cfg(test)]
mod machine_start_failure_tests;
pub mod net;
mod panic_hook;
mod runtime;
pub(crate) mod sched;
mod scope;
mod spawn_builder;
pub mod sync;
mod syscall;
pub mod time;

pub use green_local::{AccessError, GreenLocalKey};
pub use handle::GreenThread;
pub use join::JoinHandle;
pub use runtime::{run, Builder, Runtime};
pub use sched::{lock_os_thread, OsThreadGuard, RuntimeStats, WaitReason};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use spawn_builder::{spawn_builder, SpawnBuilder};
pub use syscall::syscall;
pub use time::{sleep, sleep_until};

use sched::context;

/// Spawns a green thread on the caller's runtime (the default runtime when
/// called outside any green thread — so a plain `fn main` works).
///
/// ```
/// let h = greenrt::spawn(|| "hello from a green thread");
/// assert_eq!(h.join().unwrap(), "hello from a green thread");
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let h = join::spawn_on(&runtime::current_or_default_ref(), None, f);
    coop::checkpoint();
    h
}

/// Spawns a named green thread (the name shows in `current()`, traces and
/// cancellation messages).
#[track_caller]
pub fn spawn_named<F, T>(name: impl Into<String>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let name = name.into().into_boxed_str();
    join::spawn_on(&runtime::current_or_default_ref(), Some(name), f)
}

/// Spawns a green thread: `spawn!(move || work())` or `spawn!({ block })`.
///
/// Same as [`spawn()`]; the block form wraps the block in a `move` closure.
#[macro_export]
macro_rules! spawn {
    ($body:block) => {
        $crate::spawn(move || $body)
    };
    ($f:expr) => {
        $crate::spawn($f)
    };
}

/// Lets other green threads on this P run; the caller goes to the back of the
/// local run queue. On a plain OS thread: `std::thread::yield_now`.
// Inlined so the G switches in the caller's frame (sched/green_thread.rs,
// "Where a G switches").
#[inline(always)]
pub fn yield_now() {
    match context::current_g_ptr() {
        None => std::thread::yield_now(),
        // SAFETY: the running G is kept alive by its M while it runs.
        Some(g) => unsafe { g.as_ref().switch_out(sched::SwitchRequest::Yield) },
    }
}

/// Yields after a preemption request: to the back of the global queue.
pub(crate) fn yield_preempted() {
    if let Some(g) = context::current_g_ptr() {
        // SAFETY: the running G is kept alive by its M while it runs.
        unsafe { g.as_ref().switch_out(sched::SwitchRequest::Preempted) }
    }
}

/// Number of processors of the caller's runtime (the default runtime's
/// outside any green thread).
pub fn procs() -> usize {
    runtime::current_or_default().procs()
}

/// The green thread running this code, or `None` on a plain OS thread.
pub fn current() -> Option<GreenThread> {
    context::current_g().map(GreenThread::new)
}

/// Blocks the current green thread (or OS thread) until its handle's
/// [`unpark`](GreenThread::unpark) is called, like `std::thread::park`:
/// an `unpark` that came first makes it return at once, and it may also
/// return spuriously, so wait in a loop on your own condition.
pub fn park() {
    sched::park::park(WaitReason::Park);
}

/// Like [`park`], but returns after `dur` at the latest.
pub fn park_timeout(dur: std::time::Duration) {
    if let Some(deadline) = std::time::Instant::now().checked_add(dur) {
        sched::park::park_until(deadline, WaitReason::Park);
    } else {
        park();
    }
}

/// A listing of every live green thread of the caller's runtime (the
/// default runtime's outside any green thread): see [`Runtime::dump`].
pub fn dump() -> String {
    runtime::current_or_default().dump()
}

/// True when called from inside a green thread.
pub fn in_green_thread() -> bool {
    context::current_g_ptr().is_some()
}

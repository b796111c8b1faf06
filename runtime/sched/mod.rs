//! The scheduler: Go's G/M/P model in Rust.
//!
//! # The model
//!
//! * **G — [`GreenThread`]**: a stackful coroutine (corosensei) with an id, an
//!   optional name, an atomic park state and a join slot. Cheap to create: its
//!   stack is taken from a pool only when it first runs.
//! * **M — `Machine`**: an OS thread running the scheduling loop on its own
//!   native stack ("g0") and resuming Gs. An M needs a P to run Gs.
//! * **P — `Processor`**: the right to run Gs. There are exactly `procs` Ps
//!   (Go's GOMAXPROCS). Each has a local FIFO run queue (crossbeam-deque), a
//!   one-slot `runnext`, a stack cache and a cache of G memory (`g_alloc`).
//!
//! The global `Scheduler` holds all Ps, the idle-P and idle-M lists, the
//! global run queue, the number of spinning Ms, the timers and the netpoller.
//!
//! # Why this shape
//!
//! Ps bound parallelism to `procs` no matter how many Ms exist, so an M can
//! block (in a syscall, later) without losing a core: its P moves to another
//! M. Local queues make the common path lock-free; stealing half of a random
//! victim's queue balances load; a bounded number of *spinning* Ms looks for
//! work so newly runnable Gs start promptly, and Ms that find nothing park, so
//! an idle runtime uses no CPU.
//!
//! # Invariants (each restated where it is relied on)
//!
//! 1. A P is owned by exactly one M, or sits in the idle list (scheduler.rs I1).
//! 2. A runnable G is never stranded: push first, then `wakep`; give up a P
//!    first, then re-check the queues (scheduler.rs I2).
//! 3. A G's body is touched only by the M running it; a parked G is handed to
//!    a waker only after its M has switched away from it (green_thread.rs,
//!    the park protocol).
//! 4. Code that may switch never caches the current M/P/G: lookups go through
//!    the `#[inline(never)]` accessors in `context.rs`.
//! 5. Timers and the poller never call into the scheduler; they return lists
//!    of ready Gs, so dependencies run one way: sched → netpoll/time → G.

pub(crate) mod context;
mod g_alloc;
pub(crate) mod g_ref;
pub(crate) mod green_thread;
pub(crate) mod machine;
mod overflow;
pub(crate) mod processor;
pub(crate) mod registry;
pub(crate) mod scheduler;
pub(crate) mod shutdown;
pub(crate) mod stack;
pub(crate) mod sysmon;
mod wait_reason;

pub(crate) use g_ref::GRef;
pub(crate) use green_thread::GreenThread;
pub use scheduler::RuntimeStats;
pub use wait_reason::WaitReason;

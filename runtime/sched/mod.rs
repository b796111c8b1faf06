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
//! # Invariants
//!
//! This is the one list. Code that relies on an invariant cites it by number
//! and name, e.g. "invariant 2 (no stranded G)"; docs/ARCHITECTURE.md
//! ("Invariants") links here rather than keeping a copy.
//!
//! 1. **P ownership.** A P is owned by exactly one party at every moment: an
//!    M, the idle list, or its own syscall slot (while its M is in a syscall;
//!    whoever swaps it out of the slot owns it); while lent to a running G,
//!    its lend word decides (invariant 8, lent P). `npidle` mirrors the idle
//!    list's length; both change only under the `idle` lock.
//! 2. **No stranded G.** Whoever makes a G runnable pushes it first and
//!    *then* calls `Scheduler::wakep`, which reads `npidle` and `nmspinning`.
//!    An M that gives up its P increments `npidle` first and *then* re-checks
//!    the global queue (and, if it was spinning, every P). Both sides use
//!    `SeqCst`, so at least one of them sees the other's write (the
//!    store-buffering pairing of Go's `findrunnable`). An M going idle
//!    parks on its parker only behind a poller that sleeps
//!    (`NetPoller::has_sleeper`), never behind a non-blocking poll
//!    (`Machine::block`), so pending timers always have a server.
//! 3. **Bounded spinning.** At most one M spins per pair of busy Ps
//!    (`2 * nmspinning < busy`), so stealing stays cheap when there is little
//!    to steal; a spinning M that finds work calls `wakep` so that another
//!    takes its place.
//! 4. **One runner per G.** A G's body is touched only by the M running it; a
//!    parked G is handed to a waker only after its M has switched away from it
//!    (`green_thread.rs`, "The park protocol").
//! 5. **No cached identity.** Code that may switch never caches the current
//!    M/P/G: lookups go through the `#[inline(never)]` accessors in
//!    `context.rs`.
//! 6. **One-way imports.** Nothing under `sched/` imports the rest of the
//!    crate, and timers and the poller never call into the scheduler: they
//!    return lists of ready Gs (`Fired`, `Vec<GRef>`) that the scheduler
//!    queues. Dependencies run one way: the rest of the crate → `sched` (the
//!    items re-exported below); inside it, scheduler/machine → netpoll/timers
//!    → G. Checked in CI by `scripts/check_sched_imports.sh`.
//! 7. **Nothing dropped under a runtime lock.** No `GRef`, `Unparker`, timer
//!    entry or callback is dropped while a scheduler lock (timer heap,
//!    netpoll lists and descriptors, idle, registry) is held: the last
//!    reference to a G destroys it, and that may run user code (a result's
//!    or capture's `Drop`), which may take the same lock again. Code under a
//!    lock moves such values out and drops them after the guard.
//! 8. **Lent P.** While an M runs a G, the P it lent to that G is owned
//!    through the P's lend slot (`lend.rs`): the G's thread uses the P only
//!    between a successful claim and its release (never across a switch),
//!    the M takes it back when the G switches out, and sysmon takes it (a G
//!    asleep in an unwrapped blocking call) only after seeing the thread's
//!    own lend state say "lent this slot, unclaimed". Thread and sysmon meet
//!    in a Dekker handshake (thread: store its state, light fence, load
//!    sysmon's `deciding`; sysmon: raise `deciding`, heavy fence —
//!    membarrier —, load the state), so either sysmon sees the claim or
//!    take-back and leaves the P, or the thread waits for sysmon's verdict;
//!    a retake clears the slot's lendee, and the thread that finds itself no
//!    longer the lendee has lost: it forgets its pointer to the P and runs
//!    without a P until its next switch, which takes the syscall-exit path.
//!    Each thread writes only its own state and writes the slot only while
//!    it owns the P, so a retaken thread that wakes never disturbs the P's
//!    next lend; states are never freed, so sysmon may read a stale one.
//! 9. **Scheduler outlives its Gs.** Every G holds one unit of its
//!    scheduler from spawn until its destruction has given its memory back
//!    (`keep_alive.rs`); while any unit is out, the scheduler holds an `Arc`
//!    reference to itself. A P's stash of units is given back at shutdown,
//!    after the Ms have stopped.

pub(crate) mod context;
mod counters;
mod deadlock;
mod dump;
mod g_alloc;
mod g_ids;
mod g_locals;
mod g_ref;
mod g_status;
mod green_thread;
mod hog;
mod idle;
mod keep_alive;
mod lend;
pub(crate) mod loom;
mod machine;
mod membarrier;
mod netpoll;
mod os_thread_lock;
mod overflow;
mod panic_count;
pub(crate) mod park;
mod park_state;
mod processor;
mod ref_count;
mod registry;
mod run_queue;
mod scheduler;
mod shutdown;
mod stack;
mod stack_slab;
mod start_failure;
mod syscall;
mod syscall_slot;
mod sysmon;
mod thread_state;
mod timers;
mod trace;
mod wait_reason;

// What the rest of the crate may use. Nothing under `sched/` imports a crate
// module outside it (checked by `scripts/check_sched_imports.sh` in CI).
pub(crate) use deadlock::DeadlockConfig;
pub(crate) use g_locals::LocalSlot;
pub(crate) use g_ref::GRef;
pub(crate) use green_thread::{cancel_message, GreenThread, SwitchRequest, Task};
pub(crate) use netpoll::{Direction, PollDesc};
pub use os_thread_lock::{lock_os_thread, OsThreadGuard};
pub use scheduler::RuntimeStats;
pub(crate) use scheduler::{Config, Scheduler};
#[cfg(test)]
pub(crate) use start_failure::refuse_hook;
pub(crate) use syscall::InSyscall;
#[cfg(test)]
pub(crate) use sysmon::poll_hold;
pub(crate) use timers::{TimerAction, TimerHandle};
pub(crate) use trace::DEFAULT_RING_EVENTS;
pub use wait_reason::WaitReason;

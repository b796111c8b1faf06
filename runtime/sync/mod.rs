//! Green-aware synchronisation: channels with crossbeam-channel's API,
//! `select!`, and locks — all of which park the *green thread* that waits,
//! never its OS thread.
//!
//! Every primitive here works from green threads, from plain OS threads
//! (which then block), and across the two: a G can wait on a channel an OS
//! thread sends to, and an OS thread can contend a [`Mutex`] with Gs.
//!
//! | need | use |
//! |---|---|
//! | pass values between tasks, pipelines, fan-in/fan-out | [`bounded`], [`unbounded`] |
//! | hand-over with back-pressure, Go's unbuffered `chan` | [`bounded`]`(0)` |
//! | wait on several channels, timeouts, `time.After`/`Tick` | [`select!`](crate::select!), [`Select`], [`after`], [`tick`] |
//! | shared state updated in place | [`Mutex`], or [`RwLock`] when reads dominate |
//! | wait for a state change under a lock | [`Condvar`] |
//! | wait for N tasks to finish | [`WaitGroup`] (or join the handles) |
//! | cap concurrency (connections, in-flight requests) | [`Semaphore`] |
//! | let N tasks meet at a point, round after round | [`Barrier`] |
//! | initialise a shared value once, lazily | [`OnceLock`] |
//!
//! Why not `std::sync` locks? A green thread blocked on a std `Mutex`
//! blocks its OS thread and every G queued on the same processor; if the
//! holder is one of those Gs (it held the lock across a channel operation or
//! a sleep), it can never run to release it. See [`Mutex`]. The same holds
//! for `std::sync::OnceLock`/`LazyLock` while another G initialises them:
//! use [`OnceLock`].
//!
//! # How they are built
//! Only on the runtime's park/unpark primitive (`sched/park.rs`;
//! docs/ARCHITECTURE.md, "Parking and waking"), through one abstraction,
//! `waiter::Waiter`: a blocked thread of control with an atomic state that
//! wakers *claim* (one CAS decides who wakes it and for which operation) and
//! then *publish*. Owners loop on that state, so a spurious return from
//! park is harmless; `select` puts one waiter in many queues. The locks,
//! `Condvar`, `Semaphore`, `WaitGroup`, `Barrier` and `OnceLock` queue
//! their waiters in one shared FIFO, `wait_queue::WaitQueue`, on top of
//! their own state words. No lock is ever held across a park. Every wait also cleans
//! up if its green thread is unwound while parked (runtime shutdown), so
//! nothing is handed to a thread that is gone.

mod barrier;
mod channel;
mod condvar;
mod mutex;
mod once_lock;
mod random;
mod raw_mutex;
mod raw_rwlock;
mod rwlock;
mod select;
mod select_macro;
mod semaphore;
mod spin;
mod wait_group;
mod wait_queue;
pub(crate) mod waiter;

pub use barrier::{Barrier, BarrierWaitResult};
pub use channel::{
    after, at, bounded, channel, never, tick, unbounded, IntoIter, Iter, ReadyTimeoutError,
    Receiver, RecvError, RecvTimeoutError, SelectTimeoutError, SendError, SendTimeoutError, Sender,
    TryIter, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
#[doc(hidden)]
pub use select::__private;
pub use select::{Select, SelectedOperation};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
pub use wait_group::WaitGroup;

pub use crate::{select, select_biased};

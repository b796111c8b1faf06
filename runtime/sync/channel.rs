//! Channels with crossbeam-channel's API that park green threads.
//!
//! Multi-producer multi-consumer FIFO channels: [`bounded`] (capacity 0 is
//! a rendezvous, Go's unbuffered `chan`), [`unbounded`] (alias
//! [`channel`]), the timer channels [`after`], [`at`] and [`tick`], and
//! [`never()`]. Items, signatures and semantics follow crossbeam-channel 0.5,
//! so moving code onto green threads is a change of import. Blocking calls
//! park only the calling green thread; from a plain OS thread they block
//! that thread, and the two kinds of caller can share a channel freely.
//!
//! Disconnection follows crossbeam: when every `Sender` is gone, receivers
//! drain what is buffered and then get an error; when every `Receiver` is
//! gone, sends fail and hand the message back (parked senders are woken
//! with their messages) and buffered messages are dropped.
//!
//! **Checkpoints.** A send into an unbounded channel and a failing
//! non-blocking operation never park, so they are preemption checkpoints
//! (`coop.rs` says which operations are, and why).
//!
//! **Big messages.** A message of any size costs the calling green thread
//! no more stack than the caller's own copy of it: in an optimised build a
//! green thread whose stack is the message's size plus 64 KiB can send or
//! receive it through every flavour, blocking or not, and through
//! `select!` (tested in `tests/channel_big_messages.rs` for 32 KiB and
//! 1 MiB). Messages larger than 1 KiB travel boxed inside the channel
//! (one allocation per message), smaller ones by value as before.
//!
//! How it works: `chan.rs` (the shared state and its invariants),
//! `entry.rs` (waiting operations — plain ones on their owner's stack — and
//! direct hand-off), `chan/big.rs` (the boxed path of big messages),
//! `lock.rs` (the state's spinlock), `token.rs` (the two-phase operations
//! of `select`), `timer.rs` (timer channels: `clock_source.rs`, why they are
//! ready by the clock; `alarm.rs` for `at`/`after`, `ticker.rs` for
//! `tick`).

mod alarm;
mod chan;
mod clock_source;
mod entry;
mod error;
mod lock;
mod ticker;
mod timer;
mod token;

use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use chan::{is_big, Chan, Queued, Side};
use clock_source::ClockSource;
pub use error::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use timer::{after, at, tick};
pub(crate) use token::Selected;

/// A non-blocking operation that failed is a checkpoint (`coop.rs`).
#[inline]
pub(crate) fn polled<R, E>(r: Result<R, E>) -> Result<R, E> {
    crate::coop::after_poll(r.is_ok());
    r
}

/// Creates a channel of unbounded capacity: sends never block.
///
/// ```
/// let (tx, rx) = greenrt::sync::unbounded();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(None))
}

/// Same as [`unbounded`] (the name `std::sync::mpsc` uses).
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    unbounded()
}

/// Creates a channel holding at most `cap` messages.
///
/// With `cap == 0` it is a rendezvous channel: a send completes only once a
/// receiver has taken the message (Go's unbuffered channel).
///
/// ```
/// use greenrt::sync::bounded;
///
/// greenrt::run(|| {
///     let (tx, rx) = bounded(0);
///     let h = greenrt::spawn(move || tx.send("ping").unwrap());
///     assert_eq!(rx.recv(), Ok("ping")); // the sender was waiting for us
///     h.join().unwrap();
/// });
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(Some(cap)))
}

/// A receiver that never delivers a message and never disconnects
/// (capacity 0). Useful to switch a `select!` arm off.
pub const fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: Flavor::Never(PhantomData),
    }
}

fn pair<T>(chan: Arc<Chan<T>>) -> (Sender<T>, Receiver<T>) {
    let rx = Receiver::from_chan(chan.clone());
    (Sender { chan }, rx)
}

/// Converts a timeout to a deadline; `None` when it is too far to represent
/// (wait without limit, like crossbeam).
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// A receive on `never()`: sleeps until `deadline`, or forever.
#[inline(never)]
fn never_recv<T>(deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
    match deadline {
        Some(d) => {
            crate::time::sleep_until(d);
            Err(RecvTimeoutError::Timeout)
        }
        None => never_forever(),
    }
}

/// A receive on `never()` without a deadline.
#[inline(never)]
fn never_forever() -> ! {
    loop {
        crate::time::sleep(Duration::from_secs(86_400));
    }
}

// ==================================================================== Sender

/// The sending half of a channel. Clone it for more producers; the channel
/// disconnects (for receivers) when the last one is dropped.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}

impl<T> Sender<T> {
    /// Sends without waiting: fails with `Full` if the channel is full (for
    /// a rendezvous channel: no receiver is waiting), or `Disconnected`.
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        if is_big::<T>() {
            // The checkpoint sees the boxed result: a big message must not
            // gain a by-value copy in this frame (module docs, "Big
            // messages").
            let r = self.chan.try_send_boxed(Box::new(msg));
            crate::coop::after_poll(r.is_ok());
            return r.map_err(|e| match e {
                TrySendError::Full(m) => TrySendError::Full(*m),
                TrySendError::Disconnected(m) => TrySendError::Disconnected(*m),
            });
        }
        polled(self.chan.try_send(msg))
    }

    /// Sends, parking the green thread (or blocking the OS thread) while the
    /// channel is full. On a rendezvous channel it returns once a receiver
    /// has the message. Fails, handing the message back, if every receiver
    /// is gone (also while waiting).
    #[inline(always)]
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        if is_big::<T>() {
            // Checkpoint on the boxed result (see `try_send`).
            let r = self.chan.send_boxed(Box::new(msg), None);
            self.unbounded_checkpoint();
            return r.map_err(|e| SendError(*e.into_inner()));
        }
        let r = self.chan.send(msg, None);
        self.unbounded_checkpoint();
        r.map_err(|e| match e {
            SendTimeoutError::Disconnected(m) | SendTimeoutError::Timeout(m) => SendError(m),
        })
    }

    /// Like [`send`](Self::send), giving up after `timeout`.
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, deadline_after(timeout))
    }

    /// Like [`send`](Self::send), giving up at `deadline`.
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, Some(deadline))
    }

    fn send_until(&self, msg: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        if is_big::<T>() {
            // Checkpoint on the boxed result (see `try_send`).
            let r = self.chan.send_boxed(Box::new(msg), deadline);
            self.unbounded_checkpoint();
            return r.map_err(|e| match e {
                SendTimeoutError::Timeout(m) => SendTimeoutError::Timeout(*m),
                SendTimeoutError::Disconnected(m) => SendTimeoutError::Disconnected(*m),
            });
        }
        let r = self.chan.send_timed(msg, deadline);
        self.unbounded_checkpoint();
        r
    }

    /// A send into an unbounded channel never parks: it is a checkpoint
    /// (`coop.rs`).
    #[inline]
    fn unbounded_checkpoint(&self) {
        if self.chan.capacity().is_none() {
            crate::coop::checkpoint();
        }
    }

    /// True if no message is buffered (always true for a rendezvous channel).
    pub fn is_empty(&self) -> bool {
        self.chan.len() == 0
    }

    /// True if the buffer is full (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        self.chan.is_full()
    }

    /// Number of buffered messages.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// The capacity: `None` for unbounded, `Some(0)` for rendezvous.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// True if both send into the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    pub(crate) fn chan(&self) -> &Arc<Chan<T>> {
        &self.chan
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

// ================================================================== Receiver

enum Flavor<T> {
    Chan(Arc<Chan<T>>),
    /// `never()`: no state at all, so it can be a `const fn`.
    Never(PhantomData<fn() -> T>),
    /// `at()`, `after()` and `tick()`: a channel a timer fills, ready by
    /// the clock (`clock_source.rs`).
    Clock(Arc<dyn ClockSource<T>>),
}

/// The receiving half of a channel. Clone it for more consumers (each
/// message goes to exactly one); the channel disconnects (for senders) when
/// the last one is dropped.
pub struct Receiver<T> {
    flavor: Flavor<T>,
}

impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

impl<T> Receiver<T> {
    pub(crate) fn from_chan(chan: Arc<Chan<T>>) -> Self {
        Receiver {
            flavor: Flavor::Chan(chan),
        }
    }

    /// A clock channel's receiver (`at`, `after`, `tick`).
    pub(crate) fn from_clock(source: Arc<dyn ClockSource<T>>) -> Self {
        Receiver {
            flavor: Flavor::Clock(source),
        }
    }

    /// For a clock channel, the moment a select's receive began (read only
    /// for clock channels: no clock read otherwise).
    pub(crate) fn clock_receive_started(&self) -> Option<Instant> {
        matches!(self.flavor, Flavor::Clock(_)).then(Instant::now)
    }

    /// A select's receive that began at `since` (from
    /// [`clock_receive_started`](Self::clock_receive_started)) completed
    /// with `got`.
    pub(crate) fn clock_receive_taken(&self, since: Option<Instant>, got: &Result<T, RecvError>) {
        if let (Flavor::Clock(t), Some(since), Ok(m)) = (&self.flavor, since, got) {
            t.taken(m, since);
        }
    }

    /// For a clock channel, puts a message that is due by the clock into
    /// its channel before a select looks at it (`clock_source.rs`).
    pub(crate) fn deliver_due(&self) {
        if let Flavor::Clock(t) = &self.flavor {
            t.deliver_due(Instant::now());
        }
    }

    /// The channel, or `None` for [`never()`].
    pub(crate) fn chan(&self) -> Option<&Arc<Chan<T>>> {
        match &self.flavor {
            Flavor::Chan(c) => Some(c),
            Flavor::Never(_) => None,
            Flavor::Clock(t) => Some(t.chan()),
        }
    }

    /// Receives without waiting: fails with `Empty` (for a rendezvous
    /// channel: no sender is waiting) or `Disconnected` (empty, and every
    /// sender is gone).
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if is_big::<T>() {
            // Checkpoint on the boxed result (see `Sender::try_send`).
            let r = match &self.flavor {
                Flavor::Chan(c) => c.try_recv_boxed(),
                Flavor::Never(_) => Err(TryRecvError::Empty),
                Flavor::Clock(_) => unreachable!("a clock channel carries an Instant"),
            };
            crate::coop::after_poll(r.is_ok());
            return r.map(|m| *m);
        }
        polled(self.try_recv_small())
    }

    /// `try_recv` of a message that is not big (module docs, "Big
    /// messages"; `try_recv` takes those).
    fn try_recv_small(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Chan(c) => c.try_recv(),
            Flavor::Never(_) => Err(TryRecvError::Empty),
            Flavor::Clock(t) => {
                let now = Instant::now();
                t.deliver_due(now);
                match t.chan().try_recv() {
                    Ok(m) => {
                        t.taken(&m, now);
                        Ok(m)
                    }
                    Err(_) => Err(TryRecvError::Empty),
                }
            }
        }
    }

    /// Receives, parking the green thread (or blocking the OS thread) until
    /// a message arrives. Fails once the channel is empty and every sender
    /// is gone.
    #[inline(always)]
    pub fn recv(&self) -> Result<T, RecvError> {
        match &self.flavor {
            Flavor::Chan(c) if is_big::<T>() => match c.recv_boxed(None) {
                Ok(m) => Ok(*m),
                Err(_) => Err(RecvError),
            },
            Flavor::Chan(c) => c.recv(None).map_err(|_| RecvError),
            // Not through `never_recv`: its result, never produced, would
            // still take a message-sized slot in the caller's frame.
            Flavor::Never(_) => never_forever(),
            Flavor::Clock(_) if is_big::<T>() => unreachable!("a clock channel carries an Instant"),
            Flavor::Clock(_) => self.recv_until(None).map_err(|_| RecvError),
        }
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(deadline_after(timeout))
    }

    /// Like [`recv`](Self::recv), giving up at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match &self.flavor {
            Flavor::Chan(c) if is_big::<T>() => c.recv_boxed(deadline).map(|m| *m),
            Flavor::Chan(c) => c.recv_timed(deadline),
            Flavor::Never(_) => never_recv(deadline),
            // Dead for big messages, so it adds no message-sized slot.
            Flavor::Clock(_) if is_big::<T>() => unreachable!("a clock channel carries an Instant"),
            Flavor::Clock(t) => {
                let since = Instant::now();
                t.deliver_due(since);
                match t.chan().recv_timed(deadline) {
                    Ok(m) => {
                        t.taken(&m, since);
                        Ok(m)
                    }
                    // Due by the deadline, but its timer ran late.
                    Err(e) => t.take_due(Instant::now(), deadline).ok_or(e),
                }
            }
        }
    }

    /// True if no message is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the buffer is full (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            Flavor::Chan(c) => c.is_full(),
            Flavor::Never(_) => true,
            // Like crossbeam: full exactly when not empty.
            Flavor::Clock(t) => t.is_due(),
        }
    }

    /// Number of buffered messages.
    pub fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Chan(c) => c.len(),
            Flavor::Never(_) => 0,
            Flavor::Clock(t) => usize::from(t.is_due()),
        }
    }

    /// The capacity: `None` for unbounded, `Some(0)` for rendezvous.
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            Flavor::Chan(c) => c.capacity(),
            Flavor::Never(_) => Some(0),
            Flavor::Clock(_) => Some(1),
        }
    }

    /// A blocking iterator: yields messages until the channel is empty and
    /// disconnected.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// A non-blocking iterator: yields the messages available now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// True if both receive from the same channel (all `never()` receivers
    /// count as one).
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (Flavor::Chan(a), Flavor::Chan(b)) => Arc::ptr_eq(a, b),
            (Flavor::Clock(a), Flavor::Clock(b)) => Arc::ptr_eq(a.chan(), b.chan()),
            (Flavor::Never(_), Flavor::Never(_)) => true,
            _ => false,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        match &self.flavor {
            Flavor::Chan(c) => {
                c.add_receiver();
                Receiver::from_chan(c.clone())
            }
            Flavor::Never(_) => never(),
            Flavor::Clock(t) => {
                t.chan().add_receiver();
                Receiver {
                    flavor: Flavor::Clock(t.clone()),
                }
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        match &self.flavor {
            Flavor::Chan(c) => c.drop_receiver(),
            Flavor::Clock(t) => t.chan().drop_receiver(),
            Flavor::Never(_) => {}
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        IntoIter { receiver: self }
    }
}

/// Blocking iterator over a borrowed receiver ([`Receiver::iter`]).
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> FusedIterator for Iter<'_, T> {}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Iter { .. }")
    }
}

/// Non-blocking iterator over a borrowed receiver ([`Receiver::try_iter`]).
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("TryIter { .. }")
    }
}

/// Blocking iterator that owns its receiver (`Receiver::into_iter`).
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("IntoIter { .. }")
    }
}

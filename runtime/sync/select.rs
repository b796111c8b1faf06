//! `Select`: wait on several channel operations and perform exactly one —
//! crossbeam-channel's dynamic select, which the `select!` macro also uses.
//!
//! The loop (`run`) has three phases, as in crossbeam and Go's `selectgo`:
//!
//! 1. **Try** every operation once, in a random order (the order given, for
//!    a biased select). The first that can proceed is performed (a receive)
//!    or reserved (a send), and returned. Trying in a uniformly random order
//!    makes the choice among ready operations uniform, so no arm starves.
//! 2. **Register** one entry per operation, all sharing one [`Waiter`].
//!    Each channel reports, under the same lock that queued the entry,
//!    whether the operation is ready after all (another party arrived
//!    between the two phases); then the select withdraws (aborting its
//!    waiter) and starts over. Of two parties that register concurrently on
//!    one channel, the second always sees the first, so they cannot both
//!    sleep.
//! 3. **Wait** until a waker claims the waiter for one operation (wakers race
//!    for one CAS: exactly one wins), or the deadline passes. Then every
//!    other entry is withdrawn and the winner's hand-over becomes the
//!    [`SelectedOperation`].
//!
//! A non-blocking select (`default`, `try_select`, a zero or passed
//! timeout) registers too, and only then withdraws: it does not give up
//! after the try phase. Trying looks at the channels one after the other,
//! at different instants, so "none was ready when I looked" does not mean
//! "none was ready at one instant": with two channels that are never both
//! empty, it can see the first before a message arrives and the second
//! after one leaves. Registering fixes that: each channel reports under its
//! lock that the operation is not ready, and from then on whoever makes it
//! ready claims the waiter. So when the final abort succeeds, no operation
//! became ready since its registration, and at that instant none is ready:
//! the default is taken at one instant. Go gets the same guarantee by
//! locking every channel of the select, crossbeam by registering even with
//! a zero timeout. (`Select::try_ready` does the same with watchers.)
//!
//! Selection only *reserves*, for receive arms too: the message moves in
//! `SelectedOperation::recv`/`send`. A send arm's message is evaluated only
//! once the arm is chosen (`select!` evaluates it lazily). See
//! `channel/token.rs`.
//!
//! # Send and Sync
//!
//! A [`Select`] borrows receivers and senders of any message types, with
//! the types erased, so a `Select` moved to another thread may run there
//! for handles whose messages are not `Send`. That is sound because running
//! a select touches only the channels' synchronisation state — their locks,
//! counters, queues of entries, waiters and unparkers, all of which may be
//! used from any thread — and never a message: it does not move, read or
//! drop one, nor a value that holds one. The rules that make this so:
//! a receive arm is promised a buffered message instead of taking it
//! (C6 in `channel/chan.rs`); a plain sender it commits to moves its
//! message into an entry itself (`Handed::Fill`); a sender that hands a
//! message to a waiting select fills the select's entry on the sender's own
//! thread, and the select keeps the entry without opening it; giving a
//! reservation back wakes the next waiter to retry instead of moving its
//! message (`retry_first`); and a select that is unwound (or whose
//! `SelectedOperation` is dropped uncompleted) with a message already
//! handed over leaks that message rather than dropping it. The message
//! moves only in `SelectedOperation::recv`/`send`, which name the message
//! type and take the typed handle, so they run only on a thread allowed
//! to hold that handle. (`SelectedOperation` itself stays neither `Send`
//! nor `Sync`, as in crossbeam.)

mod erased;
mod operation;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use erased::ErasedToken;
use operation::{Operation, Registration};

use super::channel::{
    polled, ReadyTimeoutError, Receiver, RecvError, SelectTimeoutError, SendError, Sender,
    TryReadyError, TrySelectError,
};
use super::random;
use super::waiter::Waiter;
use crate::sched::WaitReason;

/// How long a select may wait.
#[derive(Clone, Copy, Debug)]
enum Timeout {
    /// Do not wait (`try_select`, `default =>`).
    Now,
    /// Wait without limit.
    Never,
    /// Wait until then.
    At(Instant),
}

impl Timeout {
    fn after(d: Duration) -> Timeout {
        Instant::now()
            .checked_add(d)
            .map_or(Timeout::Never, Timeout::At)
    }
}

/// One operation in a select: the handle, the index the user sees, and the
/// handle's address (completion checks the same handle is passed back).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Op<'a> {
    handle: &'a (dyn Operation<'a> + 'a),
    index: usize,
    ptr: *const u8,
}

impl<'a> Op<'a> {
    fn recv<T>(r: &'a Receiver<T>, index: usize) -> Self {
        Op {
            handle: r,
            index,
            ptr: (r as *const Receiver<T>).cast(),
        }
    }

    fn send<T>(s: &'a Sender<T>, index: usize) -> Self {
        Op {
            handle: s,
            index,
            ptr: (s as *const Sender<T>).cast(),
        }
    }
}

/// Runs a select over `ops` (see the module docs).
fn run<'a>(ops: &[Op<'a>], biased: bool, timeout: Timeout) -> Option<SelectedOperation<'a>> {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    loop {
        if !biased {
            random::shuffle(&mut order);
        }
        // 1. Try.
        for &i in &order {
            if let Some(token) = ops[i].handle.try_select() {
                return Some(SelectedOperation::new(&ops[i], token));
            }
        }
        let wait = Wait::of(timeout);

        // 2. Register (also when not waiting: see the module docs). Dropping `regs` withdraws every entry in it.
        let waiter = Arc::new(Waiter::new());
        let mut regs: Vec<Option<Registration<'a>>> = Vec::with_capacity(ops.len());
        regs.resize_with(ops.len(), || None);
        let mut ready = false;
        for &i in &order {
            let (reg, now) = ops[i].handle.register(&waiter, i);
            regs[i] = reg;
            if now {
                ready = true;
                break;
            }
        }
        if ready && waiter.try_abort() {
            continue;
        }
        // (If the abort failed, a waker claimed us: the wait returns at once.)

        // 3. Wait.
        let k = wait.run(&waiter)?;
        let chosen = regs[k]
            .take()
            .expect("woken through a registered operation");
        drop(regs);
        if let Some(token) = chosen.accept() {
            return Some(SelectedOperation::new(&ops[k], token));
        }
        // The counterpart withdrew: start over.
    }
}

/// Waits until one of `ops` is ready without performing it; returns its
/// user index. Like crossbeam's, may report an operation that another
/// thread completes first.
fn run_ready(ops: &[Op<'_>], biased: bool, timeout: Timeout) -> Option<usize> {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    if !biased {
        random::shuffle(&mut order);
    }
    if let Some(&i) = order.iter().find(|&&i| ops[i].handle.is_ready()) {
        return Some(ops[i].index);
    }
    let wait = Wait::of(timeout);
    let waiter = Arc::new(Waiter::new());
    // Kept alive until we return: dropping a watch unregisters it.
    let mut watches = Vec::with_capacity(ops.len());
    for &i in &order {
        let (watch, now) = ops[i].handle.watch(&waiter, i);
        watches.extend(watch);
        if now {
            return Some(ops[i].index);
        }
    }
    let k = wait.run(&waiter)?;
    Some(ops[k].index)
}

/// What a select does once it has registered and nothing was ready.
#[derive(Clone, Copy)]
enum Wait {
    /// Withdraw at once (non-blocking, or the deadline has passed).
    No,
    /// Wait until claimed, or until the deadline (if any) passes.
    Until(Option<Instant>),
}

impl Wait {
    fn of(timeout: Timeout) -> Wait {
        match timeout {
            Timeout::Now => Wait::No,
            Timeout::Never => Wait::Until(None),
            Timeout::At(d) if Instant::now() >= d => Wait::No,
            Timeout::At(d) => Wait::Until(Some(d)),
        }
    }

    /// The operation `waiter` was claimed for; `None` if it withdrew first.
    fn run(self, waiter: &Waiter) -> Option<usize> {
        match self {
            // If the abort loses, a waker claimed us: it publishes promptly.
            Wait::No if waiter.try_abort() => None,
            Wait::No => Some(waiter.wait(WaitReason::Select)),
            Wait::Until(deadline) => waiter.wait_until(deadline, WaitReason::Select),
        }
    }
}

// ==================================================================== Select

/// A set of channel operations to wait on, built at run time — the dynamic
/// form of [`select!`](crate::select!).
///
/// Add operations with [`send`](Select::send) and [`recv`](Select::recv)
/// (each returns the operation's index), then [`select`](Select::select)
/// waits until one can proceed and commits to it. The returned
/// [`SelectedOperation`] must be completed with the same handle. Among ready
/// operations one is chosen uniformly at random (unless built with
/// [`new_biased`](Select::new_biased)).
///
/// ```
/// use greenrt::sync::{unbounded, Select};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (_tx2, rx2) = unbounded::<i32>();
/// tx1.send(10).unwrap();
///
/// let mut sel = Select::new();
/// let i1 = sel.recv(&rx1);
/// let _i2 = sel.recv(&rx2);
/// let op = sel.select();
/// assert_eq!(op.index(), i1);
/// assert_eq!(op.recv(&rx1), Ok(10));
/// ```
///
/// Like crossbeam's, a `Select` is `Send` and `Sync`: it can be built on
/// one thread, cloned or moved into others and run there (see "Send and
/// Sync" in this module's source docs for why that is sound whatever the
/// message types).
pub struct Select<'a> {
    ops: Vec<Op<'a>>,
    next_index: usize,
    biased: bool,
}

// SAFETY: a `Select` holds borrowed handles (`&dyn Operation`), their
// addresses (compared, never dereferenced) and indices. Using them from
// another thread runs only the select loop, which touches the channels'
// synchronisation state and no message (module docs, "Send and Sync"); the
// state it touches (spinlocks, atomics, `Arc`s of entries and waiters,
// unparkers) is thread-safe by construction whatever `T` is. The borrows
// outlive the `Select`, so the handles stay alive wherever it goes.
unsafe impl Send for Select<'_> {}
// SAFETY: through `&Select` one can only read its operations (`Clone`,
// `Debug`); selecting needs `&mut Select`. Reading them from several
// threads is as safe as sending copies of them, which `Send` covers.
unsafe impl Sync for Select<'_> {}

impl<'a> Select<'a> {
    /// An empty set; ready operations are chosen uniformly at random.
    pub fn new() -> Select<'a> {
        Select {
            ops: Vec::with_capacity(4),
            next_index: 0,
            biased: false,
        }
    }

    /// An empty set that prefers the operation added first among ready ones.
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a send on `s`; returns its index.
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        let i = self.next_index;
        self.ops.push(Op::send(s, i));
        self.next_index += 1;
        i
    }

    /// Adds a receive on `r`; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        let i = self.next_index;
        self.ops.push(Op::recv(r, i));
        self.next_index += 1;
        i
    }

    /// Removes the operation with this index (indices are not reused).
    ///
    /// # Panics
    /// If there is no such operation (never added, or already removed).
    pub fn remove(&mut self, index: usize) {
        assert!(
            index < self.next_index,
            "index out of bounds; {} >= {}",
            index,
            self.next_index
        );
        let at = self
            .ops
            .iter()
            .position(|op| op.index == index)
            .expect("no operation with this index");
        self.ops.swap_remove(at);
    }

    /// Selects an operation that can proceed now, without waiting.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        polled(run(&self.ops, self.biased, Timeout::Now).ok_or(TrySelectError))
    }

    /// Waits until an operation can proceed and selects it. With no
    /// operations it waits forever.
    pub fn select(&mut self) -> SelectedOperation<'a> {
        run(&self.ops, self.biased, Timeout::Never).expect("a select without deadline selects")
    }

    /// Like [`select`](Select::select), giving up after `timeout`.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        run(&self.ops, self.biased, Timeout::after(timeout)).ok_or(SelectTimeoutError)
    }

    /// Like [`select`](Select::select), giving up at `deadline`.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        run(&self.ops, self.biased, Timeout::At(deadline)).ok_or(SelectTimeoutError)
    }

    /// The index of an operation that is ready now, without performing it.
    /// It may have stopped being ready by the time you perform it (another
    /// thread got there first): check the result.
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        polled(run_ready(&self.ops, self.biased, Timeout::Now).ok_or(TryReadyError))
    }

    /// Waits until an operation is ready and returns its index, without
    /// performing it (see [`try_ready`](Select::try_ready)).
    pub fn ready(&mut self) -> usize {
        run_ready(&self.ops, self.biased, Timeout::Never)
            .expect("a wait without deadline ends ready")
    }

    /// Like [`ready`](Select::ready), giving up after `timeout`.
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        run_ready(&self.ops, self.biased, Timeout::after(timeout)).ok_or(ReadyTimeoutError)
    }

    /// Like [`ready`](Select::ready), giving up at `deadline`.
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        run_ready(&self.ops, self.biased, Timeout::At(deadline)).ok_or(ReadyTimeoutError)
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            ops: self.ops.clone(),
            next_index: self.next_index,
            biased: self.biased,
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Select { .. }")
    }
}

// ========================================================= SelectedOperation

/// The operation a select committed to. Complete it with
/// [`recv`](SelectedOperation::recv) or [`send`](SelectedOperation::send),
/// passing the same receiver or sender that was added.
///
/// Dropping it without completing is a bug and panics (like crossbeam);
/// whatever it reserved is released first, so other parties do not hang.
#[must_use]
pub struct SelectedOperation<'a> {
    index: usize,
    ptr: *const u8,
    token: Option<ErasedToken<'a>>,
    _borrows: PhantomData<&'a ()>,
}

impl<'a> SelectedOperation<'a> {
    fn new(op: &Op<'a>, token: ErasedToken<'a>) -> Self {
        SelectedOperation {
            index: op.index,
            ptr: op.ptr,
            token: Some(token),
            _borrows: PhantomData,
        }
    }

    /// The index of the selected operation.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the selected send with `msg`.
    ///
    /// # Panics
    /// If `s` is not the sender of the selected operation.
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        assert!(
            std::ptr::eq((s as *const Sender<T>).cast(), self.ptr),
            "passed a sender that wasn't selected"
        );
        let token = self.token.take().expect("completed once");
        if crate::sync::channel::is_big::<T>() {
            return token
                .downcast(s.chan())
                .send_boxed(Box::new(msg))
                .map_err(|e| SendError(*e.0));
        }
        token.downcast(s.chan()).send(msg)
    }

    /// Completes the selected receive.
    ///
    /// # Panics
    /// If `r` is not the receiver of the selected operation.
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            std::ptr::eq((r as *const Receiver<T>).cast(), self.ptr),
            "passed a receiver that wasn't selected"
        );
        let token = self.token.take().expect("completed once");
        let chan = r.chan().expect("a never() receiver is never selected");
        if crate::sync::channel::is_big::<T>() {
            return token.downcast(chan).recv_boxed().map(|m| *m);
        }
        let since = r.clock_receive_started();
        let got = token.downcast(chan).recv();
        r.clock_receive_taken(since, &got);
        got
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SelectedOperation { .. }")
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            drop(token);
            if !std::thread::panicking() {
                panic!("dropped `SelectedOperation` without completing the operation");
            }
        }
    }
}

// =========================================================== macro support

/// Support for `select!`; not public API.
#[doc(hidden)]
pub mod __private {
    use std::time::Duration;

    pub use super::Op;
    use super::{run, SelectedOperation, Timeout};
    use crate::sync::channel::{Receiver, Sender};

    /// How a `select!` may wait.
    #[derive(Clone, Copy, Debug)]
    pub enum Mode {
        /// No `default` arm.
        Block,
        /// `default => ...`.
        NonBlocking,
        /// `default(timeout) => ...`.
        Timeout(Duration),
    }

    /// A receive arm.
    pub fn recv_op<'a, T>(r: &'a Receiver<T>, index: usize) -> Op<'a> {
        Op::recv(r, index)
    }

    /// A send arm.
    pub fn send_op<'a, T>(s: &'a Sender<T>, index: usize) -> Op<'a> {
        Op::send(s, index)
    }

    /// Runs the select of a `select!` block.
    pub fn select<'a>(ops: &[Op<'a>], biased: bool, mode: Mode) -> Option<SelectedOperation<'a>> {
        let timeout = match mode {
            Mode::Block => Timeout::Never,
            Mode::NonBlocking => Timeout::Now,
            Mode::Timeout(d) => Timeout::after(d),
        };
        let selected = run(ops, biased, timeout);
        // Taking the `default` arm is a failed non-blocking operation.
        crate::coop::after_poll(selected.is_some());
        selected
    }
}

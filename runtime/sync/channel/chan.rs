//! `Chan<T>`: the state every flavour of channel shares, and its algorithms.
//!
//! One lock guards a buffer, the queues of waiting senders and receivers,
//! the select watchers and the disconnection flags. It is held only for a
//! few pointer moves and at most one message copy, and never across a park,
//! a wake or user code, so it is a spinlock (`lock.rs`): one CAS to take,
//! one plain store to release. Go's runtime also guards its channels with a
//! lock of its own rather than a scheduler-aware one, for the same reason.
//!
//! Invariants, relied on below:
//!
//! * **C1 — hand-off before buffering.** A live waiting receiver exists only
//!   while the buffer holds no message that is not promised (C6): a sender
//!   hands its message straight to the first live receiver, and buffers
//!   only when there is none. So FIFO order holds across buffered and
//!   handed-off messages.
//! * **C2 — a claimed entry is out of its queue.** Wakers pop an entry before
//!   claiming it; so an owner whose entry was claimed never needs the channel
//!   lock again (the woken receiver of a rendezvous gets the value without a
//!   second trip through this lock).
//! * **C3 — room is `cap - len - reserved`.** A select that chose a send arm
//!   on a bounded channel reserves a slot until it supplies the message.
//! * **C4 — user values are never dropped under the lock** (their `Drop` may
//!   use this very channel). Nor are wake-ups done under it: claimers collect
//!   the unparkers of what they published in [`Wakes`] and wake after
//!   unlocking (dropping a G reference can run user code too).
//! * **C5 — a plain waiting operation lives on its owner's stack** (`Slot`,
//!   see `entry.rs`): others touch it only under this lock, and whoever
//!   claims it writes and publishes it before unlocking. So an owner that
//!   takes this lock after withdrawing, and finds its slot gone from the
//!   queue (or never looks because it was published), is the only one left
//!   who knows the slot, and may return.
//! * **C6 — promised messages are a prefix of the buffer.** A select that
//!   chose a receive arm while messages were buffered does not take one (a
//!   select never touches messages, `select.rs`, "Send and Sync"): it
//!   promises itself the first unpromised one (`promised += 1`), and pops
//!   the front when it completes. Everyone else takes the first unpromised
//!   message. Promised messages still use capacity (C3) until popped, but
//!   they are no longer in the channel for `len` and readiness.
//!
//! Capacity `None` is unbounded; `Some(0)` is a rendezvous channel, where
//! every message goes from a sender's hands to a receiver's.
//!
//! Cost of a rendezvous hand-off to a parked partner, the latency-critical
//! case (`send` and `recv` inline it): the waiting side took the lock once
//! to queue a slot on its own stack; the other side takes the lock once,
//! pops the slot, moves the message, publishes with a plain store, and
//! wakes the owner after unlocking. No allocation, no claim CAS, and the
//! only reference count touched is the waiting G's (taken when it queued,
//! moved into the run queue by the wake). Without a deadline no clock is
//! read.

mod big;

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::entry::{Entry, Grant, Handed, Slot, SlotRef, WaiterRef, Waiting};
use super::error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
use super::lock::{SpinGuard, SpinLock};
use super::token::Token;
use crate::sched::park::{self, Unparker};
use crate::sched::WaitReason;
use crate::sync::waiter::Waiter;
pub(crate) use big::is_big;

/// Which side of the channel a queue entry or a watcher is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    Send,
    Recv,
}

/// A `Select::ready` caller waiting for an operation to become ready
/// without performing it.
struct Watcher {
    waiter: Arc<Waiter>,
    op: usize,
    side: Side,
}

struct State<T> {
    buf: VecDeque<T>,
    /// Buffer slots reserved by selects' send arms (C3).
    reserved: usize,
    /// Buffered messages promised to selects' receive arms (C6).
    promised: usize,
    senders: VecDeque<Waiting<T>>,
    receivers: VecDeque<Waiting<T>>,
    watchers: Vec<Watcher>,
    /// Every `Sender` is gone.
    tx_gone: bool,
    /// Every `Receiver` is gone.
    rx_gone: bool,
}

/// The shared state of one channel.
pub(crate) struct Chan<T> {
    state: SpinLock<State<T>>,
    cap: Option<usize>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

/// The unparkers of waiters published under the lock, woken after it is
/// released (C4). Every path that fills one must call [`Wakes::wake`] once
/// the lock guard is gone; dropping it unwoken would lose those wake-ups.
#[must_use = "wake the published waiters after unlocking"]
pub(crate) struct Wakes {
    /// Almost always the only one: no allocation on the hot path.
    first: Option<Unparker>,
    more: Vec<Unparker>,
}

impl Wakes {
    #[inline]
    pub(crate) const fn new() -> Self {
        Wakes {
            first: None,
            more: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, u: Unparker) {
        if self.first.is_none() {
            self.first = Some(u);
        } else {
            self.more.push(u);
        }
    }

    /// Wakes everyone collected (call with the lock released).
    #[inline]
    pub(crate) fn wake(self) {
        if let Some(u) = self.first {
            u.unpark_owned();
        }
        if self.more.capacity() == 0 {
            // Never allocated: nothing to free, and forgetting it keeps the
            // out-of-line `Vec` destructor off the hot path.
            std::mem::forget(self.more);
        } else {
            wake_more(self.more);
        }
    }
}

#[cold]
#[inline(never)]
fn wake_more(more: Vec<Unparker>) {
    for u in more {
        u.unpark_owned();
    }
}

/// The outcome of a send that does not wait.
enum SendNow<T> {
    Sent,
    Full(T),
    Disconnected(T),
}

/// How a queued plain receive ended.
enum Waited<T> {
    Done(Result<T, RecvTimeoutError>),
    /// A select's send arm committed to it, then withdrew: start over.
    Retry,
}

/// The outcome of a receive that does not wait.
enum RecvNow<T> {
    Msg(T),
    /// A select's send arm was claimed (and published): wait on this entry
    /// for the message it supplies.
    Partner(Arc<Entry<T>>),
    Empty,
    Disconnected,
}

// Every method of `State` runs under the channel lock (a `State` is only
// reachable through it), which is what C5 requires of code that claims the
// queues' plain slots.
impl<T> State<T> {
    fn has_room(&self, cap: Option<usize>) -> bool {
        cap.map_or(true, |c| self.buf.len() + self.reserved < c)
    }

    /// Is a buffered message not promised yet (C6)?
    #[inline]
    fn has_unpromised(&self) -> bool {
        self.buf.len() > self.promised
    }

    /// Takes the first buffered message not promised yet (C6).
    #[inline]
    fn take_buffered(&mut self) -> Option<T> {
        if !self.has_unpromised() {
            None
        } else if self.promised == 0 {
            self.buf.pop_front()
        } else {
            self.buf.remove(self.promised)
        }
    }

    /// A select gave back what it reserved on `side` (room for a send, a
    /// promised message for a receive): the first live operation waiting
    /// on that side starts over, to find it. Unlike [`refill`](Self::refill)
    /// this moves no message: it runs on a select's thread (`select.rs`,
    /// "Send and Sync").
    fn retry_first(&mut self, side: Side, wakes: &mut Wakes) {
        while let Some(w) = self.queue(side).pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    wakes.push(unsafe { s.claim() }.retry_publish());
                    break;
                }
                Waiting::Select(e) => {
                    if e.try_claim() {
                        let retried = e.grant(Grant::Retry).is_ok();
                        wakes.push(e.publish_deferring_wake());
                        if retried {
                            break;
                        }
                    }
                }
            }
        }
        self.notify(side, wakes);
    }

    /// Sends every live operation waiting on `side` back to the start (a
    /// select re-tries all its operations in random order) and wakes the
    /// watchers. For timer channels ([`Chan::offer`]).
    fn retry_all(&mut self, side: Side, wakes: &mut Wakes) {
        while let Some(w) = self.queue(side).pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    wakes.push(unsafe { s.claim() }.retry_publish());
                }
                Waiting::Select(e) => {
                    if e.try_claim() {
                        let _ = e.grant(Grant::Retry);
                        wakes.push(e.publish_deferring_wake());
                    }
                }
            }
        }
        self.notify(side, wakes);
    }

    /// Wakes the watchers of `side` (something on that side became ready)
    /// and forgets dead ones.
    fn notify(&mut self, side: Side, wakes: &mut Wakes) {
        if self.watchers.is_empty() {
            return;
        }
        self.watchers.retain(|w| {
            if w.side == side {
                if w.waiter.try_claim(w.op) {
                    wakes.push(w.waiter.publish_deferring_wake());
                }
                false
            } else {
                w.waiter.is_waiting()
            }
        });
    }

    /// Hands `msg` to the first live waiting receiver (C1). Dead entries met
    /// on the way (aborted, or a select that completed elsewhere) are
    /// dropped; their owners still hold them, so this frees nothing (C4).
    fn give_to_receiver(&mut self, mut msg: T, wakes: &mut Wakes) -> Result<(), T> {
        while let Some(w) = self.receivers.pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    wakes.push(unsafe { s.claim() }.fill_publish(msg));
                    return Ok(());
                }
                Waiting::Select(e) => {
                    if !e.try_claim() {
                        continue;
                    }
                    let filled = e.fill(msg);
                    wakes.push(e.publish_deferring_wake());
                    match filled {
                        Ok(()) => return Ok(()),
                        // Claimed but abandoned by an owner being unwound:
                        // try the next receiver.
                        Err(m) => msg = m,
                    }
                }
            }
        }
        Err(msg)
    }

    /// Room was just freed: move the first waiting sender's message into the
    /// buffer, or reserve the slot for a select's send arm.
    fn refill(&mut self, cap: Option<usize>, wakes: &mut Wakes) {
        while self.has_room(cap) {
            let Some(w) = self.senders.pop_front() else {
                break;
            };
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    let (msg, wake) = unsafe { s.claim() }.take_publish();
                    self.buf.push_back(msg);
                    wakes.push(wake);
                    return;
                }
                Waiting::Select(e) => {
                    // A select's send arm (its message comes later).
                    if !e.try_claim() {
                        continue;
                    }
                    let granted = e.grant(Grant::Reserved).is_ok();
                    wakes.push(e.publish_deferring_wake());
                    if granted {
                        self.reserved += 1;
                        return;
                    }
                }
            }
        }
        self.notify(Side::Send, wakes);
    }

    /// With an empty buffer: take a message straight from a waiting sender.
    fn take_from_sender(&mut self, wakes: &mut Wakes) -> Option<RecvNow<T>> {
        while let Some(w) = self.senders.pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    let (msg, wake) = unsafe { s.claim() }.take_publish();
                    wakes.push(wake);
                    return Some(RecvNow::Msg(msg));
                }
                Waiting::Select(e) => {
                    if !e.try_claim() {
                        continue;
                    }
                    // A select's send arm: it supplies the message once its
                    // select returns. Give it a claimed receive entry to fill.
                    let r = Entry::partner_recv();
                    let granted = e.grant(Grant::Partner(r.clone())).is_ok();
                    wakes.push(e.publish_deferring_wake());
                    if granted {
                        return Some(RecvNow::Partner(r));
                    }
                }
            }
        }
        None
    }

    fn send_now(&mut self, cap: Option<usize>, msg: T, wakes: &mut Wakes) -> SendNow<T> {
        if self.rx_gone {
            return SendNow::Disconnected(msg);
        }
        let msg = match self.give_to_receiver(msg, wakes) {
            Ok(()) => return SendNow::Sent,
            Err(m) => m,
        };
        if self.has_room(cap) {
            self.buf.push_back(msg);
            self.notify(Side::Recv, wakes);
            return SendNow::Sent;
        }
        SendNow::Full(msg)
    }

    fn recv_now(&mut self, cap: Option<usize>, wakes: &mut Wakes) -> RecvNow<T> {
        if let Some(msg) = self.take_buffered() {
            self.refill(cap, wakes);
            return RecvNow::Msg(msg);
        }
        if let Some(r) = self.take_from_sender(wakes) {
            return r;
        }
        if self.tx_gone {
            RecvNow::Disconnected
        } else {
            RecvNow::Empty
        }
    }

    /// Would a receive complete now? (`me`: a select's own entries do not
    /// count.)
    fn recv_ready(&self, me: Option<&Arc<Waiter>>) -> bool {
        self.has_unpromised() || self.tx_gone || self.senders.iter().any(|w| w.is_live_for(me))
    }

    /// Would a send complete now?
    fn send_ready(&self, cap: Option<usize>, me: Option<&Arc<Waiter>>) -> bool {
        self.rx_gone || self.has_room(cap) || self.receivers.iter().any(|w| w.is_live_for(me))
    }

    fn queue(&mut self, side: Side) -> &mut VecDeque<Waiting<T>> {
        match side {
            Side::Send => &mut self.senders,
            Side::Recv => &mut self.receivers,
        }
    }

    /// The other side is gone: fail every operation waiting in `queue`.
    fn disconnect(queue: &VecDeque<Waiting<T>>, wakes: &mut Wakes) {
        for w in queue {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: the caller took `queue` out of the state under
                    // the lock and still holds it (C5).
                    wakes.push(unsafe { s.claim() }.disconnect_publish());
                }
                Waiting::Select(e) => {
                    if e.try_claim() {
                        let _ = e.grant(Grant::Disconnected);
                        wakes.push(e.publish_deferring_wake());
                    }
                }
            }
        }
    }
}

/// Drops `msgs` in order, each on its own: a panicking `Drop` neither
/// keeps the others from being dropped nor (as a second panic while the
/// first unwinds would) aborts the process. The first panic then resumes,
/// so a `catch_unwind` around the drop of the channel sees it, as with
/// crossbeam. Already unwinding, it is not resumed (that would abort).
fn drop_messages<T>(msgs: VecDeque<T>) {
    if msgs.is_empty() {
        return;
    }
    let mut first = None;
    if is_big::<T>() {
        // One at a time through a box, off the stack (`big.rs`).
        let mut msgs = msgs;
        while let Some(msg) = big::pop_front_boxed(&mut msgs) {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(msg))) {
                first.get_or_insert(panic);
            }
        }
    } else {
        for msg in msgs {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| drop(msg))) {
                first.get_or_insert(panic);
            }
        }
    }
    if let Some(panic) = first {
        if !std::thread::panicking() {
            resume_unwind(panic);
        }
    }
}

/// Has `deadline` passed? Reads the clock only when there is one.
#[inline]
fn passed(deadline: Option<Instant>) -> bool {
    match deadline {
        None => false,
        Some(d) => passed_at(d),
    }
}

#[inline(never)]
fn passed_at(deadline: Instant) -> bool {
    Instant::now() >= deadline
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver counted.
    pub(crate) fn new(cap: Option<usize>) -> Arc<Self> {
        Arc::new(Chan {
            state: SpinLock::new(State {
                buf: VecDeque::new(),
                reserved: 0,
                promised: 0,
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                watchers: Vec::new(),
                tx_gone: false,
                rx_gone: false,
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        })
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        let st = self.state.lock();
        st.buf.len() - st.promised
    }

    pub(crate) fn is_full(&self) -> bool {
        self.cap.is_some_and(|c| self.len() >= c)
    }

    // ------------------------------------------------------------ handles

    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_receiver(&self) {
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// The last sender is gone: waiting receivers fail (after draining).
    pub(crate) fn drop_sender(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close(Side::Send);
        }
    }

    /// The last receiver is gone: buffered messages are dropped and waiting
    /// senders fail, getting their messages back.
    pub(crate) fn drop_receiver(&self) {
        if self.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close(Side::Recv);
        }
    }

    /// Every handle of side `gone` is dropped: mark it, wake the other
    /// side's watchers, and fail the operations waiting on the other side.
    /// With the receivers gone, buffered messages are dropped too.
    fn close(&self, gone: Side) {
        let other = match gone {
            Side::Send => Side::Recv,
            Side::Recv => Side::Send,
        };
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        match gone {
            Side::Send => st.tx_gone = true,
            Side::Recv => st.rx_gone = true,
        }
        st.notify(other, &mut wakes);
        let waiting = std::mem::take(st.queue(other));
        State::disconnect(&waiting, &mut wakes);
        let buffered = match gone {
            Side::Recv => std::mem::take(&mut st.buf),
            Side::Send => VecDeque::new(),
        };
        drop(st);
        drop(waiting);
        wakes.wake();
        drop_messages(buffered); // C4: outside the lock
    }

    // ------------------------------------------------------ plain send

    /// A timer channel's send: buffers `msg` if there is room (false if
    /// not, or if every receiver is gone) and sends every waiting receiver
    /// back to the start instead of handing the message to the first.
    ///
    /// Why: timers due at one instant fire one after another. Handed off,
    /// the first to fire would win every select waiting on them all; so
    /// the select starts over and, by then, finds the others fired too and
    /// chooses among them at random (issue 16 item 4, as crossbeam's
    /// select re-checks every operation when it wakes). C1 holds again
    /// within this critical section: no receiver is left waiting.
    pub(crate) fn offer(&self, msg: T) -> bool {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let room = !st.rx_gone && st.has_room(self.cap);
        let rejected = if room {
            st.buf.push_back(msg);
            st.retry_all(Side::Recv, &mut wakes);
            None
        } else {
            Some(msg)
        };
        drop(st);
        wakes.wake();
        drop(rejected); // C4
        room
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let r = match st.send_now(self.cap, msg, &mut wakes) {
            SendNow::Sent => Ok(()),
            SendNow::Full(m) => Err(TrySendError::Full(m)),
            SendNow::Disconnected(m) => Err(TrySendError::Disconnected(m)),
        };
        drop(st);
        wakes.wake();
        r
    }

    /// Sends, waiting for room (or a receiver) until `deadline` (`None`:
    /// no limit).
    ///
    /// The common steps are inlined here, with as little as possible done
    /// under the lock: buffer the message, hand it to a waiting plain
    /// receiver (the rendezvous), or queue and wait when there is neither
    /// a receiver nor room. Selects, dead entries and disconnection go
    /// through `send_slow`.
    #[inline(always)]
    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut st = self.state.lock();
        if !st.rx_gone {
            match st.receivers.front() {
                // Nobody waits to receive: buffer the message (the common
                // case of a buffered channel; C1 allows it) ...
                None if st.has_room(self.cap) => {
                    st.buf.push_back(msg);
                    if st.watchers.is_empty() {
                        return Ok(());
                    }
                    let mut wakes = Wakes::new();
                    st.notify(Side::Recv, &mut wakes);
                    drop(st);
                    wakes.wake();
                    return Ok(());
                }
                // ... or, with no room, wait.
                None => return self.send_wait(st, Wakes::new(), msg, deadline),
                // A plain receiver waits (so the buffer is empty, C1).
                Some(Waiting::Plain(_)) => {
                    let Some(Waiting::Plain(s)) = st.receivers.pop_front() else {
                        unreachable!()
                    };
                    // SAFETY: popped under the lock, published within it (C5).
                    let wake = unsafe { s.claim() }.fill_publish(msg);
                    drop(st);
                    wake.unpark_owned();
                    return Ok(());
                }
                Some(Waiting::Select(_)) => {}
            }
        }
        self.send_slow(st, msg, deadline)
    }

    /// `send` with a deadline: the same steps, kept out of line (timed
    /// waits are not latency-critical, and this keeps callers small).
    #[inline(never)]
    pub(crate) fn send_timed(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        self.send(msg, deadline)
    }

    #[inline(never)]
    fn send_slow<'a>(
        &'a self,
        mut st: SpinGuard<'a, State<T>>,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut wakes = Wakes::new();
        match st.send_now(self.cap, msg, &mut wakes) {
            SendNow::Sent => {
                drop(st);
                wakes.wake();
                Ok(())
            }
            SendNow::Disconnected(m) => {
                drop(st);
                wakes.wake();
                Err(SendTimeoutError::Disconnected(m))
            }
            SendNow::Full(m) => self.send_wait(st, wakes, m, deadline),
        }
    }

    /// No room and no receiver: queue a slot for `msg` and wait.
    ///
    /// Always inlined, and so is the park inside `SlotGuard::wait`: the G
    /// then switches out in the frame of the user's `send`, and returns
    /// into it when woken (see "Where a G switches" in `green_thread.rs`).
    /// Queueing before and sorting out the outcome after are out of line.
    #[inline(always)]
    fn send_wait(
        &self,
        st: SpinGuard<'_, State<T>>,
        wakes: Wakes,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut space = None;
        let slot = match self.send_queue(st, wakes, msg, deadline, &mut space) {
            Ok(slot) => slot,
            Err(msg) => return Err(SendTimeoutError::Timeout(msg)),
        };
        let handed = SlotGuard::new(self, slot, Side::Send).wait(deadline, WaitReason::ChanSend);
        self.send_waited(handed, deadline)
    }

    /// Queues a slot for `msg` in `space` (`Err(msg)`: the deadline has
    /// passed already) and wakes whoever the queueing concerns.
    #[inline(never)]
    fn send_queue<'s>(
        &self,
        mut st: SpinGuard<'_, State<T>>,
        mut wakes: Wakes,
        msg: T,
        deadline: Option<Instant>,
        space: &'s mut Option<Slot<T>>,
    ) -> Result<&'s Slot<T>, T> {
        if passed(deadline) {
            drop(st);
            wakes.wake();
            return Err(msg);
        }
        let slot = space.insert(Slot::new(Some(msg)));
        st.senders.push_back(Waiting::Plain(SlotRef::new(slot)));
        st.notify(Side::Recv, &mut wakes);
        drop(st);
        wakes.wake();
        Ok(slot)
    }

    fn send_waited(
        &self,
        handed: (Handed<T>, Option<T>),
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        match handed {
            (Handed::Done, _) => Ok(()),
            (Handed::Disconnected, Some(m)) => Err(SendTimeoutError::Disconnected(m)),
            (Handed::Pending, Some(m)) => Err(SendTimeoutError::Timeout(m)),
            // A select's receive arm committed to us: hand it the message.
            (Handed::Fill(r), Some(m)) => match r.fill(m) {
                Ok(()) => {
                    r.publish();
                    Ok(())
                }
                // It withdrew before we came: send the ordinary way.
                Err(m) => {
                    r.publish();
                    self.send_slow(self.state.lock(), m, deadline)
                }
            },
            (Handed::Retry, Some(m)) => self.send_slow(self.state.lock(), m, deadline),
            _ => unreachable!("a plain send is taken, disconnected or withdrawn"),
        }
    }

    /// Delivers `msg` for a select that chose a send arm: into the reserved
    /// slot (`reserved`), or onto an unbounded channel.
    pub(crate) fn send_selected(&self, msg: T, reserved: bool) -> Result<(), SendError<T>> {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        if reserved {
            st.reserved -= 1;
        }
        if st.rx_gone {
            drop(st);
            wakes.wake();
            return Err(SendError(msg));
        }
        match st.give_to_receiver(msg, &mut wakes) {
            // The reserved slot went unused: let a waiting sender have it.
            Ok(()) => {
                if reserved {
                    st.refill(self.cap, &mut wakes);
                }
            }
            Err(m) => {
                st.buf.push_back(m);
                st.notify(Side::Recv, &mut wakes);
            }
        }
        drop(st);
        wakes.wake();
        Ok(())
    }

    /// Gives back a slot reserved by a select that never sent (on the
    /// select's thread: no message moves, C6's note).
    pub(crate) fn release_reservation(&self) {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        st.reserved -= 1;
        st.retry_first(Side::Send, &mut wakes);
        drop(st);
        wakes.wake();
    }

    /// Completes a selected receive that was promised a buffered message
    /// (C6): takes the front one.
    pub(crate) fn recv_promised(&self) -> T {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        st.promised -= 1;
        let msg = st.buf.pop_front().expect("a promised message is buffered");
        st.refill(self.cap, &mut wakes);
        drop(st);
        wakes.wake();
        msg
    }

    /// Gives back a promise of a select that never received.
    pub(crate) fn release_promise(&self) {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        st.promised -= 1;
        st.retry_first(Side::Recv, &mut wakes);
        drop(st);
        wakes.wake();
    }

    // --------------------------------------------------- plain receive

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let now = st.recv_now(self.cap, &mut wakes);
        drop(st);
        wakes.wake();
        match now {
            RecvNow::Msg(m) => Ok(m),
            RecvNow::Partner(r) => match self.wait_partner(r) {
                Some(m) => Ok(m),
                // The partner withdrew: report what is true now.
                None => self.try_recv(),
            },
            RecvNow::Empty => Err(TryRecvError::Empty),
            RecvNow::Disconnected => Err(TryRecvError::Disconnected),
        }
    }

    /// Receives, waiting until `deadline` (`None`: no limit).
    ///
    /// As for `send`, the common steps are inlined: take a buffered
    /// message, take the message of a waiting plain sender (the
    /// rendezvous), or queue and wait when nothing is buffered and no sender
    /// waits.
    #[inline(always)]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut st = self.state.lock();
        if st.promised != 0 {
            // Selects hold promises on buffered messages (C6).
            return self.recv_slow(st, deadline);
        }
        if let Some(msg) = st.buf.pop_front() {
            // The common case of a buffered channel: nobody to move into
            // the freed room, nobody watching.
            if st.senders.is_empty() && st.watchers.is_empty() {
                return Ok(msg);
            }
            let mut wakes = Wakes::new();
            st.refill(self.cap, &mut wakes);
            drop(st);
            wakes.wake();
            return Ok(msg);
        }
        match st.senders.front() {
            // A plain sender waits (rendezvous): take its message.
            Some(Waiting::Plain(_)) => {
                let Some(Waiting::Plain(s)) = st.senders.pop_front() else {
                    unreachable!()
                };
                // SAFETY: popped under the lock, published within it (C5).
                let (msg, wake) = unsafe { s.claim() }.take_publish();
                drop(st);
                wake.unpark_owned();
                Ok(msg)
            }
            // Nothing at all: wait.
            None if !st.tx_gone => match self.recv_wait(st, Wakes::new(), deadline) {
                Waited::Done(r) => r,
                Waited::Retry => self.recv_slow(self.state.lock(), deadline),
            },
            _ => self.recv_slow(st, deadline),
        }
    }

    /// `recv` with a deadline, out of line (see `send_timed`).
    #[inline(never)]
    pub(crate) fn recv_timed(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        self.recv(deadline)
    }

    #[inline(never)]
    fn recv_slow<'a>(
        &'a self,
        mut st: SpinGuard<'a, State<T>>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        loop {
            let mut wakes = Wakes::new();
            let partner = match st.recv_now(self.cap, &mut wakes) {
                RecvNow::Msg(m) => {
                    drop(st);
                    wakes.wake();
                    return Ok(m);
                }
                RecvNow::Partner(r) => {
                    drop(st);
                    wakes.wake();
                    r
                }
                RecvNow::Disconnected => {
                    drop(st);
                    wakes.wake();
                    return Err(RecvTimeoutError::Disconnected);
                }
                RecvNow::Empty => match self.recv_wait(st, wakes, deadline) {
                    Waited::Done(r) => return r,
                    Waited::Retry => {
                        st = self.state.lock();
                        continue;
                    }
                },
            };
            // A select's send arm committed to us; it supplies the message.
            if let Some(m) = self.wait_partner(partner) {
                return Ok(m);
            }
            // It withdrew: start over.
            st = self.state.lock();
        }
    }

    /// Nothing to receive: queue a slot and wait. Inlined like
    /// [`send_wait`](Self::send_wait), for the same reason.
    #[inline(always)]
    fn recv_wait(
        &self,
        st: SpinGuard<'_, State<T>>,
        wakes: Wakes,
        deadline: Option<Instant>,
    ) -> Waited<T> {
        let mut space = None;
        let Some(slot) = self.recv_queue(st, wakes, deadline, &mut space) else {
            return Waited::Done(Err(RecvTimeoutError::Timeout));
        };
        let handed = SlotGuard::new(self, slot, Side::Recv).wait(deadline, WaitReason::ChanRecv);
        self.recv_waited(handed)
    }

    /// Queues a slot for this receive in `space` (`None`: the deadline has
    /// passed already) and wakes whoever the queueing concerns.
    #[inline(never)]
    fn recv_queue<'s>(
        &self,
        mut st: SpinGuard<'_, State<T>>,
        mut wakes: Wakes,
        deadline: Option<Instant>,
        space: &'s mut Option<Slot<T>>,
    ) -> Option<&'s Slot<T>> {
        if passed(deadline) {
            drop(st);
            wakes.wake();
            return None;
        }
        let slot = space.insert(Slot::new(None));
        st.receivers.push_back(Waiting::Plain(SlotRef::new(slot)));
        st.notify(Side::Send, &mut wakes);
        drop(st);
        wakes.wake();
        Some(slot)
    }

    fn recv_waited(&self, handed: (Handed<T>, Option<T>)) -> Waited<T> {
        let r = match handed {
            (Handed::Done, Some(m)) => Ok(m),
            (Handed::Disconnected, _) => Err(RecvTimeoutError::Disconnected),
            (Handed::Pending, _) => Err(RecvTimeoutError::Timeout),
            (Handed::Partner(r), _) => match self.wait_partner(r) {
                Some(m) => Ok(m),
                None => return Waited::Retry,
            },
            (Handed::Retry, _) => return Waited::Retry,
            (Handed::Done, None) => unreachable!("a receive handed no message"),
            (Handed::Fill(_), _) => unreachable!("a receive asked to fill"),
        };
        Waited::Done(r)
    }

    /// Waits for a select's send arm to fill `r`; `None` if it withdrew.
    pub(crate) fn wait_partner(&self, r: Arc<Entry<T>>) -> Option<T> {
        let mut queued = Queued::new(self, r, None, false);
        queued.entry.waiter().wait(WaitReason::ChanRecv);
        match queued.take_grant() {
            (Grant::Done, Some(m)) => Some(m),
            _ => None,
        }
    }

    /// The owner of `slot` gives up waiting: takes it out of its queue.
    /// Returns false if it was not there any more — then a claimer has
    /// published it (pop and publication share one critical section, C5).
    /// Either way, on return nobody else can reach the slot.
    fn withdraw(&self, side: Side, slot: &Slot<T>) -> bool {
        let mut st = self.state.lock();
        let q = st.queue(side);
        match q.iter().position(|w| w.is_slot(slot)) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => {
                debug_assert!(slot.is_published());
                false
            }
        }
    }

    // ---------------------------------------------------------- select

    /// Reserves the operation if it can proceed without waiting (touching
    /// no message: `token.rs`).
    pub(crate) fn select_now(self: &Arc<Self>, side: Side) -> Option<Token<T>> {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let token = match side {
            Side::Recv => st.reserve_recv(&mut wakes),
            Side::Send => st.reserve_send(self.cap),
        };
        drop(st);
        wakes.wake();
        token
    }

    /// Is the operation ready (without performing it)?
    pub(crate) fn is_ready(&self, side: Side) -> bool {
        let st = self.state.lock();
        match side {
            Side::Recv => st.recv_ready(None),
            Side::Send => st.send_ready(self.cap, None),
        }
    }

    /// Queues operation `op` of a select, then reports (under the same lock)
    /// whether it is ready anyway — in which case the select withdraws and
    /// tries again, so two selects registering at once cannot both sleep.
    pub(crate) fn register(
        &self,
        side: Side,
        waiter: &Arc<Waiter>,
        op: usize,
    ) -> (Arc<Entry<T>>, bool) {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let entry = match side {
            Side::Recv => Entry::recv(WaiterRef::Shared(waiter.clone()), op),
            Side::Send => Entry::deferred_send(waiter.clone(), op),
        };
        st.queue(side).push_back(Waiting::Select(entry.clone()));
        // A waiting receiver makes sends ready (rendezvous) and vice versa.
        st.notify(
            match side {
                Side::Recv => Side::Send,
                Side::Send => Side::Recv,
            },
            &mut wakes,
        );
        let ready = match side {
            Side::Recv => st.recv_ready(Some(waiter)),
            Side::Send => st.send_ready(self.cap, Some(waiter)),
        };
        drop(st);
        wakes.wake();
        (entry, ready)
    }

    /// What a select woken through `entry` was handed; `None`: start over.
    pub(crate) fn accept(queued: &mut Queued<'_, T>) -> Option<Token<T>> {
        let deferred = queued.entry.is_deferred();
        // The grant only: a message stays in the entry (`token.rs`).
        match queued.take_grant_only() {
            Grant::Done if !deferred => Some(Token::Filled(queued.entry.clone())),
            Grant::Disconnected if !deferred => Some(Token::RecvDisconnected),
            Grant::Disconnected => Some(Token::SendDisconnected),
            Grant::Reserved => Some(Token::Reserved),
            Grant::Partner(r) => Some(Token::ToPartner(r)),
            Grant::Retry => None,
            _ => unreachable!("a published select entry holds a grant"),
        }
    }

    /// Adds a `Select::ready` watcher; reports readiness under the same lock.
    pub(crate) fn watch(&self, side: Side, waiter: &Arc<Waiter>, op: usize) -> bool {
        let mut st = self.state.lock();
        st.watchers.push(Watcher {
            waiter: waiter.clone(),
            op,
            side,
        });
        match side {
            Side::Recv => st.recv_ready(None),
            Side::Send => st.send_ready(self.cap, None),
        }
    }

    /// Removes every watcher of `waiter`.
    pub(crate) fn unwatch(&self, waiter: &Arc<Waiter>) {
        self.state
            .lock()
            .watchers
            .retain(|w| !Arc::ptr_eq(&w.waiter, waiter));
    }

    /// Releases a grant its owner will not consume.
    fn release_grant(&self, grant: Grant<T>, msg: Option<T>) {
        match grant {
            Grant::Partner(r) => r.retry(),
            Grant::Reserved => self.release_reservation(),
            _ => {}
        }
        drop(msg); // C4
    }

    fn remove(&self, side: Side, entry: &Arc<Entry<T>>) {
        let mut st = self.state.lock();
        let q = st.queue(side);
        if let Some(i) = q.iter().position(|w| w.is_entry(entry)) {
            q.remove(i);
        }
    }
}

impl<T> State<T> {
    /// A select's receive arm: promises itself a buffered message (C6), or
    /// commits to a waiting sender, which fills an entry for it.
    fn reserve_recv(&mut self, wakes: &mut Wakes) -> Option<Token<T>> {
        if self.has_unpromised() {
            self.promised += 1;
            return Some(Token::Promised);
        }
        while let Some(w) = self.senders.pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    let (entry, wake) = unsafe { s.claim() }.fill_request_publish();
                    wakes.push(wake);
                    return Some(Token::FromPartner(entry));
                }
                Waiting::Select(e) => {
                    if !e.try_claim() {
                        continue;
                    }
                    // A select's send arm: it supplies the message once its
                    // select returns.
                    let r = Entry::partner_recv();
                    let granted = e.grant(Grant::Partner(r.clone())).is_ok();
                    wakes.push(e.publish_deferring_wake());
                    if granted {
                        return Some(Token::FromPartner(r));
                    }
                }
            }
        }
        self.tx_gone.then_some(Token::RecvDisconnected)
    }

    /// A select's send arm: commits to a waiting receiver or reserves room.
    fn reserve_send(&mut self, cap: Option<usize>) -> Option<Token<T>> {
        if self.rx_gone {
            return Some(Token::SendDisconnected);
        }
        while let Some(w) = self.receivers.pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // The message comes after the select returns, which
                    // cannot happen within this critical section: move the
                    // receiver onto a heap entry (entry.rs).
                    // SAFETY: popped under the lock, published within it (C5).
                    return Some(Token::ToPartner(unsafe { s.claim() }.partner_publish()));
                }
                Waiting::Select(e) => {
                    if e.try_claim() {
                        // Stays claimed, unpublished, until the message comes.
                        return Some(Token::ToPartner(e));
                    }
                }
            }
        }
        match cap {
            None => Some(Token::Unbounded),
            Some(_) if self.has_room(cap) => {
                self.reserved += 1;
                Some(Token::Reserved)
            }
            Some(_) => None,
        }
    }
}

/// The owner's side of a plain operation waiting in a [`Slot`] on its stack:
/// waits, and on every way out — published, withdrawn at the deadline, or
/// unwound while parked (runtime shutdown) — leaves nobody else referring to
/// the slot (C5) before the frame that holds it ends.
struct SlotGuard<'a, T> {
    chan: &'a Chan<T>,
    slot: &'a Slot<T>,
    side: Side,
}

impl<'a, T> SlotGuard<'a, T> {
    fn new(chan: &'a Chan<T>, slot: &'a Slot<T>, side: Side) -> Self {
        SlotGuard { chan, slot, side }
    }

    /// Waits until a claimer publishes the slot or `deadline` passes;
    /// returns what it was handed and the message it holds
    /// (`Handed::Pending` with a send's own message: timed out). Without a
    /// deadline, no clock is read.
    #[inline(always)]
    fn wait(self, deadline: Option<Instant>, reason: WaitReason) -> (Handed<T>, Option<T>) {
        let slot = self.settle(deadline, reason);
        // SAFETY: `settle`: nobody else can reach the slot.
        unsafe { slot.take() }
    }

    /// [`wait`](Self::wait), the message into a box (`big.rs`).
    pub(super) fn wait_boxed(
        self,
        deadline: Option<Instant>,
        reason: WaitReason,
    ) -> (Handed<T>, Option<Box<T>>) {
        let slot = self.settle(deadline, reason);
        // SAFETY: `settle`: nobody else can reach the slot.
        unsafe { slot.take_boxed() }
    }

    /// Waits until the slot is published, or withdrawn at the deadline;
    /// then the owner is the only one who can reach it.
    #[inline(always)]
    fn settle(self, deadline: Option<Instant>, reason: WaitReason) -> &'a Slot<T> {
        while !self.slot.is_published() {
            match deadline {
                None => park::park(reason),
                Some(d) => {
                    if park::park_until(d, reason) && self.chan.withdraw(self.side, self.slot) {
                        break;
                    }
                }
            }
        }
        let slot = self.slot;
        std::mem::forget(self);
        slot
    }
}

impl<T> Drop for SlotGuard<'_, T> {
    /// Only reached when `wait` did not return: the owner is unwound while
    /// parked (shutdown cancels its green thread) or `park` panicked.
    fn drop(&mut self) {
        if !self.slot.is_published() {
            self.chan.withdraw(self.side, self.slot);
        }
        // SAFETY: as in `wait`. C4: a message handed to a thread that is
        // gone is dropped (in place: it may be big) outside the lock.
        let handed = unsafe { self.slot.take_dropping_msg() };
        match handed {
            // A select's send arm will fill `r`; tell it we are gone.
            Handed::Partner(r) => r.abandon_dropping_message(),
            // A select's receive arm waits for us to fill `r`: let it
            // receive the ordinary way instead.
            Handed::Fill(r) => r.retry(),
            _ => {}
        }
    }
}

/// An entry this thread waits on, and its clean-up.
///
/// Dropping it — after a normal wake, a timeout, or while a green thread is
/// unwound at shutdown — leaves the channel consistent: an unclaimed entry
/// is aborted and taken out of its queue; a claimed one is out of the queue
/// already (C2) and whatever was handed over but not consumed is released.
pub(crate) struct Queued<'c, T> {
    chan: &'c Chan<T>,
    pub(crate) entry: Arc<Entry<T>>,
    side: Option<Side>,
    /// The owner is a select, which must not drop a message left in the
    /// entry (`select.rs`, "Send and Sync"): it leaks it instead.
    select: bool,
    /// The owner consumed the grant: nothing left to clean up.
    consumed: bool,
}

impl<'c, T> Queued<'c, T> {
    /// `side`: the queue the entry sits in (`None`: in none, e.g. a partner
    /// receive); `select`: the owner is a select (see the field).
    pub(crate) fn new(
        chan: &'c Chan<T>,
        entry: Arc<Entry<T>>,
        side: Option<Side>,
        select: bool,
    ) -> Self {
        Queued {
            chan,
            entry,
            side,
            select,
            consumed: false,
        }
    }

    /// After a wake: takes what was handed over. The entry was claimed, so
    /// it is out of its queue (C2) and dropping `self` has nothing to do.
    pub(crate) fn take_grant(&mut self) -> (Grant<T>, Option<T>) {
        self.consumed = true;
        self.entry.take_grant()
    }

    /// Like [`take_grant`](Self::take_grant), leaving a message in the
    /// entry (a select: `token.rs`).
    pub(crate) fn take_grant_only(&mut self) -> Grant<T> {
        self.consumed = true;
        self.entry.take_grant_only()
    }
}

impl<T> Drop for Queued<'_, T> {
    fn drop(&mut self) {
        if !self.consumed {
            self.abandon();
        }
    }
}

impl<T> Queued<'_, T> {
    /// The owner leaves without consuming the grant. Out of line: it may
    /// hold a message, which would otherwise enlarge the frame of every
    /// wait (`big.rs`).
    #[cold]
    #[inline(never)]
    fn abandon(&mut self) {
        let w = self.entry.waiter();
        // Still waiting only when unwinding: withdraw first so that nobody
        // claims the entry after we take it out of the queue.
        w.try_abort();
        if w.claimed_op() == Some(self.entry.op()) {
            if self.select {
                if let Some(grant) = self.entry.abandon_leaking_message() {
                    self.chan.release_grant(grant, None);
                }
            } else if let Some((grant, msg)) = self.entry.abandon() {
                self.chan.release_grant(grant, msg);
            }
        } else if let Some(side) = self.side {
            self.chan.remove(side, &self.entry);
        }
    }
}

//! `Chan<T>`: the state every flavour of channel shares, and its algorithms.
//!
//! One `parking_lot` mutex guards a buffer, the queues of waiting senders
//! and receivers, the select watchers and the disconnection flags. The lock
//! is held only for a few pointer moves and is never held across a park
//! (waking happens after it is released), so a plain OS-level mutex is the
//! right tool even though green threads contend for it (Go's runtime uses a
//! futex-based lock for its channels for the same reason).
//!
//! Invariants, relied on below:
//!
//! * **C1 — hand-off before buffering.** A live waiting receiver exists only
//!   while the buffer is empty: a sender hands its message straight to the
//!   first live receiver, and buffers only when there is none. So FIFO order
//!   holds across buffered and handed-off messages.
//! * **C2 — a claimed entry is out of its queue.** Wakers pop an entry before
//!   claiming it; so an owner whose entry was claimed never needs the channel
//!   lock again (the woken receiver of a rendezvous gets the value without a
//!   second trip through this lock).
//! * **C3 — room is `cap - len - reserved`.** A select that chose a send arm
//!   on a bounded channel reserves a slot until it supplies the message.
//! * **C4 — user values are never dropped under the lock** (their `Drop` may
//!   use this very channel).
//!
//! Capacity `None` is unbounded; `Some(0)` is a rendezvous channel, where
//! every message goes from a sender's hands to a receiver's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::entry::{Entry, Grant, WaiterRef};
use super::error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
use super::token::Token;
use crate::sched::WaitReason;
use crate::sync::waiter::Waiter;

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
    reserved: usize,
    senders: VecDeque<Arc<Entry<T>>>,
    receivers: VecDeque<Arc<Entry<T>>>,
    watchers: Vec<Watcher>,
    /// Every `Sender` is gone.
    tx_gone: bool,
    /// Every `Receiver` is gone.
    rx_gone: bool,
}

/// The shared state of one channel.
pub(crate) struct Chan<T> {
    state: Mutex<State<T>>,
    cap: Option<usize>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

/// The outcome of a send that does not wait.
enum SendNow<T> {
    /// Done; publish this receiver (after unlocking) if any.
    Sent(Option<Arc<Entry<T>>>),
    Full(T),
    Disconnected(T),
}

/// The outcome of a receive that does not wait.
enum RecvNow<T> {
    /// A message; publish this sender (after unlocking) if any.
    Msg(T, Option<Arc<Entry<T>>>),
    /// A select's send arm was claimed: publish `.1`, then wait on `.0`
    /// for the message it supplies.
    Partner(Arc<Entry<T>>, Arc<Entry<T>>),
    Empty,
    Disconnected,
}

impl<T> State<T> {
    fn has_room(&self, cap: Option<usize>) -> bool {
        cap.map_or(true, |c| self.buf.len() + self.reserved < c)
    }

    /// Wakes the watchers of `side` (something on that side became ready)
    /// and forgets dead ones.
    fn notify(&mut self, side: Side) {
        if self.watchers.is_empty() {
            return;
        }
        self.watchers.retain(|w| {
            if w.side == side {
                w.waiter.try_wake(w.op);
                false
            } else {
                w.waiter.is_waiting()
            }
        });
    }

    /// Hands `msg` to the first live waiting receiver (C1). Dead entries met
    /// on the way (aborted, or a select that completed elsewhere) are
    /// dropped; their owners still hold them, so this frees nothing (C4).
    fn give_to_receiver(&mut self, mut msg: T) -> Result<Arc<Entry<T>>, T> {
        while let Some(e) = self.receivers.pop_front() {
            if !e.try_claim() {
                continue;
            }
            match e.fill(msg) {
                Ok(()) => return Ok(e),
                Err(m) => {
                    // Claimed but abandoned by an owner being unwound: let
                    // it go and try the next receiver.
                    e.publish();
                    msg = m;
                }
            }
        }
        Err(msg)
    }

    /// Room was just freed: move the first waiting sender's message into the
    /// buffer, or reserve the slot for a select's send arm. Returns the entry
    /// to publish after unlocking.
    fn refill(&mut self, cap: Option<usize>) -> Option<Arc<Entry<T>>> {
        while self.has_room(cap) {
            let Some(e) = self.senders.pop_front() else {
                break;
            };
            if !e.try_claim() {
                continue;
            }
            if e.is_deferred() {
                if e.grant(Grant::Reserved).is_ok() {
                    self.reserved += 1;
                    return Some(e);
                }
                e.publish();
            } else {
                self.buf.push_back(e.take_sent());
                return Some(e);
            }
        }
        self.notify(Side::Send);
        None
    }

    /// With an empty buffer: take a message straight from a waiting sender.
    fn take_from_sender(&mut self) -> Option<RecvNow<T>> {
        while let Some(e) = self.senders.pop_front() {
            if !e.try_claim() {
                continue;
            }
            if !e.is_deferred() {
                return Some(RecvNow::Msg(e.take_sent(), Some(e)));
            }
            // A select's send arm: it supplies the message once its select
            // returns. Give it a claimed receive entry to fill.
            let r = Entry::partner_recv();
            match e.grant(Grant::Partner(r.clone())) {
                Ok(()) => return Some(RecvNow::Partner(r, e)),
                Err(_) => e.publish(),
            }
        }
        None
    }

    fn send_now(&mut self, cap: Option<usize>, msg: T) -> SendNow<T> {
        if self.rx_gone {
            return SendNow::Disconnected(msg);
        }
        let msg = match self.give_to_receiver(msg) {
            Ok(e) => return SendNow::Sent(Some(e)),
            Err(m) => m,
        };
        if self.has_room(cap) {
            self.buf.push_back(msg);
            self.notify(Side::Recv);
            return SendNow::Sent(None);
        }
        SendNow::Full(msg)
    }

    fn recv_now(&mut self, cap: Option<usize>) -> RecvNow<T> {
        if let Some(msg) = self.buf.pop_front() {
            let wake = self.refill(cap);
            return RecvNow::Msg(msg, wake);
        }
        if let Some(r) = self.take_from_sender() {
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
        !self.buf.is_empty()
            || self.tx_gone
            || self.senders.iter().any(|e| match me {
                Some(me) => e.is_live_for(me),
                None => e.waiter().is_waiting(),
            })
    }

    /// Would a send complete now?
    fn send_ready(&self, cap: Option<usize>, me: Option<&Arc<Waiter>>) -> bool {
        self.rx_gone
            || self.has_room(cap)
            || self.receivers.iter().any(|e| match me {
                Some(me) => e.is_live_for(me),
                None => e.waiter().is_waiting(),
            })
    }

    fn queue(&mut self, side: Side) -> &mut VecDeque<Arc<Entry<T>>> {
        match side {
            Side::Send => &mut self.senders,
            Side::Recv => &mut self.receivers,
        }
    }
}

fn publish<T>(wake: Option<Arc<Entry<T>>>) {
    if let Some(e) = wake {
        e.publish();
    }
}

fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver counted.
    pub(crate) fn new(cap: Option<usize>) -> Arc<Self> {
        Arc::new(Chan {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                reserved: 0,
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
        self.state.lock().buf.len()
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
        if self.senders.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let waiting = {
            let mut st = self.state.lock();
            st.tx_gone = true;
            st.notify(Side::Recv);
            std::mem::take(&mut st.receivers)
        };
        for e in waiting {
            if e.try_claim() {
                let _ = e.grant(Grant::Disconnected);
                e.publish();
            }
        }
    }

    /// The last receiver is gone: buffered messages are dropped and waiting
    /// senders fail, getting their messages back.
    pub(crate) fn drop_receiver(&self) {
        if self.receivers.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let (waiting, buffered) = {
            let mut st = self.state.lock();
            st.rx_gone = true;
            st.notify(Side::Send);
            (std::mem::take(&mut st.senders), std::mem::take(&mut st.buf))
        };
        for e in waiting {
            if e.try_claim() {
                let _ = e.grant(Grant::Disconnected);
                e.publish();
            }
        }
        drop(buffered); // C4: outside the lock
    }

    // ------------------------------------------------------ plain send

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let mut st = self.state.lock();
        match st.send_now(self.cap, msg) {
            SendNow::Sent(wake) => {
                drop(st);
                publish(wake);
                Ok(())
            }
            SendNow::Full(m) => Err(TrySendError::Full(m)),
            SendNow::Disconnected(m) => Err(TrySendError::Disconnected(m)),
        }
    }

    /// Sends, waiting for room (or a receiver) until `deadline` (`None`:
    /// no limit).
    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut st = self.state.lock();
        let msg = match st.send_now(self.cap, msg) {
            SendNow::Sent(wake) => {
                drop(st);
                publish(wake);
                return Ok(());
            }
            SendNow::Disconnected(m) => return Err(SendTimeoutError::Disconnected(m)),
            SendNow::Full(m) => m,
        };
        if passed(deadline) {
            return Err(SendTimeoutError::Timeout(msg));
        }
        let entry = Entry::send(WaiterRef::Own(Waiter::new()), msg);
        st.senders.push_back(entry.clone());
        st.notify(Side::Recv);
        drop(st);

        let mut queued = Queued::new(self, entry, Some(Side::Send));
        let woken = queued
            .entry
            .waiter()
            .wait_until(deadline, WaitReason::ChanSend);
        match woken {
            None => {
                // Aborted: nobody can claim the entry any more.
                let msg = queued
                    .entry
                    .take_msg()
                    .expect("unclaimed send keeps its message");
                Err(SendTimeoutError::Timeout(msg))
            }
            Some(_) => match queued.take_grant() {
                (Grant::Done, _) => Ok(()),
                (Grant::Disconnected, Some(m)) => Err(SendTimeoutError::Disconnected(m)),
                _ => unreachable!("a plain send is granted Done or Disconnected"),
            },
        }
    }

    /// Delivers `msg` for a select that chose a send arm: into the reserved
    /// slot (`reserved`), or onto an unbounded channel.
    pub(crate) fn send_selected(&self, msg: T, reserved: bool) -> Result<(), SendError<T>> {
        let mut st = self.state.lock();
        if reserved {
            st.reserved -= 1;
        }
        if st.rx_gone {
            return Err(SendError(msg));
        }
        let (first, second) = match st.give_to_receiver(msg) {
            // The reserved slot went unused: let a waiting sender have it.
            Ok(e) => (Some(e), if reserved { st.refill(self.cap) } else { None }),
            Err(m) => {
                st.buf.push_back(m);
                st.notify(Side::Recv);
                (None, None)
            }
        };
        drop(st);
        publish(first);
        publish(second);
        Ok(())
    }

    /// Gives back a slot reserved by a select that never sent.
    pub(crate) fn release_reservation(&self) {
        let mut st = self.state.lock();
        st.reserved -= 1;
        let wake = st.refill(self.cap);
        drop(st);
        publish(wake);
    }

    // --------------------------------------------------- plain receive

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.state.lock();
        match st.recv_now(self.cap) {
            RecvNow::Msg(m, wake) => {
                drop(st);
                publish(wake);
                Ok(m)
            }
            RecvNow::Partner(r, e) => {
                drop(st);
                e.publish();
                match self.wait_partner(r) {
                    Some(m) => Ok(m),
                    // The partner withdrew: report what is true now.
                    None => self.try_recv(),
                }
            }
            RecvNow::Empty => Err(TryRecvError::Empty),
            RecvNow::Disconnected => Err(TryRecvError::Disconnected),
        }
    }

    /// Receives, waiting until `deadline` (`None`: no limit).
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut st = self.state.lock();
            match st.recv_now(self.cap) {
                RecvNow::Msg(m, wake) => {
                    drop(st);
                    publish(wake);
                    return Ok(m);
                }
                RecvNow::Partner(r, e) => {
                    drop(st);
                    e.publish();
                    match self.wait_partner(r) {
                        Some(m) => return Ok(m),
                        None => continue,
                    }
                }
                RecvNow::Disconnected => return Err(RecvTimeoutError::Disconnected),
                RecvNow::Empty => {}
            }
            if passed(deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
            let entry = Entry::recv(WaiterRef::Own(Waiter::new()), 0);
            st.receivers.push_back(entry.clone());
            st.notify(Side::Send);
            drop(st);

            let mut queued = Queued::new(self, entry, Some(Side::Recv));
            let woken = queued
                .entry
                .waiter()
                .wait_until(deadline, WaitReason::ChanRecv);
            if woken.is_none() {
                return Err(RecvTimeoutError::Timeout);
            }
            match queued.take_grant() {
                (Grant::Done, Some(m)) => return Ok(m),
                (Grant::Disconnected, _) => return Err(RecvTimeoutError::Disconnected),
                (Grant::Retry, _) => continue,
                _ => unreachable!("a plain receive is granted a message, Disconnected or Retry"),
            }
        }
    }

    /// Waits for a select's send arm to fill `r`; `None` if it withdrew.
    pub(crate) fn wait_partner(&self, r: Arc<Entry<T>>) -> Option<T> {
        let mut queued = Queued::new(self, r, None);
        queued.entry.waiter().wait(WaitReason::ChanRecv);
        match queued.take_grant() {
            (Grant::Done, Some(m)) => Some(m),
            _ => None,
        }
    }

    // ---------------------------------------------------------- select

    /// Performs (receive) or reserves (send) the operation if it can proceed
    /// without waiting.
    pub(crate) fn select_now(self: &Arc<Self>, side: Side) -> Option<Token<T>> {
        let mut st = self.state.lock();
        match side {
            Side::Recv => match st.recv_now(self.cap) {
                RecvNow::Msg(m, wake) => {
                    drop(st);
                    publish(wake);
                    Some(Token::Msg(m))
                }
                RecvNow::Partner(r, e) => {
                    drop(st);
                    e.publish();
                    Some(Token::FromPartner(r))
                }
                RecvNow::Disconnected => Some(Token::RecvDisconnected),
                RecvNow::Empty => None,
            },
            Side::Send => {
                if st.rx_gone {
                    return Some(Token::SendDisconnected);
                }
                while let Some(e) = st.receivers.pop_front() {
                    if e.try_claim() {
                        // Stays claimed, unpublished, until the message comes.
                        return Some(Token::ToPartner(e));
                    }
                }
                match self.cap {
                    None => Some(Token::Unbounded),
                    Some(_) if st.has_room(self.cap) => {
                        st.reserved += 1;
                        Some(Token::Reserved)
                    }
                    Some(_) => None,
                }
            }
        }
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
        let mut st = self.state.lock();
        let entry = match side {
            Side::Recv => Entry::recv(WaiterRef::Shared(waiter.clone()), op),
            Side::Send => Entry::deferred_send(waiter.clone(), op),
        };
        st.queue(side).push_back(entry.clone());
        // A waiting receiver makes sends ready (rendezvous) and vice versa.
        st.notify(match side {
            Side::Recv => Side::Send,
            Side::Send => Side::Recv,
        });
        let ready = match side {
            Side::Recv => st.recv_ready(Some(waiter)),
            Side::Send => st.send_ready(self.cap, Some(waiter)),
        };
        (entry, ready)
    }

    /// What a select woken through `entry` was handed; `None`: start over.
    pub(crate) fn accept(queued: &mut Queued<'_, T>) -> Option<Token<T>> {
        let deferred = queued.entry.is_deferred();
        match queued.take_grant() {
            (Grant::Done, Some(m)) => Some(Token::Msg(m)),
            (Grant::Disconnected, _) if !deferred => Some(Token::RecvDisconnected),
            (Grant::Disconnected, _) => Some(Token::SendDisconnected),
            (Grant::Reserved, _) => Some(Token::Reserved),
            (Grant::Partner(r), _) => Some(Token::ToPartner(r)),
            (Grant::Retry, _) => None,
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
        if let Some(i) = q.iter().position(|e| Arc::ptr_eq(e, entry)) {
            q.remove(i);
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
    /// The owner consumed the grant: nothing left to clean up.
    consumed: bool,
}

impl<'c, T> Queued<'c, T> {
    /// `side`: the queue the entry sits in (`None`: in none, e.g. a partner
    /// receive).
    pub(crate) fn new(chan: &'c Chan<T>, entry: Arc<Entry<T>>, side: Option<Side>) -> Self {
        Queued {
            chan,
            entry,
            side,
            consumed: false,
        }
    }

    /// After a wake: takes what was handed over. The entry was claimed, so
    /// it is out of its queue (C2) and dropping `self` has nothing to do.
    pub(crate) fn take_grant(&mut self) -> (Grant<T>, Option<T>) {
        self.consumed = true;
        self.entry.take_grant()
    }
}

impl<T> Drop for Queued<'_, T> {
    fn drop(&mut self) {
        if self.consumed {
            return;
        }
        let w = self.entry.waiter();
        // Still waiting only when unwinding: withdraw first so that nobody
        // claims the entry after we take it out of the queue.
        w.try_abort();
        if w.claimed_op() == Some(self.entry.op()) {
            if let Some((grant, msg)) = self.entry.abandon() {
                self.chan.release_grant(grant, msg);
            }
        } else if let Some(side) = self.side {
            self.chan.remove(side, &self.entry);
        }
    }
}

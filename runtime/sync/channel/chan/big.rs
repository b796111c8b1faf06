//! Big messages: every operation on a channel whose message type is larger
//! than [`BIG_MESSAGE`] takes this path, where the message travels boxed.
//!
//! Why: a message moved by value through the channel's layers gets a stack
//! slot in every frame it passes through (and more where fast paths are
//! inlined into one another), which for a 32 KiB message added up to more
//! than half a megabyte — enough to overflow a green thread's stack. Here
//! the public operation boxes the message once (a send) or unboxes it once
//! into its return value (a receive); in between only the `Box` moves, and
//! the message itself is copied between heap memory and the buffer or a
//! waiting operation's cell by pointer. A waiting plain operation's
//! [`Slot`] lives in a heap box too (same protocol, C5: only its address
//! matters). What is left on the stack is the caller's own copy and at most
//! one temporary in an out-of-line leaf (`push_boxed`, `Entry::fill_boxed`),
//! which the documentation of `greenrt::sync` states as the bound.
//!
//! The choice is made at compile time from `size_of::<T>()`, so the small
//! message paths in `chan.rs` are unchanged. The invariants are those of
//! `chan.rs`; the functions mirror their by-value counterparts there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::{passed, Chan, Side, SlotGuard, State, Wakes};
use crate::sched::WaitReason;
use crate::sync::channel::entry::{box_from, Entry, Grant, Handed, Slot, SlotRef, Waiting};
use crate::sync::channel::error::{
    RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

/// Messages larger than this many bytes take the boxed path.
pub(crate) const BIG_MESSAGE: usize = 1024;

/// Does a `T` take the boxed path? (A constant: each caller keeps one
/// branch.)
#[inline(always)]
pub(crate) const fn is_big<T>() -> bool {
    std::mem::size_of::<T>() > BIG_MESSAGE
}

/// Appends a boxed message to the buffer. Out of line, so that a temporary
/// copy (if the compiler makes one) is in no caller's frame. (Boxed on
/// purpose: the message arrives boxed, and is unboxed only here.)
#[inline(never)]
#[allow(clippy::boxed_local)]
fn push_boxed<T>(buf: &mut VecDeque<T>, msg: Box<T>) {
    buf.push_back(*msg);
}

/// Takes the front message of `buf` into a box (dropping a channel's
/// buffer, `drop_messages`).
#[inline(never)]
pub(super) fn pop_front_boxed<T>(buf: &mut VecDeque<T>) -> Option<Box<T>> {
    let msg: *const T = buf.front()?;
    // SAFETY: `msg` is initialised; it is moved into the box, then removed
    // from the buffer without being dropped (`forget`).
    let b = unsafe { box_from(msg) };
    std::mem::forget(buf.pop_front());
    Some(b)
}

/// A receive that did not wait.
enum RecvNow<T> {
    Msg(Box<T>),
    /// A select's send arm was claimed: wait on this entry for its message.
    Partner(Arc<Entry<T>>),
    Empty,
    Disconnected,
}

impl<T> State<T> {
    /// Takes buffered message `at` into a box: the first unpromised one
    /// (C6) for a plain receive, the front one for a promised receive.
    #[inline(never)]
    fn take_buffered_boxed(&mut self, at: usize) -> Box<T> {
        let msg: *const T = &self.buf[at];
        // SAFETY: `msg` is initialised; it is moved into the box, and then
        // removed from the buffer without being dropped (`forget`).
        let b = unsafe { box_from(msg) };
        std::mem::forget(self.buf.remove(at));
        b
    }

    /// `give_to_receiver` with a boxed message.
    fn give_to_receiver_boxed(&mut self, mut msg: Box<T>, wakes: &mut Wakes) -> Result<(), Box<T>> {
        while let Some(w) = self.receivers.pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    wakes.push(unsafe { s.claim() }.fill_boxed_publish(msg));
                    return Ok(());
                }
                Waiting::Select(e) => {
                    if !e.try_claim() {
                        continue;
                    }
                    let filled = e.fill_boxed(msg);
                    wakes.push(e.publish_deferring_wake());
                    match filled {
                        Ok(()) => return Ok(()),
                        Err(m) => msg = m,
                    }
                }
            }
        }
        Err(msg)
    }

    /// `refill` moving a waiting sender's message boxed.
    fn refill_boxed(&mut self, cap: Option<usize>, wakes: &mut Wakes) {
        while self.has_room(cap) {
            let Some(w) = self.senders.pop_front() else {
                break;
            };
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    let (msg, wake) = unsafe { s.claim() }.take_boxed_publish();
                    push_boxed(&mut self.buf, msg);
                    wakes.push(wake);
                    return;
                }
                Waiting::Select(e) => {
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

    /// `recv_now` with the message boxed.
    fn recv_now_boxed(&mut self, cap: Option<usize>, wakes: &mut Wakes) -> RecvNow<T> {
        if self.has_unpromised() {
            let msg = self.take_buffered_boxed(self.promised);
            self.refill_boxed(cap, wakes);
            return RecvNow::Msg(msg);
        }
        while let Some(w) = self.senders.pop_front() {
            match w {
                Waiting::Plain(s) => {
                    // SAFETY: popped under the lock, published within it (C5).
                    let (msg, wake) = unsafe { s.claim() }.take_boxed_publish();
                    wakes.push(wake);
                    return RecvNow::Msg(msg);
                }
                Waiting::Select(e) => {
                    if !e.try_claim() {
                        continue;
                    }
                    let r = Entry::partner_recv();
                    let granted = e.grant(Grant::Partner(r.clone())).is_ok();
                    wakes.push(e.publish_deferring_wake());
                    if granted {
                        return RecvNow::Partner(r);
                    }
                }
            }
        }
        if self.tx_gone {
            RecvNow::Disconnected
        } else {
            RecvNow::Empty
        }
    }
}

/// What a send that did not wait did.
enum SendNow<T> {
    Sent,
    Full(Box<T>),
    Disconnected(Box<T>),
}

impl<T> Chan<T> {
    fn send_now_boxed(&self, st: &mut State<T>, msg: Box<T>, wakes: &mut Wakes) -> SendNow<T> {
        if st.rx_gone {
            return SendNow::Disconnected(msg);
        }
        let msg = match st.give_to_receiver_boxed(msg, wakes) {
            Ok(()) => return SendNow::Sent,
            Err(m) => m,
        };
        if st.has_room(self.cap) {
            push_boxed(&mut st.buf, msg);
            st.notify(Side::Recv, wakes);
            return SendNow::Sent;
        }
        SendNow::Full(msg)
    }

    #[inline(never)]
    pub(crate) fn try_send_boxed(&self, msg: Box<T>) -> Result<(), TrySendError<Box<T>>> {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let now = self.send_now_boxed(&mut st, msg, &mut wakes);
        drop(st);
        wakes.wake();
        match now {
            SendNow::Sent => Ok(()),
            SendNow::Full(m) => Err(TrySendError::Full(m)),
            SendNow::Disconnected(m) => Err(TrySendError::Disconnected(m)),
        }
    }

    /// `send`, boxed: waits in a heap slot when there is neither room nor
    /// a receiver.
    #[inline(never)]
    pub(crate) fn send_boxed(
        &self,
        mut msg: Box<T>,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<Box<T>>> {
        loop {
            let mut wakes = Wakes::new();
            let mut st = self.state.lock();
            msg = match self.send_now_boxed(&mut st, msg, &mut wakes) {
                SendNow::Sent => {
                    drop(st);
                    wakes.wake();
                    return Ok(());
                }
                SendNow::Disconnected(m) => {
                    drop(st);
                    wakes.wake();
                    return Err(SendTimeoutError::Disconnected(m));
                }
                SendNow::Full(m) => m,
            };
            if passed(deadline) {
                drop(st);
                wakes.wake();
                return Err(SendTimeoutError::Timeout(msg));
            }
            let slot = Slot::new_boxed(Some(msg));
            st.senders.push_back(Waiting::Plain(SlotRef::new(&slot)));
            st.notify(Side::Recv, &mut wakes);
            drop(st);
            wakes.wake();
            let handed =
                SlotGuard::new(self, &slot, Side::Send).wait_boxed(deadline, WaitReason::ChanSend);
            msg = match handed {
                (Handed::Done, _) => return Ok(()),
                (Handed::Disconnected, Some(m)) => return Err(SendTimeoutError::Disconnected(m)),
                (Handed::Pending, Some(m)) => return Err(SendTimeoutError::Timeout(m)),
                // A select's receive arm committed to us: hand it the message.
                (Handed::Fill(r), Some(m)) => {
                    let filled = r.fill_boxed(m);
                    r.publish();
                    match filled {
                        Ok(()) => return Ok(()),
                        // It withdrew before we came: send the ordinary way.
                        Err(m) => m,
                    }
                }
                (Handed::Retry, Some(m)) => m,
                _ => unreachable!("a plain send is taken, disconnected or withdrawn"),
            };
        }
    }

    #[inline(never)]
    pub(crate) fn try_recv_boxed(&self) -> Result<Box<T>, TryRecvError> {
        loop {
            let mut wakes = Wakes::new();
            let mut st = self.state.lock();
            let now = st.recv_now_boxed(self.cap, &mut wakes);
            drop(st);
            wakes.wake();
            return match now {
                RecvNow::Msg(m) => Ok(m),
                RecvNow::Partner(r) => match self.wait_partner_boxed(r) {
                    Some(m) => Ok(m),
                    // The partner withdrew: report what is true now.
                    None => continue,
                },
                RecvNow::Empty => Err(TryRecvError::Empty),
                RecvNow::Disconnected => Err(TryRecvError::Disconnected),
            };
        }
    }

    /// `recv`, boxed: waits in a heap slot when nothing is there.
    #[inline(never)]
    pub(crate) fn recv_boxed(&self, deadline: Option<Instant>) -> Result<Box<T>, RecvTimeoutError> {
        loop {
            let mut wakes = Wakes::new();
            let mut st = self.state.lock();
            let partner = match st.recv_now_boxed(self.cap, &mut wakes) {
                RecvNow::Msg(m) => {
                    drop(st);
                    wakes.wake();
                    return Ok(m);
                }
                RecvNow::Disconnected => {
                    drop(st);
                    wakes.wake();
                    return Err(RecvTimeoutError::Disconnected);
                }
                RecvNow::Partner(r) => {
                    drop(st);
                    wakes.wake();
                    r
                }
                RecvNow::Empty => {
                    if passed(deadline) {
                        drop(st);
                        wakes.wake();
                        return Err(RecvTimeoutError::Timeout);
                    }
                    let slot = Slot::new_boxed(None);
                    st.receivers.push_back(Waiting::Plain(SlotRef::new(&slot)));
                    st.notify(Side::Send, &mut wakes);
                    drop(st);
                    wakes.wake();
                    let handed = SlotGuard::new(self, &slot, Side::Recv)
                        .wait_boxed(deadline, WaitReason::ChanRecv);
                    match handed {
                        (Handed::Done, Some(m)) => return Ok(m),
                        (Handed::Disconnected, _) => return Err(RecvTimeoutError::Disconnected),
                        (Handed::Pending, _) => return Err(RecvTimeoutError::Timeout),
                        (Handed::Partner(r), _) => r,
                        (Handed::Retry, _) => continue,
                        (Handed::Done, None) => unreachable!("a receive handed no message"),
                        (Handed::Fill(_), _) => unreachable!("a receive asked to fill"),
                    }
                }
            };
            // A select's send arm committed to us; it supplies the message.
            if let Some(m) = self.wait_partner_boxed(partner) {
                return Ok(m);
            }
        }
    }

    /// `wait_partner`, the message boxed.
    pub(crate) fn wait_partner_boxed(&self, r: Arc<Entry<T>>) -> Option<Box<T>> {
        let mut queued = super::Queued::new(self, r, None, false);
        queued.entry.waiter().wait(WaitReason::ChanRecv);
        queued.consumed = true;
        match queued.entry.take_grant_boxed() {
            (Grant::Done, Some(m)) => Some(m),
            _ => None,
        }
    }

    /// `send_selected`, boxed.
    #[inline(never)]
    pub(crate) fn send_selected_boxed(
        &self,
        msg: Box<T>,
        reserved: bool,
    ) -> Result<(), SendError<Box<T>>> {
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
        match st.give_to_receiver_boxed(msg, &mut wakes) {
            // The reserved slot went unused: let a waiting sender have it.
            Ok(()) => {
                if reserved {
                    st.refill_boxed(self.cap, &mut wakes);
                }
            }
            Err(m) => {
                push_boxed(&mut st.buf, m);
                st.notify(Side::Recv, &mut wakes);
            }
        }
        drop(st);
        wakes.wake();
        Ok(())
    }

    /// `recv_promised`, boxed.
    #[inline(never)]
    pub(crate) fn recv_promised_boxed(&self) -> Box<T> {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        st.promised -= 1;
        assert!(!st.buf.is_empty(), "a promised message is buffered");
        let msg = st.take_buffered_boxed(0);
        st.refill_boxed(self.cap, &mut wakes);
        drop(st);
        wakes.wake();
        msg
    }
}

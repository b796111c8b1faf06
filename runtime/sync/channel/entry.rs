//! `Entry`: one waiting operation in a channel's queue, and the packet
//! through which it receives what a waker hands over.
//!
//! A blocked `send`/`recv` puts one entry in one queue; a blocked `select`
//! puts one entry per operation, all sharing one [`Waiter`]. The waker that
//! claims the waiter (see `waiter.rs`) writes into the claimed entry's
//! packet — the message itself for a receiver (a direct hand-off: the woken
//! receiver never goes back through the channel lock), or a *grant* for a
//! select's send arm, whose message only exists once the select returns —
//! and then publishes.
//!
//! Entries are reference counted: a claimer may still hold one after the
//! owner has gone (a green thread unwound at shutdown), which is harmless.
//! An owner that gives up *after* being claimed but *before* the packet was
//! written marks it `abandoned`, and the claimer takes its hand-over
//! elsewhere; if the packet was already written the owner releases it. So a
//! message or a reservation is never silently lost, and nobody waits for a
//! party that is gone.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::sync::waiter::Waiter;

/// The waiter an entry belongs to: its own (plain send/recv), or one shared
/// by every operation of a select.
pub(crate) enum WaiterRef {
    Own(Waiter),
    Shared(Arc<Waiter>),
}

/// What a claimer handed to a claimed entry.
pub(crate) enum Grant<T> {
    /// Nothing written yet.
    Pending,
    /// Receive: the packet holds the message. Send: the message was taken.
    Done,
    /// The other side of the channel is gone.
    Disconnected,
    /// A select's send arm: a buffer slot is reserved for its message.
    Reserved,
    /// A select's send arm: this claimed receiver takes its message.
    Partner(Arc<Entry<T>>),
    /// The counterpart withdrew: start the operation over.
    Retry,
    /// The owner consumed the grant.
    Taken,
}

struct Packet<T> {
    msg: Option<T>,
    grant: Grant<T>,
    abandoned: bool,
}

/// One waiting send or receive.
pub(crate) struct Entry<T> {
    waiter: WaiterRef,
    /// Index of this operation within its select (0 for plain operations).
    op: usize,
    /// A select send arm: the message is supplied after selection.
    deferred: bool,
    packet: Mutex<Packet<T>>,
}

impl<T> Entry<T> {
    fn with(waiter: WaiterRef, op: usize, deferred: bool, msg: Option<T>) -> Arc<Self> {
        Arc::new(Entry {
            waiter,
            op,
            deferred,
            packet: Mutex::new(Packet {
                msg,
                grant: Grant::Pending,
                abandoned: false,
            }),
        })
    }

    /// A waiting receive.
    pub(crate) fn recv(waiter: WaiterRef, op: usize) -> Arc<Self> {
        Self::with(waiter, op, false, None)
    }

    /// A waiting plain send holding its message.
    pub(crate) fn send(waiter: WaiterRef, msg: T) -> Arc<Self> {
        Self::with(waiter, 0, false, Some(msg))
    }

    /// A select's send arm (message supplied after selection).
    pub(crate) fn deferred_send(waiter: Arc<Waiter>, op: usize) -> Arc<Self> {
        Self::with(WaiterRef::Shared(waiter), op, true, None)
    }

    /// A receive that is already claimed and waits for one known partner
    /// (a select's send arm) to hand it the message.
    pub(crate) fn partner_recv() -> Arc<Self> {
        Self::recv(WaiterRef::Own(Waiter::new_claimed(0)), 0)
    }

    #[inline]
    pub(crate) fn waiter(&self) -> &Waiter {
        match &self.waiter {
            WaiterRef::Own(w) => w,
            WaiterRef::Shared(w) => w,
        }
    }

    #[inline]
    pub(crate) fn op(&self) -> usize {
        self.op
    }

    #[inline]
    pub(crate) fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// Still waiting, and not one of `me`'s own operations (a select never
    /// pairs with itself).
    pub(crate) fn is_live_for(&self, me: &Arc<Waiter>) -> bool {
        let mine = matches!(&self.waiter, WaiterRef::Shared(w) if Arc::ptr_eq(w, me));
        !mine && self.waiter().is_waiting()
    }

    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        self.waiter().try_claim(self.op)
    }

    #[inline]
    pub(crate) fn publish(&self) {
        self.waiter().publish();
    }

    /// Hands `msg` to this claimed receive. Gives it back if the owner
    /// abandoned the wait.
    pub(crate) fn fill(&self, msg: T) -> Result<(), T> {
        let mut p = self.packet.lock();
        if p.abandoned {
            return Err(msg);
        }
        p.msg = Some(msg);
        p.grant = Grant::Done;
        Ok(())
    }

    /// Writes `grant` into this claimed entry. Gives it back if the owner
    /// abandoned the wait.
    pub(crate) fn grant(&self, grant: Grant<T>) -> Result<(), Grant<T>> {
        let mut p = self.packet.lock();
        if p.abandoned {
            return Err(grant);
        }
        p.grant = grant;
        Ok(())
    }

    /// Takes the message of this claimed plain send (marking it sent). The
    /// message is taken even if the sender abandoned: it was already sent.
    pub(crate) fn take_sent(&self) -> T {
        let mut p = self.packet.lock();
        p.grant = Grant::Done;
        p.msg
            .take()
            .expect("a waiting plain send holds its message")
    }

    /// Sends a claimed partner receive back to the start (its select
    /// partner withdrew), and lets it run.
    pub(crate) fn retry(&self) {
        let _ = self.grant(Grant::Retry);
        self.publish();
    }

    /// The owner's view after `wait` returned: the grant and the message.
    pub(crate) fn take_grant(&self) -> (Grant<T>, Option<T>) {
        let mut p = self.packet.lock();
        let g = std::mem::replace(&mut p.grant, Grant::Taken);
        (g, p.msg.take())
    }

    /// The owner's message back, once nobody can claim the entry any more.
    pub(crate) fn take_msg(&self) -> Option<T> {
        self.packet.lock().msg.take()
    }

    /// The owner gives up a claimed entry without consuming it. Returns a
    /// grant (and message) it must release; or marks the entry abandoned if
    /// nothing was written yet, so the claimer releases it instead.
    pub(crate) fn abandon(&self) -> Option<(Grant<T>, Option<T>)> {
        let mut p = self.packet.lock();
        match p.grant {
            Grant::Pending => {
                p.abandoned = true;
                None
            }
            Grant::Taken => None,
            _ => {
                let g = std::mem::replace(&mut p.grant, Grant::Taken);
                Some((g, p.msg.take()))
            }
        }
    }
}

//! What waits in a channel's queues: plain operations in a [`Slot`] on their
//! owner's stack, a select's operations in a shared [`Entry`].
//!
//! **Plain `send`/`recv`** (no select) are the hot path — a rendezvous
//! ping-pong is nothing else — so they cost no allocation. The waiting
//! operation is a `Slot` in the owner's stack frame, and the queue holds a
//! raw pointer to it. That is sound because of one rule (C5 in `chan.rs`):
//! *others touch a slot only under the channel lock, and a slot is claimed,
//! written and published within one critical section.* The owner leaves in
//! one of two ways: it was published (then nobody refers to the slot any
//! more: the claimer popped it, C2, and moved the unparker out before the
//! publishing store, see `waiter.rs`), or it withdraws — aborts its waiter,
//! then takes the channel lock and removes the pointer if it is still
//! queued. After that lock, nobody else can know the slot. `SlotGuard` (`chan.rs`)
//! does this on every exit, including a green thread unwound at shutdown
//! while parked: a slot never has a claimed-but-unpublished state that the
//! owner would have to outwait, so no "abandoned" hand-over exists for it.
//! Popping the slot under the channel lock already gives the claimer
//! exclusive access to its cells, so the slot needs no lock of its own.
//!
//! Two claims cannot complete in a critical section, and both go through a
//! heap [`Entry`] that the slot is published with. A select's send arm
//! taking a waiting plain receiver (its message is only evaluated after the
//! select returns) publishes the slot with [`Handed::Partner`]: an entry to
//! which it moves the receiver's unparker, and which it fills later; the
//! receiver waits on that entry like any partner receive. A select's
//! receive arm taking a waiting plain sender must not touch the message
//! (a select never moves, reads or drops one: see `select.rs`, "Send and
//! Sync"), so it publishes the slot with [`Handed::Fill`]: the woken sender
//! moves its message into the entry itself, on its own thread, and the
//! select's `SelectedOperation::recv` takes it from there.
//!
//! **A select** puts one `Entry` per operation in the queues, all sharing
//! one [`Waiter`]. The waker that claims the waiter writes into the claimed
//! entry's packet — the message itself for a receiver (a direct hand-off:
//! the woken receiver never goes back through the channel lock), or a
//! *grant* for a select's send arm, whose message only exists once the
//! select returns — and then publishes.
//!
//! Entries are reference counted: a claimer may still hold one after the
//! owner has gone (a green thread unwound at shutdown), which is harmless.
//! An owner that gives up *after* being claimed but *before* the packet was
//! written marks it `abandoned`, and the claimer takes its hand-over
//! elsewhere; if the packet was already written the owner releases it. So a
//! message or a reservation is never silently lost, and nobody waits for a
//! party that is gone.

use std::cell::UnsafeCell;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ptr::{addr_of_mut, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::sched::park::Unparker;
use crate::sync::waiter::Waiter;

/// The waiter an entry belongs to: its own (a partner receive), or one
/// shared by every operation of a select.
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

/// What the packet lock guards besides the message cell.
struct Packet<T> {
    /// `Entry::msg` is initialised exactly while this is set.
    full: bool,
    grant: Grant<T>,
    abandoned: bool,
}

/// One operation of a select, or a partner receive (a receive that a
/// select's send arm committed to).
pub(crate) struct Entry<T> {
    waiter: WaiterRef,
    /// Index of this operation within its select (0 for plain operations).
    op: usize,
    /// A select send arm: the message is supplied after selection.
    deferred: bool,
    packet: Mutex<Packet<T>>,
    /// The message a claimer handed over; touched only under `packet`'s
    /// lock. Apart from it (not an `Option<T>` inside it) so that an entry
    /// is built, and a big message moved in and out, without a copy of the
    /// message on the stack (`chan/big.rs`).
    msg: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `msg` is accessed only under the `packet` lock, which is what
// makes sharing it sound; a `T` moves between threads through it, so `T:
// Send` is required, as for a `Mutex<T>`. The other fields are `Send` and
// `Sync` on their own.
unsafe impl<T: Send> Sync for Entry<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Drop for Entry<T> {
    fn drop(&mut self) {
        if self.packet.get_mut().full {
            // SAFETY: initialised while `full`; `&mut self` is exclusive.
            unsafe { self.msg.get_mut().assume_init_drop() }
        }
    }
}

impl<T> Entry<T> {
    fn with(waiter: WaiterRef, op: usize, deferred: bool) -> Arc<Self> {
        // (`Arc::new_uninit` is newer than the MSRV.)
        let mut entry = Arc::new(MaybeUninit::<Self>::uninit());
        let p = Arc::get_mut(&mut entry)
            .expect("a new Arc is unique")
            .as_mut_ptr();
        // SAFETY: `p` points to the new, unshared allocation; every field
        // but `msg` is written once before `assume_init`, and `msg` is a
        // `MaybeUninit`, initialised only while `full` (false here).
        unsafe {
            addr_of_mut!((*p).waiter).write(waiter);
            addr_of_mut!((*p).op).write(op);
            addr_of_mut!((*p).deferred).write(deferred);
            addr_of_mut!((*p).packet).write(Mutex::new(Packet {
                full: false,
                grant: Grant::Pending,
                abandoned: false,
            }));
            // `MaybeUninit<Self>` has the layout of `Self`, now initialised.
            Arc::from_raw(Arc::into_raw(entry).cast::<Self>())
        }
    }

    /// Puts a message into the empty cell by `write` (which initialises
    /// `*dst`); `p` is this entry's locked packet.
    fn put_msg(&self, p: &mut Packet<T>, write: impl FnOnce(*mut T)) {
        debug_assert!(std::ptr::eq(p, self.packet.data_ptr()));
        assert!(!p.full, "an entry holds one message");
        // SAFETY: we hold the packet lock (`p`), which guards the cell;
        // it is empty, so nothing is overwritten.
        write(unsafe { (*self.msg.get()).as_mut_ptr() });
        p.full = true;
    }

    /// Moves the message out, if any, by `out` (which takes ownership of
    /// `*src`); `p` is this entry's locked packet.
    fn take_msg_with<R>(&self, p: &mut Packet<T>, out: impl FnOnce(*const T) -> R) -> Option<R> {
        debug_assert!(std::ptr::eq(p, self.packet.data_ptr()));
        if !std::mem::replace(&mut p.full, false) {
            return None;
        }
        // SAFETY: we hold the packet lock (`p`), which guards the cell; it
        // was initialised (`full`), and clearing `full` hands it to `out`.
        Some(out(unsafe { (*self.msg.get()).as_ptr() }))
    }

    fn take_msg(&self, p: &mut Packet<T>) -> Option<T> {
        // SAFETY: `take_msg_with` hands over an initialised value once.
        self.take_msg_with(p, |src| unsafe { src.read() })
    }

    fn take_msg_boxed(&self, p: &mut Packet<T>) -> Option<Box<T>> {
        // SAFETY: as in `take_msg`.
        self.take_msg_with(p, |src| unsafe { box_from(src) })
    }

    /// A waiting receive.
    pub(crate) fn recv(waiter: WaiterRef, op: usize) -> Arc<Self> {
        Self::with(waiter, op, false)
    }

    /// A select's send arm (message supplied after selection).
    pub(crate) fn deferred_send(waiter: Arc<Waiter>, op: usize) -> Arc<Self> {
        Self::with(WaiterRef::Shared(waiter), op, true)
    }

    /// A receive that is already claimed and waits for one known partner
    /// (a select's send arm) to hand it the message.
    pub(crate) fn partner_recv() -> Arc<Self> {
        Self::partner_recv_for(Unparker::current())
    }

    /// Like [`partner_recv`](Self::partner_recv), for the owner `unparker`
    /// wakes (a plain receiver a select's send arm committed to).
    pub(crate) fn partner_recv_for(unparker: Unparker) -> Arc<Self> {
        Self::recv(WaiterRef::Own(Waiter::new_claimed(0, unparker)), 0)
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

    /// Publishes under the channel lock; wake the result after unlocking.
    #[inline]
    pub(crate) fn publish_deferring_wake(&self) -> Unparker {
        self.waiter().publish_deferring_wake()
    }

    /// The message a claimer filled in (`fill`), for the owner that
    /// accepted the grant without it.
    pub(crate) fn take_message(&self) -> Option<T> {
        self.take_msg(&mut self.packet.lock())
    }

    /// Hands `msg` to this claimed receive. Gives it back if the owner
    /// abandoned the wait.
    pub(crate) fn fill(&self, msg: T) -> Result<(), T> {
        let mut p = self.packet.lock();
        if p.abandoned {
            return Err(msg);
        }
        self.put_msg(&mut p, |dst| {
            // SAFETY: `put_msg` gives an empty cell to initialise.
            unsafe { dst.write(msg) }
        });
        p.grant = Grant::Done;
        Ok(())
    }

    /// [`fill`](Self::fill) with a boxed message, copied into the entry
    /// without passing through the stack (`chan/big.rs`).
    pub(crate) fn fill_boxed(&self, msg: Box<T>) -> Result<(), Box<T>> {
        let mut p = self.packet.lock();
        if p.abandoned {
            return Err(msg);
        }
        self.put_msg(&mut p, |dst| {
            // SAFETY: `put_msg` gives an empty cell to initialise.
            unsafe { unbox_into(msg, dst) }
        });
        p.grant = Grant::Done;
        Ok(())
    }

    /// [`take_message`](Self::take_message) into a box (`big.rs`).
    pub(crate) fn take_message_boxed(&self) -> Option<Box<T>> {
        self.take_msg_boxed(&mut self.packet.lock())
    }

    /// [`take_grant`](Self::take_grant), the message into a box
    /// (`big.rs`).
    pub(crate) fn take_grant_boxed(&self) -> (Grant<T>, Option<Box<T>>) {
        let mut p = self.packet.lock();
        let g = std::mem::replace(&mut p.grant, Grant::Taken);
        (g, self.take_msg_boxed(&mut p))
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
        (g, self.take_msg(&mut p))
    }

    /// Like [`take_grant`](Self::take_grant), leaving a message where it is
    /// (for [`take_message`](Self::take_message) on the completing thread).
    pub(crate) fn take_grant_only(&self) -> Grant<T> {
        std::mem::replace(&mut self.packet.lock().grant, Grant::Taken)
    }

    /// [`abandon`](Self::abandon) for a select, which must not touch a
    /// message (`select.rs`, "Send and Sync"): a message already handed over
    /// stays in the entry, and the entry is leaked, so nobody drops the
    /// message on this thread. Only reached when a select is unwound or its
    /// `SelectedOperation` is dropped uncompleted (a bug that panics).
    pub(crate) fn abandon_leaking_message(self: &Arc<Self>) -> Option<Grant<T>> {
        let mut p = self.packet.lock();
        let grant = match p.grant {
            Grant::Pending => {
                p.abandoned = true;
                return None;
            }
            _ => std::mem::replace(&mut p.grant, Grant::Taken),
        };
        if p.full {
            drop(p);
            std::mem::forget(Arc::clone(self));
        }
        Some(grant)
    }

    /// [`abandon`](Self::abandon) for an owner that is gone: what was
    /// handed over is dropped, the message in place (it may be big).
    pub(crate) fn abandon_dropping_message(&self) {
        let mut p = self.packet.lock();
        match p.grant {
            Grant::Pending => p.abandoned = true,
            Grant::Taken => {}
            _ => {
                let g = std::mem::replace(&mut p.grant, Grant::Taken);
                let full = std::mem::replace(&mut p.full, false);
                drop(p);
                drop(g);
                if full {
                    // SAFETY: initialised while `full`, which we cleared
                    // under the lock: nobody else reaches the message, and
                    // it is dropped once (C4: outside any lock).
                    unsafe { (*self.msg.get()).assume_init_drop() }
                }
            }
        }
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
                Some((g, self.take_msg(&mut p)))
            }
        }
    }
}

// ================================================================ plain ops

/// What a claimer handed to a plain [`Slot`].
pub(crate) enum Handed<T> {
    /// Nothing (the slot is waiting, or was withdrawn).
    Pending,
    /// Receive: the slot holds the message. Send: the message was taken.
    Done,
    /// The other side of the channel is gone (a send keeps its message).
    Disconnected,
    /// Receive: a select's send arm committed to this receiver and will fill
    /// this claimed entry (which wakes the same owner) later.
    Partner(Arc<Entry<T>>),
    /// Send: a select's receive arm committed to this sender; the sender
    /// moves its message into this claimed entry and publishes it (which
    /// wakes the select).
    Fill(Arc<Entry<T>>),
    /// Send or receive: a reservation this operation had to wait for was
    /// given back; start the operation over.
    Retry,
}

/// A plain send or receive waiting on its owner's stack (module docs).
///
/// Unlike a select's [`Waiter`], a slot needs no claim CAS: it has one
/// owner and sits in one queue, and every change of its state happens
/// under that channel's lock — a claimer pops and publishes it in one
/// critical section, and an owner that gives up removes it in one. A slot
/// in a queue is therefore always still waiting.
pub(crate) struct Slot<T> {
    published: AtomicBool,
    /// Present until published; then moved out by the publisher.
    unparker: UnsafeCell<ManuallyDrop<Unparker>>,
    /// Send: the message, until a claimer takes it. Receive: where a
    /// claimer puts the message. Initialised exactly while `full`; kept
    /// apart from the flag (not an `Option<T>`) so that a big message can
    /// be copied straight between the slot and a heap box (`big.rs`).
    msg: UnsafeCell<MaybeUninit<T>>,
    full: UnsafeCell<bool>,
    handed: UnsafeCell<Handed<T>>,
}

impl<T> Slot<T> {
    /// A slot for the calling G (or OS thread); `msg` for a send.
    #[inline]
    pub(crate) fn new(msg: Option<T>) -> Self {
        let full = msg.is_some();
        Slot {
            published: AtomicBool::new(false),
            unparker: UnsafeCell::new(ManuallyDrop::new(Unparker::current())),
            msg: UnsafeCell::new(match msg {
                Some(m) => MaybeUninit::new(m),
                None => MaybeUninit::uninit(),
            }),
            full: UnsafeCell::new(full),
            handed: UnsafeCell::new(Handed::Pending),
        }
    }

    /// Like [`new`](Self::new), on the heap and without the message ever
    /// being on the stack: `msg` is copied from its box into the slot.
    pub(crate) fn new_boxed(msg: Option<Box<T>>) -> Box<Self> {
        let mut slot = Box::new(MaybeUninit::<Self>::uninit());
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to the new allocation; every field is written
        // once before `assume_init`, except `msg`, which is a `MaybeUninit`
        // and initialised exactly when `full` says so.
        unsafe {
            addr_of_mut!((*p).published).write(AtomicBool::new(false));
            addr_of_mut!((*p).unparker)
                .write(UnsafeCell::new(ManuallyDrop::new(Unparker::current())));
            addr_of_mut!((*p).handed).write(UnsafeCell::new(Handed::Pending));
            let full = msg.is_some();
            if let Some(m) = msg {
                unbox_into(m, UnsafeCell::raw_get(addr_of_mut!((*p).msg)).cast());
            }
            addr_of_mut!((*p).full).write(UnsafeCell::new(full));
            box_assume_init(slot)
        }
    }

    /// True once a claimer published it; then the owner may read it.
    #[inline]
    pub(crate) fn is_published(&self) -> bool {
        self.published.load(Ordering::Acquire)
    }

    /// The owner, once nobody else can reach the slot: what was handed
    /// over, and the message (a receive's, or a send's own message if
    /// nobody took it).
    ///
    /// # Safety
    /// Only the owner may call this, and only after it saw the slot
    /// published, or removed it from its queue under the channel lock.
    #[inline]
    pub(crate) unsafe fn take(&self) -> (Handed<T>, Option<T>) {
        // SAFETY: per the contract, the owner has exclusive access to the
        // cells; publication (Release/Acquire), or the lock, made the
        // claimer's writes visible.
        unsafe { (self.take_handed(), self.take_msg()) }
    }

    /// [`take`](Self::take), with the message moved into a box without a
    /// copy on the stack (`big.rs`).
    ///
    /// # Safety
    /// As for [`take`](Self::take).
    pub(crate) unsafe fn take_boxed(&self) -> (Handed<T>, Option<Box<T>>) {
        // SAFETY: as in `take`.
        unsafe {
            let msg = self.take_msg_with(|src| box_from(src));
            (self.take_handed(), msg)
        }
    }

    /// [`take`](Self::take), dropping the message (if any) in place.
    ///
    /// # Safety
    /// As for [`take`](Self::take).
    pub(crate) unsafe fn take_dropping_msg(&self) -> Handed<T> {
        // SAFETY: as in `take`; the message is initialised while `full`,
        // and `full` is cleared before it is dropped, so it is dropped once
        // even if its `Drop` panics.
        unsafe {
            let handed = self.take_handed();
            self.take_msg_with(|src| std::ptr::drop_in_place(src.cast_mut()));
            handed
        }
    }

    /// # Safety
    /// The caller has exclusive access to the cells.
    #[inline]
    unsafe fn take_handed(&self) -> Handed<T> {
        // SAFETY: per the contract.
        unsafe { std::mem::replace(&mut *self.handed.get(), Handed::Pending) }
    }

    /// # Safety
    /// The caller has exclusive access to the cells.
    #[inline]
    unsafe fn take_msg(&self) -> Option<T> {
        // SAFETY: per the contract; the message is initialised while
        // `full`, and clearing `full` moves it out.
        unsafe { self.take_msg_with(|src| src.read()) }
    }

    /// Moves the message out, if any, by `out` (which must consume it).
    ///
    /// # Safety
    /// The caller has exclusive access to the cells.
    #[inline]
    unsafe fn take_msg_with<R>(&self, out: impl FnOnce(*const T) -> R) -> Option<R> {
        // SAFETY: per the contract; initialised while `full`.
        unsafe {
            if !std::mem::replace(&mut *self.full.get(), false) {
                return None;
            }
            Some(out((*self.msg.get()).as_ptr()))
        }
    }

    /// Writes the message by `write` (which must initialise `*dst`) into
    /// the empty cell.
    ///
    /// # Safety
    /// The caller has exclusive access to the cells.
    #[inline]
    unsafe fn put_msg(&self, write: impl FnOnce(*mut T)) {
        // SAFETY: per the contract; the cell is empty, so nothing is
        // overwritten, and `full` is set once it is initialised.
        unsafe {
            debug_assert!(!*self.full.get(), "a slot holds one message");
            write((*self.msg.get()).as_mut_ptr());
            *self.full.get() = true;
        }
    }

    /// Records what is handed over (into a still-`Pending` cell, so there
    /// is nothing to drop).
    ///
    /// # Safety
    /// As for [`publish`](Self::publish), before publishing.
    #[inline]
    unsafe fn hand(&self, handed: Handed<T>) {
        // SAFETY: per the contract we have exclusive access to the cell.
        unsafe {
            debug_assert!(matches!(*self.handed.get(), Handed::Pending));
            self.handed.get().write(handed);
        }
    }

    /// Publishes, handing the unparker to the caller to wake the owner
    /// once the lock is released. Nothing may touch the slot after this.
    ///
    /// # Safety
    /// The caller holds the channel lock and has just popped the slot from
    /// its queue (so it is the one claimer, C5).
    #[inline]
    unsafe fn publish(&self) -> Unparker {
        // SAFETY: per the contract, nobody else touches the unparker; it is
        // still present because the slot was never published before.
        let unparker = unsafe { ManuallyDrop::take(&mut *self.unparker.get()) };
        self.published.store(true, Ordering::Release);
        unparker
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if !*self.published.get_mut() {
            // SAFETY: never published, so the unparker was never moved out;
            // `&mut self` gives exclusive access, and it is dropped once.
            unsafe { ManuallyDrop::drop(self.unparker.get_mut()) }
        }
        if std::mem::replace(self.full.get_mut(), false) {
            // SAFETY: initialised while `full`; `&mut self` is exclusive.
            unsafe { self.msg.get_mut().assume_init_drop() }
        }
    }
}

/// Moves the value out of `b` into `dst` and frees the box, without the
/// value passing through the stack.
///
/// # Safety
/// `dst` is valid for writes of a `T` and holds nothing to drop.
pub(crate) unsafe fn unbox_into<T>(b: Box<T>, dst: *mut T) {
    let raw = Box::into_raw(b);
    // SAFETY: `raw` is a live, initialised `T`; `dst` is valid per the
    // contract and cannot overlap a fresh allocation. Freeing as a
    // `ManuallyDrop<T>` (same layout) releases the memory without dropping
    // the value, which now lives at `dst`.
    unsafe {
        std::ptr::copy_nonoverlapping(raw, dst, 1);
        drop(Box::from_raw(raw.cast::<ManuallyDrop<T>>()));
    }
}

/// A box whose contents were initialised through its pointer
/// (`Box::assume_init` is newer than the MSRV).
///
/// # Safety
/// `*b` is initialised.
unsafe fn box_assume_init<T>(b: Box<MaybeUninit<T>>) -> Box<T> {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`, and the contents are
    // initialised per the contract.
    unsafe { Box::from_raw(Box::into_raw(b).cast::<T>()) }
}

/// Moves `*src` into a new box, without it passing through the stack.
///
/// # Safety
/// `src` holds an initialised `T` that the caller gives up (it is moved).
pub(crate) unsafe fn box_from<T>(src: *const T) -> Box<T> {
    let mut b = Box::new(MaybeUninit::<T>::uninit());
    // SAFETY: `src` is initialised per the contract; `b` is a fresh
    // allocation for one `T`, now initialised.
    unsafe {
        std::ptr::copy_nonoverlapping(src, b.as_mut_ptr(), 1);
        box_assume_init(b)
    }
}

/// A queue's pointer to a [`Slot`] on some owner's stack.
pub(crate) struct SlotRef<T>(NonNull<Slot<T>>);

// SAFETY: a `SlotRef` is dereferenced only by a holder of the lock of the
// channel whose queue held it (C5), while the slot is alive (its owner
// removes it under that lock before leaving). Through it a message `T`
// moves between threads; the rest is atomics and an `Unparker` (`Send`).
// Hence `T: Send` suffices, as for `Arc<Entry<T>>`.
unsafe impl<T: Send> Send for SlotRef<T> {}

impl<T> SlotRef<T> {
    pub(crate) fn new(slot: &Slot<T>) -> Self {
        SlotRef(NonNull::from(slot))
    }

    fn is(&self, slot: &Slot<T>) -> bool {
        std::ptr::eq(self.0.as_ptr(), slot)
    }

    /// Claims the slot: the caller becomes the one party that writes and
    /// publishes it.
    ///
    /// # Safety
    /// The caller holds the lock of the channel whose queue held `self` when
    /// the lock was taken, has taken `self` out of that queue, and consumes
    /// the returned handle (with one of the `*_publish` calls) before it
    /// releases the lock (C5).
    #[inline]
    pub(crate) unsafe fn claim<'a>(&self) -> Claimed<'a, T> {
        // SAFETY: per the contract the slot is alive (its owner cannot have
        // removed it and left: that needs the lock we hold), and nobody else
        // can claim it; the lifetime ends with our critical section.
        Claimed(unsafe { &*self.0.as_ptr() })
    }
}

/// A waiting operation in a channel's queue.
pub(crate) enum Waiting<T> {
    /// A plain send or receive (on its owner's stack); always still waiting.
    Plain(SlotRef<T>),
    /// One operation of a select.
    Select(Arc<Entry<T>>),
}

impl<T> Waiting<T> {
    /// Still waiting (not claimed, not withdrawn)? `me`: a select's own
    /// entries do not count (a select never pairs with itself).
    pub(crate) fn is_live_for(&self, me: Option<&Arc<Waiter>>) -> bool {
        match self {
            Waiting::Plain(_) => true,
            Waiting::Select(e) => match me {
                Some(me) => e.is_live_for(me),
                None => e.waiter().is_waiting(),
            },
        }
    }

    /// Is this the queue item of `slot`?
    pub(crate) fn is_slot(&self, slot: &Slot<T>) -> bool {
        matches!(self, Waiting::Plain(s) if s.is(slot))
    }

    /// Is this the queue item of `entry`?
    pub(crate) fn is_entry(&self, entry: &Arc<Entry<T>>) -> bool {
        matches!(self, Waiting::Select(e) if Arc::ptr_eq(e, entry))
    }
}

/// A plain slot taken out of its queue, under the lock; must be published
/// before the lock is released (C5).
#[must_use = "a claimed slot must be published within the critical section"]
pub(crate) struct Claimed<'a, T>(&'a Slot<T>);

impl<T> Claimed<'_, T> {
    /// Hands `msg` to this receive and publishes it; the returned unparker
    /// wakes the owner (after unlocking).
    #[inline]
    pub(crate) fn fill_publish(self, msg: T) -> Unparker {
        // SAFETY: we are the one claimer, under the lock (see `claim`), and
        // the owner does not touch the cells until publication.
        unsafe {
            self.0.put_msg(|dst| dst.write(msg));
            self.0.hand(Handed::Done);
            self.0.publish()
        }
    }

    /// [`fill_publish`](Self::fill_publish) with a boxed message, copied
    /// into the slot without passing through the stack (`big.rs`).
    pub(crate) fn fill_boxed_publish(self, msg: Box<T>) -> Unparker {
        // SAFETY: as in `fill_publish`; the cell is empty (a waiting
        // receive), so `unbox_into` overwrites nothing.
        unsafe {
            self.0.put_msg(|dst| unbox_into(msg, dst));
            self.0.hand(Handed::Done);
            self.0.publish()
        }
    }

    /// Takes the message of this send and publishes it.
    #[inline]
    pub(crate) fn take_publish(self) -> (T, Unparker) {
        // SAFETY: as in `fill_publish`.
        unsafe {
            self.0.hand(Handed::Done);
            let msg = self
                .0
                .take_msg()
                .expect("a waiting plain send holds its message");
            (msg, self.0.publish())
        }
    }

    /// [`take_publish`](Self::take_publish) into a box (`big.rs`).
    pub(crate) fn take_boxed_publish(self) -> (Box<T>, Unparker) {
        // SAFETY: as in `fill_publish`.
        unsafe {
            self.0.hand(Handed::Done);
            let msg = self
                .0
                .take_msg_with(|src| box_from(src))
                .expect("a waiting plain send holds its message");
            (msg, self.0.publish())
        }
    }

    /// Sends this operation back to the start (room, or a message, it
    /// waited for was given back by a select), without touching a message.
    #[inline]
    pub(crate) fn retry_publish(self) -> Unparker {
        // SAFETY: as in `fill_publish`.
        unsafe {
            self.0.hand(Handed::Retry);
            self.0.publish()
        }
    }

    /// A select's receive arm commits to this send, without touching its
    /// message: publishes it with a partner entry for the select (the
    /// calling thread) to wait on, which the woken sender fills. Returns
    /// that entry and the sender's unparker (wake it after unlocking).
    pub(crate) fn fill_request_publish(self) -> (Arc<Entry<T>>, Unparker) {
        let entry = Entry::partner_recv();
        // SAFETY: as in `fill_publish`.
        let wake = unsafe {
            self.0.hand(Handed::Fill(entry.clone()));
            self.0.publish()
        };
        (entry, wake)
    }

    /// Tells this operation that the other side is gone.
    #[inline]
    pub(crate) fn disconnect_publish(self) -> Unparker {
        // SAFETY: as in `fill_publish`.
        unsafe {
            self.0.hand(Handed::Disconnected);
            self.0.publish()
        }
    }

    /// A select's send arm commits to this receive: publishes it with a
    /// partner entry that wakes the same owner, without waking it now (it
    /// wakes when the partner entry is filled or retried). Returns that
    /// entry, claimed and unpublished.
    pub(crate) fn partner_publish(self) -> Arc<Entry<T>> {
        // SAFETY: as in `fill_publish`; the unparker is present until we
        // publish.
        unsafe {
            let unparker = Unparker::clone(&*self.0.unparker.get());
            let entry = Entry::partner_recv_for(unparker);
            self.0.hand(Handed::Partner(entry.clone()));
            // Not the last reference to the owner (the entry holds a
            // clone), so dropping it here, under the lock, runs no
            // destructor of user data.
            drop(self.0.publish());
            entry
        }
    }
}

//! The select loop's view of a channel operation, with `T` erased.
//!
//! `Receiver<T>` (a receive) and `Sender<T>` (a send) implement
//! [`Operation`]; the select loop in `select.rs` drives them through four
//! steps: try it now, report readiness, register a waiting entry (or a
//! `ready` watcher), and accept what a waker handed over.

use std::sync::Arc;

use super::erased::ErasedToken;
use crate::sync::channel::{Chan, Queued, Receiver, Selected, Sender, Side};
use crate::sync::waiter::Waiter;

/// One operation of a select, type-erased.
pub(crate) trait Operation<'a> {
    /// Performs (receive) or reserves (send) it if possible without waiting.
    fn try_select(&'a self) -> Option<ErasedToken<'a>>;
    /// Would it complete without waiting?
    fn is_ready(&'a self) -> bool;
    /// Queues it for `waiter` as operation `op`; also says whether it turned
    /// out to be ready. `None`: it can never become ready (`never()`).
    fn register(&'a self, waiter: &Arc<Waiter>, op: usize) -> (Option<Registration<'a>>, bool);
    /// Adds a readiness watcher for `waiter` as operation `op`.
    fn watch(&'a self, waiter: &Arc<Waiter>, op: usize) -> (Option<Watch<'a>>, bool);
}

/// A registered operation: dropping it withdraws it.
pub(crate) type Registration<'a> = Box<dyn Registered<'a> + 'a>;

/// A registered operation whose waiter was woken through it.
pub(crate) trait Registered<'a> {
    /// What was handed over; `None`: start the select over.
    fn accept(self: Box<Self>) -> Option<ErasedToken<'a>>;
}

struct Typed<'a, T> {
    chan: &'a Arc<Chan<T>>,
    queued: Queued<'a, T>,
}

impl<'a, T: 'a> Registered<'a> for Typed<'a, T> {
    fn accept(mut self: Box<Self>) -> Option<ErasedToken<'a>> {
        let token = Chan::accept(&mut self.queued)?;
        Some(ErasedToken::new(Selected::new(self.chan.clone(), token)))
    }
}

/// Removes a watcher when dropped.
pub(crate) struct Watch<'a> {
    chan: &'a dyn Unwatch,
    waiter: Arc<Waiter>,
}

trait Unwatch {
    fn unwatch(&self, waiter: &Arc<Waiter>);
}

impl<T> Unwatch for Chan<T> {
    fn unwatch(&self, waiter: &Arc<Waiter>) {
        Chan::unwatch(self, waiter);
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        self.chan.unwatch(&self.waiter);
    }
}

fn try_select<'a, T: 'a>(chan: &'a Arc<Chan<T>>, side: Side) -> Option<ErasedToken<'a>> {
    let token = chan.select_now(side)?;
    Some(ErasedToken::new(Selected::new(chan.clone(), token)))
}

fn register<'a, T: 'a>(
    chan: &'a Arc<Chan<T>>,
    side: Side,
    waiter: &Arc<Waiter>,
    op: usize,
) -> (Option<Registration<'a>>, bool) {
    let (entry, ready) = chan.register(side, waiter, op);
    let queued = Queued::new(chan, entry, Some(side), true);
    (Some(Box::new(Typed { chan, queued })), ready)
}

fn watch<'a, T: 'a>(
    chan: &'a Arc<Chan<T>>,
    side: Side,
    waiter: &Arc<Waiter>,
    op: usize,
) -> (Option<Watch<'a>>, bool) {
    let ready = chan.watch(side, waiter, op);
    let guard = Watch {
        chan: &**chan,
        waiter: waiter.clone(),
    };
    (Some(guard), ready)
}

// Each step first lets a clock channel (`at`, `after`, `tick`) deliver what
// the clock says is due, so its readiness does not wait for its timer.
impl<'a, T: 'a> Operation<'a> for Receiver<T> {
    fn try_select(&'a self) -> Option<ErasedToken<'a>> {
        self.deliver_due();
        try_select(self.chan()?, Side::Recv)
    }

    fn is_ready(&'a self) -> bool {
        self.deliver_due();
        self.chan().is_some_and(|c| c.is_ready(Side::Recv))
    }

    fn register(&'a self, waiter: &Arc<Waiter>, op: usize) -> (Option<Registration<'a>>, bool) {
        self.deliver_due();
        match self.chan() {
            Some(c) => register(c, Side::Recv, waiter, op),
            None => (None, false),
        }
    }

    fn watch(&'a self, waiter: &Arc<Waiter>, op: usize) -> (Option<Watch<'a>>, bool) {
        self.deliver_due();
        match self.chan() {
            Some(c) => watch(c, Side::Recv, waiter, op),
            None => (None, false),
        }
    }
}

impl<'a, T: 'a> Operation<'a> for Sender<T> {
    fn try_select(&'a self) -> Option<ErasedToken<'a>> {
        try_select(self.chan(), Side::Send)
    }

    fn is_ready(&'a self) -> bool {
        self.chan().is_ready(Side::Send)
    }

    fn register(&'a self, waiter: &Arc<Waiter>, op: usize) -> (Option<Registration<'a>>, bool) {
        register(self.chan(), Side::Send, waiter, op)
    }

    fn watch(&'a self, waiter: &Arc<Waiter>, op: usize) -> (Option<Watch<'a>>, bool) {
        watch(self.chan(), Side::Send, waiter, op)
    }
}

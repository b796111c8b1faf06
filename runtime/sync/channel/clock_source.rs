//! Channels whose messages come from the clock: [`at`](super::at) /
//! [`after`](super::after) (one message, `alarm.rs`) and
//! [`tick`](super::tick) (one per period, `ticker.rs`).
//!
//! Each carries its message in a bounded(1) channel that a runtime timer
//! fills, so a receive can wait on it like on any channel. But a timer
//! runs when its P gets to it, a moment after the instant it was due, and
//! readiness must not depend on that moment: like crossbeam's, these
//! channels are ready as soon as the clock says so. Every receive (plain or
//! a select's) first calls [`deliver_due`](ClockSource::deliver_due),
//! which puts a message that is due by the clock but whose timer has not
//! run yet into the channel. So a select that several same-instant
//! timers could satisfy chooses among all of them at random, whichever
//! timer happened to run first, on whichever P (issue 16 item 4).

use std::sync::Arc;
use std::time::Instant;

use super::chan::Chan;

/// Receive-side hooks of a clock channel (`Receiver`'s clock flavour). The
/// trait lets a generic `Receiver<T>` hold one; only `Instant` messages
/// implement it.
pub(crate) trait ClockSource<T>: Send + Sync {
    /// The channel the due message is put in.
    fn chan(&self) -> &Arc<Chan<T>>;
    /// Puts the message that is due by `now` into the channel, if its timer
    /// has not already (one message at most is ever pending).
    fn deliver_due(&self, now: Instant);
    /// A receive that began at `since` took `msg` from the channel.
    fn taken(&self, msg: &T, since: Instant);
    /// A message that is due by `by` and `now` but not put in the channel
    /// yet (its timer is late): take it directly.
    fn take_due(&self, now: Instant, by: Option<Instant>) -> Option<T>;
    /// Is a message due (in the channel, or due by the clock)?
    fn is_due(&self) -> bool;
}

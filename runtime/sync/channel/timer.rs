//! Timer channels — Go's `time.After`/`time.Tick` — driven by the runtime's
//! timer heap.
//!
//! Each is a bounded(1) channel filled by a timer callback, or by any
//! receive that finds its message due by the clock before that timer ran
//! (`clock_source.rs`). Its sender is counted but never dropped, so the
//! channel never disconnects (as in crossbeam). The callback holds only a
//! `Weak`: once the last receiver is dropped the channel is freed, and a
//! pending timer finds nothing to do. `at`/`after` deliver once
//! (`alarm.rs`); a ticker's schedule is driven by its receives
//! (`ticker.rs`).
//!
//! Timers belong to the caller's runtime; called from a plain OS thread they
//! use the default runtime (starting it if needed), like every runtime timer.

use std::time::{Duration, Instant};

use super::alarm::Alarm;
use super::ticker::Ticker;
use super::{never, Receiver};

/// A receiver that gets one message, the instant `duration` from now, after
/// `duration`. Go's `time.After`.
///
/// The channel has capacity 1 and never disconnects: after the one message,
/// receiving blocks forever. Typical use is a timeout arm in `select!`:
///
/// ```
/// use std::time::Duration;
/// use greenrt::sync::{after, select, unbounded};
///
/// greenrt::run(|| {
///     let (_tx, rx) = unbounded::<i32>();
///     select! {
///         recv(rx) -> _ => unreachable!(),
///         recv(after(Duration::from_millis(10))) -> _ => {} // timed out
///     }
/// });
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(when) => at(when),
        None => never(),
    }
}

/// A receiver that gets one message, `when`, at `when` (at once if it has
/// passed). Capacity 1; never disconnects.
pub fn at(when: Instant) -> Receiver<Instant> {
    Receiver::from_clock(Alarm::start(when))
}

/// A receiver that gets a message every `duration`: the instant the tick was
/// due. Go's `time.Tick`, with crossbeam-channel's semantics
/// (`ticker.rs`): the first tick is due at start + `duration`; at most one
/// tick is pending; the next is due `duration` after the later of the tick
/// taken and the start of the receive that took it, so a slow receiver
/// gets fewer, later ticks, never a backlog. `len` is 1 while a tick is
/// due, else 0; `is_full` is `!is_empty`; capacity 1; never disconnects.
/// Stops once every receiver is dropped.
pub fn tick(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(first) => Receiver::from_clock(Ticker::start(first, duration)),
        None => never(),
    }
}

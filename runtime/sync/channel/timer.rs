//! Timer channels — Go's `time.After`/`time.Tick` — driven by the runtime's
//! timer heap.
//!
//! Each is an ordinary bounded(1) channel whose only sender is a timer
//! callback. That sender is counted but never dropped, so the channel never
//! disconnects (as in crossbeam). The callback holds only a `Weak`: once the
//! last receiver is dropped the channel is freed, and a ticker stops
//! re-arming at its next firing.
//!
//! Timers belong to the caller's runtime; called from a plain OS thread they
//! use the default runtime (starting it if needed), like every runtime timer.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::{never, Receiver};
use crate::sched::TimerAction;
use crate::time::add_timer;

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
    let chan = Chan::new(Some(1));
    if when <= Instant::now() {
        let _ = chan.try_send(when);
    } else {
        let weak = Arc::downgrade(&chan);
        let fire = move || {
            if let Some(chan) = weak.upgrade() {
                let _ = chan.try_send(when);
            }
        };
        let _ = add_timer(when, TimerAction::Call(Box::new(fire)));
    }
    Receiver::from_chan(chan)
}

/// A receiver that gets a message every `duration`: the instant the tick was
/// due. Go's `time.Tick`.
///
/// Capacity 1; never disconnects. A slow receiver misses ticks rather than
/// queueing them (the first undelivered one waits in the buffer), and the
/// ticks stay on the original grid. Stops once every receiver is dropped.
pub fn tick(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(first) => {
            let chan = Chan::new(Some(1));
            arm_tick(Arc::downgrade(&chan), first, duration);
            Receiver::from_chan(chan)
        }
        None => never(),
    }
}

/// The shortest re-arm interval: a zero-period ticker would otherwise spin
/// the timer heap.
const MIN_TICK: Duration = Duration::from_micros(1);

fn arm_tick(chan: Weak<Chan<Instant>>, when: Instant, period: Duration) {
    let fire = move || {
        let Some(strong) = chan.upgrade() else {
            return;
        };
        let _ = strong.try_send(when);
        drop(strong);
        let period_ns = period.max(MIN_TICK).as_nanos();
        let now = Instant::now();
        // The first grid point after now (skipping ticks we are late for).
        let late = now.saturating_duration_since(when).as_nanos();
        let ahead = period_ns - late % period_ns;
        let next = now + Duration::from_nanos(ahead.min(u64::MAX as u128) as u64);
        arm_tick(chan, next, period);
    };
    let _ = add_timer(when, TimerAction::Call(Box::new(fire)));
}

//! The state behind [`at`](super::at) and [`after`](super::after): one
//! message, the instant it was due, delivered once per channel (its clones
//! share it), ready from that instant by the clock (`clock_source.rs`).
//! After it is taken the channel is empty forever and never disconnects,
//! as crossbeam's.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use super::chan::Chan;
use super::clock_source::ClockSource;
use crate::sched::TimerAction;
use crate::time::add_timer;

/// The message is not due yet, or due and not delivered.
const PENDING: u8 = 0;
/// The message is in the channel (put there by the timer or a receive).
const IN_CHANNEL: u8 = 1;
/// A receive took the message straight from the alarm (never in the
/// channel), or from the channel.
const TAKEN: u8 = 2;

pub(crate) struct Alarm {
    chan: Arc<Chan<Instant>>,
    when: Instant,
    /// `PENDING` → `IN_CHANNEL` or `TAKEN`, once; `IN_CHANNEL` → `TAKEN`.
    state: AtomicU8,
}

impl Alarm {
    /// An alarm for `when`, its timer armed unless `when` has passed.
    pub(crate) fn start(when: Instant) -> Arc<Self> {
        let alarm = Arc::new(Alarm {
            chan: Chan::new(Some(1)),
            when,
            state: AtomicU8::new(PENDING),
        });
        let now = Instant::now();
        if when <= now {
            alarm.deliver_due(now);
        } else {
            // Weak: dropping every receiver frees the alarm, and its timer
            // finds nothing to do.
            let weak: Weak<Alarm> = Arc::downgrade(&alarm);
            let fire = move || {
                if let Some(alarm) = weak.upgrade() {
                    alarm.deliver_due(alarm.when);
                }
            };
            let _ = add_timer(when, TimerAction::Call(Box::new(fire)));
        }
        alarm
    }
}

impl ClockSource<Instant> for Alarm {
    fn chan(&self) -> &Arc<Chan<Instant>> {
        &self.chan
    }

    fn deliver_due(&self, now: Instant) {
        if now < self.when || self.state.load(Ordering::Acquire) != PENDING {
            return;
        }
        // The one delivery: whoever moves the state puts the message in.
        if self
            .state
            .compare_exchange(PENDING, IN_CHANNEL, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // An `Instant`: nothing user-defined runs here. The channel is
            // empty (nothing else ever fills it) and this alarm's receivers
            // keep it open, so the offer cannot fail.
            let sent = self.chan.offer(self.when);
            debug_assert!(sent, "an alarm's channel holds its one message");
        }
    }

    fn taken(&self, msg: &Instant, _since: Instant) {
        assert_eq!(*msg, self.when, "an alarm's channel carries its instant");
        let was = self.state.swap(TAKEN, Ordering::AcqRel);
        assert_eq!(was, IN_CHANNEL, "the message taken was delivered once");
    }

    fn take_due(&self, now: Instant, by: Option<Instant>) -> Option<Instant> {
        if now < self.when || by.is_some_and(|by| by < self.when) {
            return None;
        }
        self.state
            .compare_exchange(PENDING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            .then_some(self.when)
    }

    fn is_due(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            PENDING => Instant::now() >= self.when,
            // Delivered: due until some receive takes it from the channel.
            IN_CHANNEL => self.chan.len() == 1,
            _ => false,
        }
    }
}

//! The state behind [`tick`](super::tick): crossbeam-channel 0.5's tick
//! semantics on a timer-driven channel.
//!
//! The facts matched: each message is the `Instant` the tick was due; the
//! first is due at start + period; at most one tick is pending; the next
//! one is due a period after the later of the tick taken and the moment
//! the receive that took it began — so a reader waiting for each tick stays
//! on the grid, while a slow reader sees fewer, later ticks and never a
//! backlog. `len` is 1 exactly when a tick is due, else 0.
//!
//! How: the receiving side owns the schedule. A bounded(1) channel carries
//! the due tick, put there by a timer that is armed only while no tick is
//! pending, so the buffer never overflows. Taking a tick (by any receive,
//! including a select's) re-arms the timer from the rule above. Each arming
//! has a generation; a timer whose tick was already taken another way (a
//! `try_recv` that found the tick due before its timer ran, or a late
//! timer) finds its generation stale and does nothing.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::chan::Chan;
use super::clock_source::ClockSource;
use crate::sched::TimerAction;
use crate::time::add_timer;

/// The shortest period: a zero period would otherwise spin the timer heap.
const MIN_PERIOD: Duration = Duration::from_micros(1);

struct Schedule {
    /// When the next (or pending) tick is due.
    next: Instant,
    /// Bumped at every arming; a timer carries the one it was armed with.
    generation: u64,
    /// The tick due at `next` is in the channel, not taken yet.
    in_channel: bool,
}

pub(crate) struct Ticker {
    chan: Arc<Chan<Instant>>,
    period: Duration,
    schedule: Mutex<Schedule>,
    me: Weak<Ticker>,
}

impl Ticker {
    /// A ticker whose first tick is due at `first`.
    pub(crate) fn start(first: Instant, period: Duration) -> Arc<Self> {
        let ticker = Arc::new_cyclic(|me| Ticker {
            chan: Chan::new(Some(1)),
            period: period.max(MIN_PERIOD),
            schedule: Mutex::new(Schedule {
                next: first,
                generation: 0,
                in_channel: false,
            }),
            me: me.clone(),
        });
        ticker.arm(first, 0);
        ticker
    }

    /// Arms the timer for the tick due at `when` (call without the
    /// schedule lock held).
    fn arm(&self, when: Instant, generation: u64) {
        let me = self.me.clone();
        let fire = move || {
            if let Some(ticker) = me.upgrade() {
                ticker.fire(generation);
            }
        };
        let _ = add_timer(when, TimerAction::Call(Box::new(fire)));
    }

    /// The timer of `generation` ran: put its tick in the channel, unless
    /// it was taken another way meanwhile.
    fn fire(&self, generation: u64) {
        let mut s = self.schedule.lock();
        if s.generation == generation {
            self.put_pending(&mut s);
        }
    }

    /// Puts the tick due at `s.next` in the channel, unless it is there.
    fn put_pending(&self, s: &mut Schedule) {
        if s.in_channel {
            return;
        }
        s.in_channel = true;
        // The channel holds no other tick (one pending at most), and this
        // ticker holds a receiver count, so this cannot fail; the value is
        // an `Instant`, so nothing user-defined runs under our lock.
        let sent = self.chan.offer(s.next);
        debug_assert!(sent, "a tick channel holds one tick at most");
    }

    /// Schedules the tick after one due at `due`, taken by a receive that
    /// began at `since`.
    fn reschedule(&self, s: &mut Schedule, due: Instant, since: Instant) -> (Instant, u64) {
        s.next = due.max(since) + self.period;
        s.generation += 1;
        s.in_channel = false;
        (s.next, s.generation)
    }
}

impl ClockSource<Instant> for Ticker {
    fn chan(&self) -> &Arc<Chan<Instant>> {
        &self.chan
    }

    fn deliver_due(&self, now: Instant) {
        let mut s = self.schedule.lock();
        // As the tick's timer would (`fire`); that timer, when it runs,
        // finds the tick in the channel and does nothing.
        if now >= s.next {
            self.put_pending(&mut s);
        }
    }

    fn taken(&self, msg: &Instant, since: Instant) {
        let mut s = self.schedule.lock();
        assert!(
            s.in_channel && s.next == *msg,
            "the tick taken is the pending one"
        );
        let (when, generation) = self.reschedule(&mut s, *msg, since);
        drop(s);
        self.arm(when, generation);
    }

    fn take_due(&self, now: Instant, by: Option<Instant>) -> Option<Instant> {
        let mut s = self.schedule.lock();
        let due = s.next;
        if s.in_channel || now < due || by.is_some_and(|by| by < due) {
            return None;
        }
        let (when, generation) = self.reschedule(&mut s, due, now);
        drop(s);
        self.arm(when, generation);
        Some(due)
    }

    fn is_due(&self) -> bool {
        let s = self.schedule.lock();
        (s.in_channel && self.chan.len() == 1) || (!s.in_channel && Instant::now() >= s.next)
    }
}

//! The deadlock report: "all N green threads are asleep - possible
//! deadlock", then the dump (`dump.rs`), printed once by sysmon.
//!
//! # When
//! Nothing can wake a green thread from inside the runtime when every P is
//! idle, no run queue holds a G, no timer is pending (no sleep, no timeout,
//! no ticker), no socket is waited on, and no G is inside
//! `greenrt::syscall`. If that lasts a grace period (default 1 s) with no P
//! scheduling anything in between, while green threads are alive, sysmon
//! takes a dump, checks that every G in it is parked, and prints the
//! report. The cheap checks (a few loads per sysmon tick) run only while
//! every P is idle; the dump only once they have held for the grace period.
//! The report is printed once per stall: any scheduling re-arms it.
//!
//! # Why "possible"
//! A plain OS thread outside the runtime may still hold what the green
//! threads wait for — a channel's sender, a mutex, a `GreenThread` handle to
//! `unpark` — and deliver it later; the runtime cannot see that. (It cannot
//! tell either whether such a thread is itself stuck, say in
//! `JoinHandle::join` of a green thread that waits for that very thread.)
//! So by default the report is a warning; `GREENRT_DEADLOCK=abort` makes it
//! fatal, as Go's "all goroutines are asleep - deadlock!" is, for programs
//! whose green threads are woken only by each other.
//!
//! # Never while a G may still wake
//! A sleeping G has a timer, a G on a socket is a netpoll waiter, a G in a
//! syscall shows as such in the dump (its P may have been handed away and
//! gone idle), and a G blocked in an unwrapped blocking call holds its P.
//! Any of them stops the report.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::dump::GState;
use super::scheduler::Scheduler;

/// What to do about a deadlock (`GREENRT_DEADLOCK`, `Builder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadlockConfig {
    /// How long the runtime must be stuck before it is reported; `None`:
    /// never reported.
    pub(crate) grace: Option<Duration>,
    /// Abort the process after the report.
    pub(crate) abort: bool,
}

/// Sysmon's side: tracks how long the runtime has looked stuck.
pub(crate) struct DeadlockWatch {
    config: DeadlockConfig,
    /// Since when everything has looked stuck, and the sum of the Ps'
    /// schedule ticks then (any scheduling since means it was not).
    stuck_since: Option<(Instant, u64)>,
    reported: bool,
}

impl DeadlockWatch {
    pub(crate) fn new(config: DeadlockConfig) -> Self {
        DeadlockWatch {
            config,
            stuck_since: None,
            reported: false,
        }
    }

    /// One sysmon tick. Prints the report (and aborts, if so configured)
    /// once the runtime has been stuck for the grace period.
    pub(crate) fn tick(&mut self, sched: &Scheduler, now: Instant) {
        let Some(grace) = self.config.grace else {
            return;
        };
        let Some(ticks) = looks_stuck(sched) else {
            self.stuck_since = None;
            self.reported = false;
            return;
        };
        let since = match self.stuck_since {
            Some((since, seen)) if seen == ticks => since,
            _ => {
                self.stuck_since = Some((now, ticks));
                self.reported = false;
                return;
            }
        };
        if self.reported || now.duration_since(since) < grace {
            return;
        }
        let snapshot = sched.snapshot();
        let all_parked = !snapshot.gs.is_empty()
            && snapshot.not_started == 0
            && snapshot
                .gs
                .iter()
                .all(|g| matches!(g.state, GState::Parked(_)));
        if !all_parked {
            // A G in a syscall (or one that moved while we looked): not
            // stuck. Look again from scratch.
            self.stuck_since = None;
            return;
        }
        self.reported = true;
        let mut text = format!(
            "greenrt: all {} green threads are asleep - possible deadlock\n",
            snapshot.gs.len()
        );
        for g in &snapshot.gs {
            text.push_str(&g.to_string());
        }
        if self.config.abort {
            text.push_str("greenrt: GREENRT_DEADLOCK=abort: aborting\n");
        }
        eprint!("{text}");
        if self.config.abort {
            std::process::abort();
        }
    }

    /// How long sysmon may sleep without missing a report that is due
    /// (`None`: no limit).
    pub(crate) fn wake_within(&self, now: Instant) -> Option<Duration> {
        let grace = self.config.grace?;
        match self.stuck_since {
            Some((since, _)) if !self.reported => {
                Some((since + grace).saturating_duration_since(now))
            }
            _ => None,
        }
    }
}

/// The cheap part of the test (module docs): `Some(sum of schedule ticks)`
/// when nothing in the runtime could wake a G and some G is alive.
fn looks_stuck(sched: &Scheduler) -> Option<u64> {
    if sched.idle.npidle() != sched.procs()
        || !sched.global.is_empty()
        || sched.ps.iter().any(|p| p.has_work())
        || sched.timers.next_deadline().is_some()
        || sched.netpoll.has_waiters()
    {
        return None;
    }
    let started: u64 = sched
        .ps
        .iter()
        .map(|p| p.started.load(Ordering::Relaxed))
        .sum();
    let finished: u64 = sched
        .ps
        .iter()
        .map(|p| p.finished.load(Ordering::Relaxed))
        .sum();
    if started <= finished {
        return None;
    }
    Some(
        sched
            .ps
            .iter()
            .map(|p| u64::from(p.schedtick.load(Ordering::Relaxed)))
            .sum(),
    )
}

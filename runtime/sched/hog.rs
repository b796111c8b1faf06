//! Naming hogs: a green thread that runs for many time slices without
//! reaching a checkpoint is reported once on stderr.
//!
//! greenrt preempts cooperatively: sysmon sets a P's preempt flag after one
//! time slice, and the running G yields at its next checkpoint
//! (`coop::checkpoint`, `yield_now`, `spawn`, the channel operations that
//! never park) or park. A loop that reaches neither holds its P for good, and
//! the Gs queued behind it wait in silence. sysmon sees the P lent to the
//! same G for a long time; once that G's OS thread has been on a CPU (not
//! asleep in a blocking call, which `sysmon.rs` handles by retaking the P)
//! for [`HOG_AFTER_SLICES`] slices — CPU time from the kernel where it says,
//! so a thread merely waiting for a CPU on a loaded machine is not blamed —
//! the G is named here: its id, name and spawn location, with how long it
//! has run and what to add.
//!
//! Throttled: each G is reported at most once, and at most one report is
//! printed per [`MIN_REPORT_GAP`] (a program with a thousand hogs gets a
//! line a second, not a thousand). Off with `GREENRT_HOG_REPORT=0` or
//! `Builder::hog_report(false)`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::green_thread::GreenThread;

/// A G is a hog after this many time slices without a checkpoint.
pub(crate) const HOG_AFTER_SLICES: u32 = 10;
/// At most one report per this long.
const MIN_REPORT_GAP: Duration = Duration::from_secs(1);
/// Reported ids remembered (a G is never reported twice while its id is
/// here; past this many the oldest memory is dropped wholesale).
const REMEMBERED: usize = 4096;

/// What sysmon copies out of a hog while its P's lend word holds it still
/// (`LendSlot::inspect`): nothing is formatted or printed under that hold.
pub(crate) struct HogInfo {
    id: u64,
    name: Option<String>,
    spawned_at: Option<String>,
}

impl HogInfo {
    /// Copies what the report names. Called with the G held still: short,
    /// no blocking.
    pub(crate) fn of(g: &GreenThread) -> HogInfo {
        HogInfo {
            id: g.id(),
            name: g.name().map(str::to_owned),
            spawned_at: spawn_location(g),
        }
    }
}

/// Where `g` was spawned (the `#[track_caller]` spawn functions record it).
fn spawn_location(g: &GreenThread) -> Option<String> {
    Some(g.spawned_at.to_string())
}

/// sysmon's memory of which hogs it has reported.
#[derive(Default)]
pub(crate) struct HogReports {
    reported: HashSet<u64>,
    last: Option<Instant>,
}

impl HogReports {
    /// Whether a report may be printed now (the throttle).
    pub(crate) fn may_report(&self, now: Instant) -> bool {
        self.last
            .map_or(true, |t| now.duration_since(t) >= MIN_REPORT_GAP)
    }

    /// Prints the report for `hog`, which has run `ran` without a
    /// checkpoint, unless it was reported before.
    pub(crate) fn report(&mut self, hog: HogInfo, ran: Duration, now: Instant) {
        if self.reported.len() >= REMEMBERED {
            self.reported.clear();
        }
        if !self.reported.insert(hog.id) {
            return;
        }
        self.last = Some(now);
        eprintln!("{}", message(&hog, ran));
    }
}

fn message(hog: &HogInfo, ran: Duration) -> String {
    let mut who = format!("green thread {}", hog.id);
    if let Some(name) = &hog.name {
        who.push_str(&format!(" \"{name}\""));
    }
    if let Some(at) = &hog.spawned_at {
        who.push_str(&format!(" (spawned at {at})"));
    }
    format!(
        "greenrt: {who} has run for {} ms without reaching a checkpoint, so the green \
         threads queued on its processor cannot run. Call greenrt::coop::checkpoint() in its \
         long loops (it yields only when the time slice is over and costs about a nanosecond \
         otherwise). Reported once; GREENRT_HOG_REPORT=0 turns these reports off.",
        ran.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_thread_and_the_fix() {
        let hog = HogInfo {
            id: 7,
            name: Some("cruncher".into()),
            spawned_at: Some("src/main.rs:3:5".into()),
        };
        let m = message(&hog, Duration::from_millis(120));
        assert!(
            m.contains("green thread 7 \"cruncher\" (spawned at src/main.rs:3:5)"),
            "{m}"
        );
        assert!(m.contains("120 ms"), "{m}");
        assert!(m.contains("greenrt::coop::checkpoint()"), "{m}");
    }

    #[test]
    fn reports_are_throttled() {
        let mut r = HogReports::default();
        let t = Instant::now();
        assert!(r.may_report(t));
        let hog = |id| HogInfo {
            id,
            name: None,
            spawned_at: None,
        };
        r.report(hog(1), Duration::ZERO, t);
        assert!(!r.may_report(t + Duration::from_millis(10)));
        assert!(r.may_report(t + MIN_REPORT_GAP));
        assert!(r.reported.contains(&1));
    }
}

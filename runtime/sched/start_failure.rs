//! Reporting machine threads the OS refused to start.
//!
//! An M is started whenever an idle P has work and no idle M can take it
//! (`Scheduler::start_m_with`), so while the OS refuses threads (address
//! space, memory mappings or the thread limit exhausted) every wake of an
//! idle P fails again. The runtime carries on with the Ms it has, and the
//! user needs to hear that once, with the cause, not once per wake: the
//! first refusal is reported at once, later ones at most once a second as a
//! count of the refusals since the last report.
//!
//! The report is printed by the caller after it has let go of the idle
//! lock (nothing slow runs under a runtime lock).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often a refusal that keeps recurring is reported again.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Counts refused M starts and decides which of them to report.
pub(crate) struct StartFailures {
    /// Refusals since the runtime started.
    total: AtomicU64,
    /// Reports printed.
    reports: AtomicU64,
    /// When the last report was printed, and the count it included.
    last: Mutex<Option<(Instant, u64)>>,
}

impl StartFailures {
    pub(crate) fn new() -> Self {
        StartFailures {
            total: AtomicU64::new(0),
            reports: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    /// Records one refusal with its cause and prints a report if one is due.
    pub(crate) fn record(&self, cause: &std::io::Error) {
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let since = {
            let mut last = self.last.lock();
            match *last {
                None => {
                    *last = Some((now, total));
                    None
                }
                Some((at, reported)) if now.duration_since(at) >= REPORT_EVERY => {
                    *last = Some((now, total));
                    Some(total - reported)
                }
                Some(_) => return,
            }
        };
        self.reports.fetch_add(1, Ordering::Relaxed);
        match since {
            None => eprintln!(
                "greenrt: could not start a machine thread: {cause}; continuing with fewer \
                 (further refusals are counted, reported at most once a second)"
            ),
            Some(n) => eprintln!(
                "greenrt: could not start a machine thread: {cause}; {n} refusals in the \
                 last {:.1} s, {total} in all; continuing with fewer",
                REPORT_EVERY.as_secs_f64()
            ),
        }
    }

    /// Refusals since the runtime started, and reports printed.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.total.load(Ordering::Relaxed),
            self.reports.load(Ordering::Relaxed),
        )
    }
}

/// A test-only hook: the OS "refuses" every new M of the runtimes whose
/// thread name was armed, so a test can starve a runtime of threads without
/// starving the test process (a real refusal, from address space or mapping
/// limits, can also abort the process inside std's thread start).
#[cfg(test)]
pub(crate) mod refuse_hook {
    use parking_lot::Mutex;

    static ARMED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Refuses every later M start of runtimes named `thread_name`.
    pub(crate) fn arm(thread_name: &str) {
        ARMED.lock().push(thread_name.to_string());
    }

    /// The refusal for an armed runtime, if `thread_name` is one.
    pub(crate) fn refusal(thread_name: &str) -> Option<std::io::Error> {
        ARMED
            .lock()
            .iter()
            .any(|n| n == thread_name)
            .then(|| std::io::Error::from_raw_os_error(libc::EAGAIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_counted() {
        let f = StartFailures::new();
        let e = std::io::Error::from_raw_os_error(libc::EAGAIN);
        for _ in 0..1000 {
            f.record(&e);
        }
        assert_eq!(f.counts(), (1000, 1), "the next report is a second away");
        let (_, reported) = f.last.lock().expect("the first refusal is reported");
        assert_eq!(reported, 1);
    }
}

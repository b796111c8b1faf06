//! Cumulative counters users can graph (`RuntimeStats`'s totals).
//!
//! Cheap by construction: each P counts its own events in plain cells that
//! only its owner writes (a load and a store, no read-modify-write, no
//! shared cache line with other Ps), and a reader sums them over all Ps.
//! Events that happen off any P (a spawn from a plain OS thread, a sysmon
//! retake, a netpoll that found Gs) are counted in shared atomics by the
//! one party that sees them, far from the per-G hot path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A count written only by the owner of the P it lives in.
#[derive(Default)]
pub(crate) struct OwnerCount(AtomicU64);

impl OwnerCount {
    /// Counts one event. Only the P's owner may call this (a load and a
    /// store: two owners would lose counts, never corrupt memory).
    #[inline]
    pub(crate) fn bump(&self) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What one P counts. On its own cache lines: the owner writes these on
/// every park and spawn, while other Ms read the P's queue fields nearby
/// when they look for work to steal.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct PCounters {
    /// Gs spawned by code running on this P.
    pub(crate) spawned: OwnerCount,
    /// Parks committed by Gs that ran on this P.
    pub(crate) parks: OwnerCount,
    /// Successful steals by the M holding this P (a batch counts once).
    pub(crate) steals: OwnerCount,
    /// Preemption requests honoured by Gs running on this P.
    pub(crate) preemptions: OwnerCount,
    /// Time this P spent out of the idle list.
    pub(crate) busy: BusyClock,
}

/// Time a P spends held (by an M, or in its syscall slot): started when it
/// leaves the idle list and stopped when it goes back (`idle.rs`), both
/// under the idle lock, so there is one writer at a time.
#[derive(Default)]
pub(crate) struct BusyClock {
    total_ns: AtomicU64,
    /// When the current busy period began (nanoseconds since `epoch` + 1),
    /// or 0 while the P is idle.
    since: AtomicU64,
}

impl BusyClock {
    pub(crate) fn start(&self) {
        self.since.store(now_ns() + 1, Ordering::Relaxed);
    }

    pub(crate) fn stop(&self) {
        let since = self.since.swap(0, Ordering::Relaxed);
        if since != 0 {
            let spent = now_ns().saturating_sub(since - 1);
            self.total_ns.store(
                self.total_ns.load(Ordering::Relaxed) + spent,
                Ordering::Relaxed,
            );
        }
    }

    /// Total busy time, the current busy period included.
    pub(crate) fn total(&self) -> Duration {
        let since = self.since.load(Ordering::Relaxed);
        let running = if since == 0 {
            0
        } else {
            now_ns().saturating_sub(since - 1)
        };
        Duration::from_nanos(self.total_ns.load(Ordering::Relaxed) + running)
    }
}

/// Nanoseconds since the first call (one process-wide origin).
fn now_ns() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_nanos().min(u64::MAX as u128 / 2) as u64
}

/// Counts kept outside any P.
#[derive(Default)]
pub(crate) struct SharedCounters {
    /// Gs spawned from threads holding no P of this runtime.
    pub(crate) spawned_off_p: AtomicU64,
    /// Ps that sysmon took from a G blocked in `greenrt::syscall`.
    pub(crate) syscall_handoffs: AtomicU64,
    /// Ps that sysmon took from a G asleep in a blocking call nobody
    /// wrapped in `greenrt::syscall` (`lend.rs`).
    pub(crate) blocking_handoffs: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_counts_add_up() {
        let c = OwnerCount::default();
        for _ in 0..5 {
            c.bump();
        }
        assert_eq!(c.get(), 5);
    }

    #[test]
    fn busy_clock_counts_only_busy_periods() {
        let b = BusyClock::default();
        assert_eq!(b.total(), Duration::ZERO, "idle from the start");
        b.start();
        std::thread::sleep(Duration::from_millis(5));
        let running = b.total();
        assert!(running >= Duration::from_millis(5), "{running:?}");
        b.stop();
        let stopped = b.total();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(b.total(), stopped, "no time passes while idle");
        b.stop();
        assert_eq!(b.total(), stopped, "a second stop adds nothing");
    }
}

//! What a G is doing and since when — the data behind `Runtime::dump` and
//! the deadlock report (`dump.rs`).
//!
//! # Why a coarse clock
//! The status is written where a G already changes state (it starts a run,
//! switches out, parks, enters or leaves a syscall), so its cost lands on the
//! switch path. Reading the OS clock there (~20 ns) would cost more than the
//! switch itself (~14 ns, docs/BENCHMARKS.md). Instead sysmon stores the time
//! in [`CoarseClock`] at each of its ticks (every 20 µs to 10 ms while any P
//! is busy, and again when a P wakes it from its deep sleep), and a state
//! change copies it with one relaxed load. A dump therefore shows times in
//! a state to within one sysmon tick (at most 10 ms) — plenty for "parked
//! on a channel for 3.2 s".
//!
//! # What is written per G
//! One word: the phase in the top two bits, the P it runs on in the next
//! 14, and the coarse time in the rest. Written by the M that owns the G
//! (one relaxed store), read racily by a dumper, which tolerates a phase
//! that is a moment out of date.
//!
//! # What is written per P
//! A G that has never switched out is in no registry (`registry.rs`), so
//! its P's [`RunningRecord`] names it: set when an unnamed G starts its
//! first run (three stores, once per G) and cleared when that G finishes
//! or enters the registry (once per G).

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// What a G is doing, as last written by its M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Spawned or switched out while still runnable (queued).
    Runnable = 0,
    /// Running on a P.
    Running = 1,
    /// Switched out to park (see the park state for whether it still is).
    Parked = 2,
    /// Inside `greenrt::syscall`, without a P.
    Syscall = 3,
    /// In a blocking call nobody wrapped in `greenrt::syscall`, its P
    /// retaken by sysmon (`lend.rs`). Stored as `Syscall` with
    /// [`BLOCKING_CALL`] in the P field, which only `Running` uses.
    BlockingCall = 4,
}

const PHASE_SHIFT: u32 = 62;
const P_SHIFT: u32 = 48;
const P_MASK: u64 = (1 << (PHASE_SHIFT - P_SHIFT)) - 1;
/// 48 bits of µs: about 8.9 years of uptime before the stamps wrap.
const TIME_MASK: u64 = (1 << P_SHIFT) - 1;
/// The P field of a `Syscall` word that is [`Phase::BlockingCall`].
const BLOCKING_CALL: u64 = 1;

/// A G's phase and when it began (µs on [`CoarseClock`]).
pub(crate) struct GStatus(AtomicU64);

impl GStatus {
    pub(crate) fn new(now_us: u64) -> Self {
        GStatus(AtomicU64::new(pack(Phase::Runnable, now_us)))
    }

    /// Records a change of phase. Only the G's owner writes: its M, or
    /// sysmon while it retakes the P of the G's unwrapped blocking call
    /// (the G's thread is held out of its P meanwhile, `lend.rs`).
    #[inline]
    pub(crate) fn set(&self, phase: Phase, now_us: u64) {
        self.0.store(pack(phase, now_us), Ordering::Relaxed);
    }

    /// Records that the G runs on P `p` (`MAX_PROCS` fits in the field).
    #[inline]
    pub(crate) fn set_running(&self, p: usize, now_us: u64) {
        let v = pack(Phase::Running, now_us) | ((p as u64 & P_MASK) << P_SHIFT);
        self.0.store(v, Ordering::Relaxed);
    }

    /// The phase, the P (meaningful while `Running`) and when it began.
    pub(crate) fn get(&self) -> (Phase, usize, u64) {
        let v = self.0.load(Ordering::Relaxed);
        let phase = match v >> PHASE_SHIFT {
            0 => Phase::Runnable,
            1 => Phase::Running,
            2 => Phase::Parked,
            _ if (v >> P_SHIFT) & P_MASK == BLOCKING_CALL => Phase::BlockingCall,
            _ => Phase::Syscall,
        };
        let p = match phase {
            Phase::Running => ((v >> P_SHIFT) & P_MASK) as usize,
            _ => 0,
        };
        (phase, p, v & TIME_MASK)
    }
}

fn pack(phase: Phase, now_us: u64) -> u64 {
    let bits = match phase {
        Phase::BlockingCall => {
            ((Phase::Syscall as u64) << PHASE_SHIFT) | (BLOCKING_CALL << P_SHIFT)
        }
        _ => (phase as u64) << PHASE_SHIFT,
    };
    bits | (now_us & TIME_MASK)
}

/// A clock that costs one relaxed load to read, refreshed by sysmon.
pub(crate) struct CoarseClock(AtomicU64);

impl Default for CoarseClock {
    fn default() -> Self {
        CoarseClock(AtomicU64::new(precise_now_us()))
    }
}

impl CoarseClock {
    /// The time of the last refresh, µs since the process-wide origin.
    #[inline]
    pub(crate) fn now_us(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Reads the OS clock into the coarse one (sysmon, a few times per
    /// time slice; never on the switch path).
    pub(crate) fn refresh(&self) {
        self.0.store(precise_now_us(), Ordering::Relaxed);
    }
}

/// The OS clock in µs since the first call in this process.
pub(crate) fn precise_now_us() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    (origin.elapsed().as_micros() as u64) & TIME_MASK
}

/// Which unregistered G a P is running, for a dump: copies of the G's id,
/// spawn location and start time, never a pointer to the G itself — a G
/// that never switched out is in no registry, and it may finish and be
/// freed while a dumper reads, so the dumper must not touch it. Written by
/// the P's owner (module docs), read racily: the schedule tick read before
/// and after tells a reader whether it saw one run's record.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct RunningRecord {
    /// The running G's id; 0: none.
    id: AtomicU64,
    spawned_at: std::sync::atomic::AtomicPtr<Location<'static>>,
    since_us: AtomicU64,
}

/// A copy of a [`RunningRecord`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Running {
    pub(crate) id: u64,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) since_us: u64,
}

impl RunningRecord {
    #[inline]
    pub(crate) fn set(&self, id: u64, spawned_at: &'static Location<'static>, since_us: u64) {
        self.since_us.store(since_us, Ordering::Relaxed);
        self.spawned_at
            .store(spawned_at as *const _ as *mut _, Ordering::Relaxed);
        self.id.store(id, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn clear(&self) {
        self.id.store(0, Ordering::Relaxed);
    }

    /// The record, if the P runs a G.
    pub(crate) fn get(&self) -> Option<Running> {
        let id = self.id.load(Ordering::Relaxed);
        let at = self.spawned_at.load(Ordering::Relaxed);
        if id == 0 || at.is_null() {
            return None;
        }
        // SAFETY: only `set` stores here, always a `&'static Location`, so
        // any non-null value read is one of those, valid forever.
        let spawned_at = unsafe { &*at };
        Some(Running {
            id,
            spawned_at,
            since_us: self.since_us.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_and_time_round_trip() {
        let s = GStatus::new(5);
        assert_eq!(s.get(), (Phase::Runnable, 0, 5));
        for phase in [
            Phase::Parked,
            Phase::Syscall,
            Phase::BlockingCall,
            Phase::Syscall,
            Phase::Runnable,
        ] {
            s.set(phase, 1234567);
            assert_eq!(s.get(), (phase, 0, 1234567));
        }
        s.set_running(1023, TIME_MASK);
        assert_eq!(s.get(), (Phase::Running, 1023, TIME_MASK));
    }

    #[test]
    fn the_coarse_clock_moves_only_when_refreshed() {
        let c = CoarseClock::default();
        let t0 = c.now_us();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(c.now_us(), t0, "no refresh, no movement");
        c.refresh();
        assert!(c.now_us() >= t0 + 2000, "{} vs {t0}", c.now_us());
    }
}

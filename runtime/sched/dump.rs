//! A snapshot of every live green thread (`Runtime::dump`, SIGQUIT, the
//! deadlock report): id, name, state, time in that state, spawn location.
//!
//! # Stop nothing, tolerate races
//! A dump never stops a P. Run queues cannot be read without taking from
//! them, so it reads the two places where every *started* G shows up:
//!
//! * the registry (`registry.rs`), which holds every G that has switched
//!   out at least once (parked, yielded, preempted, entered a syscall) and
//!   every named G — read under each shard's lock, which keeps those Gs
//!   alive while their fields are copied;
//! * each P's running record (`g_status.rs`), which names the G running
//!   there: the only trace of a G that has run without ever switching out
//!   (the common short-lived G, kept off the registry lock). It holds copies
//!   (id, spawn location, start time), so reading it never touches a G that
//!   may just have finished.
//!
//! Gs spawned but not started yet (no stack, in some queue) are counted, not
//! listed: the runtime's "live" green threads are the started ones
//! (`RuntimeStats::live_green_threads`). States and times are read without
//! a common lock, so a G that changes state during the dump may show its
//! old or its new state; times are within one sysmon tick (`g_status.rs`).

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::g_ref::GRef;
use super::g_status::{precise_now_us, Phase};
use super::green_thread::GreenThread;
use super::processor::ProcessorShared;
use super::scheduler::Scheduler;
use super::wait_reason::WaitReason;

/// What a G was doing when the snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GState {
    /// Running on this P (`None`: the P could not be told, a race).
    Running(Option<usize>),
    /// In a run queue.
    Runnable,
    /// Parked, for this reason.
    Parked(WaitReason),
    /// Inside `greenrt::syscall`.
    Syscall,
    /// In an unwrapped blocking call whose P sysmon retook.
    BlockingCall,
}

/// One G of a [`Snapshot`].
#[derive(Debug, Clone)]
pub(crate) struct GInfo {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) state: GState,
    /// Time in `state`.
    pub(crate) for_time: Duration,
    pub(crate) spawned_at: &'static Location<'static>,
}

/// Every live G of a runtime, by id.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) gs: Vec<GInfo>,
    /// Spawned, not started yet (counted, not listed: module docs).
    pub(crate) not_started: u64,
    pub(crate) procs: usize,
}

impl Scheduler {
    /// Takes a snapshot of every live G (module docs). Runs no user code
    /// and takes only the registry's shard locks, one at a time.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let now = precise_now_us();
        let mut gs = Vec::new();
        self.registry.for_each(|g| {
            let (phase, p, since) = g.status.get();
            let state = if g.is_parked() {
                GState::Parked(g.wait_reason())
            } else {
                match phase {
                    Phase::Running => GState::Running(Some(p)),
                    Phase::Syscall => GState::Syscall,
                    Phase::BlockingCall => GState::BlockingCall,
                    // Woken, or yielded: queued.
                    Phase::Parked | Phase::Runnable => GState::Runnable,
                }
            };
            gs.push(GInfo {
                id: g.id(),
                name: g.name().map(str::to_owned),
                state,
                for_time: since_us(now, since),
                spawned_at: g.spawned_at,
            });
        });
        let by_id: HashMap<u64, usize> = gs.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        for (p, shared) in self.ps.iter().enumerate() {
            let Some(running) = read_stable(|| {
                (
                    shared.schedtick.load(Ordering::Acquire),
                    shared.running.get(),
                )
            }) else {
                continue;
            };
            match by_id.get(&running.id) {
                // Registered since its first run began: the registry's
                // state is the newer one.
                Some(_) => {}
                None => gs.push(GInfo {
                    id: running.id,
                    name: None,
                    state: GState::Running(Some(p)),
                    for_time: since_us(now, running.since_us),
                    spawned_at: running.spawned_at,
                }),
            }
        }
        gs.sort_by_key(|g| g.id);
        let stats = self.stats();
        let started = self
            .ps
            .iter()
            .map(|p| p.started.load(Ordering::Relaxed))
            .sum::<u64>();
        Snapshot {
            gs,
            not_started: stats.spawned.saturating_sub(started),
            procs: self.procs(),
        }
    }

    /// The snapshot as text (`Runtime::dump`).
    pub(crate) fn dump(&self) -> String {
        self.snapshot().to_string()
    }

    /// Records, for dumps, that `g` has left the P of `shared` without
    /// switching out: into a wrapped syscall (`phase` `Syscall`), or into an
    /// unwrapped blocking call whose P sysmon retakes (`BlockingCall`).
    /// Without a P the G is on no P's running record, so it must be in the
    /// registry; the record is cleared before the P can reach another M,
    /// which writes its own.
    ///
    /// # Safety
    /// The caller owns `g` and the P of `shared` for the call: `g`'s M on
    /// its way into the syscall, or sysmon inside a retake's decision
    /// (`LendSlot::retake`), while `g`'s thread is held out of both.
    pub(crate) unsafe fn note_left_p(
        &self,
        g: NonNull<GreenThread>,
        shared: &ProcessorShared,
        phase: Phase,
    ) {
        debug_assert!(matches!(phase, Phase::Syscall | Phase::BlockingCall));
        // SAFETY: (caller) `g` is alive and ours, its M still holding its
        // reference.
        let g_ref = unsafe { g.as_ref() };
        if g_ref.registry_slot.get() == usize::MAX {
            // SAFETY: as above; the new reference is the registry's.
            let counted = unsafe { GRef::clone_from_ptr(g) };
            self.registry.insert(&counted);
        }
        g_ref.status.set(phase, self.sysmon.clock.now_us());
        shared.running.clear();
    }
}

/// Reads a P's running record between two equal schedule ticks (a few
/// tries; a P switching constantly gets its last read).
fn read_stable(
    read: impl Fn() -> (u32, Option<super::g_status::Running>),
) -> Option<super::g_status::Running> {
    let mut last = None;
    for _ in 0..4 {
        let (t1, r) = read();
        let (t2, _) = read();
        last = r;
        if t1 == t2 {
            break;
        }
    }
    last
}

fn since_us(now: u64, since: u64) -> Duration {
    Duration::from_micros(now.saturating_sub(since))
}

impl fmt::Display for GState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GState::Running(Some(p)) => write!(f, "running on P{p}"),
            GState::Running(None) => f.write_str("running"),
            GState::Runnable => f.write_str("runnable"),
            GState::Parked(reason) => write!(f, "parked ({reason:?})"),
            GState::Syscall => f.write_str("in syscall"),
            GState::BlockingCall => {
                f.write_str("in a blocking call not wrapped in greenrt::syscall (its P retaken)")
            }
        }
    }
}

impl fmt::Display for GInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "green thread {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        // Whole milliseconds: the times are only that precise.
        let ms = Duration::from_millis(self.for_time.as_millis() as u64);
        writeln!(f, ": {} for {ms:?}", self.state)?;
        writeln!(f, "    spawned at {}", self.spawned_at)
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "greenrt: {} live green threads (procs {})",
            self.gs.len(),
            self.procs
        )?;
        if self.not_started > 0 {
            write!(f, ", {} more spawned but not started", self.not_started)?;
        }
        writeln!(f)?;
        for g in &self.gs {
            g.fmt(f)?;
        }
        Ok(())
    }
}

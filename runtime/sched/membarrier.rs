//! An asymmetric fence pair: a free fence for a hot side, a costly one for a
//! rare side.
//!
//! A Dekker handshake (each side stores its own flag, fences, then loads the
//! other's) needs a store-load fence on both sides, and on x86 that is a
//! locked instruction or `mfence`, ~10–20 cycles on every pass. When one
//! side runs on every context switch and the other only now and then (the
//! lend word, `lend.rs`: the G's thread versus sysmon), the cost can be
//! moved to the rare side. [`light`] is then only a compiler fence, and
//! [`heavy`] is Linux's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: the
//! kernel makes every thread of the process that is on a CPU execute a full
//! barrier (an inter-processor interrupt) before the call returns, and a
//! thread that is not on a CPU passed one when it was switched out. So for
//! each light-fenced store-then-load on another thread, either its store is
//! visible after `heavy` returns, or its load comes after the barrier and
//! sees what the heavy side stored before calling `heavy` — what a pair of
//! `fence(SeqCst)` gives.
//!
//! Cost of [`heavy`]: a system call plus an interrupt to each CPU that runs
//! one of our threads, a few microseconds, and it disturbs those threads.
//! Callers must keep it rare (sysmon issues it only for a P that has looked
//! stuck for a while; `sysmon.rs`).
//!
//! The expedited command works only after the process registered for it
//! (`MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`, once). Where registration
//! fails (not Linux, a kernel before 4.14, a seccomp filter) both sides use
//! `fence(SeqCst)`.
//!
//! Registering is slow: about 11 ms on this project's Linux 6.18 VM (the
//! kernel waits for a grace period). So the hot side never waits for it:
//! until the mode is decided, [`light`] is a full `fence(SeqCst)`, which is
//! correct against either kind of [`heavy`]. Only the rare side decides
//! ([`prepare`], called by sysmon when it starts, off every M): [`heavy`]
//! waits for the decision and so is a `membarrier` whenever any `light`
//! may have been only a compiler fence. Waiting on the hot side instead
//! made the first runtime call of a process look like an 11 ms hog to
//! sysmon, which preempted it (found by `tests/lock_os_thread.rs`).

use std::sync::atomic::{compiler_fence, fence, AtomicU8, Ordering};
use std::sync::Once;

/// Not chosen yet.
const UNDECIDED: u8 = 0;
/// `light` is a compiler fence, `heavy` is `membarrier`.
const ASYMMETRIC: u8 = 1;
/// Both are `fence(SeqCst)`.
const SYMMETRIC: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);
static CHOOSE: Once = Once::new();

/// The fence of the hot side: orders this thread's earlier stores before its
/// later loads against any [`heavy`].
#[inline(always)]
pub(crate) fn light() {
    // Relaxed: `ASYMMETRIC` is stored only after registration returned, so
    // a thread that reads it runs after the kernel counts the process as
    // registered; anything else (undecided, or no membarrier) fences fully.
    if MODE.load(Ordering::Relaxed) == ASYMMETRIC {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// Decides the mode now (registering for membarrier where it can), off the
/// hot path: sysmon calls this when it starts. [`heavy`] decides too if
/// nobody did.
pub(crate) fn prepare() {
    choose();
}

/// The fence of the rare side: orders this thread's earlier stores before
/// its later loads against any [`light`] on another thread.
pub(crate) fn heavy() {
    match mode() {
        ASYMMETRIC => {
            let done = expedited_barrier();
            // Registered: the kernel fails this only on an invalid command.
            assert!(done, "membarrier failed after registering");
        }
        _ => fence(Ordering::SeqCst),
    }
}

/// Whether [`light`] is free here (membarrier registered).
#[cfg(test)]
fn is_asymmetric() -> bool {
    mode() == ASYMMETRIC
}

/// The chosen mode (choosing it on first use). A thread that reads a final
/// mode Relaxed needs nothing more: it is written once, inside `CHOOSE`, and
/// a thread that reads `UNDECIDED` waits in `choose` for the same answer.
fn mode() -> u8 {
    match MODE.load(Ordering::Relaxed) {
        UNDECIDED => {
            choose();
            MODE.load(Ordering::Relaxed)
        }
        m => m,
    }
}

/// Registers for the expedited membarrier, once per process.
#[cold]
fn choose() {
    CHOOSE.call_once(|| {
        let mode = if register() { ASYMMETRIC } else { SYMMETRIC };
        MODE.store(mode, Ordering::Relaxed);
    });
}

#[cfg(target_os = "linux")]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
#[cfg(target_os = "linux")]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

#[cfg(target_os = "linux")]
fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes a command and flags (0); it reads and writes
    // no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) == 0 }
}

#[cfg(target_os = "linux")]
fn register() -> bool {
    // A barrier right after registering proves the command works here.
    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) && expedited_barrier()
}

#[cfg(target_os = "linux")]
fn expedited_barrier() -> bool {
    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
}

#[cfg(not(target_os = "linux"))]
fn register() -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
fn expedited_barrier() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn the_mode_is_chosen_once_and_linux_registers() {
        let first = is_asymmetric();
        heavy();
        light();
        assert_eq!(is_asymmetric(), first);
        // Every kernel since 4.14 has it; CI and this project's machines
        // run Linux without a seccomp filter on membarrier.
        if cfg!(target_os = "linux") {
            assert!(first, "membarrier registration failed on Linux");
        }
    }

    /// The Dekker handshake the pair exists for: a hot thread stores its
    /// flag, fences lightly, loads the other's; a rare thread does the same
    /// with the heavy fence. Both must never read the other's flag clear
    /// in the same round.
    #[test]
    fn light_and_heavy_exclude_like_two_full_fences() {
        let rounds: usize = std::env::var("GREENRT_STRESS_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000);
        let hot = Arc::new(AtomicBool::new(false));
        let rare = Arc::new(AtomicBool::new(false));
        let round = Arc::new(std::sync::Barrier::new(2));
        let both_missed = Arc::new(AtomicBool::new(false));
        let t = {
            let (hot, rare, round, both_missed) = (
                hot.clone(),
                rare.clone(),
                round.clone(),
                both_missed.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    round.wait();
                    hot.store(true, Ordering::Relaxed);
                    light();
                    let saw_rare = rare.load(Ordering::Relaxed);
                    round.wait();
                    if !saw_rare {
                        both_missed.fetch_or(true, Ordering::Relaxed);
                    }
                    round.wait();
                }
            })
        };
        let mut misses = 0;
        for _ in 0..rounds {
            hot.store(false, Ordering::Relaxed);
            rare.store(false, Ordering::Relaxed);
            both_missed.store(false, Ordering::Relaxed);
            round.wait();
            rare.store(true, Ordering::Relaxed);
            heavy();
            let saw_hot = hot.load(Ordering::Relaxed);
            round.wait();
            round.wait();
            if !saw_hot && both_missed.load(Ordering::Relaxed) {
                misses += 1;
            }
        }
        t.join().unwrap();
        assert_eq!(misses, 0, "both sides read the other's flag clear");
    }
}

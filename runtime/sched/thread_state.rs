//! Is an M's OS thread running, or asleep in the kernel?
//!
//! sysmon asks only about a P whose schedule tick has stood still for a while
//! (`sysmon.rs`): the answer tells a G stuck in a blocking call nobody
//! wrapped in `greenrt::syscall` (asleep: its P can go to another M) from a
//! CPU-bound G that never reaches a checkpoint (running: leave it). On Linux
//! the kernel reports it in the state field of `/proc/self/task/<tid>/stat`
//! (`R` running or runnable; `S` interruptible and `D` uninterruptible
//! sleep). Reading it costs an open, a read and a close (about 10–20 µs),
//! which is why it is read only for a stuck P and at most once per check
//! period. Elsewhere the answer is always "unknown", and nothing is retaken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the kernel says an OS thread is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OsThreadState {
    /// On a CPU or waiting for one (`R`).
    Running,
    /// Blocked in the kernel (`S` or `D`).
    Asleep,
    /// Anything else (stopped, zombie), or the state could not be read.
    Unknown,
}

/// The calling thread's key: its kernel thread id on Linux (what
/// `/proc/self/task/` is named by), a process-wide counter elsewhere. Never
/// 0, and distinct among live threads (sysmon names an M's thread by it).
pub(crate) fn current_key() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        let tid = unsafe { libc::gettid() };
        if tid > 0 {
            return tid as u64;
        }
    }
    // Above any kernel thread id (at most 2^22 on Linux).
    static NEXT: AtomicU64 = AtomicU64::new(1 << 32);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The state of the thread with key `key` (see [`current_key`]).
pub(crate) fn state_of(key: u64) -> OsThreadState {
    #[cfg(target_os = "linux")]
    if key < 1 << 32 {
        let path = format!("/proc/self/task/{key}/stat");
        return match std::fs::read(path) {
            Ok(stat) => parse_stat_state(&stat),
            Err(_) => OsThreadState::Unknown,
        };
    }
    let _ = key;
    OsThreadState::Unknown
}

/// How long the thread with key `key` has run on a CPU in all (the first
/// field of `/proc/self/task/<tid>/schedstat`, in nanoseconds). `None` where
/// the kernel does not say. Unlike wall time, this does not grow while the
/// thread waits for a CPU on a loaded machine.
pub(crate) fn cpu_time_of(key: u64) -> Option<Duration> {
    #[cfg(target_os = "linux")]
    if key < 1 << 32 {
        let text = std::fs::read_to_string(format!("/proc/self/task/{key}/schedstat")).ok()?;
        let ns: u64 = text.split_ascii_whitespace().next()?.parse().ok()?;
        return (ns > 0).then(|| Duration::from_nanos(ns));
    }
    let _ = key;
    None
}

/// The state field of a `stat` line: `pid (comm) S ...`. The command name
/// may itself hold spaces and parentheses, so the field is found after the
/// *last* `)`.
fn parse_stat_state(stat: &[u8]) -> OsThreadState {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return OsThreadState::Unknown;
    };
    match stat[close + 1..].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'R') => OsThreadState::Running,
        Some(b'S' | b'D') => OsThreadState::Asleep,
        _ => OsThreadState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_field_follows_the_last_parenthesis() {
        assert_eq!(
            parse_stat_state(b"12 (a) b) c) S 1 2"),
            OsThreadState::Asleep
        );
        assert_eq!(parse_stat_state(b"12 (m0) R 1"), OsThreadState::Running);
        assert_eq!(parse_stat_state(b"12 (m0) D 1"), OsThreadState::Asleep);
        assert_eq!(parse_stat_state(b"12 (m0) Z 1"), OsThreadState::Unknown);
        assert_eq!(parse_stat_state(b"garbage"), OsThreadState::Unknown);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sleeping_thread_reads_asleep_and_a_spinning_one_running() {
        use std::sync::atomic::AtomicBool;
        use std::sync::{mpsc, Arc};
        // Reads the state of the thread behind `key` until it is `want`:
        // a thread may be caught between states, never stuck in the wrong one.
        fn until(key: u64, want: OsThreadState) {
            let start = std::time::Instant::now();
            while state_of(key) != want {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(20),
                    "never {want:?}"
                );
                std::thread::yield_now();
            }
        }
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let sleeper = std::thread::spawn(move || {
            tx.send(current_key()).unwrap();
            stop_rx.recv().unwrap();
        });
        until(rx.recv().unwrap(), OsThreadState::Asleep);
        stop_tx.send(()).unwrap();
        sleeper.join().unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let spinner = std::thread::spawn({
            let stop = stop.clone();
            move || {
                tx.send(current_key()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }
        });
        until(rx.recv().unwrap(), OsThreadState::Running);
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
    }
}

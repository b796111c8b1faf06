//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

mod rt_test;
mod waiting;
mod yielders;

#[allow(unused_imports)]
pub(crate) use rt_test::rt_test;
#[allow(unused_imports)]
pub use waiting::{until_parked, until_parked_from_os_thread};
#[allow(unused_imports)]
pub use yielders::Yielders;

/// The `procs` values every scheduler test runs with.
pub const PROCS: [usize; 3] = [1, 2, 4];

/// Builds a runtime with `procs` processors.
pub fn runtime(procs: usize) -> greenrt::Runtime {
    greenrt::Runtime::builder()
        .procs(procs)
        .build()
        .expect("runtime builds")
}

/// A runtime at `procs` that reports no hogs: for tests whose green threads
/// hold their Ps on purpose (spinning, or in unwrapped blocking calls),
/// where a report on stderr would only be noise.
pub fn runtime_without_hog_report(procs: usize) -> greenrt::Runtime {
    greenrt::Runtime::builder()
        .procs(procs)
        .hog_report(false)
        .build()
        .expect("runtime builds")
}

/// Stress multiplier from `GREENRT_STRESS_ITERS` (default 1): CI runs small,
/// race hunts run `GREENRT_STRESS_ITERS=100 cargo test --release`.
pub fn stress(base: usize) -> usize {
    let k = std::env::var("GREENRT_STRESS_ITERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    base * k
}

/// Fails the whole test process (abort with a message) if not disarmed
/// within `limit`: a hang is a failure, never a stuck CI job.
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn new(what: &str, limit: Duration) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        let what = what.to_string();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("WATCHDOG: `{what}` did not finish within {limit:?}: hang");
                std::process::abort();
            }
        });
        Watchdog { disarm: Some(tx) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.disarm.take() {
            let _ = tx.send(());
        }
    }
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other
    // invariants.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

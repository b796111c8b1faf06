//! Settings read from the environment, with errors that say what was wrong
//! and what is accepted.

use std::fmt;

/// Most processors a runtime may have. Far above any core count this runtime
/// targets; a bound keeps a typo (`GREENRT_PROCS=40000`) from creating
/// thousands of run queues.
pub const MAX_PROCS: usize = 1024;
/// Smallest green-thread stack: below this, ordinary library calls (formatting,
/// panics with backtraces) overflow.
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// Largest green-thread stack.
pub const MAX_STACK_SIZE: usize = 1 << 30;
/// Default green-thread stack (docs/ARCHITECTURE.md, "Stacks"): 64 KiB of
/// address space, of which a typical G touches a few pages.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Default cap on machines (Go: `sched.maxmcount = 10000`).
pub const DEFAULT_MAX_MACHINES: usize = 10_000;
/// Largest accepted `max_machines`.
pub const MAX_MACHINES: usize = 100_000;
/// An idle machine's OS thread exits after this long without work.
pub const DEFAULT_MACHINE_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Default preemption time slice (Go's `forcePreemptNS`).
pub const DEFAULT_TIME_SLICE: std::time::Duration = std::time::Duration::from_millis(10);
/// Shortest accepted time slice: five sysmon ticks.
pub const MIN_TIME_SLICE: std::time::Duration = std::time::Duration::from_micros(100);
/// Longest accepted time slice.
pub const MAX_TIME_SLICE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long dropping a `Runtime` waits for its cancelled green threads to
/// finish unwinding before it leaks the rest (docs/GUIDE.md, "Shutdown").
pub const DEFAULT_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest accepted `GREENRT_SHUTDOWN_TIMEOUT_MS`, in milliseconds (one hour).
pub const MAX_SHUTDOWN_TIMEOUT_MS: usize = 3_600_000;
/// Longest accepted `GREENRT_SCHEDTRACE` period, in milliseconds (one hour).
pub const MAX_SCHEDTRACE_MS: usize = 3_600_000;

/// An invalid setting: which one, the value given, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub(crate) what: String,
    pub(crate) value: String,
    pub(crate) accepted: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} = {:?}: expected {}",
            self.what, self.value, self.accepted
        )
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for std::io::Error {
    fn from(e: ConfigError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// Parses a whole number in `min..=max`, naming `what` in the error.
pub(crate) fn parse_in_range(
    what: &str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let err = || ConfigError {
        what: what.to_string(),
        value: raw.to_string(),
        accepted: format!("a whole number from {min} to {max}"),
    };
    let n: usize = raw.trim().parse().map_err(|_| err())?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(err())
    }
}

/// Reads `GREENRT_PROCS`: `Ok(None)` when unset or empty.
pub fn procs_from_env() -> Result<Option<usize>, ConfigError> {
    env_in_range("GREENRT_PROCS", 1, MAX_PROCS)
}

/// Reads `GREENRT_SCHEDTRACE=<ms>`: print a scheduler trace line every
/// `<ms>` milliseconds. Unset, empty or `0`: off.
pub fn schedtrace_from_env() -> Result<Option<std::time::Duration>, ConfigError> {
    let ms = env_in_range("GREENRT_SCHEDTRACE", 0, MAX_SCHEDTRACE_MS)?;
    Ok(ms
        .filter(|&ms| ms > 0)
        .map(|ms| std::time::Duration::from_millis(ms as u64)))
}

/// Reads `GREENRT_SHUTDOWN_TIMEOUT_MS=<ms>`: how long dropping a runtime
/// waits for its cancelled green threads. Unset or empty: `Ok(None)`.
pub fn shutdown_timeout_from_env() -> Result<Option<std::time::Duration>, ConfigError> {
    let ms = env_in_range("GREENRT_SHUTDOWN_TIMEOUT_MS", 0, MAX_SHUTDOWN_TIMEOUT_MS)?;
    Ok(ms.map(|ms| std::time::Duration::from_millis(ms as u64)))
}

/// Reads environment variable `name` as a whole number in `min..=max`:
/// `Ok(None)` when unset or empty, a `ConfigError` naming the variable, the
/// value and the range when it is anything else.
fn env_in_range(name: &str, min: usize, max: usize) -> Result<Option<usize>, ConfigError> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(v) => {
            let v = v.to_string_lossy();
            if v.trim().is_empty() {
                Ok(None)
            } else {
                parse_in_range(name, &v, min, max).map(Some)
            }
        }
    }
}

/// The number of CPUs this process may use.
pub(crate) fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

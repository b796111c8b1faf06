//! `Runtime` and its `Builder`; the lazily started default runtime.
//!
//! A `Runtime` owns a scheduler: its Ps, the Ms (OS threads) it starts on
//! demand, its timers and its netpoller. `block_on` runs a closure as a G and
//! waits for it; other Gs keep running while the `Runtime` lives. Dropping it
//! stops and joins its Ms and cancels every unfinished G, unwinding its stack.

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{
    self, ConfigError, DEFAULT_MACHINE_IDLE_TIMEOUT, DEFAULT_MAX_MACHINES, DEFAULT_STACK_SIZE,
    DEFAULT_TIME_SLICE, MAX_MACHINES, MAX_PROCS, MAX_STACK_SIZE, MAX_TIME_SLICE, MIN_STACK_SIZE,
    MIN_TIME_SLICE,
};
use crate::join::{spawn_on, JoinHandle};
use crate::sched::context;
use crate::sched::RuntimeStats;
use crate::sched::{Config, Scheduler};

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = greenrt::Runtime::builder().procs(2).stack_size(64 * 1024).build()?;
/// assert_eq!(rt.block_on(|| 6 * 7), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    procs: Option<usize>,
    stack_size: usize,
    thread_name: String,
    max_machines: usize,
    machine_idle_timeout: Duration,
    schedtrace: Option<Option<Duration>>,
    time_slice: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            procs: None,
            stack_size: DEFAULT_STACK_SIZE,
            thread_name: "greenrt".into(),
            max_machines: DEFAULT_MAX_MACHINES,
            machine_idle_timeout: DEFAULT_MACHINE_IDLE_TIMEOUT,
            schedtrace: None,
            time_slice: DEFAULT_TIME_SLICE,
        }
    }
}

impl Builder {
    /// A builder with the defaults: procs from `GREENRT_PROCS`, else the CPU
    /// count; 64 KiB stacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of processors (Go's GOMAXPROCS): how many Gs run in parallel.
    /// Accepted: 1 to 1024.
    pub fn procs(mut self, n: usize) -> Self {
        self.procs = Some(n);
        self
    }

    /// Size of each green thread's stack in bytes (rounded up to pages; a
    /// guard page is added). Accepted: 16 KiB to 1 GiB. Default 64 KiB.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Prefix of the Ms' OS thread names (`<prefix>-m<N>`). Default `greenrt`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// Most machines (OS threads) at once, counting those blocked in
    /// `greenrt::syscall`. Past the cap, a long syscall keeps its processor
    /// (other green threads wait) rather than failing. Accepted: `procs` to
    /// 100 000. Default 10 000 (Go's limit).
    pub fn max_machines(mut self, n: usize) -> Self {
        self.max_machines = n;
        self
    }

    /// How long an idle machine waits for work before its OS thread exits,
    /// so a burst of blocking syscalls does not leave thousands of threads
    /// behind. Default 60 s.
    pub fn machine_idle_timeout(mut self, d: Duration) -> Self {
        self.machine_idle_timeout = d;
        self
    }

    /// Print a schedtrace line to stderr every `period` (`None`: never).
    /// Overrides `GREENRT_SCHEDTRACE`.
    pub fn schedtrace(mut self, period: Option<Duration>) -> Self {
        self.schedtrace = Some(period);
        self
    }

    /// How long a green thread may run before sysmon asks it to yield at its
    /// next runtime call or `coop::checkpoint`, and the longest a socket
    /// waits to be polled while every processor is busy. Shorter slices cut
    /// the latency of I/O-bound green threads sharing processors with
    /// CPU-bound ones, at the price of more switches. Accepted: 100 µs to
    /// 1 s. Default 10 ms (Go's fixed value).
    pub fn time_slice(mut self, d: Duration) -> Self {
        self.time_slice = d;
        self
    }

    /// Builds the runtime. Invalid settings give an `InvalidInput` error
    /// naming the setting and the accepted range. No OS thread starts until
    /// the first green thread does.
    pub fn build(self) -> io::Result<Runtime> {
        let procs = match self.procs {
            Some(n) => check("procs", n, 1, MAX_PROCS)?,
            None => config::procs_from_env()?.unwrap_or_else(|| config::cpu_count().min(MAX_PROCS)),
        };
        let stack_size = check(
            "stack_size",
            self.stack_size,
            MIN_STACK_SIZE,
            MAX_STACK_SIZE,
        )?;
        let max_machines = check("max_machines", self.max_machines, procs, MAX_MACHINES)?;
        let schedtrace = match self.schedtrace {
            Some(p) => p,
            None => config::schedtrace_from_env()?,
        };
        if !(MIN_TIME_SLICE..=MAX_TIME_SLICE).contains(&self.time_slice) {
            return Err(ConfigError {
                what: "time_slice".into(),
                value: format!("{:?}", self.time_slice),
                accepted: format!("{MIN_TIME_SLICE:?} to {MAX_TIME_SLICE:?}"),
            }
            .into());
        }
        crate::panic_hook::install();
        let sched = Scheduler::new(Config {
            procs,
            stack_size,
            thread_name: self.thread_name,
            max_machines,
            machine_idle_timeout: self.machine_idle_timeout,
            schedtrace,
            time_slice: self.time_slice,
        })?;
        Ok(Runtime { sched })
    }
}

fn check(what: &str, n: usize, min: usize, max: usize) -> Result<usize, ConfigError> {
    config::parse_in_range(what, &n.to_string(), min, max)
}

/// A green-thread runtime: `procs` processors, Ms started on demand.
pub struct Runtime {
    sched: Arc<Scheduler>,
}

impl Runtime {
    /// A builder (see [`Builder`]).
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default settings.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `f` as a green thread and returns its value. Other green threads
    /// keep running after it returns, for as long as the runtime lives.
    ///
    /// # Panics
    /// If `f` panics, the panic resumes on the caller with its payload.
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Spawns a green thread on this runtime.
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(&self.sched, None, f)
    }

    /// Spawns a named green thread on this runtime (the name shows in
    /// `current()`, panic messages and traces).
    pub fn spawn_named<F, T>(&self, name: impl Into<String>, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(&self.sched, Some(name.into().into_boxed_str()), f)
    }

    /// A [`SpawnBuilder`](crate::SpawnBuilder) that spawns on this runtime.
    pub fn spawn_builder(&self) -> crate::SpawnBuilder {
        crate::spawn_builder::SpawnBuilder::on(self.sched.clone())
    }

    /// Number of processors.
    pub fn procs(&self) -> usize {
        self.sched.procs()
    }

    /// A snapshot of the scheduler: processors, machines, queues.
    pub fn stats(&self) -> RuntimeStats {
        self.sched.stats()
    }

    /// Started green threads that have not finished (running, runnable after
    /// their first run, or parked).
    pub fn live_green_threads(&self) -> usize {
        self.sched.stats().live_green_threads
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(current) = context::current_sched() {
            if Arc::ptr_eq(&current, &self.sched) {
                // Joining our own M would deadlock, and cancelling the running
                // G would free the stack we run on.
                eprintln!(
                    "greenrt: a Runtime was dropped from one of its own green threads; \
                     its machines are left running"
                );
                return;
            }
        }
        self.sched.shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("procs", &self.procs())
            .finish()
    }
}

/// The default runtime, started on first use. Its procs come from
/// `GREENRT_PROCS`, else the CPU count.
///
/// # Panics
/// If `GREENRT_PROCS` is invalid (the message names the variable and the
/// accepted range), or the OS refuses the poller's file descriptors.
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| match Builder::new().build() {
        Ok(rt) => rt,
        Err(e) => panic!("greenrt: cannot start the default runtime: {e}"),
    })
}

/// The scheduler of the caller's runtime: the G's own, else the default.
pub(crate) fn current_or_default() -> Arc<Scheduler> {
    context::current_sched().unwrap_or_else(|| default_runtime().sched.clone())
}

/// Runs `f` as a green thread on the default runtime and returns its value.
/// May be called from several OS threads at once.
///
/// ```
/// let v = greenrt::run(|| {
///     let h = greenrt::spawn(|| 20);
///     h.join().unwrap() + 22
/// });
/// assert_eq!(v, 42);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_runtime().block_on(f)
}

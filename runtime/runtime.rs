//! `Runtime` and its `Builder`; the lazily started default runtime.
//!
//! A `Runtime` owns a scheduler: its Ps, the Ms (OS threads) it starts on
//! demand, its timers and its netpoller. `block_on` runs a closure as a G and
//! waits for it; other Gs keep running while the `Runtime` lives. Dropping it
//! cancels every unfinished G (unwinding its stack on an M) and stops its
//! Ms, waiting at most its shutdown timeout (`sched/shutdown.rs`).

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{
    self, ConfigError, DeadlockAction, DEFAULT_DEADLOCK_GRACE, DEFAULT_MACHINE_IDLE_TIMEOUT,
    DEFAULT_MAX_MACHINES, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_STACK_SIZE, DEFAULT_TIME_SLICE,
    MAX_MACHINES, MAX_PROCS, MAX_STACK_SIZE, MAX_TIME_SLICE, MIN_STACK_SIZE, MIN_TIME_SLICE,
};
use crate::join::{spawn_on, JoinHandle};
use crate::sched::context;
use crate::sched::RuntimeStats;
use crate::sched::{Config, DeadlockConfig, Scheduler, DEFAULT_RING_EVENTS};

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
    shutdown_timeout: Option<Duration>,
    hog_report: Option<bool>,
    deadlock_grace: Option<Option<Duration>>,
    deadlock_action: Option<DeadlockAction>,
    trace: Option<PathBuf>,
    trace_events: usize,
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
            shutdown_timeout: None,
            hog_report: None,
            deadlock_grace: None,
            deadlock_action: None,
            trace: None,
            trace_events: DEFAULT_RING_EVENTS,
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
    /// next checkpoint (`coop::checkpoint`, `yield_now`, `spawn`, and the
    /// channel operations that never park), and the longest a socket
    /// waits to be polled while every processor is busy. Shorter slices cut
    /// the latency of I/O-bound green threads sharing processors with
    /// CPU-bound ones, at the price of more switches. Accepted: 100 µs to
    /// 1 s. Default 10 ms (Go's fixed value).
    pub fn time_slice(mut self, d: Duration) -> Self {
        self.time_slice = d;
        self
    }

    /// How long dropping the runtime waits for its cancelled green threads
    /// to finish unwinding; those still waiting then are leaked and named on
    /// stderr (see [`Runtime::shutdown_timeout`]). Overrides
    /// `GREENRT_SHUTDOWN_TIMEOUT_MS`. Default 1 s.
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.shutdown_timeout = Some(d);
        self
    }

    /// Whether to report, once on stderr, a green thread that runs ten time
    /// slices without reaching a checkpoint (its id, name, how long it ran,
    /// and to add `greenrt::coop::checkpoint()`). Overrides
    /// `GREENRT_HOG_REPORT`. Default on.
    pub fn hog_report(mut self, on: bool) -> Self {
        self.hog_report = Some(on);
        self
    }

    /// How long every green thread must have been asleep, with nothing in
    /// the runtime able to wake one (no timer, socket or syscall), before
    /// "all N green threads are asleep - possible deadlock" and a dump are
    /// printed to stderr (`None`: never). Default 1 s. See docs/GUIDE.md,
    /// "Diagnostics".
    pub fn deadlock_grace(mut self, grace: Option<Duration>) -> Self {
        self.deadlock_grace = Some(grace);
        self
    }

    /// What to do about a possible deadlock: report it, report it and
    /// abort, or not look. Overrides `GREENRT_DEADLOCK` (default: report).
    pub fn deadlock_action(mut self, action: DeadlockAction) -> Self {
        self.deadlock_action = Some(action);
        self
    }

    /// Record a scheduler trace and write it to `path` as Chrome
    /// trace-event JSON (open it in <https://ui.perfetto.dev> or
    /// `chrome://tracing`) when the runtime is dropped or on
    /// [`Runtime::flush_trace`]. Overrides `GREENRT_TRACE=<path>`. See
    /// docs/GUIDE.md, "Diagnostics".
    pub fn trace(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(path.into());
        self
    }

    /// Events a trace keeps per OS thread; older ones are overwritten and
    /// counted in the file's `otherData.dropped_events`. Default 65 536
    /// (about 2 MiB per thread). Accepted: at least 1.
    pub fn trace_buffer(mut self, events: usize) -> Self {
        self.trace_events = events;
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
        let shutdown_timeout = match self.shutdown_timeout {
            Some(d) => d,
            None => config::shutdown_timeout_from_env()?.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
        };
        let hog_report = match self.hog_report {
            Some(on) => on,
            None => config::hog_report_from_env()?.unwrap_or(true),
        };
        let action = match self.deadlock_action {
            Some(a) => a,
            None => config::deadlock_from_env()?,
        };
        let deadlock = DeadlockConfig {
            grace: match action {
                DeadlockAction::Off => None,
                _ => self.deadlock_grace.unwrap_or(Some(DEFAULT_DEADLOCK_GRACE)),
            },
            abort: action == DeadlockAction::Abort,
        };
        let trace_path = match self.trace {
            Some(p) => Some(p),
            None => std::env::var_os("GREENRT_TRACE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        let trace_events = check("trace_buffer", self.trace_events, 1, usize::MAX)?;
        crate::panic_hook::install();
        let sched = Scheduler::new(Config {
            procs,
            stack_size,
            thread_name: self.thread_name,
            max_machines,
            machine_idle_timeout: self.machine_idle_timeout,
            schedtrace,
            time_slice: self.time_slice,
            hog_report,
            deadlock,
            trace: trace_path.map(|p| (p, trace_events)),
        })?;
        if config::dump_on_sigquit_from_env()? {
            crate::dump_signal::watch(&sched);
        }
        Ok(Runtime {
            sched,
            shutdown_timeout,
        })
    }
}

fn check(what: &str, n: usize, min: usize, max: usize) -> Result<usize, ConfigError> {
    config::parse_in_range(what, &n.to_string(), min, max)
}

/// A green-thread runtime: `procs` processors, Ms started on demand.
pub struct Runtime {
    sched: Arc<Scheduler>,
    /// What `Drop` passes to `shutdown_timeout` (`Builder::shutdown_timeout`).
    shutdown_timeout: Duration,
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
    #[track_caller]
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
    #[track_caller]
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

    /// The scheduler, without keeping it alive (`keep_alive_tests.rs`).
    #[cfg(test)]
    pub(crate) fn scheduler_weak(&self) -> std::sync::Weak<Scheduler> {
        Arc::downgrade(&self.sched)
    }

    /// Machine threads refused so far, and the reports printed about them
    /// (`sched/start_failure.rs`).
    #[cfg(test)]
    pub(crate) fn machine_start_failures(&self) -> (u64, u64) {
        self.sched.machine_start_failures()
    }

    /// A listing of every live green thread: its id, name, state (running
    /// on which processor, runnable, parked with its [`WaitReason`], or in
    /// a syscall), how long it has been in that state, and where it was
    /// spawned. Green threads spawned but not started yet are counted on
    /// the first line.
    ///
    /// Taken without stopping anything, so a green thread that changes
    /// state meanwhile may show either state; times are accurate to about
    /// 10 ms. See docs/GUIDE.md, "Diagnostics".
    ///
    /// [`WaitReason`]: crate::WaitReason
    pub fn dump(&self) -> String {
        self.sched.dump()
    }

    /// Writes the trace file now (see [`Builder::trace`]), keeping the
    /// recorded events: the file written when the runtime is dropped holds
    /// them too. Does nothing when not tracing.
    pub fn flush_trace(&self) -> io::Result<()> {
        self.sched.flush_trace()
    }

    /// Started green threads that have not finished (running, runnable after
    /// their first run, or parked).
    pub fn live_green_threads(&self) -> usize {
        self.sched.stats().live_green_threads
    }
}

impl Runtime {
    /// Shuts the runtime down, returning after about `timeout` at most
    /// (tokio's name). Every unfinished green thread is cancelled: its stack
    /// is unwound on one of the runtime's machines, so its destructors run
    /// there, and its `join` returns `Err` saying it was cancelled. In a
    /// cancelled green thread timed waits (`sleep`, `recv_timeout`) return
    /// at once; other waits park as usual. Green threads still unfinished
    /// after `timeout` — a destructor waiting for something that never
    /// comes — are leaked (their stacks and memory are never freed, so
    /// nothing dangles) and named on stderr. Dropping a `Runtime` does the
    /// same with [`Builder::shutdown_timeout`].
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown_timeout = timeout;
        // `Drop` does the work.
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
        self.sched.shutdown(self.shutdown_timeout);
        if let Err(e) = self.sched.flush_trace() {
            eprintln!("greenrt: could not write the trace: {e}");
        }
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

/// [`current_or_default`] without counting a reference
/// (`context::current_sched_ref`): for the length of one runtime call.
#[inline]
pub(crate) fn current_or_default_ref() -> context::SchedRef {
    context::current_sched_ref()
        .unwrap_or_else(|| context::SchedRef::of_static(&default_runtime().sched))
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

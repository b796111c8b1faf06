//! sysmon — the background monitor thread (Go: proc.go `sysmon`).
//!
//! One OS thread per runtime that never holds a P. Every 20 µs while there is
//! something to do, backing off to 10 ms when nothing happens, it:
//!
//! * **retakes Ps from syscalls**: a P whose M has been in one
//!   `greenrt::syscall` for more than one sysmon tick (≥ 20 µs) is handed to
//!   another M, so the Gs queued behind it keep running;
//! * **retakes Ps from unwrapped blocking calls**: a P lent to the same G
//!   (no switch) for [`BLOCKED_RETAKE_AFTER`] while work waits, and whose M's OS thread the kernel reports asleep
//!   (`thread_state.rs`), goes to another M as a syscall retake does; the G
//!   finds it gone at its next runtime call (`lend.rs`, invariant 8, lent P);
//! * **names hogs**: a G seen on a CPU for [`HOG_AFTER_SLICES`] time slices
//!   without a switch is reported once on stderr (`hog.rs`);
//! * **asks long-running Gs to yield**: a P whose schedule tick has not moved
//!   for one time slice (`Builder::time_slice`, default 10 ms like Go) gets
//!   its `preempt` flag set, which `coop::checkpoint`,
//!   `yield_now` and other runtime calls honour (cooperative preemption: a
//!   loop that never calls into the runtime cannot be preempted);
//! * **polls the network** when Gs wait on sockets and nobody has polled for
//!   a time slice (a P busy with a queue of yielding Gs never reaches the poll step
//!   of its scheduling loop);
//! * **returns unused G memory**: about once a second it frees half of the
//!   G blocks that stayed unused in the runtime's global list for that whole
//!   time, and all but a small floor when every P has gone idle
//!   (`g_alloc.rs`); likewise for pooled stacks, and it unmaps every stack
//!   slab left without a live stack (`stack.rs`, `stack_slab.rs`);
//! * **prints schedtrace** lines when `GREENRT_SCHEDTRACE` is set.
//!
//! When every P has stayed idle through its whole back-off (about 30 ms), it
//! sleeps until a P is taken again (`kick`), so an idle process is not woken
//! every 10 ms. Only after that long: entering deep sleep on every brief idle
//! moment would make each idle-to-busy transition pay a futex wake (measured:
//! ~20% of a one-connection echo server's throughput).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::deadlock::DeadlockWatch;
use super::g_status::{CoarseClock, Phase};
use super::hog::{HogInfo, HogReports, HOG_AFTER_SLICES};
use super::scheduler::Scheduler;
use super::thread_state::{self, OsThreadState};

/// Shortest sysmon sleep (Go: `delay = 20` µs).
const MIN_DELAY: Duration = Duration::from_micros(20);
/// Longest sysmon sleep while any P is busy (Go: capped at 10 ms).
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Quiet rounds at `MIN_DELAY` before backing off (Go: "idle > 50").
const QUIET_ROUNDS_BEFORE_BACKOFF: u32 = 50;
/// How often unused G memory and stacks are returned (`g_alloc.rs`,
/// `stack.rs`).
const SCAVENGE_PERIOD: Duration = Duration::from_secs(1);
/// A syscall this old loses its P (one sysmon tick; Go: 20 µs).
const SYSCALL_RETAKE_AFTER: Duration = Duration::from_micros(20);
/// Even with idle Ms around and no queued work, a syscall this long loses its
/// P (Go: `syscallwhen + 10*1000*1000 > now`).
const SYSCALL_RETAKE_ALWAYS_AFTER: Duration = Duration::from_millis(10);
/// A P lent to the same G this long is checked for an unwrapped blocking
/// call (its thread's kernel state is read). Longer than any runtime call
/// takes, short against the sleeps worth catching.
const BLOCKED_RETAKE_AFTER: Duration = Duration::from_millis(1);
/// The kernel state of one stuck P's thread is read at most this often
/// (each read is an open, a read and a close: ~10–20 µs).
const STATE_READ_EVERY: Duration = Duration::from_millis(1);

/// The scheduler's handle on its sysmon thread.
#[derive(Default)]
pub(crate) struct SysmonHandle {
    started: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    state: Mutex<SleepState>,
    cv: Condvar,
    /// Sysmon sleeps until kicked (every P idle).
    deep: AtomicBool,
    /// Time for G status stamps, refreshed at every tick (`g_status.rs`).
    pub(crate) clock: CoarseClock,
}

#[derive(Default)]
struct SleepState {
    stop: bool,
    kicked: bool,
}

impl SysmonHandle {
    /// Wakes a deep-sleeping sysmon: a P just became busy.
    #[inline]
    pub(crate) fn kick(&self) {
        if self.deep.load(Ordering::SeqCst) {
            // Stamps taken before sysmon's first tick must not be a whole
            // deep sleep old.
            self.clock.refresh();
            let mut st = self.state.lock();
            st.kicked = true;
            self.cv.notify_one();
        }
    }

    /// Stops and joins the thread (runtime shutdown).
    pub(crate) fn stop(&self) {
        {
            let mut st = self.state.lock();
            st.stop = true;
            self.cv.notify_one();
        }
        let handle = self.thread.lock().take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }

    /// Sleeps `d` (None: until kicked). Returns false when told to stop.
    fn sleep(&self, d: Option<Duration>) -> bool {
        let mut st = self.state.lock();
        if st.stop {
            return false;
        }
        match d {
            Some(d) => {
                self.cv.wait_for(&mut st, d);
            }
            None => {
                while !st.kicked && !st.stop {
                    self.cv.wait(&mut st);
                }
            }
        }
        st.kicked = false;
        !st.stop
    }
}

/// Starts the runtime's sysmon thread once (when its first M starts).
pub(crate) fn ensure_started(sched: &Scheduler) {
    if sched.sysmon.started.swap(true, Ordering::AcqRel) {
        return;
    }
    let sched = sched.arc();
    let name = format!("{}-sysmon", sched.config.thread_name);
    let spawned = std::thread::Builder::new().name(name).spawn({
        let sched = sched.clone();
        move || Sysmon::new(sched).run()
    });
    match spawned {
        Ok(h) => *sched.sysmon.thread.lock() = Some(h),
        Err(e) => eprintln!(
            "greenrt: could not start sysmon ({e}); syscalls will not hand off their processor"
        ),
    }
}

#[derive(Clone, Copy)]
struct Seen {
    syscall_tick: u64,
    syscall_since: Instant,
    schedtick: u32,
    schedtick_since: Instant,
    /// The P's lend count (`LendSlot::lends`) at the last look, and since
    /// when it has stood still: how long one G has held the P.
    lends: u32,
    lent_since: Instant,
    /// When this P's thread state was last read.
    state_read: Option<Instant>,
    /// The thread's CPU time at the first state read of this lend.
    cpu_base: Option<Duration>,
}

struct Sysmon {
    sched: Arc<Scheduler>,
    seen: Vec<Seen>,
    hogs: HogReports,
    last_trace: Instant,
    last_scavenge: Instant,
    started: Instant,
    deadlock: DeadlockWatch,
}

impl Sysmon {
    fn new(sched: Arc<Scheduler>) -> Self {
        let now = Instant::now();
        let seen = vec![
            Seen {
                syscall_tick: 0,
                syscall_since: now,
                schedtick: 0,
                schedtick_since: now,
                lends: 0,
                lent_since: now,
                state_read: None,
                cpu_base: None,
            };
            sched.procs()
        ];
        Sysmon {
            deadlock: DeadlockWatch::new(sched.config.deadlock),
            sched,
            seen,
            hogs: HogReports::default(),
            last_trace: now,
            last_scavenge: now,
            started: now,
        }
    }

    fn run(mut self) {
        // The lend word's rare-side fence may need a slow registration
        // first: pay it here, not on an M (`membarrier.rs`).
        super::membarrier::prepare();
        let mut delay = MIN_DELAY;
        let mut quiet = 0u32;
        let mut idle_rounds = 0u32;
        loop {
            let handle = &self.sched.sysmon;
            // Deep sleep only once the back-off has run its course with every
            // P idle the whole time (see the module docs).
            let all_idle = self.all_idle();
            if !all_idle {
                idle_rounds = 0;
            }
            let keep_going =
                if all_idle && idle_rounds > QUIET_ROUNDS_BEFORE_BACKOFF && delay == MAX_DELAY {
                    // Deep sleep until a P is taken (or the next trace line).
                    // Nothing runs, so nothing will spawn soon: return the
                    // spare G memory first.
                    self.sched.gblocks.scavenge(true);
                    self.sched.stacks.scavenge(true);
                    handle.deep.store(true, Ordering::SeqCst);
                    let still_idle = self.all_idle();
                    let ok = handle.sleep(if still_idle {
                        earliest(
                            self.sched.config.schedtrace,
                            self.deadlock.wake_within(Instant::now()),
                        )
                    } else {
                        Some(delay)
                    });
                    handle.deep.store(false, Ordering::SeqCst);
                    delay = MIN_DELAY;
                    quiet = 0;
                    idle_rounds = 0;
                    ok
                } else {
                    if all_idle {
                        idle_rounds += 1;
                    }
                    handle.sleep(Some(delay))
                };
            if !keep_going || self.sched.is_shutdown() {
                return;
            }
            handle.clock.refresh();
            let now = Instant::now();
            if now.duration_since(self.last_scavenge) >= SCAVENGE_PERIOD {
                self.last_scavenge = now;
                self.sched.gblocks.scavenge(false);
                self.sched.stacks.scavenge(false);
            }
            let mut acted = self.retake(now);
            if self
                .sched
                .netpoll
                .poll_overdue(self.sched.config.time_slice)
            {
                #[cfg(not(test))]
                let polled = self.sched.netpoll.poll_now();
                // Tests may widen the moment sysmon holds the poller.
                #[cfg(test)]
                let polled = self.sched.netpoll.poll(|| {
                    poll_hold::hold_if_armed(&self.sched.config.thread_name);
                    Some(Duration::ZERO)
                });
                if let Some(ready) = polled {
                    if !ready.is_empty() {
                        if let Some(t) = self.sched.tracer.as_deref() {
                            t.netpoll(ready.len());
                        }
                        // No P here: they go to the global queue, with wakep.
                        self.sched.ready_list(ready);
                        acted = true;
                    }
                }
            }
            self.trace(now);
            if all_idle {
                self.deadlock.tick(&self.sched, now);
            }
            if acted {
                delay = MIN_DELAY;
                quiet = 0;
            } else {
                quiet += 1;
                if quiet > QUIET_ROUNDS_BEFORE_BACKOFF {
                    // While any P is busy, tick at least four times per time
                    // slice: a slice is seen to start up to one tick late and
                    // to end up to one tick late, so it lasts 1–1.5 slices.
                    let cap = if all_idle {
                        MAX_DELAY
                    } else {
                        MAX_DELAY.min(self.sched.config.time_slice / 4)
                    };
                    delay = (delay * 2).min(cap);
                }
            }
        }
    }

    fn all_idle(&self) -> bool {
        self.sched.idle.npidle() == self.sched.procs()
    }

    /// Retakes Ps from long syscalls and unwrapped blocking calls, flags
    /// long-running Gs and names hogs. Returns
    /// whether anything was done.
    fn retake(&mut self, now: Instant) -> bool {
        let sched = &self.sched;
        let mut acted = false;
        for (i, ps) in sched.ps.iter().enumerate() {
            let seen = &mut self.seen[i];
            // Syscalls.
            let tick = ps.syscall_tick.load(Ordering::Acquire);
            if !ps.syscall_slot.is_empty() {
                if seen.syscall_tick != tick {
                    seen.syscall_tick = tick;
                    seen.syscall_since = now;
                } else {
                    let age = now.duration_since(seen.syscall_since);
                    // Go leaves a P in a syscall alone when nothing waits for
                    // it and other Ms could pick up new work anyway.
                    let nothing_waits = !ps.has_work()
                        && sched.global.is_empty()
                        && sched.idle.nmspinning() + sched.idle.npidle() > 0;
                    if age >= SYSCALL_RETAKE_AFTER
                        && (!nothing_waits || age >= SYSCALL_RETAKE_ALWAYS_AFTER)
                    {
                        if let Some(p) = ps.syscall_slot.take() {
                            sched
                                .counters
                                .syscall_handoffs
                                .fetch_add(1, Ordering::Relaxed);
                            if let Some(t) = sched.tracer.as_deref() {
                                t.retake(i);
                            }
                            sched.handoff_p(p);
                            acted = true;
                        }
                    }
                }
            }
            // Long-running Gs.
            let st = ps.schedtick.load(Ordering::Relaxed);
            if seen.schedtick != st {
                seen.schedtick = st;
                seen.schedtick_since = now;
            } else if now.duration_since(seen.schedtick_since) >= sched.config.time_slice {
                seen.schedtick_since = now;
                // Not counted as activity (as in Go): resetting to the 20 µs
                // period after every preemption made sysmon wake ~50 times
                // per slice while CPU-bound Gs run, taking ~11% of a 2-core
                // machine at a 1 ms slice. The busy back-off cap (a quarter
                // slice) keeps slices within 1–1.5× `time_slice`.
                ps.preempt.store(true, Ordering::Relaxed);
            }
        }
        for i in 0..self.seen.len() {
            acted |= self.watch_stuck(i, now);
        }
        acted
    }

    /// A P lent to a G whose tick stands still: retake it when the G's
    /// thread sleeps in the kernel while work waits (an unwrapped blocking
    /// call), name the G when it runs on for many slices (a hog). Returns
    /// whether a P was retaken.
    fn watch_stuck(&mut self, i: usize, now: Instant) -> bool {
        let sched = &self.sched;
        let ps = &sched.ps[i];
        let seen = &mut self.seen[i];
        let lends = ps.lend.lends();
        if lends != seen.lends {
            *seen = Seen {
                lends,
                lent_since: now,
                state_read: None,
                cpu_base: None,
                ..*seen
            };
            return false;
        }
        let stuck = now.duration_since(seen.lent_since);
        if stuck < BLOCKED_RETAKE_AFTER
            || seen
                .state_read
                .is_some_and(|t| now.duration_since(t) < STATE_READ_EVERY)
        {
            return false;
        }
        let Some(lendee) = ps.lend.lent_to() else {
            return false;
        };
        let key = lendee.key();
        seen.state_read = Some(now);
        match thread_state::state_of(key) {
            OsThreadState::Asleep => {
                if !ps.has_work() && sched.global.is_empty() {
                    return false;
                }
                // Invariant 8 (lent P): winning the lend word makes us the
                // P's owner; if the G's thread woke and claimed it first,
                // this fails and the P stays with it. A dump then shows the
                // G as blocked without a P, not still running on it.
                let Some(p) = ps.lend.retake(lendee, |g| {
                    // SAFETY: inside the retake's decision we own `g` and
                    // the P (`LendSlot::retake`).
                    unsafe { sched.note_left_p(NonNull::from(g), ps, Phase::BlockingCall) }
                }) else {
                    return false;
                };
                sched
                    .counters
                    .blocking_handoffs
                    .fetch_add(1, Ordering::Relaxed);
                sched.handoff_p(p);
                true
            }
            OsThreadState::Running | OsThreadState::Unknown => {
                if !sched.config.hog_report {
                    return false;
                }
                // Time on a CPU, where the kernel says: on a loaded machine
                // a well-behaved G's thread may wait for a CPU for longer
                // than the threshold between two checkpoints.
                let ran = match (seen.cpu_base, thread_state::cpu_time_of(key)) {
                    (Some(base), Some(cpu)) => cpu.saturating_sub(base),
                    (None, Some(cpu)) => {
                        seen.cpu_base = Some(cpu);
                        return false;
                    }
                    (_, None) => stuck,
                };
                let hog_after = sched.config.time_slice * HOG_AFTER_SLICES;
                if ran >= hog_after && self.hogs.may_report(now) {
                    if let Some(hog) = ps.lend.inspect(lendee, HogInfo::of) {
                        self.hogs.report(hog, ran, now);
                    }
                }
                false
            }
        }
    }

    fn trace(&mut self, now: Instant) {
        let Some(every) = self.sched.config.schedtrace else {
            return;
        };
        if now.duration_since(self.last_trace) < every {
            return;
        }
        self.last_trace = now;
        let s = self.sched.stats();
        eprintln!(
            "SCHED {}ms: procs={} idleprocs={} threads={} idlethreads={} spinningthreads={} \
             insyscall={} runqueue={} {:?}",
            now.duration_since(self.started).as_millis(),
            s.procs,
            s.idle_procs,
            s.machines,
            s.idle_machines,
            s.spinning_machines,
            s.in_syscall,
            s.global_queue,
            s.local_queues
        );
    }
}

/// The shorter of two optional sleeps (`None`: unbounded).
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A test-only hook: makes sysmon's non-blocking poll hold the poller for a
/// while, in runtimes whose thread name was armed, so a test can make an M
/// go idle inside that window (a few microseconds otherwise).
#[cfg(test)]
pub(crate) mod poll_hold {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use parking_lot::Mutex;

    /// One armed runtime.
    pub(crate) struct PollHold {
        thread_name: String,
        hold: Duration,
        armed: AtomicBool,
        holding: AtomicBool,
    }

    impl PollHold {
        /// True while sysmon is inside a held poll.
        pub(crate) fn holding(&self) -> bool {
            self.holding.load(Ordering::SeqCst)
        }

        /// Stops holding (the next polls are ordinary again).
        pub(crate) fn disarm(&self) {
            self.armed.store(false, Ordering::SeqCst);
        }
    }

    static HOOKS: Mutex<Vec<Arc<PollHold>>> = Mutex::new(Vec::new());

    /// Arms the hook for the runtime whose `Builder::thread_name` is
    /// `thread_name`: each of its sysmon polls then holds the poller `hold`.
    pub(crate) fn arm(thread_name: &str, hold: Duration) -> Arc<PollHold> {
        let hook = Arc::new(PollHold {
            thread_name: thread_name.to_owned(),
            hold,
            armed: AtomicBool::new(true),
            holding: AtomicBool::new(false),
        });
        HOOKS.lock().push(hook.clone());
        hook
    }

    pub(super) fn hold_if_armed(thread_name: &str) {
        let hook = HOOKS
            .lock()
            .iter()
            .find(|h| h.thread_name == thread_name && h.armed.load(Ordering::SeqCst))
            .cloned();
        if let Some(hook) = hook {
            hook.holding.store(true, Ordering::SeqCst);
            std::thread::sleep(hook.hold);
            hook.holding.store(false, Ordering::SeqCst);
        }
    }
}

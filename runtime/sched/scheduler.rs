//! The scheduler's global state (Go's `sched`): all Ps, the idle P and idle M
//! lists, the global run queue, the spinning-M count, timers and the poller.
//!
//! Relied on here and in `machine.rs`: invariants 1 (P ownership), 2 (no
//! stranded G) and 3 (bounded spinning) of `sched/mod.rs`.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal};
use parking_lot::Mutex;

use super::context;
use super::counters::SharedCounters;
use super::g_alloc::GlobalBlocks;
use super::g_ref::GRef;
use super::green_thread::{GreenThreadWith, Task};
use super::idle::{Idle, IdleGuard};
use super::keep_alive::KeepAlive;
use super::machine::Machine;
use super::netpoll::NetPoller;
use super::processor::{Processor, ProcessorShared};
use super::registry::Registry;
use super::stack::StackPool;
use super::start_failure::StartFailures;
use super::timers::{Fired, TimerAction, TimerHandle, Timers};
use super::trace::Tracer;

/// Settings a runtime is built with (validated by `runtime::Builder`).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) procs: usize,
    pub(crate) stack_size: usize,
    pub(crate) thread_name: String,
    /// Most Ms (OS threads running Gs or blocked in syscalls) at once.
    pub(crate) max_machines: usize,
    /// An idle M exits after this long without work.
    pub(crate) machine_idle_timeout: Duration,
    /// Print a schedtrace line this often (`GREENRT_SCHEDTRACE`).
    pub(crate) schedtrace: Option<Duration>,
    /// A G running this long is asked to yield, and the network is polled
    /// at least this often while every P is busy (Go: 10 ms, fixed).
    pub(crate) time_slice: Duration,
    /// Report green threads that run many slices without a checkpoint
    /// (`hog.rs`; `GREENRT_HOG_REPORT`, `Builder::hog_report`).
    pub(crate) hog_report: bool,
    /// When and how to report a deadlock (`deadlock.rs`).
    pub(crate) deadlock: super::deadlock::DeadlockConfig,
    /// Record a trace into this file, keeping this many events per thread
    /// (`trace.rs`).
    pub(crate) trace: Option<(std::path::PathBuf, usize)>,
}

pub(crate) struct Scheduler {
    me: Weak<Scheduler>,
    pub(crate) config: Config,
    pub(crate) global: Injector<GRef>,
    pub(crate) ps: Box<[Arc<ProcessorShared>]>,
    /// Idle Ps, idle Ms and spinning Ms (`idle.rs`).
    pub(crate) idle: Idle,
    pub(crate) timers: Arc<Timers>,
    pub(crate) netpoll: NetPoller,
    pub(crate) stacks: StackPool,
    /// Memory of dropped Gs, for reuse (`g_alloc.rs`).
    pub(crate) gblocks: GlobalBlocks,
    /// The units that keep this scheduler alive for its Gs
    /// (`keep_alive.rs`; invariant 9, scheduler outlives its Gs).
    pub(crate) keep_alive: KeepAlive,
    pub(crate) registry: Registry,
    /// Counts kept outside any P (`counters.rs`).
    pub(crate) counters: SharedCounters,
    shutdown: AtomicBool,
    /// Set when shutdown begins cancelling Gs (`shutdown.rs`); `shutdown`
    /// is set later, when the Ms are told to stop.
    cancelling: AtomicBool,
    /// Where G ids come from (`g_ids.rs`).
    next_gid: AtomicU64,
    next_mid: AtomicUsize,
    /// Machine threads the OS refused to start (`start_failure.rs`).
    start_failures: StartFailures,
    /// Live Ms.
    pub(crate) mcount: AtomicUsize,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    pub(crate) sysmon: super::sysmon::SysmonHandle,
    /// The trace recorder, when tracing (`trace.rs`); `None` costs each
    /// recording site one test.
    pub(crate) tracer: Option<Box<Tracer>>,
    /// Ms asleep while their locked G waits (`os_thread_lock.rs`).
    pub(crate) locked_ms: super::os_thread_lock::LockedMs,
}

/// Where a G made runnable on this thread's P goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// `runnext`: it runs as soon as the current G switches out. For a new
    /// G and for most wakes: the waker is usually about to wait for the
    /// woken G's answer (a channel ping-pong), which this keeps on one core.
    Next,
    /// The local queue's tail, behind the Gs already queued. For the wake
    /// of a joiner by a finishing G: the finishing G will not wait for an
    /// answer, and a joiner of many Gs (spawn N, join them in order) that
    /// ran at once would only park again on the next one still queued —
    /// a park, a wake and two switches per G. Queued last, it finds them
    /// finished. (tokio's current_thread queues every wake this way.)
    Last,
}

impl Scheduler {
    pub(crate) fn new(config: Config) -> std::io::Result<Arc<Scheduler>> {
        super::overflow::install_handler();
        let netpoll = NetPoller::new()?;
        let mut ps = Vec::with_capacity(config.procs);
        let mut shared = Vec::with_capacity(config.procs);
        for id in 0..config.procs {
            let (p, s) = Processor::new(id, config.procs);
            ps.push(p);
            shared.push(s);
        }
        // Idle Ps are handed out from the back: start with P0 on top.
        ps.reverse();
        let tracer = config
            .trace
            .as_ref()
            .map(|(path, events)| Box::new(Tracer::new(path.clone(), *events)));
        Ok(Arc::new_cyclic(|me| Scheduler {
            tracer,
            me: me.clone(),
            stacks: StackPool::new(config.stack_size),
            gblocks: GlobalBlocks::new(),
            keep_alive: KeepAlive::new(),
            config,
            global: Injector::new(),
            ps: shared.into_boxed_slice(),
            idle: Idle::new(ps),
            timers: Timers::new(),
            netpoll,
            registry: Registry::new(),
            counters: SharedCounters::default(),
            shutdown: AtomicBool::new(false),
            cancelling: AtomicBool::new(false),
            next_gid: AtomicU64::new(1),
            next_mid: AtomicUsize::new(0),
            start_failures: StartFailures::new(),
            mcount: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            sysmon: super::sysmon::SysmonHandle::default(),
            locked_ms: Default::default(),
        }))
    }

    pub(crate) fn arc(&self) -> Arc<Scheduler> {
        self.me.upgrade().expect("scheduler used after drop")
    }

    pub(crate) fn procs(&self) -> usize {
        self.config.procs
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// True once shutdown has begun cancelling this runtime's Gs.
    #[inline]
    pub(crate) fn is_cancelling(&self) -> bool {
        self.cancelling.load(Ordering::SeqCst)
    }

    /// Creates a G for `task` (in the same allocation) and makes it
    /// runnable. Returns the G and where its task lives (valid while the G
    /// does). The G records where it was spawned: the innermost caller
    /// outside the chain of `#[track_caller]` spawn functions.
    #[track_caller]
    pub(crate) fn spawn<B: Task + 'static>(
        self: &Arc<Self>,
        name: Option<Box<str>>,
        task: B,
    ) -> (GRef, NonNull<B>) {
        let spawned_at = std::panic::Location::caller();
        self.spawn_g(name, spawned_at, task, None)
    }

    /// [`spawn`](Self::spawn) for a G whose stack, of `stack_size` bytes,
    /// is taken now: `Err` (and no G) when it cannot be had.
    #[track_caller]
    pub(crate) fn spawn_with_stack<B: Task + 'static>(
        self: &Arc<Self>,
        name: Option<Box<str>>,
        task: B,
        stack_size: usize,
    ) -> std::io::Result<(GRef, NonNull<B>)> {
        let spawned_at = std::panic::Location::caller();
        let stack = {
            let p = local_p(self);
            // SAFETY: `p` is null or this thread's own P, claimed while `p`
            // lives; nothing below switches.
            match unsafe { p.get().as_ref() }.and_then(|p| p.stacks.try_borrow_mut().ok()) {
                Some(mut cache) => self.stacks.get_sized(&mut cache, stack_size),
                None => {
                    let mut cache = Vec::new();
                    let stack = self.stacks.get_sized(&mut cache, stack_size);
                    self.stacks.put_all(&mut cache);
                    stack
                }
            }
        }?;
        Ok(self.spawn_g(name, spawned_at, task, Some(stack)))
    }

    /// Spawns a G for `task` (with the stack it will run on, if taken).
    #[inline(always)]
    fn spawn_g<B: Task + 'static>(
        self: &Arc<Self>,
        name: Option<Box<str>>,
        spawned_at: &'static std::panic::Location<'static>,
        task: B,
        stack: Option<super::stack::GreenStack>,
    ) -> (GRef, NonNull<B>) {
        let p = local_p(self);
        // SAFETY: `p` is null or this thread's own P, valid while we run here.
        let id = match unsafe { p.get().as_ref() } {
            Some(p) => {
                p.shared.counters.spawned.bump();
                p.keep_alive.take_one(self);
                p.ids.next(&self.next_gid)
            }
            None => {
                self.counters.spawned_off_p.fetch_add(1, Ordering::Relaxed);
                KeepAlive::take(self, 1);
                self.next_gid.fetch_add(1, Ordering::Relaxed)
            }
        };
        let (queued, handle) = {
            // SAFETY: `local_p` returns this thread's own P (or null), and
            // nothing here switches.
            let mut cache = unsafe { block_cache(p.get()) };
            // SAFETY: `write_new` writes a whole G, whose count says 2, to
            // the fresh block it is given; the G's unit was taken above.
            unsafe {
                GRef::new_pair(&self.gblocks, cache.as_deref_mut(), |dst| {
                    GreenThreadWith::write_new(dst, id, name, spawned_at, self, task, stack)
                })
            }
        };
        // SAFETY: `handle` points at the whole block, which holds a
        // `GreenThreadWith<B>` (`GRef::new_pair`) and which it keeps alive;
        // the task is a field of it.
        let task = unsafe {
            let whole = handle.as_ptr().cast::<GreenThreadWith<B>>();
            NonNull::new_unchecked(std::ptr::addr_of_mut!((*whole.as_ptr()).task))
        };
        if self.is_shutdown() {
            // Spawned during shutdown (by a destructor that an unwinding G
            // runs): it will never run, so settle its join slot now
            // ("cancelled") instead of leaving its JoinHandle waiting. The
            // task's drop is user code: not under the P's claim.
            drop(p);
            queued.cancel_task();
            drop(queued);
            return (handle, task);
        }
        // SAFETY: `p` was claimed for this runtime.
        unsafe { self.ready_on(queued, p, Placement::Next) };
        (handle, task)
    }

    /// Takes back the memory and the unit of a dropped G (`g_ref::destroy`):
    /// into this thread's P's caches when it is an M of this runtime holding
    /// one, else the global list and the scheduler's count (which may free
    /// the scheduler: invariant 9, scheduler outlives its Gs).
    ///
    /// # Safety
    /// As for [`GlobalBlocks::free`]: `block` came from the `gblocks` of the
    /// scheduler at `sched` with `layout`, and nothing refers to it any
    /// more. The caller holds that G's unit of `sched` and gives it up: it
    /// must not touch the scheduler after this call.
    pub(crate) unsafe fn free_g_block(
        sched: *const Scheduler,
        block: NonNull<u8>,
        layout: std::alloc::Layout,
    ) {
        // SAFETY: the caller's unit keeps the scheduler alive until it is
        // given back, the last thing below.
        let this = unsafe { &*sched };
        let p = local_p(this);
        {
            // SAFETY: `local_p` returns this thread's own P (or null), and
            // nothing here switches.
            let mut cache = unsafe { block_cache(p.get()) };
            // SAFETY: per the contract; the cache belongs to a P of this
            // runtime.
            unsafe { this.gblocks.free(cache.as_deref_mut(), block, layout) }
        }
        // SAFETY: `p` is null or this thread's own P, claimed while `p` lives.
        if let Some(p) = unsafe { p.get().as_ref() } {
            // SAFETY: the caller's unit moves to this P of its scheduler.
            return unsafe { p.keep_alive.keep_one(this) };
        }
        drop(p);
        // SAFETY: the caller's unit, given back last.
        unsafe { KeepAlive::give(sched, 1) }
    }

    /// Gives back the units of every idle P (`keep_alive.rs`, "Where the P's
    /// units go"): shutdown, once the Ms have stopped. The caller holds an
    /// `Arc` of its own, so the scheduler outlives the call.
    pub(crate) fn return_p_units(&self) {
        let units: usize = {
            let mut idle = self.idle.lock();
            idle.ps_mut().map(|p| p.keep_alive.take_all()).sum()
        };
        if units > 0 {
            // SAFETY: those units were the stashes' (now empty), and the
            // caller's `Arc` keeps the scheduler alive after the call.
            unsafe { KeepAlive::give(self, units) };
        }
    }

    /// Makes a woken or new G runnable: into the current P's `runnext` when
    /// this thread is one of our Ms holding a P, else the global queue.
    pub(crate) fn ready(&self, g: GRef) {
        // SAFETY: `local_p` claims this thread's own P of this runtime.
        unsafe { self.ready_on(g, local_p(self), Placement::Next) }
    }

    /// [`ready`](Self::ready) for a caller that already looked up this
    /// thread's P of this runtime (`p`, or null when it holds none): saves
    /// the second thread-local lookup on the wake path of every sync
    /// primitive.
    ///
    /// # Safety
    /// `p` is empty or was claimed for this scheduler
    /// (`context::claim_local_p`) by the calling thread, which does not
    /// switch during the call.
    #[inline]
    pub(crate) unsafe fn ready_on(&self, g: GRef, p: context::LocalP, placement: Placement) {
        if self.is_shutdown() {
            // A started G is still in the registry and is unwound by
            // `shutdown`; a new one was settled by `spawn`. Dropping it may
            // run user code: not under the P's claim.
            drop(p);
            drop(g);
            return;
        }
        let raw = p.get();
        if raw.is_null() {
            self.global.push(g);
        } else {
            // SAFETY: per the contract, `raw` is this thread's own P,
            // claimed while `p` lives.
            unsafe {
                match placement {
                    Placement::Last => (*raw).push_local(g),
                    Placement::Next if self.ps.len() == 1 => (*raw).push_next_sole(g),
                    Placement::Next => (*raw).push_next(g),
                }
            };
        }
        drop(p);
        self.wakep();
    }

    /// Makes a list of Gs runnable (from timers or the poller), keeping
    /// their order.
    pub(crate) fn ready_list(&self, gs: Vec<GRef>) {
        if gs.is_empty() {
            return;
        }
        if self.is_shutdown() {
            return;
        }
        let claim = local_p(self);
        let p = claim.get();
        for g in gs {
            if p.is_null() {
                self.global.push(g);
            } else {
                // SAFETY: `p` is this thread's own P, claimed while
                // `claim` lives.
                unsafe { (*p).push_local(g) };
            }
        }
        drop(claim);
        self.wakep();
    }

    /// Runs what fired timers asked for: queue the woken Gs, run callbacks.
    pub(crate) fn absorb_fired(&self, fired: Fired) {
        self.ready_list(fired.ready);
        for call in fired.calls {
            call();
        }
    }

    /// Adds a timer to this runtime, nudging the sleeping poller when the new
    /// deadline is the earliest.
    pub(crate) fn add_timer(&self, when: Instant, action: TimerAction) -> TimerHandle {
        let (handle, earliest) = self.timers.add(when, action);
        if earliest {
            // Pairs with the fence in `NetPoller::poll`: either the poller
            // computes its timeout after our deadline is visible, or we see
            // it blocked and wake it.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.netpoll.is_blocked() {
                self.netpoll.wake();
            } else {
                // Nobody sleeps on the timers: make sure some M will look.
                self.wakep();
            }
        }
        handle
    }

    /// Starts a spinning M if there is an idle P and nobody spins
    /// (invariants 2, no stranded G, and 3, bounded spinning).
    #[inline]
    pub(crate) fn wakep(&self) {
        if self.idle.npidle() == 0 {
            return;
        }
        if self.idle.nmspinning() != 0 || !self.idle.try_start_first_spinner() {
            return;
        }
        self.startm(true);
    }

    /// Gives an idle P to an idle (or new) M. `spinning`: the caller already
    /// counted the new M in `nmspinning`.
    pub(crate) fn startm(&self, spinning: bool) {
        let p = {
            let mut idle = self.idle.lock();
            // Shutdown is decided under this lock (`shutdown`).
            if self.is_shutdown() {
                None
            } else {
                idle.take_p()
            }
        };
        match p {
            Some(p) => {
                self.sysmon.kick();
                self.start_m_with(p, spinning)
            }
            None if spinning => {
                self.idle.stop_spinning();
            }
            None => {}
        }
    }

    /// Runs `p` on an idle M, or a new one. When no M can be had (shutdown,
    /// the `max_machines` cap, or the OS refuses a thread) the P goes back to
    /// the idle list: work waits, nothing fails.
    pub(crate) fn start_m_with(&self, p: Box<Processor>, spinning: bool) {
        let mut idle = self.idle.lock();
        if !self.is_shutdown() {
            if let Some(m) = idle.take_m() {
                drop(idle);
                m.hand_off(Some(p), spinning);
                return;
            }
            if self.mcount.load(Ordering::SeqCst) < self.config.max_machines {
                // Keep the lock while registering the thread, so shutdown
                // sees it.
                match self.spawn_machine(p, spinning) {
                    Ok(()) => return,
                    Err((p, e)) => {
                        self.park_p_unrun(idle, p, spinning);
                        return self.start_failures.record(&e);
                    }
                }
            }
        }
        self.park_p_unrun(idle, p, spinning)
    }

    /// Parks `p`, which may still have queued work, because no M can run
    /// it now; a spinning M that was to run it is no longer counted.
    ///
    /// Outside shutdown the work must not wait for a new M that may never
    /// come (the OS keeps refusing threads, or the cap holds): the P's queue
    /// moves to the global queue, and the netpoller is woken, so an M asleep
    /// in it — possibly the only one — finds the work and takes the P
    /// (`Machine::block`); busy Ms find it at their next global check.
    fn park_p_unrun(&self, mut idle: IdleGuard<'_>, p: Box<Processor>, spinning: bool) {
        // Decided once: drained Gs must reach the global queue even if
        // shutdown begins meanwhile (its sweep looks there, not here).
        let stranded = (!self.is_shutdown()).then(|| p.drain());
        idle.put_p_unrun(p);
        drop(idle);
        if spinning {
            self.idle.stop_spinning();
        }
        let Some(stranded) = stranded else { return };
        for g in stranded {
            self.global.push(g);
        }
        if !self.global.is_empty() {
            self.netpoll.wake();
        }
    }

    /// Refused M starts and reports printed (`start_failure.rs`).
    #[cfg(test)]
    pub(crate) fn machine_start_failures(&self) -> (u64, u64) {
        self.start_failures.counts()
    }

    /// Starts an OS thread for a new M that begins with `p`.
    fn spawn_machine(
        &self,
        p: Box<Processor>,
        spinning: bool,
    ) -> Result<(), (Box<Processor>, std::io::Error)> {
        #[cfg(test)]
        if let Some(e) = super::start_failure::refuse_hook::refusal(&self.config.thread_name) {
            return Err((p, e));
        }
        let id = self.next_mid.fetch_add(1, Ordering::Relaxed);
        let sched = self.arc();
        // The P travels by channel so that a failed spawn gives it back.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Box<Processor>>(1);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-m{id}", self.config.thread_name))
            .spawn(move || {
                let p = rx.recv().expect("the scheduler hands every new M a P");
                Machine::new(sched, id, p, spinning).run();
            });
        match spawned {
            Ok(handle) => {
                self.mcount.fetch_add(1, Ordering::SeqCst);
                let mut threads = self.threads.lock();
                // Forget Ms that exited after idling, so the list stays short.
                threads.retain(|h| !h.is_finished());
                threads.push(handle);
                drop(threads);
                tx.send(p).expect("new M is waiting for its P");
                super::sysmon::ensure_started(self);
                Ok(())
            }
            Err(e) => Err((p, e)),
        }
    }

    /// An M's thread is about to end.
    pub(crate) fn machine_exited(&self) {
        self.mcount.fetch_sub(1, Ordering::SeqCst);
    }

    /// A P taken from a syscall (by sysmon): give it to an M if there is work
    /// for it, else park it (Go: proc.go `handoffp`).
    pub(crate) fn handoff_p(&self, p: Box<Processor>) {
        if self.is_shutdown() {
            let idle = self.idle.lock();
            return self.park_p_unrun(idle, p, false);
        }
        if p.shared.has_work() || !self.global.is_empty() {
            return self.start_m_with(p, false);
        }
        // No work: if nobody spins or idles, start a spinning M so new work
        // is noticed promptly; otherwise just park the P.
        if self.idle.nmspinning() + self.idle.npidle() == 0 && self.idle.try_start_first_spinner() {
            return self.start_m_with(p, true);
        }
        let mut idle = self.idle.lock();
        idle.put_p(p);
        // Invariant 2 (no stranded G): `npidle` was raised before this look,
        // so work queued since the check above is seen here or by its
        // pusher's `wakep`. An M without a P sleeps while no P is idle, so
        // nobody else would pick it up.
        if !self.global.is_empty() {
            if let Some(p) = idle.take_p() {
                drop(idle);
                self.start_m_with(p, false);
            }
        }
    }

    /// Takes an idle P, if any.
    pub(crate) fn take_idle_p(&self) -> Option<Box<Processor>> {
        let p = self.idle.lock().take_p()?;
        self.sysmon.kick();
        Some(p)
    }

    /// True when some queue holds a runnable G.
    pub(crate) fn any_work(&self) -> bool {
        !self.global.is_empty() || self.ps.iter().any(|p| p.has_work())
    }

    /// Pops one G from the global queue.
    pub(crate) fn global_pop(&self) -> Option<GRef> {
        loop {
            match self.global.steal() {
                Steal::Success(g) => return Some(g),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// Cancels every unfinished G and stops every M, taking at most about
    /// `timeout` (`shutdown.rs`). Idempotent.
    pub(crate) fn shutdown(&self, timeout: std::time::Duration) {
        if self.cancelling.swap(true, Ordering::SeqCst) {
            return;
        }
        super::shutdown::shutdown(self, timeout);
    }

    /// Tells every M to stop and waits until `deadline` for them to exit;
    /// an M still running a G then is left running, detached.
    pub(crate) fn stop_machines(&self, deadline: Instant) {
        self.sysmon.stop();
        let parked = {
            let mut idle = self.idle.lock();
            self.shutdown.store(true, Ordering::Release);
            idle.take_all_ms()
        };
        for m in parked {
            m.hand_off(None, false);
        }
        self.locked_ms.shutdown();
        self.netpoll.wake();
        super::shutdown::wait_until(deadline, || self.mcount.load(Ordering::SeqCst) == 0);
        let me = std::thread::current().id();
        for h in std::mem::take(&mut *self.threads.lock()) {
            if h.is_finished() && h.thread().id() != me {
                let _ = h.join();
            }
        }
    }

    /// True when no G is left to cancel: none registered (parked once and
    /// unfinished), none queued, and every P idle (so none is running).
    pub(crate) fn is_quiescent(&self) -> bool {
        self.idle.npidle() == self.procs() && !self.any_work() && self.registry.is_empty()
    }

    /// Writes the trace file, if tracing (`trace.rs`).
    pub(crate) fn flush_trace(&self) -> std::io::Result<()> {
        match &self.tracer {
            Some(t) => t.write(self.procs()),
            None => Ok(()),
        }
    }

    /// Everything left in run queues (shutdown only; Ms have stopped).
    pub(crate) fn drain_queues(&self) -> Vec<GRef> {
        let mut out = Vec::new();
        while let Some(g) = self.global_pop() {
            out.push(g);
        }
        let mut idle = self.idle.lock();
        for p in idle.ps_mut() {
            out.extend(p.drain());
            self.stacks.put_all(p.stacks.get_mut());
        }
        out
    }
}

/// A snapshot of a runtime's scheduler (see [`Runtime::stats`](crate::Runtime::stats)).
/// Counters are read one by one without a global lock, so they may be
/// slightly inconsistent with each other while the runtime is busy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// Processors (GOMAXPROCS).
    pub procs: usize,
    /// Processors in the idle list.
    pub idle_procs: usize,
    /// Live machines (OS threads running green threads, idle, or in syscalls).
    pub machines: usize,
    /// Machines parked waiting for a processor.
    pub idle_machines: usize,
    /// Machines spinning (looking for work to steal).
    pub spinning_machines: usize,
    /// Processors whose machine is inside `greenrt::syscall`.
    pub in_syscall: usize,
    /// Green threads in the global run queue.
    pub global_queue: usize,
    /// Green threads in each processor's local queue (plus its `runnext`).
    pub local_queues: Vec<usize>,
    /// Started green threads that have not finished.
    pub live_green_threads: usize,

    // Cumulative totals since the runtime started (they only grow).
    /// Green threads spawned.
    pub spawned: u64,
    /// Parks committed (a G blocked and gave its P to others).
    pub parks: u64,
    /// Successful steals from another processor's queue (a batch counts
    /// once).
    pub steals: u64,
    /// Preemption requests honoured: a G that had run a whole time slice
    /// yielded at a checkpoint.
    pub preemptions: u64,
    /// Processors sysmon took from green threads blocked in
    /// `greenrt::syscall` and handed to another machine.
    pub syscall_handoffs: u64,
    /// Processors sysmon took from green threads asleep in a blocking call
    /// nobody wrapped in `greenrt::syscall` (their OS thread was seen
    /// asleep in the kernel while other green threads waited), and handed
    /// to another machine. Each one is a call worth wrapping.
    pub blocking_call_handoffs: u64,
    /// Green threads the netpoller made runnable (socket readiness).
    pub netpoll_wakeups: u64,
    /// Each processor's busy time: how long it was out of the idle list
    /// (running green threads, looking for work, or lent to a syscall);
    /// tokio's `worker_total_busy_duration`.
    pub busy: Vec<std::time::Duration>,
}

impl Scheduler {
    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> RuntimeStats {
        let (idle_procs, idle_machines) = self.idle.lock().counts();
        RuntimeStats {
            procs: self.procs(),
            idle_procs,
            machines: self.mcount.load(Ordering::SeqCst),
            idle_machines,
            spinning_machines: self.idle.nmspinning(),
            in_syscall: self
                .ps
                .iter()
                .filter(|p| !p.syscall_slot.is_empty())
                .count(),
            global_queue: self.global.len(),
            local_queues: self
                .ps
                .iter()
                .map(|p| p.queue.len() + usize::from(p.runnext.is_some()))
                .collect(),
            live_green_threads: {
                let started: u64 = self
                    .ps
                    .iter()
                    .map(|p| p.started.load(Ordering::Relaxed))
                    .sum();
                let finished: u64 = self
                    .ps
                    .iter()
                    .map(|p| p.finished.load(Ordering::Relaxed))
                    .sum();
                started.saturating_sub(finished) as usize
            },
            spawned: self.counters.spawned_off_p.load(Ordering::Relaxed)
                + self.sum(|c| c.spawned.get()),
            parks: self.sum(|c| c.parks.get()),
            steals: self.sum(|c| c.steals.get()),
            preemptions: self.sum(|c| c.preemptions.get()),
            syscall_handoffs: self.counters.syscall_handoffs.load(Ordering::Relaxed),
            blocking_call_handoffs: self.counters.blocking_handoffs.load(Ordering::Relaxed),
            netpoll_wakeups: self.netpoll.wakeups(),
            busy: self.ps.iter().map(|p| p.counters.busy.total()).collect(),
        }
    }

    /// Sums one per-P counter over all Ps.
    fn sum(&self, count: impl Fn(&super::counters::PCounters) -> u64) -> u64 {
        self.ps.iter().map(|p| count(&p.counters)).sum()
    }
}

/// The G-memory cache of `p` (none for a null P).
///
/// # Safety
/// `p` is null or the P held by the calling thread, which does not switch
/// while the returned borrow lives. The `RefCell` turns a nested use of the
/// same cache into `None` (none exists: no user code runs under the borrow).
unsafe fn block_cache<'a>(
    p: *const super::processor::Processor,
) -> Option<std::cell::RefMut<'a, super::g_alloc::BlockCache>> {
    // SAFETY: per the contract, a non-null `p` is valid for the borrow.
    unsafe { p.as_ref() }.and_then(|p| p.gblocks.try_borrow_mut().ok())
}

/// This thread's P, when it is an M of `sched` holding one (claimed while
/// the guard lives: invariant 8, lent P); else null.
fn local_p(sched: &Scheduler) -> context::LocalP {
    context::claim_local_p(sched)
}

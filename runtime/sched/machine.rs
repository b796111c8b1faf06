//! M — an OS thread running the scheduling loop on its own native stack
//! (Go's g0) and resuming Gs.
//!
//! `find_runnable` follows Go's order (docs/ARCHITECTURE.md, "The scheduling
//! loop"): due timers; every 61st tick the global queue first; `runnext`
//! then the local queue; a batch from the global queue; a non-blocking
//! netpoll; stealing half of a random victim's queue (only while few Ms
//! spin: invariant 3, bounded spinning, of `sched/mod.rs`); and finally
//! giving the P back and blocking — in the netpoller (one M at a time, with
//! the earliest timer as timeout) or on this M's parker.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corosensei::stack::Stack;
use corosensei::CoroutineResult;
use crossbeam_deque::Steal;
use parking_lot::{Condvar, Mutex};

use super::context::{self, MachineContext};
use super::g_ref::GRef;
use super::g_status::Phase;
use super::green_thread::{Body, Coro, GreenThread, SwitchRequest};
use super::os_thread_lock::OsThreadLock;
use super::processor::{Processor, ProcessorShared};
use super::scheduler::Scheduler;
use super::timers::Fired;

/// Every 61st schedule takes from the global queue first so it cannot starve
/// behind busy local queues (Go: proc.go `schedule`, "schedtick%61 == 0";
/// 61 is prime so it does not resonate with program periods).
const GLOBAL_FAIRNESS_TICKS: u32 = 61;
/// Rounds over all Ps when stealing (Go: proc.go `stealTries = 4`).
const STEAL_TRIES: usize = 4;
/// Consecutive `runnext` picks before a G goes to the back of the queue
/// instead. Go bounds this with time-slice inheritance plus sysmon
/// preemption; a count keeps a ping-pong pair from starving its P's queue.
const RUNNEXT_STREAK_MAX: u32 = 64;
/// How long a thief waits before taking a running P's `runnext`, giving the
/// owner the chance to run it first (Go: proc.go `runqgrab`, usleep(3)).
const RUNNEXT_STEAL_DELAY: Duration = Duration::from_micros(3);

/// Where an idle M sleeps until it is handed a P (Go's `m.park` note).
pub(crate) struct MachineParker {
    state: Mutex<Handoff>,
    cv: Condvar,
}

#[derive(Default)]
struct Handoff {
    woken: bool,
    p: Option<Box<Processor>>,
    spinning: bool,
}

impl MachineParker {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(MachineParker {
            state: Mutex::new(Handoff::default()),
            cv: Condvar::new(),
        })
    }

    /// Wakes the M, giving it `p` (none: look at the shutdown flag).
    pub(crate) fn hand_off(&self, p: Option<Box<Processor>>, spinning: bool) {
        let mut st = self.state.lock();
        st.p = p;
        st.spinning = spinning;
        st.woken = true;
        self.cv.notify_one();
    }

    /// Waits to be handed a P. `None`: `timeout` passed first (the M may
    /// exit). A hand-off that raced the timeout is still delivered later.
    fn wait(&self, timeout: Duration) -> Option<(Option<Box<Processor>>, bool)> {
        let mut st = self.state.lock();
        let deadline = Instant::now().checked_add(timeout);
        while !st.woken {
            match deadline {
                Some(d) => {
                    if self.cv.wait_until(&mut st, d).timed_out() && !st.woken {
                        return None;
                    }
                }
                None => self.cv.wait(&mut st),
            }
        }
        st.woken = false;
        Some((st.p.take(), st.spinning))
    }
}

pub(crate) struct Machine {
    sched: Arc<Scheduler>,
    p: Option<Box<Processor>>,
    spinning: bool,
    parker: Arc<MachineParker>,
    rng: u64,
    /// The locked G this M was handed with a P, to run next
    /// (`os_thread_lock.rs`).
    handed: Option<GRef>,
}

enum Step {
    Yielded,
    Preempted,
    Parked,
    Finished,
    /// Returned from a syscall whose P was handed away, and no idle P:
    /// queue the G globally; this M goes idle.
    NeedsP,
}

impl Machine {
    pub(crate) fn new(sched: Arc<Scheduler>, id: usize, p: Box<Processor>, spinning: bool) -> Self {
        Machine {
            sched,
            p: Some(p),
            spinning,
            parker: MachineParker::new(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            handed: None,
        }
    }

    /// The scheduling loop. Returns at shutdown.
    pub(crate) fn run(mut self) {
        let ctx = MachineContext {
            sched: Arc::as_ptr(&self.sched),
            p: std::cell::Cell::new(std::ptr::null_mut()),
            g: std::cell::Cell::new(None),
            lendee: super::lend::Lendee::take(super::thread_state::current_key()),
            lent: std::cell::Cell::new(std::ptr::null()),
        };
        let prev = context::install(&ctx);
        if let Err(e) = super::overflow::ensure_alt_stack() {
            eprintln!(
                "greenrt: no alternate signal stack ({e}); stack overflows will not be reported"
            );
        }
        self.sync_ctx(&ctx);
        while let Some(g) = self.handed.take().or_else(|| self.find_runnable(&ctx)) {
            self.execute(&ctx, g);
        }
        if self.spinning {
            self.spinning = false;
            self.sched.idle.stop_spinning();
        }
        if let Some(p) = self.p.take() {
            // Shutdown: what is still queued is drained by `shutdown`.
            ctx.p.set(std::ptr::null_mut());
            self.sched.idle.lock().put_p_unrun(p);
        }
        context::install(prev);
        self.sched.machine_exited();
    }

    /// Points the context at the P this M holds (a borrowed pointer: the M
    /// keeps ownership outside of `resume`).
    fn sync_ctx(&self, ctx: &MachineContext) {
        ctx.p
            .set(self.p.as_deref().map_or(std::ptr::null_mut(), |p| {
                p as *const Processor as *mut Processor
            }));
    }

    fn p(&self) -> &Processor {
        self.p.as_deref().expect("M holds a P while scheduling")
    }

    // ---------------------------------------------------------------- run a G

    fn execute(&mut self, ctx: &MachineContext, g: GRef) {
        // SAFETY: this M owns `g` now (taken from a queue or handed over).
        if let Some(lock) = unsafe { g.os_lock() } {
            if !lock.is_current_thread() {
                let lock = lock.clone();
                return self.start_locked(ctx, &lock, g);
            }
        }
        let gr: &GreenThread = &g;
        // The GRef's own pointer (valid for the whole allocation): runtime
        // calls on this G may clone it (`context::current_g`).
        ctx.g.set(Some(g.as_ptr()));
        self.note_running(gr);
        if let Some(t) = self.sched.tracer.as_deref() {
            t.g_start(self.p().id, gr.id());
        }
        // Read before the park is committed: a waker may resume the G on
        // another M at once, which clears it.
        let mut park_reason = super::WaitReason::None;
        let step = loop {
            match self.resume(ctx, &g) {
                Some(Step::Parked) => {
                    // A parked G may be reachable only from user data, so
                    // shutdown must be able to find it: register it (once)
                    // before the park is committed and others may run it.
                    if gr.registry_slot.get() == usize::MAX {
                        self.forget_running_record();
                        self.sched.registry.insert(&g);
                    }
                    gr.status
                        .set(Phase::Parked, self.sched.sysmon.clock.now_us());
                    park_reason = gr.wait_reason();
                    if gr.commit_park() {
                        // A park committed after shutdown's sweep of the
                        // registry must still be cancelled (`shutdown.rs`).
                        if gr.must_begin_cancel() && gr.wake() {
                            self.sched.global.push(g.clone());
                            self.sched.wakep();
                        }
                        break Step::Parked;
                    }
                    if self.p.is_none() {
                        // Woken at once, but its P was retaken while it
                        // slept in an unwrapped call: requeue it instead.
                        break Step::Yielded;
                    }
                    self.note_running(gr);
                    continue;
                }
                Some(step) => break step,
                None => break Step::Finished,
            }
        };
        ctx.g.set(None);
        if let Some(t) = self.sched.tracer.as_deref() {
            self.trace_stop(t, gr, &step, park_reason);
        }
        if matches!(step, Step::Yielded | Step::Preempted | Step::NeedsP) {
            // Still alive but off every P: a dump finds it only through the
            // registry (`dump.rs`). Before the G is queued, where another M
            // may take it.
            if gr.registry_slot.get() == usize::MAX {
                self.forget_running_record();
                self.sched.registry.insert(&g);
            }
            gr.status
                .set(Phase::Runnable, self.sched.sysmon.clock.now_us());
        }
        let step = self.regain_p_after(ctx, step);
        // SAFETY: this M owns `g`, which has switched out.
        if let Some(lock) = unsafe { gr.os_lock() } {
            if !matches!(step, Step::Finished) {
                let lock = lock.clone();
                return self.switch_out_locked(ctx, &lock, step, g);
            }
            // Finished with a guard forgotten: the M is free again.
            // SAFETY: the G has returned; nothing else can touch it here.
            unsafe { gr.set_os_lock(None) };
        }
        match step {
            Step::Yielded => self.p().push_local(g),
            Step::Preempted => {
                if let Some(p) = self.p.as_deref() {
                    p.shared.counters.preemptions.bump();
                }
                self.sched.global.push(g);
                self.sched.wakep();
            }
            // Parked: whoever wakes it holds another reference.
            Step::Parked => {
                if let Some(p) = self.p.as_deref() {
                    p.shared.counters.parks.bump();
                }
                drop(g)
            }
            Step::Finished => {
                if let Some(p) = self.p.as_deref() {
                    let f = &p.shared.finished;
                    f.store(f.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                }
                if gr.registry_slot.get() == usize::MAX {
                    self.forget_running_record();
                }
                self.sched.registry.remove(gr);
            }
            Step::NeedsP => {
                self.sched.global.push(g);
                self.sched.wakep();
            }
        }
    }

    /// A G that yields without a P (sysmon retook it while the G slept in a
    /// blocking call nobody wrapped) leaves like a syscall whose P was
    /// handed away: onto an idle P if there is one, else to the global queue
    /// while this M goes idle.
    fn regain_p_after(&mut self, ctx: &MachineContext, step: Step) -> Step {
        if self.p.is_some() || !matches!(step, Step::Yielded | Step::Preempted) {
            return step;
        }
        self.p = self.sched.take_idle_p();
        self.sync_ctx(ctx);
        if self.p.is_some() {
            step
        } else {
            Step::NeedsP
        }
    }

    /// Records the end of `g`'s run in the trace.
    #[cold]
    fn trace_stop(
        &self,
        t: &super::trace::Tracer,
        g: &GreenThread,
        step: &Step,
        park_reason: super::WaitReason,
    ) {
        use super::trace::{RunEnd, NO_P};
        let end = match step {
            Step::Yielded => RunEnd::Yield,
            Step::Preempted => RunEnd::Preempted,
            Step::Parked => RunEnd::Park(park_reason),
            Step::Finished => RunEnd::Return,
            Step::NeedsP => RunEnd::NeedsP,
        };
        let p = self.p.as_deref().map_or(NO_P, |p| p.id as u32);
        t.g_stop(p, g.id(), end);
    }

    /// Clears this P's record of an unregistered running G: the G just
    /// finished, or is about to enter the registry, which then places it
    /// (`g_status.rs`). Only then: a registered G's runs leave it alone.
    fn forget_running_record(&self) {
        if let Some(p) = self.p.as_deref() {
            p.shared.running.clear();
        }
    }

    /// Records that `g` runs on this M's P now (for dumps, `g_status.rs`).
    #[inline]
    fn note_running(&self, g: &GreenThread) {
        let now = self.sched.sysmon.clock.now_us();
        g.status.set_running(self.p().id, now);
    }

    /// `g` is locked to another M: hand it this M's P to run it on, and
    /// go idle (Go: `startlockedm`).
    fn start_locked(&mut self, ctx: &MachineContext, lock: &OsThreadLock, g: GRef) {
        let p = self.p.take().expect("M holds a P to run a G");
        ctx.p.set(std::ptr::null_mut());
        if let Err((p, g)) = lock.hand_off(p, g) {
            // Its M has exited (shutdown): keep the P; shutdown cancels g.
            self.p = Some(p);
            self.sync_ctx(ctx);
            self.sched.global.push(g);
        }
    }

    /// This M's locked G switched out with `step`: queue it as usual, give
    /// the P away, and sleep until handed a P and the G again (Go:
    /// `stoplockedm`).
    fn switch_out_locked(
        &mut self,
        ctx: &MachineContext,
        lock: &Arc<OsThreadLock>,
        step: Step,
        g: GRef,
    ) {
        debug_assert!(
            lock.is_current_thread(),
            "greenrt: green thread {} ran on another OS thread than the one it is locked to",
            g.id()
        );
        match step {
            Step::Yielded => self.p().push_local(g),
            Step::Preempted | Step::NeedsP => {
                if let (Step::Preempted, Some(p)) = (&step, self.p.as_deref()) {
                    p.shared.counters.preemptions.bump();
                }
                self.sched.global.push(g);
                self.sched.wakep();
            }
            Step::Parked => {
                if let Some(p) = self.p.as_deref() {
                    p.shared.counters.parks.bump();
                }
                drop(g)
            }
            Step::Finished => unreachable!("a finished G is not queued"),
        }
        if let Some(p) = self.p.take() {
            ctx.p.set(std::ptr::null_mut());
            self.sched.handoff_p(p);
        }
        let sched = &self.sched;
        if let Some((p, g)) = lock.wait(&sched.locked_ms, || sched.is_shutdown()) {
            self.p = Some(p);
            self.sync_ctx(ctx);
            if self.sched.is_shutdown() {
                self.sched.global.push(g); // cancelled by shutdown
            } else {
                self.handed = Some(g);
            }
        }
    }

    /// Runs `g` until it switches out. `None`: it could not start.
    fn resume(&mut self, ctx: &MachineContext, g: &GRef) -> Option<Step> {
        // SAFETY: this M runs `g` now; nobody else touches its body (the G was
        // popped from a queue, and parked Gs are only re-queued after
        // `commit_park`, which happens after its last switch).
        let body = unsafe { g.body_mut() };
        if let Body::Fresh | Body::Prepared(_) = body {
            let stack = match std::mem::replace(body, Body::Fresh) {
                Body::Prepared(stack) => Ok(stack),
                _ => {
                    let p = self.p.as_deref().expect("M holds a P");
                    let mut cache = p.stacks.borrow_mut();
                    self.sched.stacks.get(&mut cache)
                }
            };
            let stack = match stack {
                Ok(s) => s,
                Err(e) => {
                    *body = Body::Done;
                    // The task's closure is dropped here, on this M's stack.
                    // With no current G, runtime calls made by its captures'
                    // `Drop` act as on a plain OS thread instead of switching
                    // a G that has no coroutine (and so no yielder).
                    ctx.g.set(None);
                    g.cancel_task_with(format!("green thread {} could not start: {e}", g.id()));
                    return None;
                }
            };
            g.stack_guard.set(stack.limit().get());
            // A running G that never switched out is found by a dump through
            // its P's record, which cannot hold a name: a named one is
            // registered now (spawning it already allocated its name).
            if let Some(name) = g.name() {
                self.sched.registry.insert(g);
                if let Some(t) = self.sched.tracer.as_deref() {
                    t.name(g.id(), name);
                }
            }
            g.own_stack_size.set(stack.own_size().unwrap_or(0));
            let p = self.p.as_deref().expect("M holds a P");
            // In no registry yet (unless named, below): its P's record
            // names it (`g_status.rs`).
            if g.name().is_none() {
                let now = self.sched.sysmon.clock.now_us();
                p.shared.running.set(g.id(), g.spawned_at, now);
            }
            p.shared.started.store(
                p.shared.started.load(Ordering::Relaxed) + 1,
                Ordering::Relaxed,
            );
            let gp = g.as_ptr();
            let coro = Coro::with_stack(stack, move |yielder, ()| {
                // SAFETY: the coroutine is stored inside the G it runs, so the
                // G outlives it; `gp` is a GRef's pointer (whole allocation).
                unsafe {
                    gp.as_ref().set_yielder(yielder);
                    GRef::run_task(gp);
                }
            });
            *body = Body::Started(coro);
        }
        let Body::Started(coro) = body else {
            unreachable!("a queued G is fresh or started")
        };
        // Lend the P to the context for the G's run (see `MachineContext::p`).
        let p = self.p.take().expect("M holds a P to run a G");
        let shared: &ProcessorShared = &self.sched.ps[p.id];
        let lent = Box::into_raw(p);
        shared
            .lend
            .lend(ctx.lendee.state(), lent, g.as_ptr().as_ptr());
        ctx.lent.set(shared);
        ctx.p.set(lent);
        let result = coro.resume(());
        let back = ctx.p.get();
        // Take the P back from the lend word (invariant 8, lent P): sysmon
        // may have retaken it while the G slept in an unwrapped call.
        let lent_now = ctx.lent.replace(std::ptr::null());
        // SAFETY: `lent_now` is null or one of the scheduler's shared halves.
        let owned = !back.is_null() && unsafe { (*lent_now).lend.reclaim(ctx.lendee.state()) };
        // SAFETY: a reclaimed pointer is an owned P: the one we lent, or one
        // the G's syscall exit took from the idle list (`Box::into_raw`).
        self.p = owned.then(|| unsafe { Box::from_raw(back) });
        self.sync_ctx(ctx);
        match result {
            CoroutineResult::Yield(SwitchRequest::Yield) => Some(Step::Yielded),
            CoroutineResult::Yield(SwitchRequest::Preempted) => Some(Step::Preempted),
            CoroutineResult::Yield(SwitchRequest::Park) => Some(Step::Parked),
            CoroutineResult::Yield(SwitchRequest::NeedsP) => Some(Step::NeedsP),
            CoroutineResult::Return(()) => {
                let Body::Started(coro) = std::mem::replace(body, Body::Done) else {
                    unreachable!()
                };
                let stack = coro.into_stack();
                match self.p.as_deref() {
                    Some(p) => self.sched.stacks.put(&mut p.stacks.borrow_mut(), stack),
                    None => drop(stack),
                }
                Some(Step::Finished)
            }
        }
    }

    // ---------------------------------------------------------- find a G

    fn find_runnable(&mut self, ctx: &MachineContext) -> Option<GRef> {
        let g = self.find_runnable_inner(ctx)?;
        if self.spinning {
            // Found work: stop spinning, and if we were the last spinner
            // start another so idle Ps keep looking (invariant 3, bounded
            // spinning).
            self.spinning = false;
            if self.sched.idle.stop_spinning() {
                self.sched.wakep();
            }
        }
        Some(g)
    }

    fn find_runnable_inner(&mut self, ctx: &MachineContext) -> Option<GRef> {
        'top: loop {
            if self.sched.is_shutdown() {
                return None;
            }
            if self.p.is_none() {
                // Back from a syscall without a P.
                if !self.block(ctx) {
                    return None;
                }
                continue;
            }
            if let Some(g) = self.local_work() {
                return Some(g);
            }
            if let Some(g) = self.poll_network() {
                return Some(g);
            }
            let busy = self.sched.procs() - self.sched.idle.npidle();
            if self.spinning || 2 * self.sched.idle.nmspinning() < busy {
                if !self.spinning {
                    self.spinning = true;
                    self.sched.idle.start_spinning();
                }
                if let Some(g) = self.steal_work() {
                    return Some(g);
                }
            }

            // Nothing anywhere: give the P back (invariants 1, P ownership, and
            // 2, no stranded G).
            let p = self.p.take().expect("M holds a P");
            ctx.p.set(std::ptr::null_mut());
            {
                let mut idle = self.sched.idle.lock();
                idle.put_p(p);
                // Invariant 2 (no stranded G): `npidle` was raised (SeqCst)
                // before this look.
                if !self.sched.global.is_empty() {
                    self.p = idle.take_p();
                    drop(idle);
                    self.sched.sysmon.kick();
                    self.sync_ctx(ctx);
                    continue 'top;
                }
            }
            if self.spinning {
                self.spinning = false;
                self.sched.idle.stop_spinning();
                // Work may have been queued after our last look, by someone
                // who saw us spinning and so did not wake anyone (invariant
                // 2, no stranded G).
                if self.sched.any_work() {
                    if let Some(p) = self.sched.take_idle_p() {
                        self.p = Some(p);
                        self.sync_ctx(ctx);
                        self.spinning = true;
                        self.sched.idle.start_spinning();
                        continue 'top;
                    }
                }
            }
            if !self.block(ctx) {
                return None;
            }
        }
    }

    /// Timers, fairness tick, `runnext`, local queue, global batch.
    fn local_work(&mut self) -> Option<GRef> {
        if self.sched.timers.any_pending() {
            let fired = self.sched.timers.run_due(Instant::now());
            if !fired.is_empty() {
                self.sched.absorb_fired(fired);
            }
        }
        let p = self.p();
        let tick = p.tick();
        if p.shared.preempt.load(Ordering::Relaxed) {
            p.shared.preempt.store(false, Ordering::Relaxed);
        }
        if tick % GLOBAL_FAIRNESS_TICKS == 0 {
            if let Some(g) = self.sched.global_pop() {
                return Some(g);
            }
        }
        let next = if self.sched.ps.len() == 1 {
            p.shared.runnext.take_sole()
        } else {
            p.shared.runnext.take()
        };
        if let Some(g) = next {
            let streak = p.runnext_streak.get();
            if streak < RUNNEXT_STREAK_MAX {
                p.runnext_streak.set(streak + 1);
                return Some(g);
            }
            p.push_local(g);
        }
        p.runnext_streak.set(0);
        if let Some(g) = p.pop_local() {
            return Some(g);
        }
        p.local.refill_from(&self.sched.global, &p.shared.queue)
    }

    /// Polls the network without blocking; queues what became ready.
    fn poll_network(&mut self) -> Option<GRef> {
        if !self.sched.netpoll.has_waiters() {
            return None;
        }
        let mut ready = self.sched.netpoll.poll_now()?;
        if ready.is_empty() {
            return None;
        }
        if let Some(t) = self.sched.tracer.as_deref() {
            t.netpoll(ready.len());
        }
        let first = ready.remove(0);
        self.sched.ready_list(ready);
        Some(first)
    }

    /// Steals half of a random victim's queue; in the last round, a running
    /// P's `runnext` too.
    fn steal_work(&mut self) -> Option<GRef> {
        let g = self.steal_any()?;
        self.p().shared.counters.steals.bump();
        if let Some(t) = self.sched.tracer.as_deref() {
            t.steal(self.p().id, g.id());
        }
        Some(g)
    }

    fn steal_any(&mut self) -> Option<GRef> {
        let n = self.sched.ps.len();
        let me = self.p().id;
        for round in 0..STEAL_TRIES {
            let last = round == STEAL_TRIES - 1;
            let start = self.next_rand() as usize % n;
            for k in 0..n {
                let victim = (start + k) % n;
                if victim == me {
                    continue;
                }
                if self.sched.is_shutdown() {
                    return None;
                }
                let shared = &self.sched.ps[victim];
                loop {
                    match shared.queue.steal_batch_and_pop(&self.p().local) {
                        Steal::Success(g) => return Some(g),
                        Steal::Empty => break,
                        Steal::Retry => continue,
                    }
                }
                if last && shared.runnext.is_some() {
                    spin_for(RUNNEXT_STEAL_DELAY);
                    if let Some(g) = shared.runnext.take() {
                        return Some(g);
                    }
                }
            }
        }
        None
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*: victim choice only needs to be cheap and spread out.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    // ---------------------------------------------------------- block

    /// Blocks without a P until there may be work. Returns with a P (true),
    /// or false at shutdown or when this M has been idle long enough to exit.
    fn block(&mut self, ctx: &MachineContext) -> bool {
        loop {
            if self.sched.is_shutdown() {
                return false;
            }
            // How long to sleep is decided only once we are the poller (see
            // `NetPoller::poll`): a timer added or a shutdown begun before
            // that is seen here, one after it wakes the poll.
            let sched = &self.sched;
            let timeout = || {
                // Queued work is a reason not to sleep only if a P is free to
                // run it: with every P busy, a zero timeout would spin this M
                // beside them. The Ps' own Ms take that work (invariant 2: an
                // M giving its P back re-checks the global queue first).
                let runnable_here = !sched.global.is_empty() && sched.idle.npidle() > 0;
                if sched.is_shutdown() || runnable_here {
                    return Some(Duration::ZERO);
                }
                sched
                    .timers
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            if let Some(io_ready) = self.sched.netpoll.poll(timeout) {
                if let (Some(t), false) = (self.sched.tracer.as_deref(), io_ready.is_empty()) {
                    t.netpoll(io_ready.len());
                }
                // We were the poller. Collect what is ready now.
                let mut fired = self.sched.timers.run_due(Instant::now());
                fired.ready.splice(0..0, io_ready);
                if fired.is_empty() {
                    if !self.sched.global.is_empty() {
                        if let Some(p) = self.sched.take_idle_p() {
                            self.p = Some(p);
                            self.sync_ctx(ctx);
                            return true;
                        }
                    }
                    continue;
                }
                match self.sched.take_idle_p() {
                    Some(p) => {
                        self.p = Some(p);
                        self.sync_ctx(ctx);
                        self.absorb(fired);
                        return true;
                    }
                    None => {
                        // Every P is busy: hand the work to them.
                        self.sched.absorb_fired(fired);
                        continue;
                    }
                }
            }
            // Someone else holds the poller. Park only behind a sleeping
            // poller: a non-blocking one (sysmon's, or an M's scheduling
            // loop) lets go within microseconds, and parking behind it
            // would leave pending timers and sockets to nobody until some M
            // schedules — never, beside a G that spins without
            // checkpoints (invariant 2, no stranded G). So try again.
            if !self.sched.netpoll.has_sleeper() {
                std::thread::yield_now();
                continue;
            }
            // A sleeping poller serves the timers: sleep until handed a P.
            {
                let mut idle = self.sched.idle.lock();
                if self.sched.is_shutdown() {
                    return false;
                }
                idle.put_m(self.parker.clone());
            }
            let (p, spinning) = match self.parker.wait(self.sched.config.machine_idle_timeout) {
                Some(handed) => handed,
                None => {
                    // Idle too long: leave, unless a waker already took us off
                    // the idle list — then its hand-off is on the way.
                    if self.sched.idle.lock().remove_m(&self.parker) {
                        return false;
                    }
                    self.parker
                        .wait(Duration::MAX)
                        .expect("an untimed wait ends with a hand-off")
                }
            };
            if let Some(p) = p {
                self.p = Some(p);
                self.sync_ctx(ctx);
                self.spinning = spinning;
                return true;
            }
        }
    }

    fn absorb(&mut self, fired: Fired) {
        self.sched.absorb_fired(fired);
    }
}

fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

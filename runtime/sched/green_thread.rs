//! G — the green thread: a stackful coroutine plus the atomic park state.
//!
//! A `GreenThread` is created by `spawn` holding only its task; it takes a
//! stack from the pool the first time an M runs it (so spawning is cheap and
//! a hundred thousand queued Gs cost no stacks). From then on its coroutine
//! lives inside the G until it returns, and the stack goes back to the pool.
//!
//! # One allocation per G
//! The task (the user's closure and its join slot, `join::Packet`) lives next
//! to the G: `spawn` allocates one `GreenThreadWith<Packet<F, T>>`, whose
//! first field is this sized `GreenThread` header, and the scheduler holds
//! thin `GRef`s to the header (see `g_ref.rs`). One `malloc` and one reference
//! count serve the G, its closure, its result and its `JoinHandle`. (A fat
//! `Arc<dyn>` G was tried first: its data offset depends on the task's
//! alignment, read from the vtable at every deref, and it made the switch
//! path ~10% longer.)
//!
//! # The park protocol
//! `state` is a three-valued atomic (`park_state.rs`, model-checked with
//! loom):
//!
//! * `RUNNING`  — running, or runnable in some queue;
//! * `PARKED`   — switched out and waiting for `wake`;
//! * `NOTIFIED` — a wake arrived while it was RUNNING: a one-shot permit.
//!
//! `park` first consumes a pending permit (returning at once); otherwise it
//! suspends with a `Park` request. Only *after* the switch, on the M's own
//! stack, does the M move `RUNNING → PARKED` ([`GreenThread::commit_park`]).
//! If a waker got in first (`NOTIFIED`), the commit fails and the M resumes
//! the G immediately, so a wake that races the park is never lost, and no
//! waker can ever see `PARKED` for a G whose stack is still live on a CPU.
//! `wake` moves `PARKED → RUNNING` and tells its caller to queue the G, or
//! turns `RUNNING` (or `NOTIFIED`) into `NOTIFIED` — always with a
//! read-modify-write, so that whatever the waker published before waking is
//! visible to the G once it consumes the permit (see `ParkState::wake`).
//!
//! # Where a G switches
//! A switch is a `ret` onto another stack, and the CPU predicts returns
//! from a small stack of the return addresses of recent calls. A G resumed
//! inside a callee returns through frames that stack has never seen, and
//! each such return is mispredicted (about 20 cycles here), as is the
//! return to the M at the next switch. So the switch sites are inlined into
//! the frame that waits: `yield_now`, `park` and the park loop of a plain
//! channel `send`/`recv` are `#[inline(always)]`, and a G woken there
//! continues in its own code with the prediction stack intact. Measured on
//! the yield ping-pong: 31 → 14 ns per switch; on the rendezvous one-way
//! latency: 71 → 40 ns (docs/BENCHMARKS.md). Everything before the park
//! (queueing) and after it (sorting out the outcome) stays out of line, so
//! the code inlined at each call site is the check-and-switch itself.
//!
//! Like `std::thread::park`, a park may return without a matching wake (a
//! permit left by an earlier, abandoned wait). Every primitive therefore waits
//! in a loop on its own condition.

use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use super::stack::GreenStack;
use corosensei::{Coroutine, Yielder};

use super::g_locals::GLocals;
use super::g_ref::{TaskVtable, VtableOf};
use super::g_status::GStatus;
use super::keep_alive::SchedPtr;
use super::os_thread_lock::OsThreadLock;
use super::park_state::ParkState;
use super::ref_count::RefCount;
use super::scheduler::Scheduler;
use super::wait_reason::WaitReason;

/// What a G asks of its M when it switches out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwitchRequest {
    /// Still runnable: put me at the tail of the local queue.
    Yield,
    /// Asked to yield by sysmon (ran ≥ 10 ms): put me on the *global* queue
    /// (Go: `gopreempt_m`), so everything already waiting on this P — Gs
    /// woken by timers or the network included — runs before my next slice.
    Preempted,
    /// Waiting for a wake: commit the park (see module docs).
    Park,
    /// Back from a syscall with no P to run on: queue me globally.
    NeedsP,
}

pub(crate) type Coro = Coroutine<(), SwitchRequest, (), GreenStack>;
pub(crate) type GreenYielder = Yielder<(), SwitchRequest>;

/// The type-erased body of a G: the user's closure plus its join slot.
pub(crate) trait Task: Send + Sync {
    /// Runs the closure once, catching a panic, and publishes the outcome.
    fn run(&self, g: &GreenThread);
    /// Publishes `Err(message)` without running (or after a cancelled run).
    fn cancel(&self, message: String);
}

pub(crate) enum Body {
    /// Spawned, never run: no stack yet (the task is the G's `task` field).
    Fresh,
    /// Spawned with its stack already taken, never run
    /// (`greenrt::spawn_builder`: a stack that cannot be had is the
    /// spawner's error, not the G's failure at start).
    Prepared(GreenStack),
    /// Started: the coroutine owns a pooled stack.
    Started(Coro),
    /// Returned (or cancelled); nothing left to run.
    Done,
}

/// A G and its task in one allocation. `repr(C)`: the header comes first, so
/// a pointer to the whole is a pointer to the header (`g_ref.rs` relies on it).
#[repr(C)]
pub(crate) struct GreenThreadWith<B: Task> {
    pub(crate) g: GreenThread,
    pub(crate) task: B,
}

/// The G header: everything the scheduler needs, whatever the task type.
pub(crate) struct GreenThread {
    pub(crate) vtable: &'static TaskVtable,
    id: u64,
    name: Option<Box<str>>,
    /// The park protocol's state (`park_state.rs`, model-checked).
    state: ParkState,
    wait_reason: AtomicU8,
    /// Set when this G's cancellation began (shutdown unwinds its stack or
    /// drops its unrun closure), so the join slot can say "cancelled", and
    /// its waits follow the cancelled rules (`sched/shutdown.rs`).
    cancelled: AtomicBool,
    /// The G's runtime, kept alive by the G's unit (invariant 9, scheduler
    /// outlives its Gs): `g_ref::destroy` puts the G's memory back into
    /// that runtime's block lists, then gives the unit back.
    pub(super) sched: SchedPtr,
    /// References held by `GRef`s (see `g_ref.rs`; `ref_count.rs`,
    /// model-checked).
    pub(super) refs: RefCount,
    /// Only touched by the M that currently runs this G (or by shutdown after
    /// every M has stopped); the park protocol gives that M exclusive access.
    body: UnsafeCell<Body>,
    /// Points into the coroutine's own stack; valid while the body is `Started`.
    yielder: Cell<*const GreenYielder>,
    /// Slot in the scheduler's registry of started Gs (usize::MAX: none).
    pub(crate) registry_slot: Cell<usize>,
    /// True while this G runs the closure of `greenrt::syscall` (it has no
    /// P then, so it must not switch).
    pub(crate) in_syscall: Cell<bool>,
    /// Lowest address of this G's stack mapping (its guard page), for the
    /// overflow report; 0 until the G starts.
    pub(crate) stack_guard: Cell<usize>,
    /// Where `spawn` was called (shown by `Runtime::dump`).
    pub(crate) spawned_at: &'static Location<'static>,
    /// What the G is doing and since when (`g_status.rs`; owner-written).
    pub(crate) status: GStatus,
    /// The stack's size when it is not the runtime's (`spawn_builder`), for
    /// the overflow report; 0 otherwise.
    pub(crate) own_stack_size: Cell<usize>,
    /// `green_local!` values (`g_locals.rs`); only this G touches them.
    pub(crate) locals: GLocals,
    /// Set while the G is locked to its OS thread (`os_thread_lock.rs`).
    os_lock: UnsafeCell<Option<Arc<OsThreadLock>>>,
}

// SAFETY: the `UnsafeCell`/`Cell` fields (`body`, `yielder`, `registry_slot`,
// `in_syscall`, `stack_guard`, `own_stack_size`, `os_lock`; `locals`, touched by the G itself)
// are only accessed by the one M that owns the G at a time; ownership passes
// between threads through run queues and the `state` atomic, which both
// publish with release/acquire ordering. The coroutine itself is not `Send`
// in corosensei's types because its stack may hold `!Send` values: that is the
// documented hazard of migrating green threads (docs/GUIDE.md, "Hazards: green
// threads move between OS threads"), accepted by every user of `spawn`. The task itself is
// `Send + Sync` (a supertrait of `Task`).
unsafe impl Send for GreenThread {}
// SAFETY: see `Send` above; shared access goes through atomics only.
unsafe impl Sync for GreenThread {}

impl<B: Task + 'static> GreenThreadWith<B> {
    /// Builds a G for `task` straight into `dst` (with the stack it will
    /// run on, if it has one already), whose count says 2: one reference
    /// for the run queue, one for the join handle (`GRef::new_pair`).
    /// Written in place, as one struct expression, so that no copy of the
    /// G is made on the way (building it on the stack and moving it cost
    /// two `memcpy` calls per spawn, ~6% of a spawn-and-join).
    ///
    /// # Safety
    /// `dst` is valid for writes of a `GreenThreadWith<B>` and holds no
    /// value (it is overwritten, not dropped).
    #[inline(always)]
    pub(crate) unsafe fn write_new(
        dst: *mut Self,
        id: u64,
        name: Option<Box<str>>,
        spawned_at: &'static Location<'static>,
        sched: &Arc<Scheduler>,
        task: B,
        stack: Option<GreenStack>,
    ) {
        let now_us = sched.sysmon.clock.now_us();
        // SAFETY: until this G is made into `GRef`s only this value holds the
        // pointer, while the caller's `Arc` keeps the scheduler alive; from
        // then on its unit does, taken before (`GRef::new_pair`'s contract)
        // and given back after its last use (`g_ref::destroy`).
        let sched = unsafe { SchedPtr::new(sched) };
        let body = match stack {
            None => Body::Fresh,
            Some(stack) => Body::Prepared(stack),
        };
        let g = GreenThread {
            vtable: &VtableOf::<B>::VTABLE,
            id,
            name,
            state: ParkState::new(),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            cancelled: AtomicBool::new(false),
            sched,
            refs: RefCount::new(2),
            body: UnsafeCell::new(body),
            yielder: Cell::new(std::ptr::null()),
            registry_slot: Cell::new(usize::MAX),
            in_syscall: Cell::new(false),
            stack_guard: Cell::new(0),
            spawned_at,
            status: GStatus::new(now_us),
            own_stack_size: Cell::new(0),
            locals: GLocals::default(),
            os_lock: UnsafeCell::new(None),
        };
        // SAFETY: per the contract.
        unsafe { dst.write(GreenThreadWith { g, task }) };
    }
}

impl GreenThread {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The runtime this G belongs to.
    #[inline]
    pub(crate) fn sched(&self) -> &Arc<Scheduler> {
        &self.sched
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    /// True while the G is parked (switched out, no wake yet).
    pub(crate) fn is_parked(&self) -> bool {
        self.state.is_parked()
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// True when this G's runtime is shutting down and the G has not begun
    /// its cancellation yet: it must begin it now (`sched/shutdown.rs`).
    #[inline]
    pub(crate) fn must_begin_cancel(&self) -> bool {
        self.sched.is_cancelling() && !self.is_cancelled()
    }

    /// Exclusive access to the body.
    ///
    /// # Safety
    /// The caller must be the M currently running this G, or the shutdown
    /// path after all Ms have stopped (see the `Send` impl).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn body_mut(&self) -> &mut Body {
        // SAFETY: per the contract the caller is the only party touching the
        // body now (invariant 4, one runner per G), so this `&mut` is unique.
        unsafe { &mut *self.body.get() }
    }

    /// The lock to an OS thread, if this G holds one.
    ///
    /// # Safety
    /// The caller is this G, running, or the M that owns it (running it,
    /// or having just taken it from a queue); see the `Send` impl.
    pub(crate) unsafe fn os_lock(&self) -> Option<&Arc<OsThreadLock>> {
        // SAFETY: per the contract nobody writes it meanwhile (only the
        // running G itself does, through `set_os_lock`).
        unsafe { (*self.os_lock.get()).as_ref() }
    }

    /// Locks this G to an OS thread, or unlocks it (`None`).
    ///
    /// # Safety
    /// The caller is this G, running, holding no reference from `os_lock`.
    pub(crate) unsafe fn set_os_lock(&self, lock: Option<Arc<OsThreadLock>>) {
        // SAFETY: per the contract this is the only access.
        drop(unsafe { std::mem::replace(&mut *self.os_lock.get(), lock) });
    }

    pub(crate) fn set_yielder(&self, y: *const GreenYielder) {
        self.yielder.set(y);
    }

    /// Switches from this G (which must be the running one, on its own stack)
    /// back to its M with `req`.
    ///
    /// Once shutdown has begun, a G that has not begun its cancellation
    /// begins it here, before or after the switch, by unwinding from this
    /// call (`sched/shutdown.rs`); during that unwind it switches normally,
    /// so a destructor that waits parks like any G.
    ///
    /// Always inlined, and only the common case is: the switch must happen
    /// in the waiting frame (module docs, "Where a G switches"), and a
    /// body grown by the rare cases stops being inlined (it did: 14 → 45 ns
    /// per yield). Every rare case goes through `switch_out_slow`.
    #[inline(always)]
    pub(crate) fn switch_out(&self, req: SwitchRequest) {
        let y = self.yielder.get();
        if self.must_begin_cancel()
            || self.in_syscall.get()
            || y.is_null()
            || std::thread::panicking()
        {
            return self.switch_out_slow(req);
        }
        // SAFETY: `yielder` was set when this G's coroutine started and points
        // into that coroutine's stack, which lives until the body returns. We
        // are executing on that stack right now (the caller is the running G).
        unsafe { (*y).suspend(req) };
        if self.must_begin_cancel() {
            super::shutdown::begin_cancel_unwind(self);
        }
    }

    /// `switch_out` when shutdown is cancelling this G, the G is inside
    /// `greenrt::syscall`, has no coroutine, or is unwinding.
    #[cold]
    #[inline(never)]
    fn switch_out_slow(&self, req: SwitchRequest) {
        if self.must_begin_cancel() {
            super::shutdown::begin_cancel_unwind(self);
        }
        if self.in_syscall.get() {
            panic!(
                "greenrt: a green thread tried to wait (yield, park, join, sleep, channel, \
                 lock or socket) inside greenrt::syscall; the closure runs without a \
                 processor, so it must only make the blocking call itself"
            );
        }
        let y = self.yielder.get();
        if y.is_null() {
            no_coroutine(self.id);
        }
        // std's panic count is per OS thread: a G unwinding moves its share
        // with it (`panic_count.rs`).
        let carried = if std::thread::panicking() {
            super::panic_count::leave_thread()
        } else {
            0
        };
        // SAFETY: as in `switch_out`.
        unsafe { (*y).suspend(req) };
        if carried != 0 {
            super::panic_count::enter_thread(carried);
        }
        if self.must_begin_cancel() {
            super::shutdown::begin_cancel_unwind(self);
        }
    }

    /// Parks the running G until `wake` (or a leftover permit). Must be called
    /// by the G itself. Inlined into the waiting frame (module docs).
    #[inline(always)]
    pub(crate) fn park(&self, reason: WaitReason) {
        if self.state.take_permit() {
            return;
        }
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
        self.switch_out(SwitchRequest::Park);
        self.wait_reason
            .store(WaitReason::None as u8, Ordering::Relaxed);
    }

    /// Called by the M after the G switched out with `Park`. Returns `true`
    /// when the G is now parked (the M must forget it), `false` when a wake
    /// raced in and the G must be resumed at once.
    pub(crate) fn commit_park(&self) -> bool {
        self.state.commit_park()
    }

    /// Wakes the G. Returns `true` when the caller must make it runnable
    /// (it was parked); `false` when it was running and now holds a permit
    /// (`ParkState::wake` says why it is always a read-modify-write).
    pub(crate) fn wake(&self) -> bool {
        self.state.wake()
    }

    /// Marks the G as cancelled by shutdown (see `cancelled`).
    pub(crate) fn mark_cancelled(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

// A G dropped without finishing must still settle its join slot: a fresh
// one here (the task is typed), a started one by unwinding its stack in the
// header's drop, which runs next — before the task itself is dropped.
impl<B: Task> Drop for GreenThreadWith<B> {
    fn drop(&mut self) {
        let body = self.g.body.get_mut();
        if let Body::Fresh | Body::Prepared(_) = body {
            *body = Body::Done;
            self.task.cancel(cancel_message(self.g.id, self.g.name()));
        }
    }
}

impl Drop for GreenThread {
    fn drop(&mut self) {
        // Not expected: a started G is always held by its M, a run queue or
        // the registry until it finishes or shutdown unwinds it. Should one
        // be dropped anyway, still run its stack's destructors (one of them
        // taking a new reference to this G would be a bug: it is dying).
        if let Body::Started(coro) = std::mem::replace(self.body.get_mut(), Body::Done) {
            debug_assert!(false, "green thread {} dropped while started", self.id);
            super::shutdown::unwind_coroutine(std::ptr::NonNull::from(&*self), coro);
        }
    }
}

/// The `join()` error payload of a G the runtime dropped before it finished.
pub(crate) fn cancel_message(id: u64, name: Option<&str>) -> String {
    match name {
        Some(n) => format!(
            "green thread {id} ({n}) was cancelled: its runtime shut down before it finished"
        ),
        None => {
            format!("green thread {id} was cancelled: its runtime shut down before it finished")
        }
    }
}

/// A switch was asked of a G whose coroutine never started (the context
/// named a G that has no stack): a runtime bug, reported instead of a jump
/// through a null yielder.
#[cold]
#[inline(never)]
fn no_coroutine(id: u64) -> ! {
    panic!(
        "greenrt: internal error: green thread {id} tried to switch before its coroutine started"
    )
}

//! The netpoller: one `mio::Poll` per runtime, and the place an idle M sleeps.
//!
//! Like Go's netpoll, this is where an idle M sleeps: whichever M without a
//! P finds the poller free (the `Poll` sits behind a mutex, taken with
//! `try_lock`) blocks in `poll` with a timeout equal to the earliest timer,
//! so a runtime whose Gs all sleep costs no CPU, and a timer or socket
//! becoming ready wakes exactly one M. Two parties poll without blocking: an
//! M with a P, in its scheduling loop, when some G waits on a socket; and
//! sysmon, when Gs wait on sockets, no M is blocked here and nobody has
//! polled for a time slice ([`NetPoller::poll_overdue`]). Other idle Ms park
//! on their own parkers, but only behind a *sleeping* poller
//! ([`NetPoller::has_sleeper`]): a non-blocking poll that holds the poller
//! is about to let go, and an idle M that parked behind it would leave the
//! timers and sockets with nobody to serve them (`Machine::block` waits it
//! out instead). Anyone who needs the
//! sleeping poller to look again — a new earliest timer, shutdown — calls
//! [`NetPoller::wake`], which trips a `mio::Waker`.
//!
//! The poller never calls into the scheduler: it returns the Gs it found ready
//! as a list and the scheduler queues them (invariant 6, one-way imports, of `sched/mod.rs`).
//!
//! # Poll descriptors
//!
//! Every socket that ever had to wait is registered once, edge-triggered, for
//! the directions it can use, and gets a [`PollDesc`] (Go's `pollDesc`): a
//! read half and a write half, each with
//!
//! * a **readiness sequence** — bumped by the poller on every event for that
//!   direction (and by [`NetPoller::unblock`]), and
//! * a **waiter list** — the Gs parked on that direction.
//!
//! The token handed to mio names a slot in a generation-checked slab, so an
//! event that was already in flight when its socket was deregistered (or whose
//! slot was reused by a newer socket) is recognised as stale and dropped,
//! instead of waking the wrong G or touching freed memory.
//!
//! # The no-lost-wake-up protocol
//!
//! Edge-triggered readiness is reported once per transition, so a G must not
//! miss the edge that arrives between its `WouldBlock` and its park:
//!
//! 1. the G snapshots the direction's sequence, *then* tries the syscall;
//! 2. on `WouldBlock` it [`arm`](NetPoller::arm)s: pushes itself on the waiter
//!    list, bumps the list's count, and re-reads the sequence — if it moved,
//!    an edge arrived after the snapshot: it disarms and retries the syscall;
//! 3. otherwise it parks; the poller bumps the sequence *first* and reads the
//!    count *second*.
//!
//! The G writes the count then reads the sequence; the poller writes the
//! sequence then reads the count; all four are `SeqCst`, so at least one side
//! sees the other's write (the store-buffering pattern): either the G sees
//! the new sequence and does not park, or the poller sees the waiter and
//! wakes it. Waking uses the G's park state (green_thread.rs), so a wake that
//! lands before the park has switched out is kept as a permit, not lost.
//! Park may also return spuriously: callers always retry the syscall.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use parking_lot::Mutex;

use super::g_ref::GRef;
use super::park::Unparker;

const WAKER_TOKEN: Token = Token(usize::MAX);
/// Events taken per poll (Go's netpoll reads 128 at a time).
const EVENTS_PER_POLL: usize = 128;

/// Bits of a token that name the slab slot; the rest carry its generation.
/// 2^32 slots on 64-bit targets; 2^20 (a million sockets) on 32-bit ones.
const INDEX_BITS: u32 = if usize::BITS >= 64 { 32 } else { 20 };
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Generations wrap below the top bit so no token ever equals `WAKER_TOKEN`.
const GEN_MASK: usize = (usize::MAX >> INDEX_BITS) >> 1;

/// Which half of a socket a G waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable: data, a pending connection, EOF or an error.
    Read,
    /// Writable: buffer space, a finished connect, or an error.
    Write,
}

/// One direction of a poll descriptor: its readiness sequence and waiters.
struct Half {
    /// Readiness edges seen so far (wrapping). See the module docs.
    seq: AtomicU32,
    /// `list.len()`, readable without the lock: lets the poller skip the
    /// lock for the common event that nobody waits for.
    waiting: AtomicU32,
    list: Mutex<Vec<Unparker>>,
}

impl Half {
    fn new() -> Self {
        Half {
            seq: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            list: Mutex::new(Vec::new()),
        }
    }
}

/// The per-socket state the poller and the parked Gs share (Go's `pollDesc`).
pub(crate) struct PollDesc {
    token: Token,
    read: Half,
    write: Half,
    /// Set (for good) once the poller saw a hang-up, an error or urgent
    /// data on the fd: a short read no longer proves that the next one
    /// would block, as an end of file or error queued behind the data
    /// raises no further edge (`net/socket.rs`, "Skipping the read that
    /// would fail").
    read_final: AtomicBool,
}

impl PollDesc {
    fn half(&self, dir: Direction) -> &Half {
        match dir {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        }
    }

    /// The readiness sequence of `dir`: snapshot it *before* the syscall
    /// whose `WouldBlock` would make you wait (module docs, step 1).
    pub(crate) fn readiness(&self, dir: Direction) -> u32 {
        self.half(dir).seq.load(Ordering::SeqCst)
    }

    /// True once the poller saw a hang-up, an error or urgent data (see
    /// the field).
    pub(crate) fn read_final(&self) -> bool {
        self.read_final.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for PollDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollDesc")
            .field("token", &self.token.0)
            .field("read_seq", &self.read.seq.load(Ordering::Relaxed))
            .field("write_seq", &self.write.seq.load(Ordering::Relaxed))
            .finish()
    }
}

/// Token → descriptor, with generations against stale events.
#[derive(Default)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

#[derive(Default)]
struct Slot {
    generation: usize,
    desc: Option<Arc<PollDesc>>,
}

impl Slab {
    fn insert(&mut self) -> io::Result<Arc<PollDesc>> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.slots.len() > INDEX_MASK {
                    return Err(io::Error::other(format!(
                        "greenrt: more than {INDEX_MASK} sockets registered with one netpoller"
                    )));
                }
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        let desc = Arc::new(PollDesc {
            token: Token((slot.generation << INDEX_BITS) | index),
            read: Half::new(),
            write: Half::new(),
            read_final: AtomicBool::new(false),
        });
        slot.desc = Some(desc.clone());
        Ok(desc)
    }

    fn get(&self, token: Token) -> Option<&Arc<PollDesc>> {
        let slot = self.slots.get(token.0 & INDEX_MASK)?;
        let desc = slot.desc.as_ref()?;
        (desc.token == token).then_some(desc)
    }

    fn remove(&mut self, token: Token) {
        let index = token.0 & INDEX_MASK;
        if let Some(slot) = self.slots.get_mut(index) {
            if slot.desc.as_ref().is_some_and(|d| d.token == token) {
                slot.desc = None;
                slot.generation = (slot.generation + 1) & GEN_MASK;
                self.free.push(index);
            }
        }
    }
}

pub(crate) struct NetPoller {
    poll: Mutex<(Poll, Events)>,
    /// A clone of the poll's registry, so sockets can (de)register while an
    /// M is blocked in `poll` holding the lock above.
    registry: Registry,
    waker: Waker,
    descs: Mutex<Slab>,
    /// An M is blocked in `poll` with a timeout (so `wake` has a sleeper).
    /// Raised before the timeout is decided (the `add_timer` pairing), so
    /// a non-blocking poll raises it too, briefly.
    blocked: AtomicBool,
    /// The poller is held by a poll that decided to block: whoever holds
    /// it will serve the timers (see `has_sleeper`). Written under the poll
    /// lock only.
    sleeping: AtomicBool,
    /// Gs parked on sockets right now; the scheduling loop skips the
    /// non-blocking poll while this is zero.
    waiters: AtomicUsize,
    /// When a poll last returned, in nanoseconds since `created`.
    last_poll: AtomicU64,
    created: Instant,
    /// Gs this poller made runnable, since start (written by the poller
    /// only, under the poll lock).
    wakeups: AtomicU64,
}

impl NetPoller {
    pub(crate) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        Ok(NetPoller {
            poll: Mutex::new((poll, Events::with_capacity(EVENTS_PER_POLL))),
            registry,
            waker,
            descs: Mutex::new(Slab::default()),
            blocked: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            last_poll: AtomicU64::new(0),
            created: Instant::now(),
            wakeups: AtomicU64::new(0),
        })
    }

    /// Polls once without blocking. Returns `None` when another M is
    /// polling.
    pub(crate) fn poll_now(&self) -> Option<Vec<GRef>> {
        self.poll(|| Some(Duration::ZERO))
    }

    /// Polls once, blocking until an event, a `wake` or the timeout that
    /// `timeout` returns (`None`: no limit; `Some(ZERO)`: do not block).
    /// Returns `None` when another M is already polling.
    ///
    /// `timeout` runs once this M is the poller and [`is_blocked`] reads
    /// true, so the caller decides whether and how long to sleep only
    /// then: anything that changes the answer afterwards — an earlier
    /// timer, shutdown — sees `is_blocked` and calls [`wake`], whose event
    /// this poll cannot miss, because no other M can poll (and consume it)
    /// while we hold the poller role. Deciding before taking the role would
    /// lose such a wake to another poller and sleep on a stale timeout.
    ///
    /// [`is_blocked`]: Self::is_blocked
    /// [`wake`]: Self::wake
    pub(crate) fn poll(&self, timeout: impl FnOnce() -> Option<Duration>) -> Option<Vec<GRef>> {
        let mut guard = self.poll.try_lock()?;
        let (poll, events) = &mut *guard;
        self.blocked.store(true, Ordering::SeqCst);
        // Pairs with the fence in `Scheduler::add_timer` (and the SeqCst
        // shutdown flag): either `timeout` sees their change, or they see
        // `blocked` and wake us.
        std::sync::atomic::fence(Ordering::SeqCst);
        let timeout = timeout();
        if timeout == Some(Duration::ZERO) {
            self.blocked.store(false, Ordering::SeqCst);
        }
        let blocking = timeout != Some(Duration::ZERO);
        if blocking {
            self.sleeping.store(true, Ordering::SeqCst);
        }
        let res = poll.poll(events, timeout);
        if blocking {
            self.blocked.store(false, Ordering::SeqCst);
            self.sleeping.store(false, Ordering::SeqCst);
        }
        let since = self.created.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.last_poll.store(since, Ordering::Relaxed);
        let mut ready = Vec::new();
        // Waiters taken from the lists; woken (and their references dropped)
        // only after every lock is released (invariant 7).
        let mut taken = Vec::new();
        match res {
            Ok(()) if !events.is_empty() => {
                let descs = self.descs.lock();
                for ev in events.iter() {
                    if ev.token() == WAKER_TOKEN {
                        continue;
                    }
                    // A stale token (socket gone, slot reused) finds nothing.
                    let Some(desc) = descs.get(ev.token()) else {
                        continue;
                    };
                    // Errors and hang-ups wake both halves: the retried
                    // syscall then reports what happened.
                    if ev.is_read_closed() || ev.is_error() || ev.is_priority() {
                        // Before the edge: whoever sees the edge sees this.
                        desc.read_final.store(true, Ordering::SeqCst);
                    }
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() || ev.is_priority()
                    {
                        Self::fire(&desc.read, &mut taken);
                    }
                    if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                        Self::fire(&desc.write, &mut taken);
                    }
                }
            }
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => eprintln!("greenrt: netpoll failed: {e}"),
        }
        self.wake_taken(taken, &mut ready);
        if !ready.is_empty() {
            // Only the poller writes (we hold the poll lock).
            let total = self.wakeups.load(Ordering::Relaxed) + ready.len() as u64;
            self.wakeups.store(total, Ordering::Relaxed);
        }
        Some(ready)
    }

    /// Records a readiness edge on `half` and moves its waiters to `taken`
    /// (woken by [`wake_taken`](Self::wake_taken) once no lock is held).
    fn fire(half: &Half, taken: &mut Vec<Unparker>) {
        // Sequence first, count second (module docs).
        half.seq.fetch_add(1, Ordering::SeqCst);
        if half.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut list = half.list.lock();
        half.waiting.store(0, Ordering::SeqCst);
        taken.append(&mut list);
    }

    /// Wakes the waiters `fire` took: Gs of this runtime go into `ready`;
    /// anyone else is woken through its own unparker (a G of another runtime
    /// that borrowed this socket). Called with no lock held: a waiter not
    /// woken here may hold the last reference to its G (invariant 7).
    fn wake_taken(&self, taken: Vec<Unparker>, ready: &mut Vec<GRef>) {
        if taken.is_empty() {
            return;
        }
        self.waiters.fetch_sub(taken.len(), Ordering::Relaxed);
        for waiter in taken {
            match &waiter {
                Unparker::Green(g) if std::ptr::eq(&g.sched().netpoll, self) => {
                    if let Some(g) = waiter.wake_for_list() {
                        ready.push(g);
                    }
                }
                _ => waiter.unpark(),
            }
        }
    }

    /// Registers `fd` (edge-triggered, for `interest`) and returns its
    /// descriptor. The caller must [`deregister`](Self::deregister) it
    /// before closing `fd`.
    pub(crate) fn register(&self, fd: RawFd, interest: Interest) -> io::Result<Arc<PollDesc>> {
        let desc = self.descs.lock().insert()?;
        if let Err(e) = self
            .registry
            .register(&mut SourceFd(&fd), desc.token, interest)
        {
            self.descs.lock().remove(desc.token);
            return Err(e);
        }
        Ok(desc)
    }

    /// Removes `fd`'s registration. `fd` must still be open. Events already
    /// read for it are dropped as stale; any G still parked on it is woken.
    pub(crate) fn deregister(&self, fd: RawFd, desc: &PollDesc) -> Vec<Unparker> {
        // Failure means the fd was already gone from the epoll set (it was
        // closed elsewhere); the slab entry must go either way.
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        self.descs.lock().remove(desc.token);
        self.unblock(desc)
    }

    /// Adds `me` to `dir`'s waiters unless readiness moved since the caller
    /// read `seen` (module docs, step 2). Returns `true` when the caller may
    /// park; `false` when it must retry its syscall instead.
    pub(crate) fn arm(&self, desc: &PollDesc, dir: Direction, me: &Unparker, seen: u32) -> bool {
        let half = desc.half(dir);
        {
            let mut list = half.list.lock();
            list.push(me.clone());
            half.waiting.store(list.len() as u32, Ordering::SeqCst);
            self.waiters.fetch_add(1, Ordering::Relaxed);
        }
        if half.seq.load(Ordering::SeqCst) != seen {
            self.disarm(desc, dir, me);
            return false;
        }
        true
    }

    /// Removes `me` from `dir`'s waiters if it is still there (it woke for
    /// another reason: a timeout, a spurious return, an unwind).
    pub(crate) fn disarm(&self, desc: &PollDesc, dir: Direction, me: &Unparker) {
        let half = desc.half(dir);
        if half.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut list = half.list.lock();
        let removed = list
            .iter()
            .position(|w| same_waiter(w, me))
            .map(|i| list.swap_remove(i));
        if removed.is_some() {
            half.waiting.store(list.len() as u32, Ordering::SeqCst);
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
        // Invariant 7: the removed reference goes only after the lock.
        drop(list);
        drop(removed);
    }

    /// Bumps both readiness sequences and takes every waiter, for the caller
    /// to unpark: used when a socket is closed under Gs parked on it, which
    /// then retry, see the closed flag and fail instead of hanging.
    pub(crate) fn unblock(&self, desc: &PollDesc) -> Vec<Unparker> {
        let mut woken = Vec::new();
        for half in [&desc.read, &desc.write] {
            half.seq.fetch_add(1, Ordering::SeqCst);
            let mut list = half.list.lock();
            half.waiting.store(0, Ordering::SeqCst);
            self.waiters.fetch_sub(list.len(), Ordering::Relaxed);
            woken.append(&mut list);
        }
        woken
    }

    /// Gs made runnable by polls since start.
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// True when some G waits for a socket (worth a non-blocking poll).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) != 0
    }

    /// True when Gs wait on sockets but nobody has polled for `interval`
    /// (the runtime's time slice; Go: sysmon's `lastpoll + 10*1000*1000 <
    /// now` check in proc.go) and no M is blocked in `poll`: every P is
    /// busy, and ready network Gs would starve behind runnable ones until a
    /// local queue drains. Sysmon should then `poll(Some(ZERO))` and queue
    /// the list globally (Go's sysmon does exactly this).
    pub(crate) fn poll_overdue(&self, interval: Duration) -> bool {
        if !self.has_waiters() || self.is_blocked() {
            return false;
        }
        let last = Duration::from_nanos(self.last_poll.load(Ordering::Relaxed));
        self.created.elapsed().saturating_sub(last) >= interval
    }

    /// True while an M is blocked in `poll`.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::SeqCst)
    }

    /// True while the poller is held by a poll that decided to block (with
    /// the earliest timer as its timeout): an M that found the poller taken
    /// may then park, the sleeper serves the timers and sockets. False while
    /// the holder is a non-blocking poll — sysmon's, a scheduling loop's,
    /// or one still deciding — which will let go within microseconds: the
    /// caller should try for the poller again rather than park. Unlike
    /// [`is_blocked`](Self::is_blocked), never true for a non-blocking poll.
    pub(crate) fn has_sleeper(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst)
    }

    /// Makes a blocked (or the next) `poll` return promptly.
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            eprintln!("greenrt: could not wake the netpoller: {e}");
        }
    }
}

/// True when both name the same G or OS thread.
fn same_waiter(a: &Unparker, b: &Unparker) -> bool {
    match (a, b) {
        (Unparker::Green(a), Unparker::Green(b)) => GRef::ptr_eq(a, b),
        (Unparker::Os(a), Unparker::Os(b)) => a.id() == b.id(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tokens_are_not_found() {
        let mut slab = Slab::default();
        let a = slab.insert().unwrap();
        let old = a.token;
        slab.remove(old);
        let b = slab.insert().unwrap();
        assert_eq!(b.token.0 & INDEX_MASK, old.0 & INDEX_MASK, "slot reused");
        assert_ne!(b.token, old);
        assert!(slab.get(old).is_none());
        assert!(slab.get(b.token).is_some());
        assert_ne!(b.token, WAKER_TOKEN);
    }

    #[test]
    fn arm_refuses_after_an_edge() {
        let poller = NetPoller::new().unwrap();
        let desc = poller.descs.lock().insert().unwrap();
        let me = Unparker::Os(std::thread::current());
        let seen = desc.readiness(Direction::Read);
        let mut ready = Vec::new();
        let mut taken = Vec::new();
        NetPoller::fire(&desc.read, &mut taken);
        poller.wake_taken(std::mem::take(&mut taken), &mut ready);
        assert!(!poller.arm(&desc, Direction::Read, &me, seen));
        assert!(!poller.has_waiters());
        let seen = desc.readiness(Direction::Read);
        assert!(poller.arm(&desc, Direction::Read, &me, seen));
        assert!(poller.has_waiters());
        NetPoller::fire(&desc.read, &mut taken);
        assert_eq!(taken.len(), 1, "fire takes the waiters");
        poller.wake_taken(taken, &mut ready);
        assert!(!poller.has_waiters(), "fire takes the waiters");
        assert!(poller.arm(
            &desc,
            Direction::Write,
            &me,
            desc.readiness(Direction::Write)
        ));
        assert_eq!(poller.unblock(&desc).len(), 1);
        assert!(!poller.has_waiters());
    }
}

//! `Socket<S>`: what every green socket type shares — the non-blocking OS
//! socket, its (lazy) netpoller registration, its timeouts, and the one loop
//! that turns a non-blocking syscall into a blocking-style call.
//!
//! # The I/O loop
//! The fd is always in non-blocking mode. An operation snapshots the
//! direction's readiness sequence, tries the syscall, and on `WouldBlock`
//! waits and tries again (edge-triggered readiness: the syscall, never the
//! event, is the truth). How it waits depends on who calls:
//!
//! * **a green thread** parks on the socket's poll descriptor (netpoll.rs
//!   explains why no readiness edge is lost between the `WouldBlock` and the
//!   park), with a timer when a timeout is set;
//! * **a plain OS thread** blocks in `poll(2)` on the fd (os_wait.rs): no M
//!   may be polling for it, and blocking an OS thread is what its caller
//!   asked for.
//!
//! # Skipping the read that would fail
//! A request/response connection reads, answers, and reads again, and that
//! second read usually fails with `WouldBlock` before the G parks: one
//! syscall per request spent learning nothing. A short read of a *stream*
//! socket (fewer bytes than asked for, but some) means the receive queue
//! was empty when it returned, and any byte that arrives later is a new
//! readiness edge. So [`Socket::read_stream`] remembers the readiness
//! sequence snapshotted before a short read, and the next read on a green
//! thread, if the sequence has not moved since, parks at once instead of
//! calling the kernel (`wait` returns at once if an edge came in between).
//! End of file (a 0-byte read) is not remembered: it stays readable, with
//! no further edge. Nor is a short read once the poller has seen a hang-up
//! or an error on the fd: the end of file may have come in with the data
//! the read returned, its edge already counted in the snapshot.
//!
//! # Lazy registration
//! A socket is registered with a netpoller the first time a green thread has
//! to wait on it, with the poller of *that* green thread's runtime. Sockets
//! are often created on one thread and handed to Gs of a runtime built later
//! (`let l = TcpListener::bind(..)?; rt.block_on(move || l.accept())`), and
//! an eager registration with whatever runtime was current at creation would
//! park those Gs on a poller nobody polls. Sockets only ever used from OS
//! threads, or that never block, are never registered at all.
//!
//! # Handles and closing
//! Handles (`try_clone`) share one `Arc<Socket>`: one fd, one registration,
//! one set of timeouts — exactly what `std`'s `dup`-based clones share
//! through the kernel (socket options and `O_NONBLOCK` belong to the socket,
//! not the fd). The fd is deregistered and closed when the last handle goes.
//! [`Socket::close`] closes a socket *for every handle* while others still
//! hold it: Gs parked on it wake and fail instead of hanging. Only
//! `TcpListener::close` uses it (see its docs for why).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mio::Interest;
use parking_lot::Mutex;

use super::os_wait;
use crate::sched::park::{self, Unparker};
use crate::sched::Scheduler;
use crate::sched::WaitReason;
use crate::sched::{Direction, PollDesc};

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Readiness (or a spurious wake-up): retry the syscall.
    Retry,
    /// The deadline passed with no readiness.
    TimedOut,
}

/// A socket's registration with one runtime's netpoller.
struct Registration {
    sched: Arc<Scheduler>,
    desc: Arc<PollDesc>,
}

/// An optional timeout in an atomic: nanoseconds, 0 = none.
#[derive(Default)]
struct Timeout(AtomicU64);

impl Timeout {
    fn set(&self, dur: Option<Duration>) -> io::Result<()> {
        let nanos = match dur {
            None => 0,
            Some(d) if d.is_zero() => {
                // std's exact error for the same call.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ));
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        };
        self.0.store(nanos, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// The deadline of an operation starting now (`None`: wait forever,
    /// including for a timeout too large to represent).
    fn deadline(&self) -> Option<Instant> {
        self.get().and_then(|d| Instant::now().checked_add(d))
    }
}

/// The shared core of every green socket type (module docs).
pub(crate) struct Socket<S: AsRawFd> {
    io: S,
    interest: Interest,
    reg: OnceLock<Registration>,
    /// Serialises the first registration (two Gs may race to wait first).
    reg_init: Mutex<()>,
    read_timeout: Timeout,
    write_timeout: Timeout,
    nonblocking: AtomicBool,
    closed: AtomicBool,
    /// The read readiness sequence before the last short stream read, plus
    /// one (0: none): see "Skipping the read that would fail".
    drained_at: AtomicU32,
}

impl<S: AsRawFd> Socket<S> {
    /// Wraps `io`, which must already be in non-blocking mode.
    pub(crate) fn new(io: S, interest: Interest) -> Arc<Self> {
        Arc::new(Socket {
            io,
            interest,
            reg: OnceLock::new(),
            reg_init: Mutex::new(()),
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
            nonblocking: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            drained_at: AtomicU32::new(0),
        })
    }

    /// The OS socket, for calls that never block (addresses, options).
    pub(crate) fn get(&self) -> &S {
        &self.io
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for `dir`
    /// readiness in between, within the direction's timeout. A timeout gives
    /// `WouldBlock`, as `std` does on Unix.
    pub(crate) fn io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let deadline = match dir {
            Direction::Read => self.read_timeout.deadline(),
            Direction::Write => self.write_timeout.deadline(),
        };
        loop {
            self.check_open()?;
            let seen = self.readiness(dir);
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
            if self.nonblocking.load(Ordering::Relaxed) {
                // A failed non-blocking operation is a checkpoint: a loop of
                // them polls (`coop.rs`).
                crate::coop::checkpoint();
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if self.wait(dir, seen, deadline)? == Wait::TimedOut {
                let what = match dir {
                    Direction::Read => "read timed out",
                    Direction::Write => "write timed out",
                };
                return Err(io::Error::new(io::ErrorKind::WouldBlock, what));
            }
        }
    }

    /// [`io`](Self::io) for a read of at most `len` bytes from a stream
    /// socket, which skips the syscall when the last read was short and no
    /// readiness edge has come since (module docs).
    pub(crate) fn read_stream(
        &self,
        len: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let hint = self.drained_at.load(Ordering::Relaxed);
        if hint != 0
            && self.readiness(Direction::Read) == hint - 1
            && !self.nonblocking.load(Ordering::Relaxed)
            && crate::in_green_thread()
        {
            self.check_open()?;
            let deadline = self.read_timeout.deadline();
            if self.wait(Direction::Read, hint - 1, deadline)? == Wait::TimedOut {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, "read timed out"));
            }
        }
        let mut seen = 0;
        let r = self.io(Direction::Read, |s| {
            seen = self.readiness(Direction::Read);
            op(s)
        });
        let final_seen = self.reg.get().is_some_and(|r| r.desc.read_final());
        let drained = match r {
            Ok(n) if n > 0 && n < len && !final_seen => seen.wrapping_add(1),
            _ => 0,
        };
        if drained != hint {
            self.drained_at.store(drained, Ordering::Relaxed);
        }
        r
    }

    /// The current readiness sequence of `dir` (0 before registration: a new
    /// registration starts at 0 and reports the fd's current state).
    pub(crate) fn readiness(&self, dir: Direction) -> u32 {
        self.reg.get().map_or(0, |r| r.desc.readiness(dir))
    }

    /// Waits once for `dir` readiness newer than `seen`, or `deadline`. May
    /// return `Retry` without readiness: callers retry their syscall.
    pub(crate) fn wait(
        &self,
        dir: Direction,
        seen: u32,
        deadline: Option<Instant>,
    ) -> io::Result<Wait> {
        if !crate::in_green_thread() {
            return os_wait::wait(self.fd(), dir, deadline);
        }
        let reg = self.registration()?;
        if reg.sched.is_shutdown() {
            return Err(io::Error::other(
                "greenrt: the runtime this socket is registered with has shut down",
            ));
        }
        let me = Unparker::current();
        let poller = &reg.sched.netpoll;
        if !poller.arm(&reg.desc, dir, &me, seen) {
            return Ok(Wait::Retry);
        }
        // Disarms on every way out, including the unwind of a G cancelled
        // by runtime shutdown while parked here.
        let armed = Armed { reg, dir, me: &me };
        // Pairs with the fence in `close`: either it sees our registration
        // (and wakes us), or we see its flag (and do not park).
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::Relaxed) {
            return Ok(Wait::Retry);
        }
        let reason = match dir {
            Direction::Read => WaitReason::NetRead,
            Direction::Write => WaitReason::NetWrite,
        };
        let deadline_passed = match deadline {
            None => {
                park::park(reason);
                false
            }
            Some(d) => park::park_until(d, reason),
        };
        drop(armed);
        if deadline_passed && reg.desc.readiness(dir) == seen {
            Ok(Wait::TimedOut)
        } else {
            Ok(Wait::Retry)
        }
    }

    /// The registration, created on first use with the calling G's runtime.
    fn registration(&self) -> io::Result<&Registration> {
        if let Some(r) = self.reg.get() {
            return Ok(r);
        }
        let _init = self.reg_init.lock();
        if let Some(r) = self.reg.get() {
            return Ok(r);
        }
        let sched = crate::runtime::current_or_default();
        let desc = sched.netpoll.register(self.fd(), self.interest)?;
        Ok(self.reg.get_or_init(|| Registration { sched, desc }))
    }

    /// Fails once the socket was [`close`](Self::close)d through any handle.
    pub(crate) fn check_open(&self) -> io::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "greenrt: socket closed (`close` was called on one of its handles)",
            ));
        }
        Ok(())
    }

    /// Closes the socket for every handle: later calls fail, and Gs or
    /// threads waiting on it wake and fail. The fd itself stays open (so its
    /// number cannot be reused under a parked G) until the last handle goes.
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // Pairs with the fence in `wait` (store-buffering: flag, then look
        // for waiters; they register, then look at the flag).
        fence(Ordering::SeqCst);
        if let Some(reg) = self.reg.get() {
            for waiter in reg.sched.netpoll.unblock(&reg.desc) {
                waiter.unpark();
            }
        }
        // Wakes OS threads blocked in poll(2) on this fd (for a listening
        // socket, Linux also makes further `accept`s fail at once).
        // SAFETY: shutdown(2) on an fd we own and keep open; no memory is
        // passed.
        unsafe { libc::shutdown(self.fd(), libc::SHUT_RDWR) };
    }

    pub(crate) fn set_timeout(&self, dir: Direction, dur: Option<Duration>) -> io::Result<()> {
        match dir {
            Direction::Read => self.read_timeout.set(dur),
            Direction::Write => self.write_timeout.set(dur),
        }
    }

    pub(crate) fn timeout(&self, dir: Direction) -> Option<Duration> {
        match dir {
            Direction::Read => self.read_timeout.get(),
            Direction::Write => self.write_timeout.get(),
        }
    }

    /// `std`'s `set_nonblocking`: operations return `WouldBlock` instead of
    /// waiting. (The fd is non-blocking either way.)
    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }
}

impl<S: AsRawFd> Drop for Socket<S> {
    fn drop(&mut self) {
        // Deregister while the fd is still open (the field drops after this).
        if let Some(reg) = self.reg.get() {
            for waiter in reg.sched.netpoll.deregister(self.fd(), &reg.desc) {
                waiter.unpark();
            }
        }
    }
}

/// Removes a parked G from a waiter list when it stops waiting.
struct Armed<'a> {
    reg: &'a Registration,
    dir: Direction,
    me: &'a Unparker,
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.reg
            .sched
            .netpoll
            .disarm(&self.reg.desc, self.dir, self.me);
    }
}

impl<S: AsRawFd> std::fmt::Debug for Socket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("fd", &self.fd())
            .field("registered", &self.reg.get().map(|r| &r.desc))
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

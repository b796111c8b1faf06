//! `PollFd`: readiness waits on any non-blocking file descriptor, parking
//! only the green thread (tokio's `AsyncFd` idea, in blocking style).
//!
//! The sockets in this module are one use of a general mechanism — a
//! non-blocking fd registered with the netpoller, and a G that parks until
//! the poller sees it ready. `PollFd` hands that mechanism to users for the
//! fds greenrt does not wrap itself: pipes, eventfds, a child process's
//! stdio, timerfds, devices, another library's sockets. It shares
//! `Socket`'s registration, lazy binding to the waiting G's runtime, and
//! no-lost-wake-up protocol (socket.rs, sched/netpoll.rs).
//!
//! # Why the waits check the fd first
//! The netpoller is edge-triggered, so "wait for the next edge" after a
//! failed syscall would hang if the edge arrived between the syscall and
//! the wait. [`PollFd::wait_readable`] therefore snapshots the readiness
//! sequence, asks the kernel for the fd's *current* state (`poll(2)` with a
//! zero timeout), and parks only when it is not ready: any edge after the
//! snapshot wakes it. The cost is one cheap syscall per wait;
//! [`PollFd::read_with`] avoids it by retrying the caller's own syscall
//! inside the snapshot, as the sockets do.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;

use super::os_wait;
use super::socket::{Socket, Wait};
use crate::sched::Direction;

/// A user's non-blocking file descriptor, registered with the netpoller
/// when a green thread first waits on it.
///
/// ```no_run
/// use std::io::Read;
/// use greenrt::net::PollFd;
/// # fn nonblocking_pipe() -> (std::fs::File, std::fs::File) { unimplemented!() }
/// greenrt::run(|| -> std::io::Result<()> {
///     let (reader, _writer) = nonblocking_pipe();
///     let reader = PollFd::new(reader)?;
///     let mut buf = [0u8; 64];
///     // Parks this green thread until the pipe has data.
///     let n = reader.read_with(|mut f| f.read(&mut buf))?;
///     println!("{n} bytes");
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// In a green thread the waits park only that green thread; on a plain OS
/// thread they block it in `poll(2)`, like every greenrt socket. The fd
/// must be in non-blocking mode ([`new`](Self::new) checks): a blocking
/// syscall on it would block the green thread's OS thread and with it every
/// green thread queued there. The wrapped value is dropped (closing the fd,
/// if it owns it) after the registration is removed.
///
/// The fd's readiness is tracked for both directions, so an fd the kernel
/// reports only one of (a pipe end) simply never wakes the other.
pub struct PollFd<T: AsRawFd> {
    inner: Arc<Socket<T>>,
}

impl<T: AsRawFd> PollFd<T> {
    /// Wraps `io`, whose fd must be in non-blocking mode (`O_NONBLOCK`);
    /// a blocking fd is an [`io::ErrorKind::InvalidInput`] error.
    pub fn new(io: T) -> io::Result<PollFd<T>> {
        // SAFETY: fcntl(F_GETFL) on an fd `io` keeps open; no memory passed.
        let flags = unsafe { libc::fcntl(io.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "greenrt: PollFd needs a non-blocking fd (set O_NONBLOCK first)",
            ));
        }
        Ok(Self::from_nonblocking(io))
    }

    /// Wraps `io`, which the caller knows to be non-blocking.
    pub(crate) fn from_nonblocking(io: T) -> PollFd<T> {
        PollFd {
            inner: Socket::new(io, Interest::READABLE | Interest::WRITABLE),
        }
    }

    /// Another handle on the same registration (for types built on this).
    pub(crate) fn share(&self) -> PollFd<T> {
        PollFd {
            inner: self.inner.clone(),
        }
    }

    /// The shared socket core (timeouts, non-blocking mode, close).
    pub(crate) fn socket(&self) -> &Socket<T> {
        &self.inner
    }

    /// How many handles share the registration.
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// The fd (for `socket_fd_impls!`).
    pub(crate) fn fd(&self) -> RawFd {
        self.inner.fd()
    }

    /// The wrapped value (for `socket_fd_impls!`).
    pub(crate) fn get(&self) -> &T {
        self.inner.get()
    }

    /// The wrapped value, for syscalls that do not wait.
    pub fn get_ref(&self) -> &T {
        self.inner.get()
    }

    /// Waits until the fd is readable (data, EOF, an error or a hang-up),
    /// at most `timeout` (`None`: no limit), parking the green thread. A
    /// timeout fails with [`io::ErrorKind::TimedOut`]. Returns at once if
    /// the fd is readable already.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.wait_ready(Direction::Read, timeout)
    }

    /// Waits until the fd is writable (or has an error or a hang-up); see
    /// [`wait_readable`](Self::wait_readable).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.wait_ready(Direction::Write, timeout)
    }

    /// Runs `op` — a syscall that reads from the fd — until it returns
    /// something other than [`io::ErrorKind::WouldBlock`], parking the
    /// green thread until the fd is readable in between.
    pub fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.inner.io(Direction::Read, op)
    }

    /// Like [`read_with`](Self::read_with), for a syscall that writes.
    pub fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.inner.io(Direction::Write, op)
    }

    fn wait_ready(&self, dir: Direction, timeout: Option<Duration>) -> io::Result<()> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            self.inner.check_open()?;
            // Snapshot, then the level check (module docs).
            let seen = self.inner.readiness(dir);
            if os_wait::ready_now(self.inner.fd(), dir)? {
                return Ok(());
            }
            if self.inner.wait(dir, seen, deadline)? == Wait::TimedOut {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "greenrt: fd readiness wait timed out",
                ));
            }
        }
    }
}

impl<T: AsRawFd> AsRawFd for PollFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd()
    }
}

impl<T: AsRawFd + AsFd> AsFd for PollFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get().as_fd()
    }
}

impl<T: AsRawFd> fmt::Debug for PollFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollFd")
            .field("fd", &self.inner.fd())
            .finish()
    }
}

//! `TcpStream`: a TCP connection whose blocking calls park only the green
//! thread (`std::net::TcpStream`'s API and semantics).

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;

use super::addr::each_addr;
use super::socket::{Socket, Wait};
use crate::sched::Direction;

/// A TCP stream between a local and a remote socket.
///
/// Mirrors [`std::net::TcpStream`]: connect with [`connect`](Self::connect),
/// then read and write through [`Read`] and [`Write`] (implemented for both
/// `TcpStream` and `&TcpStream`). In a green thread a call that would block
/// parks only that green thread until the socket is ready; on a plain OS
/// thread it blocks the thread, like `std`.
///
/// ```no_run
/// use std::io::{Read, Write};
/// greenrt::run(|| -> std::io::Result<()> {
///     let mut s = greenrt::net::TcpStream::connect("127.0.0.1:7000")?;
///     s.write_all(b"ping")?;
///     let mut buf = [0; 4];
///     s.read_exact(&mut buf)?;
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// The stream closes when the last handle to it (see
/// [`try_clone`](Self::try_clone)) is dropped.
pub struct TcpStream {
    inner: Arc<Socket<mio::net::TcpStream>>,
}

impl TcpStream {
    pub(crate) fn from_mio(s: mio::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Socket::new(s, Interest::READABLE | Interest::WRITABLE),
        }
    }

    /// Opens a TCP connection to `addr`, trying each resolved address in
    /// turn (like `std`). Parks the green thread while the handshake runs.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| connect_one(a, None))
    }

    /// Opens a TCP connection to `addr`, failing with
    /// [`io::ErrorKind::TimedOut`] if it is not established within
    /// `timeout`. A zero timeout is an `InvalidInput` error, as in `std`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        connect_one(*addr, Instant::now().checked_add(timeout))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Shuts down the read half, the write half, or both. This is how one
    /// green thread stops another blocked on the same stream (through a
    /// [`try_clone`](Self::try_clone)d handle): after `Shutdown::Read` or
    /// `Both`, a parked read returns `Ok(0)`; after `Write` or `Both`, a
    /// parked or later write fails.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get().shutdown(how)
    }

    /// Another handle to this stream, for example so one green thread reads
    /// while another writes.
    ///
    /// As with `std`, handles are independent owners of one socket: the
    /// socket (and its timeouts and non-blocking mode, which are shared)
    /// lives until the last handle is dropped, and dropping one handle does
    /// not disturb a green thread using another. To make a green thread that
    /// is blocked on the stream return, [`shutdown`](Self::shutdown) it.
    /// Unlike `std`, clones share one file descriptor and one netpoller
    /// registration instead of `dup`ing the fd.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.clone(),
        })
    }

    /// Sets the read timeout (`None`: wait forever). A read that times out
    /// fails with [`io::ErrorKind::WouldBlock`], as `std` does on Unix.
    /// `Some(Duration::ZERO)` is an `InvalidInput` error.
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Direction::Read, dur)
    }

    /// Sets the write timeout; see [`set_read_timeout`](Self::set_read_timeout).
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Direction::Write, dur)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Direction::Read))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Direction::Write))
    }

    /// Reads without removing the data from the socket's queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Direction::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get().set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get().nodelay()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// In non-blocking mode, calls that would wait return
    /// [`io::ErrorKind::WouldBlock`] instead (shared by all handles, as in
    /// `std`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Adopts a connected `std` stream (switching its fd to non-blocking
    /// mode). Its `std` timeouts are not carried over: set them again.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream::from_mio(mio::net::TcpStream::from_std(stream)))
    }

    /// Turns this stream back into a blocking `std` stream (on a new fd).
    /// Fails if other handles (from [`try_clone`](Self::try_clone)) still
    /// share the socket, because switching it to blocking mode would block
    /// their green threads' OS threads.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        if Arc::strong_count(&self.inner) != 1 {
            return Err(io::Error::other(
                "greenrt: into_std on a TcpStream whose socket other handles share",
            ));
        }
        let stream = std::net::TcpStream::from(self.inner.get().as_fd().try_clone_to_owned()?);
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

/// Connects to one address; `deadline` bounds the handshake.
fn connect_one(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    TcpStream::from_mio(mio::net::TcpStream::connect(addr)?).finish_connect(deadline)
}

impl TcpStream {
    /// Waits (parking a green thread) until the non-blocking connect
    /// started on this socket completes; `deadline` bounds the handshake.
    pub(crate) fn finish_connect(self, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let stream = self;
        let sock = &stream.inner;
        loop {
            let seen = sock.readiness(Direction::Write);
            // A non-blocking connect finishes when the socket turns writable;
            // SO_ERROR then says whether it failed, and a peer address whether
            // it is still in progress.
            if let Some(e) = sock.get().take_error()? {
                return Err(e);
            }
            match sock.get().peer_addr() {
                Ok(_) => return Ok(stream),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => return Err(e),
            }
            if sock.wait(Direction::Write, seen, deadline)? == Wait::TimedOut {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ));
            }
        }
    }
}

io_through_ref!(TcpStream);

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.inner.read_stream(len, |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.inner
            .read_stream(len, |mut s| s.read_vectored(&mut *bufs))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Direction::Write, |mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner
            .io(Direction::Write, |mut s| s.write_vectored(bufs))
    }

    /// TCP streams have no user-space buffer: nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

socket_fd_impls!(TcpStream, std::net::TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("fd", &self.inner.fd()).finish()
    }
}

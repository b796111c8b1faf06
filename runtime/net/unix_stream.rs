//! `UnixStream`: a Unix-domain stream socket whose blocking calls park only
//! the green thread (`std::os::unix::net::UnixStream`'s API and semantics),
//! built on [`PollFd`].

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::PollFd;
use crate::sched::Direction;

/// A Unix-domain stream socket.
///
/// Mirrors [`std::os::unix::net::UnixStream`], the way
/// [`TcpStream`](super::TcpStream) mirrors `std::net::TcpStream`: the same
/// methods, [`Read`] and [`Write`] for `UnixStream` and `&UnixStream`,
/// handles from [`try_clone`](Self::try_clone) that share the socket (it
/// closes with the last one), timeouts that fail with `WouldBlock`. In a
/// green thread a call that would block parks only that green thread.
///
/// [`connect`](Self::connect) does not wait: a Unix-domain connect either
/// completes at once or, when the listener's queue is full, fails with
/// [`io::ErrorKind::WouldBlock`] (as it does in Go).
pub struct UnixStream {
    inner: PollFd<mio::net::UnixStream>,
}

impl UnixStream {
    pub(crate) fn from_mio(s: mio::net::UnixStream) -> UnixStream {
        UnixStream {
            inner: PollFd::from_nonblocking(s),
        }
    }

    /// Connects to the socket bound at `path`.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        mio::net::UnixStream::connect(path).map(Self::from_mio)
    }

    /// An unnamed pair of connected sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((Self::from_mio(a), Self::from_mio(b)))
    }

    /// Another handle to this socket; see [`TcpStream::try_clone`](super::TcpStream::try_clone).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: self.inner.share(),
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half, or both; this is how one
    /// green thread ends another's blocked read or write on a clone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Sets the read timeout (`None`: wait forever); a read that times out
    /// fails with [`io::ErrorKind::WouldBlock`], as in `std`.
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.socket().set_timeout(Direction::Read, dur)
    }

    /// Sets the write timeout; see [`set_read_timeout`](Self::set_read_timeout).
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.socket().set_timeout(Direction::Write, dur)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.socket().timeout(Direction::Read))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.socket().timeout(Direction::Write))
    }

    /// In non-blocking mode, calls that would wait return `WouldBlock`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.socket().set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }

    /// Adopts a connected `std` stream (switching it to non-blocking mode).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(Self::from_mio(mio::net::UnixStream::from_std(stream)))
    }

    /// Turns this stream back into a blocking `std` stream (on a new fd).
    /// Fails if other handles still share the socket.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        if self.inner.handles() != 1 {
            return Err(io::Error::other(
                "greenrt: into_std on a UnixStream whose socket other handles share",
            ));
        }
        let fd = self.inner.get_ref().as_fd().try_clone_to_owned()?;
        let stream = std::os::unix::net::UnixStream::from(fd);
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

io_through_ref!(UnixStream);

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_with(|mut s| s.read_vectored(&mut *bufs))
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_with(|mut s| s.write_vectored(bufs))
    }

    /// No user-space buffer: nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

socket_fd_impls!(UnixStream, std::os::unix::net::UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.inner.socket().fd())
            .finish()
    }
}

//! `UnixListener`: accepts Unix-domain stream connections, parking only the
//! green thread (`std::os::unix::net::UnixListener`'s API, plus
//! [`close`](UnixListener::close) as on `TcpListener`), built on [`PollFd`].

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::{PollFd, UnixStream};

/// A Unix-domain socket server, listening for connections.
///
/// Mirrors [`std::os::unix::net::UnixListener`]; handles and closing work
/// as on [`TcpListener`](super::TcpListener): clones are independent
/// owners, and [`close`](Self::close) wakes every green thread blocked in
/// `accept` on any handle with [`io::ErrorKind::NotConnected`]. As in
/// `std`, the socket file at the bound path is not removed on drop.
pub struct UnixListener {
    inner: PollFd<mio::net::UnixListener>,
}

impl UnixListener {
    fn from_mio(l: mio::net::UnixListener) -> UnixListener {
        UnixListener {
            inner: PollFd::from_nonblocking(l),
        }
    }

    /// Binds a new socket file at `path` and listens on it.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        mio::net::UnixListener::bind(path).map(Self::from_mio)
    }

    /// Waits for a connection and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.inner.read_with(|l| l.accept())?;
        Ok((UnixStream::from_mio(s), addr))
    }

    /// An endless iterator over accepted connections.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Another handle to this listener (an independent owner).
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        self.inner.socket().check_open()?;
        Ok(UnixListener {
            inner: self.inner.share(),
        })
    }

    /// Stops the listener for every handle; see
    /// [`TcpListener::close`](super::TcpListener::close).
    pub fn close(&self) {
        self.inner.socket().close();
    }

    /// In non-blocking mode `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.socket().set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }

    /// Adopts a listening `std` socket (switching it to non-blocking mode).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(Self::from_mio(mio::net::UnixListener::from_std(listener)))
    }

    /// Turns this listener back into a blocking `std` one (on a new fd).
    /// Fails if other handles still share it.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        if self.inner.handles() != 1 {
            return Err(io::Error::other(
                "greenrt: into_std on a UnixListener that other handles share",
            ));
        }
        self.inner.socket().check_open()?;
        let fd = self.inner.get_ref().as_fd().try_clone_to_owned()?;
        let listener = std::os::unix::net::UnixListener::from(fd);
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

/// The iterator returned by [`UnixListener::incoming`]. Never returns `None`.
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

socket_fd_impls!(UnixListener, std::os::unix::net::UnixListener);

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.inner.socket().fd())
            .finish()
    }
}

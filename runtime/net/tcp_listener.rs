//! `TcpListener`: accepts TCP connections, parking only the green thread
//! (`std::net::TcpListener`'s API and semantics, plus Go's `Listener.Close`
//! as an explicit [`TcpListener::close`]).

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, OnceLock};

use mio::Interest;

use super::addr::each_addr;
use super::socket::Socket;
use super::TcpStream;
use crate::sched::Direction;

/// A TCP socket server, listening for connections.
///
/// Mirrors [`std::net::TcpListener`]. In a green thread,
/// [`accept`](Self::accept) parks only that green thread until a connection
/// arrives; on a plain OS thread it blocks the thread.
///
/// ```no_run
/// use std::io::{Read, Write};
/// greenrt::run(|| -> std::io::Result<()> {
///     let listener = greenrt::net::TcpListener::bind("127.0.0.1:0")?;
///     println!("listening on {}", listener.local_addr()?);
///     for stream in listener.incoming() {
///         let mut stream = stream?;
///         greenrt::spawn(move || {
///             let mut buf = [0; 4096];
///             while let Ok(n @ 1..) = stream.read(&mut buf) {
///                 if stream.write_all(&buf[..n]).is_err() {
///                     break;
///                 }
///             }
///         });
///     }
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Closing
/// As in `std`, every handle (see [`try_clone`](Self::try_clone)) is an
/// independent owner: dropping one leaves the others accepting, and the
/// socket closes with the last. To stop an accept loop from elsewhere —
/// Go's `Listener.Close` — call [`close`](Self::close) on any handle: green
/// threads (and OS threads) blocked in `accept` on every handle wake with an
/// [`io::ErrorKind::NotConnected`] error, and later `accept`s fail the same
/// way.
pub struct TcpListener {
    inner: Arc<Socket<mio::net::TcpListener>>,
}

impl TcpListener {
    pub(crate) fn from_mio(l: mio::net::TcpListener) -> TcpListener {
        TcpListener {
            inner: Socket::new(l, Interest::READABLE),
        }
    }

    /// Binds to `addr` (trying each resolved address in turn) and listens,
    /// with `SO_REUSEADDR` set. Port 0 picks a free port: see
    /// [`local_addr`](Self::local_addr).
    ///
    /// The accept backlog is the system's maximum (`net.core.somaxconn`),
    /// as in Go, not `std`'s 128: one green thread per connection makes
    /// thousands of simultaneous connects normal, and a short queue turns a
    /// burst of them into dropped handshakes and second-long retransmits.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let l = mio::net::TcpListener::bind(a)?;
            // Listening again on a listening socket only changes its backlog.
            // SAFETY: listen(2) on a socket we own; no memory is passed.
            if unsafe { libc::listen(l.as_raw_fd(), max_backlog()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Self::from_mio(l))
        })
    }

    /// Waits for a connection and returns it with the peer's address. The
    /// new stream is in blocking style (like every greenrt stream).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.io(Direction::Read, |l| l.accept())?;
        Ok((TcpStream::from_mio(stream), addr))
    }

    /// An endless iterator over accepted connections (each item is the
    /// result of one [`accept`](Self::accept)), like `std`'s.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Sets `IP_TTL` for accepted connections.
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

    /// In non-blocking mode `accept` returns [`io::ErrorKind::WouldBlock`]
    /// instead of waiting (shared by all handles, as in `std`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Another handle to this listener, for example for a second accepting
    /// green thread, or for one that will [`close`](Self::close) it.
    ///
    /// As in `std`, handles are independent owners: dropping one does not
    /// disturb a green thread accepting on another, and the socket closes
    /// with the last handle. Unlike `std`, clones share one file descriptor
    /// and one netpoller registration instead of `dup`ing the fd. A clone of
    /// a [`close`](Self::close)d listener is an error.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        self.inner.check_open()?;
        Ok(TcpListener {
            inner: self.inner.clone(),
        })
    }

    /// Stops the listener for every handle (Go's `Listener.Close`): each
    /// green thread or OS thread blocked in [`accept`](Self::accept) on any
    /// handle wakes and fails with [`io::ErrorKind::NotConnected`], and so
    /// does every later `accept`; new connections are refused. Closing twice
    /// is harmless.
    ///
    /// This exists because dropping a handle cannot do it: the thread parked
    /// in `accept` holds a handle of its own, and on Linux even closing a
    /// listening fd does not wake a thread blocked in `accept(2)`. The fd
    /// itself stays open until the last handle is dropped, so its number is
    /// never reused under a parked green thread.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Adopts a listening `std` socket (switching its fd to non-blocking).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(Self::from_mio(mio::net::TcpListener::from_std(listener)))
    }

    /// Turns this listener back into a blocking `std` listener (on a new
    /// fd). Fails if other handles still share it.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        if Arc::strong_count(&self.inner) != 1 {
            return Err(io::Error::other(
                "greenrt: into_std on a TcpListener that other handles share",
            ));
        }
        self.inner.check_open()?;
        let fd = self.inner.get().as_fd().try_clone_to_owned()?;
        let listener = std::net::TcpListener::from(fd);
        listener.set_nonblocking(false)?;
        // Dropping `self` now only closes our fd; the socket lives on in
        // the new one.
        Ok(listener)
    }
}

/// The kernel's accept-queue limit (Go: `maxListenerBacklog`), read once.
fn max_backlog() -> i32 {
    static BACKLOG: OnceLock<i32> = OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|&n| n > 0)
            // Kernels before 4.1 keep the backlog in 16 bits.
            .map_or(libc::SOMAXCONN, |n| n.min(u16::MAX as i32))
    })
}

/// The iterator returned by [`TcpListener::incoming`]. Never returns `None`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

socket_fd_impls!(TcpListener, std::net::TcpListener);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.inner.fd()).finish()
    }
}

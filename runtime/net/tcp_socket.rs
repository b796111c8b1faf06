//! `TcpSocket`: a TCP socket not yet bound or connected, for the options
//! that must be set before `bind` / `connect` (tokio's `TcpSocket` shape).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::sockaddr::{self, flag, get_opt, set_flag, set_opt, RawAddr};
use super::{TcpListener, TcpStream};

/// A TCP socket that has not yet been turned into a [`TcpListener`] or a
/// [`TcpStream`].
///
/// `TcpListener::bind` and `TcpStream::connect` cover the usual cases; a
/// `TcpSocket` is for options the kernel only honours before `bind`,
/// `listen` or `connect` — `SO_REUSEPORT` above all, which lets several
/// listeners (in one process or several) share a port, with the kernel
/// spreading incoming connections among them:
///
/// ```no_run
/// use greenrt::net::TcpSocket;
/// greenrt::run(|| -> std::io::Result<()> {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.set_reuseport(true)?;
///     socket.bind("127.0.0.1:8080".parse().unwrap())?;
///     let listener = socket.listen(1024)?;
///     let (_conn, _peer) = listener.accept()?;
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Follows tokio's `TcpSocket`: the same constructors, setters and
/// getters, `listen` and `connect` consume the socket. [`connect`](Self::connect)
/// is blocking-style like everything in `greenrt::net`: in a green thread it
/// parks only that green thread while the handshake runs; on a plain OS
/// thread it blocks the thread. Unlike `TcpListener::bind`, nothing is set
/// by default (not even `SO_REUSEADDR`), as in tokio.
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (non-blocking, close-on-exec).
    pub fn new_v4() -> io::Result<TcpSocket> {
        Self::new(libc::AF_INET)
    }

    /// A new IPv6 TCP socket (non-blocking, close-on-exec).
    pub fn new_v6() -> io::Result<TcpSocket> {
        Self::new(libc::AF_INET6)
    }

    fn new(domain: libc::c_int) -> io::Result<TcpSocket> {
        let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: socket(2) takes no pointers.
        let fd = unsafe { libc::socket(domain, ty, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) just returned this fd, and nothing else owns it.
        Ok(TcpSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `SO_REUSEADDR`: bind a port that connections in `TIME_WAIT` still
    /// hold (what a restarted server needs).
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        set_flag(self.raw(), libc::SOL_SOCKET, libc::SO_REUSEADDR, on)
    }

    /// Reads `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        flag(self.raw(), libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// `SO_REUSEPORT`: let every socket of this user that sets it bind the
    /// same address and port. For listeners the kernel then hashes each
    /// incoming connection to one of them — one listener per process (or
    /// per runtime) on one port.
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        set_flag(self.raw(), libc::SOL_SOCKET, libc::SO_REUSEPORT, on)
    }

    /// Reads `SO_REUSEPORT`.
    pub fn reuseport(&self) -> io::Result<bool> {
        flag(self.raw(), libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// `SO_SNDBUF`, in bytes (Linux doubles the value for bookkeeping, and
    /// [`send_buffer_size`](Self::send_buffer_size) reports the doubled one).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        set_opt(self.raw(), libc::SOL_SOCKET, libc::SO_SNDBUF, clamp(size))
    }

    /// Reads `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        get_opt::<libc::c_int>(self.raw(), libc::SOL_SOCKET, libc::SO_SNDBUF).map(|v| v as u32)
    }

    /// `SO_RCVBUF`, in bytes (doubled by Linux, like `SO_SNDBUF`).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        set_opt(self.raw(), libc::SOL_SOCKET, libc::SO_RCVBUF, clamp(size))
    }

    /// Reads `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        get_opt::<libc::c_int>(self.raw(), libc::SOL_SOCKET, libc::SO_RCVBUF).map(|v| v as u32)
    }

    /// `TCP_NODELAY` (disables Nagle's algorithm when `true`); carried over
    /// to the stream [`connect`](Self::connect) returns.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_flag(self.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY, on)
    }

    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        flag(self.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY)
    }

    /// `SO_KEEPALIVE`: probe an idle connection (with the system's timings).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        set_flag(self.raw(), libc::SOL_SOCKET, libc::SO_KEEPALIVE, on)
    }

    /// Reads `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        flag(self.raw(), libc::SOL_SOCKET, libc::SO_KEEPALIVE)
    }

    /// `SO_LINGER`: with `Some(d)`, closing the socket waits up to `d`
    /// (whole seconds) for unsent data to be acknowledged; `Some(ZERO)`
    /// resets the connection on close instead of a graceful FIN; `None`
    /// restores the default (close returns at once, the kernel sends in the
    /// background).
    ///
    /// Careful with a non-zero `d`: Linux lingers in `close(2)` even on a
    /// non-blocking socket, so dropping the last handle blocks the OS
    /// thread — and every green thread queued on it — for up to `d`. (tokio
    /// warns about the same.) `Some(ZERO)` never waits.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        let linger = libc::linger {
            l_onoff: libc::c_int::from(dur.is_some()),
            l_linger: dur.map_or(0, |d| {
                d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
            }),
        };
        set_opt(self.raw(), libc::SOL_SOCKET, libc::SO_LINGER, linger)
    }

    /// Reads `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        let l: libc::linger = get_opt(self.raw(), libc::SOL_SOCKET, libc::SO_LINGER)?;
        Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger.max(0) as u64)))
    }

    /// `IP_BIND_ADDRESS_NO_PORT` (Linux): a `bind` to port 0 picks the
    /// local port only at `connect`, per destination, instead of reserving
    /// one for every destination. What a client that binds its source
    /// address needs to open more connections than one address has
    /// ephemeral ports to any one server (bind several source addresses).
    /// Elsewhere it is `Unsupported`.
    pub fn set_bind_address_no_port(&self, on: bool) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        return set_flag(
            self.raw(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            on,
        );
        #[cfg(not(target_os = "linux"))]
        return {
            let _ = on;
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "IP_BIND_ADDRESS_NO_PORT is Linux-only",
            ))
        };
    }

    /// Binds to `addr` (port 0 picks a free port: see
    /// [`local_addr`](Self::local_addr)).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let raw = RawAddr::from(addr);
        // SAFETY: `raw` holds a valid sockaddr of `raw.len()` bytes.
        if unsafe { libc::bind(self.raw(), raw.as_ptr(), raw.len()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sockaddr::local_addr(self.raw())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let e: libc::c_int = get_opt(self.raw(), libc::SOL_SOCKET, libc::SO_ERROR)?;
        Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
    }

    /// Starts listening, with an accept queue of `backlog` connections (the
    /// kernel caps it at `net.core.somaxconn`), and returns the listener.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = clamp(backlog);
        // SAFETY: listen(2) takes no pointers.
        if unsafe { libc::listen(self.raw(), backlog) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = std::net::TcpListener::from(self.fd);
        Ok(TcpListener::from_mio(mio::net::TcpListener::from_std(
            listener,
        )))
    }

    /// Connects to `addr` and returns the stream. In a green thread this
    /// parks only the green thread until the handshake ends (the netpoller
    /// wakes it when the socket turns writable).
    pub fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.connect_until(addr, None)
    }

    /// [`connect`](Self::connect), failing with `TimedOut` if the handshake
    /// has not finished within `timeout` (like
    /// `TcpStream::connect_timeout`).
    pub fn connect_timeout(self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        self.connect_until(addr, Instant::now().checked_add(timeout))
    }

    fn connect_until(self, addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let raw = RawAddr::from(addr);
        // SAFETY: `raw` holds a valid sockaddr of `raw.len()` bytes.
        if unsafe { libc::connect(self.raw(), raw.as_ptr(), raw.len()) } != 0 {
            let e = io::Error::last_os_error();
            // A non-blocking connect goes on in the background after
            // EINPROGRESS, and after EINTR too.
            match e.raw_os_error() {
                Some(libc::EINPROGRESS) | Some(libc::EINTR) => {}
                _ => return Err(e),
            }
        }
        let stream = std::net::TcpStream::from(self.fd);
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream)).finish_connect(deadline)
    }
}

/// A size or count for an `int` option, saturating.
fn clamp(n: u32) -> libc::c_int {
    libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX)
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.raw()).finish()
    }
}

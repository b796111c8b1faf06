//! `UdpSocket`: datagrams, parking only the green thread
//! (`std::net::UdpSocket`'s API and semantics).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use mio::Interest;

use super::addr::{each_addr, first_addr};
use super::socket::Socket;
use crate::sched::Direction;

/// A UDP socket.
///
/// Mirrors [`std::net::UdpSocket`]. In a green thread, a receive with no
/// datagram queued (or a send with a full buffer) parks only that green
/// thread; on a plain OS thread it blocks the thread.
///
/// ```no_run
/// greenrt::run(|| -> std::io::Result<()> {
///     let socket = greenrt::net::UdpSocket::bind("127.0.0.1:0")?;
///     let mut buf = [0; 1500];
///     let (n, from) = socket.recv_from(&mut buf)?;
///     socket.send_to(&buf[..n], from)?;
///     Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Handles from [`try_clone`](Self::try_clone) share the socket, which
/// closes when the last one is dropped (as in `std`).
pub struct UdpSocket {
    inner: Arc<Socket<mio::net::UdpSocket>>,
}

impl UdpSocket {
    fn from_mio(s: mio::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            inner: Socket::new(s, Interest::READABLE | Interest::WRITABLE),
        }
    }

    /// Binds to `addr`, trying each resolved address in turn.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| mio::net::UdpSocket::bind(a).map(Self::from_mio))
    }

    /// Receives one datagram, returning its length and sender. A datagram
    /// longer than `buf` is truncated.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](Self::recv_from) but leaves the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Direction::Read, |s| s.peek_from(buf))
    }

    /// Sends `buf` to the first address `addr` resolves to.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let target = first_addr(addr)?;
        self.inner.io(Direction::Write, |s| s.send_to(buf, target))
    }

    /// Sets the peer for [`send`](Self::send) and [`recv`](Self::recv), and
    /// filters received datagrams to that peer. Tries each resolved address.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.inner.get().connect(a))
    }

    /// Sends `buf` to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Direction::Read, |s| s.recv(buf))
    }

    /// Like [`recv`](Self::recv) but leaves the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Direction::Read, |s| s.peek(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// The connected peer's address (`NotConnected` if none).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// Another handle to this socket (see the type docs).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: self.inner.clone(),
        })
    }

    /// Sets the read timeout (`None`: wait forever). A receive that times
    /// out fails with [`io::ErrorKind::WouldBlock`], as `std` does on Unix.
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

    /// In non-blocking mode, calls that would wait return
    /// [`io::ErrorKind::WouldBlock`] instead (shared by all handles).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_broadcast(on)
    }

    /// Reads `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get().broadcast()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_multicast_loop_v4(on)
    }

    /// Reads `IP_MULTICAST_LOOP`.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.get().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_multicast_ttl_v4(ttl)
    }

    /// Reads `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.get().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_multicast_loop_v6(on)
    }

    /// Reads `IPV6_MULTICAST_LOOP`.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.get().multicast_loop_v6()
    }

    /// Joins an IPv4 multicast group on `interface`.
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get().join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group on interface index `interface`.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Adopts a bound `std` socket (switching its fd to non-blocking mode).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(Self::from_mio(mio::net::UdpSocket::from_std(socket)))
    }

    /// Turns this socket back into a blocking `std` socket (on a new fd).
    /// Fails if other handles still share it.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        if Arc::strong_count(&self.inner) != 1 {
            return Err(io::Error::other(
                "greenrt: into_std on a UdpSocket that other handles share",
            ));
        }
        let socket = std::net::UdpSocket::from(self.inner.get().as_fd().try_clone_to_owned()?);
        socket.set_nonblocking(false)?;
        Ok(socket)
    }
}

socket_fd_impls!(UdpSocket, std::net::UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("fd", &self.inner.fd()).finish()
    }
}

//! Green sockets: std-like blocking-style TCP and UDP that park only the
//! green thread, woken by the netpoller.
//!
//! [`TcpListener`], [`TcpStream`] and [`UdpSocket`] have `std::net`'s names,
//! signatures and semantics, so moving code onto green threads is a change of
//! import. [`TcpSocket`] (tokio's shape) sets the options that must come
//! before `bind` or `connect`, such as `SO_REUSEPORT`. [`UnixStream`] and
//! [`UnixListener`] do the same for `std::os::unix::net`, on [`PollFd`],
//! which makes any non-blocking fd (a pipe, an eventfd, a child's stdio)
//! green: its waits park the green thread until the netpoller sees it ready. Write plain sequential code — one green thread per connection —
//! and the runtime multiplexes it: a call that cannot complete parks the
//! calling green thread, its processor runs other green threads, and the
//! netpoller (one `epoll` per runtime, via mio) makes it runnable again when
//! the socket is ready. This is Go's model: the simplicity of a thread per
//! connection at the cost of an event loop.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use greenrt::net::TcpListener;
//!
//! greenrt::run(|| -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:7000")?;
//!     loop {
//!         let (mut conn, _) = listener.accept()?;
//!         greenrt::spawn(move || {
//!             let mut buf = [0u8; 4096];
//!             loop {
//!                 match conn.read(&mut buf) {
//!                     Ok(0) | Err(_) => break,
//!                     Ok(n) if conn.write_all(&buf[..n]).is_err() => break,
//!                     Ok(_) => {}
//!                 }
//!             }
//!         });
//!     }
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Where they work
//! * **In a green thread** a blocking call parks only that green thread.
//! * **On a plain OS thread** (outside any runtime) the same call blocks the
//!   thread in `poll(2)`, like `std`. A socket may move between the two.
//!
//! # Timeouts
//! `set_read_timeout` / `set_write_timeout` behave as in `std`: a call that
//! times out fails with [`std::io::ErrorKind::WouldBlock`] (what `std`
//! returns on Unix); `Some(Duration::ZERO)` is rejected. They are shared by
//! all handles to a socket, like socket options.
//! `TcpStream::connect_timeout` fails with `TimedOut`.
//!
//! # Several green threads, one socket
//! `try_clone` gives another handle to the same socket (one fd, one netpoller
//! registration), e.g. for a reader and a writer green thread. Handles are
//! independent owners as in `std`: the socket closes with the last one.
//! `TcpStream::shutdown` is how one green thread makes another's blocked
//! read or write return, and [`TcpListener::close`] how it stops another's
//! `accept` (Go's `Listener.Close`: every green thread blocked in `accept`
//! on any handle wakes with an error).
//!
//! # Name resolution
//! Every function taking a `ToSocketAddrs` resolves it like `std`, but runs
//! the system resolver inside [`crate::syscall()`], so a slow DNS lookup hands
//! its processor to another OS thread instead of stalling other green
//! threads. [`to_socket_addrs`] and [`lookup_host`] expose the same lookup.
//!
//! # Caveats
//! * A socket registers with the runtime of the first green thread that has
//!   to wait on it. Green threads of another runtime can use it too (their
//!   wake-ups are forwarded), but only while that first runtime lives; after
//!   it shuts down, waiting on the socket from a green thread fails.

/// `Read` and `Write` for an owned stream, forwarded to the `&Stream`
/// impls (which do the waiting): reading and writing never need `&mut`,
/// as with std's sockets.
macro_rules! io_through_ref {
    ($ty:ty) => {
        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }

            /// No user-space buffer: nothing to flush.
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

/// The conversions every green socket type offers the same way: from its
/// `std::net` counterpart (`TryFrom`, via `from_std`) and to its file
/// descriptor (`AsRawFd`, `AsFd`), all through the shared `inner` socket.
macro_rules! socket_fd_impls {
    ($ty:ident, $std:ty) => {
        impl TryFrom<$std> for $ty {
            type Error = std::io::Error;

            #[doc = concat!("See [`", stringify!($ty), "::from_std`].")]
            fn try_from(sock: $std) -> std::io::Result<$ty> {
                $ty::from_std(sock)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.inner.get())
            }
        }
    };
}

mod addr;
mod os_wait;
mod poll_fd;
mod resolve;
mod sockaddr;
mod socket;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;
mod unix_listener;
mod unix_stream;

pub use poll_fd::PollFd;
pub use resolve::{lookup_host, to_socket_addrs};
pub use tcp_listener::{Incoming, TcpListener};
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_listener::{UnixIncoming, UnixListener};
pub use unix_stream::UnixStream;

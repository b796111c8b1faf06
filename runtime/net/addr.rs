//! Address handling the way `std::net` does it: resolve a `ToSocketAddrs`,
//! try each address in turn, and report the last error.
//!
//! Resolution goes through [`super::to_socket_addrs`], which runs the system
//! resolver inside the syscall handoff: a slow DNS lookup in one green
//! thread hands its processor to another M instead of stalling the others.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::resolve::to_socket_addrs;

/// Calls `f` with each address `addr` resolves to until one succeeds.
pub(crate) fn each_addr<A, F, T>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> io::Result<T>,
{
    let mut last_err = None;
    for a in to_socket_addrs(addr)? {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The first address `addr` resolves to (for `send_to`, as in `std`).
pub(crate) fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    to_socket_addrs(addr)?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))
}

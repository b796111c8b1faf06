//! Name resolution through the syscall handoff.
//!
//! `getaddrinfo` blocks its OS thread (DNS over the network, `/etc/hosts`,
//! NSS modules) and has no readiness interface, so — like Go's cgo resolver —
//! it runs inside [`crate::syscall()`]: a slow lookup hands its processor to
//! another machine instead of stalling every green thread queued behind it.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr` (anything std's `ToSocketAddrs` accepts: `"host:port"`,
/// `("host", port)`, a `SocketAddr`, …) without blocking other green threads.
///
/// ```
/// let addrs = greenrt::run(|| greenrt::net::to_socket_addrs(("localhost", 80)));
/// assert!(addrs.unwrap().iter().any(|a| a.ip().is_loopback()));
/// ```
pub fn to_socket_addrs<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    crate::syscall(|| addr.to_socket_addrs().map(Iterator::collect))
}

/// Resolves a `"host:port"` string (like tokio's `lookup_host`).
pub fn lookup_host(host_and_port: &str) -> io::Result<Vec<SocketAddr>> {
    to_socket_addrs(host_and_port)
}

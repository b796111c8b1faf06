//! The examples' listening socket: `TcpListener::bind`, or with
//! `--reuseport` a `TcpSocket` with `SO_REUSEPORT` set before `bind`, so
//! several processes (one per core, say) listen on one port and the kernel
//! hashes each connection to one of them. Shared by echo_server and
//! http_server (examples/common/serve says why shared code lives here).

use std::io;

use greenrt::net::{TcpListener, TcpSocket};

/// Listens on `addr`, trying each address it resolves to. Either way the
/// accept backlog is the kernel's largest (`net.core.somaxconn`), which a
/// burst of thousands of connects needs.
pub fn listen(addr: &str, reuseport: bool) -> io::Result<TcpListener> {
    if !reuseport {
        return TcpListener::bind(addr);
    }
    let mut last_err = None;
    for a in greenrt::net::to_socket_addrs(addr)? {
        let socket = if a.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        match socket.bind(a) {
            // The kernel caps the backlog at net.core.somaxconn.
            Ok(()) => return socket.listen(u32::MAX),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no address to listen on")))
}

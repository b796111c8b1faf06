//! greenrt::net::TcpSocket: options before bind, SO_REUSEPORT listeners
//! sharing one port, and connect parking the green thread. Loopback only;
//! every test is bounded by a watchdog.

mod common;
mod net_common;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::{rt_test, runtime, Watchdog};
use greenrt::net::{TcpListener, TcpSocket, TcpStream};
use greenrt::WaitReason;
use net_common::{closed_port, wait_parked};

fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.set_reuseport(true)?;
    s.bind(addr)?;
    s.listen(128)
}

/// Accepts until the listener is closed, answering each connection with
/// `id`; returns how many it accepted.
fn answer_with_id(listener: TcpListener, id: u8) -> usize {
    let mut accepted = 0;
    while let Ok((mut conn, _)) = listener.accept() {
        accepted += 1;
        conn.write_all(&[id]).unwrap();
    }
    accepted
}

rt_test!(two_reuseport_listeners_on_one_port_both_accept);
fn two_reuseport_listeners_on_one_port_both_accept(procs: usize) {
    let _w = Watchdog::new("reuseport", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        let first = reuseport_listener(loopback_any_port()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = reuseport_listener(addr).expect("SO_REUSEPORT shares the port");
        assert_eq!(second.local_addr().unwrap(), addr);
        // A socket without SO_REUSEPORT may not join them.
        let outsider = TcpSocket::new_v4().unwrap();
        outsider.set_reuseaddr(true).unwrap();
        assert_eq!(
            outsider.bind(addr).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );

        let closers = [first.try_clone().unwrap(), second.try_clone().unwrap()];
        let acceptors = [
            greenrt::spawn(move || answer_with_id(first, 0)),
            greenrt::spawn(move || answer_with_id(second, 1)),
        ];
        // The kernel hashes each connection's 4-tuple to one listener; new
        // source ports reach both well within 64 tries (all 64 on one side
        // has probability 2^-63).
        let mut seen = [0usize; 2];
        for _ in 0..64 {
            let mut c = TcpStream::connect(addr).unwrap();
            let mut id = [0u8; 1];
            c.read_exact(&mut id).unwrap();
            seen[id[0] as usize] += 1;
            if seen.iter().all(|&n| n > 0) {
                break;
            }
        }
        for c in &closers {
            c.close();
        }
        let accepted = acceptors.map(|h| h.join().unwrap());
        assert_eq!(accepted, seen, "each listener answered what it accepted");
        assert!(
            seen.iter().all(|&n| n > 0),
            "one listener got none: {seen:?}"
        );
    });
}

rt_test!(connect_parks_the_green_thread_until_the_handshake);
fn connect_parks_the_green_thread_until_the_handshake(procs: usize) {
    let _w = Watchdog::new("TcpSocket::connect", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = greenrt::spawn(move || {
            let s = TcpSocket::new_v4().unwrap();
            s.set_nodelay(true).unwrap();
            let mut stream = s.connect(addr).unwrap();
            assert!(stream.nodelay().unwrap(), "options carry over");
            stream.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            // Parks in read: the server answers only after seeing that.
            stream.read_exact(&mut buf).unwrap();
            buf
        });
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        wait_parked(client.thread(), WaitReason::NetRead);
        conn.write_all(b"pong").unwrap();
        assert_eq!(&client.join().unwrap(), b"pong");

        let refused = TcpSocket::new_v4().unwrap().connect(closed_port());
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn connect_from_a_plain_os_thread_blocks_like_std() {
    let _w = Watchdog::new("TcpSocket::connect, OS thread", Duration::from_secs(60));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut stream = TcpSocket::new_v4()
        .unwrap()
        .connect(listener.local_addr().unwrap())
        .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn options_read_back_what_was_set() {
    let s = TcpSocket::new_v4().unwrap();
    assert!(!s.reuseaddr().unwrap(), "nothing is set by default");
    s.set_reuseaddr(true).unwrap();
    assert!(s.reuseaddr().unwrap());
    s.set_reuseport(true).unwrap();
    assert!(s.reuseport().unwrap());
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
    s.set_keepalive(true).unwrap();
    assert!(s.keepalive().unwrap());
    assert_eq!(s.linger().unwrap(), None);
    s.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(3)));
    s.set_linger(None).unwrap();
    assert_eq!(s.linger().unwrap(), None);
    // Linux doubles buffer sizes (and has a minimum): at least what we asked.
    s.set_send_buffer_size(64 * 1024).unwrap();
    assert!(s.send_buffer_size().unwrap() >= 64 * 1024);
    s.set_recv_buffer_size(64 * 1024).unwrap();
    assert!(s.recv_buffer_size().unwrap() >= 64 * 1024);
    s.bind(loopback_any_port()).unwrap();
    let addr = s.local_addr().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    assert!(s.take_error().unwrap().is_none());
    let listener = s.listen(16).unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);
}

#[test]
fn ipv6_sockets_bind_and_connect_when_the_host_has_ipv6() {
    let _w = Watchdog::new("TcpSocket v6", Duration::from_secs(60));
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this host");
        return;
    };
    let addr = listener.local_addr().unwrap();
    let rt = runtime(1);
    let local = rt.block_on(move || {
        let s = TcpSocket::new_v6().unwrap();
        s.bind("[::1]:0".parse().unwrap()).unwrap();
        let stream = s.connect(addr).unwrap();
        stream.local_addr().unwrap()
    });
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, local);
}

//! greenrt::net UDP: loopback echo from many green threads, timeouts,
//! shared handles, and the OS-thread fallback. Bounded by watchdogs.

mod common;
mod net_common;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::net::UdpSocket;
use greenrt::WaitReason;
use net_common::{wait_parked, Rng};

/// Echoes datagrams until it receives an empty one.
fn udp_echo_server(sock: UdpSocket) -> usize {
    let mut buf = vec![0u8; 64 * 1024];
    let mut n_echoed = 0;
    loop {
        let (n, from) = sock.recv_from(&mut buf).expect("server recv");
        if n == 0 {
            return n_echoed;
        }
        sock.send_to(&buf[..n], from).expect("server send");
        n_echoed += 1;
    }
}

rt_test!(udp_echo_from_many_green_threads, procs_1 = 1, procs_2 = 2);
fn udp_echo_from_many_green_threads(procs: usize) {
    let _w = Watchdog::new("udp echo", Duration::from_secs(120));
    {
        let rt = runtime(procs);
        let clients = 50;
        let rounds = stress(100);
        let echoed = rt.block_on(move || {
            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = server.local_addr().unwrap();
            let server = greenrt::spawn(move || udp_echo_server(server));
            let hs: Vec<_> = (0..clients)
                .map(|c| {
                    greenrt::spawn(move || {
                        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                        sock.connect(addr).unwrap();
                        assert_eq!(sock.peer_addr().unwrap(), addr);
                        // Loopback UDP may still drop under buffer pressure:
                        // resend after a timeout, match replies by sequence.
                        sock.set_read_timeout(Some(Duration::from_millis(500)))
                            .unwrap();
                        let mut rng = Rng::new(c as u64 + 7);
                        let mut buf = vec![0u8; 2048];
                        for seq in 0..rounds as u64 {
                            let len = rng.range(8, 1400);
                            let mut msg = rng.bytes(len);
                            msg[..8].copy_from_slice(&seq.to_le_bytes());
                            'resend: loop {
                                sock.send(&msg).unwrap();
                                loop {
                                    match sock.recv(&mut buf) {
                                        Ok(n) if buf[..n] == msg[..] => break 'resend,
                                        Ok(n) => assert!(
                                            n >= 8 && buf[..8] != msg[..8],
                                            "client {c}: wrong echo for seq {seq}"
                                        ),
                                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                            continue 'resend
                                        }
                                        Err(e) => panic!("client {c}: {e}"),
                                    }
                                }
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let stop = UdpSocket::bind("127.0.0.1:0").unwrap();
            stop.send_to(&[], addr).unwrap();
            server.join().unwrap()
        });
        assert!(echoed >= clients * rounds, "procs = {procs}: {echoed}");
    }
}

rt_test!(
    recv_timeout_fires_within_a_bounded_window,
    procs_1 = 1,
    procs_2 = 2
);
fn recv_timeout_fires_within_a_bounded_window(procs: usize) {
    let _w = Watchdog::new("udp timeout", Duration::from_secs(60));
    let timeout = Duration::from_millis(100);
    let check = move |s: &UdpSocket| {
        s.set_read_timeout(Some(timeout)).unwrap();
        let start = Instant::now();
        let err = s.recv_from(&mut [0u8; 16]).unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(took >= timeout, "fired early: {took:?}");
        assert!(
            took < timeout + Duration::from_secs(2),
            "fired late: {took:?}"
        );
    };
    {
        let rt = runtime(procs);
        let s = rt.block_on(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            check(&s);
            s
        });
        check(&s); // from this OS thread
        assert_eq!(
            s.set_write_timeout(Some(Duration::ZERO))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(s.read_timeout().unwrap(), Some(timeout));
    }
}

rt_test!(
    a_green_thread_parked_in_recv_on_a_clone_is_woken_by_a_datagram,
    procs_1 = 1,
    procs_2 = 2
);
fn a_green_thread_parked_in_recv_on_a_clone_is_woken_by_a_datagram(procs: usize) {
    let _w = Watchdog::new("udp clone", Duration::from_secs(60));
    {
        let rt = runtime(procs);
        rt.block_on(|| {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let a_addr = a.local_addr().unwrap();
            let reader = {
                let a = a.try_clone().unwrap();
                greenrt::spawn(move || {
                    let mut buf = [0u8; 16];
                    let (n, from) = a.recv_from(&mut buf).unwrap();
                    (buf[..n].to_vec(), from)
                })
            };
            wait_parked(reader.thread(), WaitReason::NetRead);
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            b.send_to(b"wake", a_addr).unwrap();
            let (data, from): (Vec<u8>, SocketAddr) = reader.join().unwrap();
            assert_eq!(data, b"wake");
            assert_eq!(from, b.local_addr().unwrap());
            // The original handle still works after the clone is gone.
            a.send_to(b"back", from).unwrap();
            let mut buf = [0u8; 8];
            let n = b.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"back");
        });
    }
}

#[test]
fn works_from_plain_os_threads_and_mirrors_std() {
    let _w = Watchdog::new("udp os thread", Duration::from_secs(60));
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
    let a_addr = a.local_addr().unwrap();
    // Blocks this OS thread in poll(2) until the other thread sends.
    let sender = std::thread::spawn(move || {
        b.send_to(b"hello", a_addr.to_string()).unwrap();
        b
    });
    let mut buf = [0u8; 16];
    let (n, from) = a.peek_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    let (n, from2) = a.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from2), (&b"hello"[..], from));
    let b = sender.join().unwrap();
    assert!(a.peer_addr().is_err(), "not connected");
    a.set_nonblocking(true).unwrap();
    assert_eq!(
        a.recv_from(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    a.set_nonblocking(false).unwrap();
    a.set_broadcast(true).unwrap();
    assert!(a.broadcast().unwrap());
    a.set_ttl(9).unwrap();
    assert_eq!(a.ttl().unwrap(), 9);
    assert!(a.take_error().unwrap().is_none());
    assert!(format!("{a:?}").contains("UdpSocket"));
    // std round trip.
    let std_a = a.into_std().unwrap();
    b.send_to(b"std", a_addr).unwrap();
    let n = std_a.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"std");
    let a = UdpSocket::try_from(std_a).unwrap();
    b.send_to(b"green", a_addr).unwrap();
    let n = a.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"green");
}

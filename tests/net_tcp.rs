//! greenrt::net TCP: loopback echo under load, timeouts, errors, closing,
//! shutdown, and the OS-thread fallback. Every test is bounded by a watchdog.

mod common;
mod net_common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::net::{TcpListener, TcpStream};
use greenrt::WaitReason;
use net_common::{closed_port, raise_fd_limit, wait_parked, Latch, Rng, NET_PROCS};

/// Echoes until EOF, then half-closes so the client's read sees EOF.
fn echo(mut s: TcpStream) -> usize {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                s.write_all(&buf[..n]).expect("echo write");
                total += n;
            }
            Err(e) => panic!("echo read: {e}"),
        }
    }
    s.shutdown(Shutdown::Write).expect("echo shutdown");
    total
}

// Also the check of the netpoll arm/fire handshake (a reader arms its wait
// while the poller fires readiness): a SeqCst store-buffering pairing, which
// loom does not model, so it has no loom model (docs/ARCHITECTURE.md,
// "Model-checked protocols"); this stress test is its check.
/// `conns` connections, all open at once (a latch holds each until every
/// one has connected), each sending one random payload (sizes log-uniform up
/// to 1 MiB) from a writer green thread while a reader green thread on a
/// `try_clone`d handle checks the echo byte for byte.
fn echo_stress(procs: usize, conns: usize) {
    let _w = Watchdog::new("echo stress", Duration::from_secs(240));
    raise_fd_limit(4 * conns as u64 + 256);
    let rt = runtime(procs);
    let (sent, echoed) = rt.block_on(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = greenrt::spawn(move || {
            let mut handlers = Vec::with_capacity(conns);
            for _ in 0..conns {
                let (s, _) = listener.accept().expect("accept");
                handlers.push(greenrt::spawn(move || echo(s)));
            }
            handlers
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        let all_connected = Arc::new(Latch::new(conns));
        let clients: Vec<_> = (0..conns)
            .map(|i| {
                let all_connected = all_connected.clone();
                greenrt::spawn(move || {
                    let mut rng = Rng::new(i as u64 + 1);
                    // Always cover the extremes: empty and exactly 1 MiB.
                    let len = match i {
                        0 => 0,
                        1 => 1 << 20,
                        _ => rng.log_size(1 << 20),
                    };
                    let payload = Arc::new(rng.bytes(len));
                    let stream = TcpStream::connect(addr).expect("connect");
                    all_connected.arrive_and_wait();
                    let mut w = stream.try_clone().unwrap();
                    let p = payload.clone();
                    let writer = greenrt::spawn(move || {
                        let mut rng = Rng::new(!(i as u64));
                        let mut off = 0;
                        while off < p.len() {
                            let n = rng.range(1, 256 * 1024).min(p.len() - off);
                            w.write_all(&p[off..off + n]).expect("client write");
                            off += n;
                        }
                        w.shutdown(Shutdown::Write).unwrap();
                    });
                    let mut got = Vec::with_capacity(len);
                    (&stream).read_to_end(&mut got).expect("client read");
                    writer.join().unwrap();
                    assert_eq!(got.len(), len, "connection {i}: echo length");
                    assert!(got == *payload, "connection {i}: echoed bytes differ");
                    len
                })
            })
            .collect();
        let sent: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        (sent, server.join().unwrap())
    });
    assert_eq!(sent, echoed);
    assert!(sent >= 1 << 20);
}

#[test]
fn echo_1000_connections_random_sizes_procs_1() {
    for _ in 0..stress(1) {
        echo_stress(1, 1000);
    }
}

#[test]
fn echo_1000_connections_random_sizes_procs_2() {
    for _ in 0..stress(1) {
        echo_stress(2, 1000);
    }
}

rt_test!(
    read_timeout_fires_within_a_bounded_window,
    procs_1 = 1,
    procs_2 = 2
);
fn read_timeout_fires_within_a_bounded_window(procs: usize) {
    let _w = Watchdog::new("read timeout", Duration::from_secs(60));
    let timeout = Duration::from_millis(100);
    let check = move |s: &TcpStream| {
        s.set_read_timeout(Some(timeout)).unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(timeout));
        let start = Instant::now();
        let err = (&*s).read(&mut [0u8; 16]).unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(took >= timeout, "fired early: {took:?}");
        assert!(
            took < timeout + Duration::from_secs(2),
            "fired late: {took:?}"
        );
    };
    // The peer never writes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    {
        let rt = runtime(procs);
        let s = rt.block_on(move || {
            let s = TcpStream::connect(addr).unwrap();
            check(&s);
            s
        });
        let _peer = listener.accept().unwrap();
        // The same socket, now from a plain OS thread (poll(2) fallback).
        check(&s);
        // A zero timeout is refused, as in std.
        let e = s.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        s.set_read_timeout(None).unwrap();
        assert_eq!(s.read_timeout().unwrap(), None);
    }
}

rt_test!(
    end_of_file_queued_behind_a_short_read_is_returned,
    procs_1 = 1,
    procs_2 = 2,
    procs_4 = 4
);
/// The peer sends its last bytes and its FIN in one segment (corked write,
/// then shutdown), so one readiness edge announces both. The read after
/// the short read that returns the bytes must return end of file: no edge
/// follows, so a read that trusted "short read, nothing more" to park
/// until the next edge would hang (the watchdog fails it).
fn end_of_file_queued_behind_a_short_read_is_returned(procs: usize) {
    let _w = Watchdog::new("end of file behind a short read", Duration::from_secs(60));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = runtime(procs);
    for _ in 0..stress(20) {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let peer = {
            let listener = listener.try_clone().unwrap();
            std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                go_rx.recv().unwrap();
                let cork: libc::c_int = 1;
                // SAFETY: setsockopt on an open fd with a valid pointer to
                // an int and its size.
                let r = unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(&s),
                        libc::IPPROTO_TCP,
                        libc::TCP_CORK,
                        (&cork as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                assert_eq!(r, 0, "TCP_CORK: {}", std::io::Error::last_os_error());
                s.write_all(b"last").unwrap();
                s.shutdown(Shutdown::Write).unwrap();
            })
        };
        let (first, second) = rt.block_on(move || {
            let s = TcpStream::connect(addr).unwrap();
            let reader = greenrt::spawn(move || {
                let mut buf = [0u8; 64];
                let first = (&s).read(&mut buf).unwrap();
                let second = (&s).read(&mut buf).unwrap();
                (first, second)
            });
            // The edge must reach a parked reader, so that the read that
            // follows snapshots a sequence that already counts it.
            wait_parked(reader.thread(), WaitReason::NetRead);
            go_tx.send(()).unwrap();
            reader.join().unwrap()
        });
        peer.join().unwrap();
        assert_eq!((first, second), (4, 0));
    }
}

rt_test!(
    write_timeout_fires_when_the_peer_never_reads,
    procs_1 = 1,
    procs_2 = 2
);
fn write_timeout_fires_when_the_peer_never_reads(procs: usize) {
    let _w = Watchdog::new("write timeout", Duration::from_secs(60));
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let rt = runtime(procs);
        let (took, written) = rt.block_on(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let _peer = listener.accept().unwrap();
            s.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let chunk = vec![7u8; 64 * 1024];
            let mut written = 0usize;
            loop {
                let start = Instant::now();
                match s.write(&chunk) {
                    Ok(n) => written += n,
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
                        break (start.elapsed(), written);
                    }
                }
                assert!(written < 1 << 30, "the send buffer never filled");
            }
        });
        assert!(written > 0);
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
}

#[test]
fn connect_to_a_closed_port_errors_cleanly() {
    let _w = Watchdog::new("connect refused", Duration::from_secs(60));
    let addr = closed_port();
    for procs in NET_PROCS {
        let rt = runtime(procs);
        let (a, b) = rt.block_on(move || {
            let a = TcpStream::connect(addr).unwrap_err().kind();
            let b = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_err()
                .kind();
            (a, b)
        });
        assert_eq!(a, ErrorKind::ConnectionRefused);
        assert_eq!(b, ErrorKind::ConnectionRefused);
    }
    // Outside any runtime too.
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

rt_test!(close_wakes_green_threads_accepting_on_every_clone);
fn close_wakes_green_threads_accepting_on_every_clone(procs: usize) {
    let _w = Watchdog::new("listener close", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Each acceptor owns a clone of its own, so only `close` can wake
        // them: dropping a handle no longer does.
        let acceptors: Vec<_> = (0..3)
            .map(|_| {
                let l = listener.try_clone().unwrap();
                greenrt::spawn(move || l.accept().map(|_| ()))
            })
            .collect();
        for h in &acceptors {
            wait_parked(h.thread(), WaitReason::NetRead);
        }
        // Closed by a different green thread, through yet another clone.
        let closer = listener.try_clone().unwrap();
        greenrt::spawn(move || closer.close()).join().unwrap();
        for h in acceptors {
            let err = h.join().unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        }
        // Later accepts and clones fail too, and nobody listens any more.
        let err = listener.accept().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        assert!(listener.try_clone().is_err());
        assert!(std::net::TcpStream::connect(addr).is_err());
        listener.close(); // a second close is harmless
    });
}

rt_test!(dropping_one_listener_clone_leaves_the_others_accepting);
fn dropping_one_listener_clone_leaves_the_others_accepting(procs: usize) {
    let _w = Watchdog::new("listener clone drop", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = {
            let l = listener.try_clone().unwrap();
            greenrt::spawn(move || l.accept().map(|(s, _)| s.peer_addr().unwrap()))
        };
        wait_parked(acceptor.thread(), WaitReason::NetRead);
        // std semantics: a dropped clone (here by another green thread, while
        // the acceptor is parked) is just one owner fewer.
        let dropped = listener.try_clone().unwrap();
        greenrt::spawn(move || drop(dropped)).join().unwrap();
        let client = TcpStream::connect(addr).unwrap();
        let seen = acceptor
            .join()
            .unwrap()
            .expect("the parked accept succeeds");
        assert_eq!(seen, client.local_addr().unwrap());
        // The acceptor's own handle is gone now too; the last one still works.
        let client = TcpStream::connect(addr).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
}

#[test]
fn a_thread_blocked_in_accept_outside_the_runtime_is_woken_by_close_too() {
    let _w = Watchdog::new("listener close, OS thread", Duration::from_secs(60));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let l = listener.try_clone().unwrap();
    let tid = Arc::new(AtomicUsize::new(0));
    let t_tid = tid.clone();
    let t = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        t_tid.store(unsafe { libc::gettid() } as usize, Ordering::SeqCst);
        l.accept().map(|_| ())
    });
    // Wait until the thread sleeps in the kernel (in poll(2)).
    let start = Instant::now();
    loop {
        let id = tid.load(Ordering::SeqCst);
        if id != 0 {
            let stat =
                std::fs::read_to_string(format!("/proc/self/task/{id}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            if state == Some("S") {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "thread never blocked"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    listener.close();
    let err = t.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
}

rt_test!(
    runtime_shutdown_cancels_green_threads_parked_in_accept_and_read,
    procs_1 = 1,
    procs_2 = 2
);
fn runtime_shutdown_cancels_green_threads_parked_in_accept_and_read(procs: usize) {
    let _w = Watchdog::new("shutdown", Duration::from_secs(60));
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let rt = runtime(procs);
        let acceptor = rt.spawn(move || listener.accept().map(|_| ()));
        let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer_addr = peer.local_addr().unwrap();
        let reader = rt.spawn(move || {
            let mut s = TcpStream::connect(peer_addr).unwrap();
            s.read(&mut [0u8; 8])
        });
        let (_peer_conn, _) = peer.accept().unwrap();
        wait_parked(acceptor.thread(), WaitReason::NetRead);
        wait_parked(reader.thread(), WaitReason::NetRead);
        drop(rt);
        assert!(acceptor.join().is_err(), "procs = {procs}");
        assert!(reader.join().is_err(), "procs = {procs}");
        // Unwinding the acceptor dropped (closed) its listener.
        assert_eq!(
            std::net::TcpStream::connect(addr).unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
    }
}

rt_test!(
    shutdown_from_another_green_thread_ends_a_parked_read,
    procs_1 = 1,
    procs_2 = 2
);
fn shutdown_from_another_green_thread_ends_a_parked_read(procs: usize) {
    let _w = Watchdog::new("shutdown read", Duration::from_secs(60));
    {
        let rt = runtime(procs);
        rt.block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let s = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (_server_side, _) = listener.accept().unwrap();
            let r = s.try_clone().unwrap();
            let reader = greenrt::spawn(move || (&r).read(&mut [0u8; 8]));
            wait_parked(reader.thread(), WaitReason::NetRead);
            s.shutdown(Shutdown::Both).unwrap();
            assert_eq!(reader.join().unwrap().unwrap(), 0, "EOF after shutdown");
            // Writes now fail instead of parking.
            assert!((&s).write(b"x").is_err());
        });
    }
}

#[test]
fn dropping_one_stream_handle_leaves_the_other_working() {
    let _w = Watchdog::new("clone drop", Duration::from_secs(60));
    let rt = runtime(2);
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut b, _) = listener.accept().unwrap();
        let mut a2 = a.try_clone().unwrap();
        let reader = greenrt::spawn(move || {
            let mut buf = [0u8; 5];
            a2.read_exact(&mut buf).unwrap();
            buf
        });
        wait_parked(reader.thread(), WaitReason::NetRead);
        drop(a); // std semantics: the clone keeps the socket open
        b.write_all(b"hello").unwrap();
        assert_eq!(&reader.join().unwrap(), b"hello");
    });
}

#[test]
fn sockets_made_outside_move_into_a_runtime_and_back() {
    let _w = Watchdog::new("lazy registration", Duration::from_secs(60));
    // Created on this OS thread: not registered with any runtime yet.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
        s.write_all(b"again").unwrap();
    });
    let rt = runtime(1);
    // Parks inside `rt`: registers with `rt`'s poller, not the default one.
    let (mut s, listener) = rt.block_on(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        s.write_all(b"pong").unwrap();
        (s, listener)
    });
    // Back on a plain OS thread: poll(2) fallback on a registered socket.
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"again");
    client.join().unwrap();
    drop(listener);
}

#[test]
fn a_socket_registered_with_one_runtime_serves_another() {
    let _w = Watchdog::new("cross runtime", Duration::from_secs(60));
    let a = runtime(1);
    let b = runtime(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Registered with `a` (the first runtime to park on it).
    let s = a.block_on(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        assert!(s.read(&mut [0u8; 1]).is_err());
        s.set_read_timeout(None).unwrap();
        s
    });
    let (mut peer, _) = listener.accept().unwrap();
    let reader = b.spawn(move || {
        let mut s = s;
        let mut buf = [0u8; 3];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    wait_parked(reader.thread(), WaitReason::NetRead);
    peer.write_all(b"abc").unwrap();
    assert_eq!(&reader.join().unwrap(), b"abc");
}

#[test]
fn std_like_accessors_and_conversions() {
    let _w = Watchdog::new("accessors", Duration::from_secs(60));
    let rt = runtime(1);
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_ttl(77).unwrap();
        assert_eq!(listener.ttl().unwrap(), 77);
        assert!(listener.take_error().unwrap().is_none());

        let s = TcpStream::connect(addr).unwrap();
        let (mut server, peer) = listener.accept().unwrap();
        assert_eq!(s.peer_addr().unwrap(), addr);
        assert_eq!(s.local_addr().unwrap(), peer);
        assert_eq!(server.peer_addr().unwrap(), peer);
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        s.set_ttl(42).unwrap();
        assert_eq!(s.ttl().unwrap(), 42);
        assert!(format!("{s:?}").contains("TcpStream"));

        // Non-blocking mode: WouldBlock instead of parking.
        s.set_nonblocking(true).unwrap();
        assert_eq!(
            (&s).read(&mut [0u8; 1]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        listener.set_nonblocking(true).unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        listener.set_nonblocking(false).unwrap();
        s.set_nonblocking(false).unwrap();

        // peek leaves the data queued; it parks until data arrives.
        let peeker = {
            let s = s.try_clone().unwrap();
            greenrt::spawn(move || {
                let mut buf = [0u8; 4];
                let n = s.peek(&mut buf).unwrap();
                buf[..n].to_vec()
            })
        };
        server.write_all(b"data").unwrap();
        let peeked = peeker.join().unwrap();
        assert!(!peeked.is_empty() && b"data".starts_with(&peeked));
        let mut buf = [0u8; 4];
        (&s).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"data");

        // A shared stream cannot go back to std; a sole one can.
        let clone = s.try_clone().unwrap();
        assert!(clone.into_std().is_err());
        let mut std_stream = s.into_std().unwrap();
        server.write_all(b"std!").unwrap();
        std_stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"std!");
        // ... and std back to green.
        let mut green = TcpStream::try_from(std_stream).unwrap();
        green.write_all(b"back").unwrap();
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"back");

        // `incoming` yields accepted streams.
        let c = TcpStream::connect(addr).unwrap();
        let accepted = listener.incoming().next().unwrap().unwrap();
        assert_eq!(accepted.peer_addr().unwrap(), c.local_addr().unwrap());
        let std_listener = listener.into_std().unwrap();
        assert_eq!(std_listener.local_addr().unwrap(), addr);
    });
}

rt_test!(ping_pong_park_wake_races, procs_1 = 1, procs_2 = 2);
/// Many tiny round trips: each one is a park on one side racing a readiness
/// edge from the other, the window the no-lost-wake-up protocol guards. A
/// lost wake-up shows up as a hang, which the watchdog turns into a failure.
fn ping_pong_park_wake_races(procs: usize) {
    let _w = Watchdog::new("ping-pong", Duration::from_secs(120));
    {
        let rt = runtime(procs);
        let rounds = stress(5_000);
        rt.block_on(move || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let pairs: Vec<_> = (0..8)
                .map(|_| {
                    let client = greenrt::spawn(move || {
                        let mut s = TcpStream::connect(addr).unwrap();
                        s.set_nodelay(true).unwrap();
                        let mut b = [0u8; 1];
                        for i in 0..rounds {
                            s.write_all(&[i as u8]).unwrap();
                            s.read_exact(&mut b).unwrap();
                            assert_eq!(b[0], (i as u8).wrapping_add(1));
                        }
                    });
                    let (mut s, _) = listener.accept().unwrap();
                    let server = greenrt::spawn(move || {
                        s.set_nodelay(true).unwrap();
                        let mut b = [0u8; 1];
                        for _ in 0..rounds {
                            s.read_exact(&mut b).unwrap();
                            s.write_all(&[b[0].wrapping_add(1)]).unwrap();
                        }
                    });
                    (client, server)
                })
                .collect();
            for (c, s) in pairs {
                c.join().unwrap();
                s.join().unwrap();
            }
        });
    }
}

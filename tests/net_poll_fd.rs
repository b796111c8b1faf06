//! greenrt::net::PollFd on pipes (readiness waits that park the green
//! thread, with timeouts) and the Unix-domain sockets built on it. Every
//! test is bounded by a watchdog.

mod common;
mod net_common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::net::{PollFd, UnixListener, UnixStream};
use greenrt::WaitReason;
use net_common::wait_parked;

/// A pipe whose two ends are non-blocking: (read end, write end).
fn nonblocking_pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: pipe2 just created both fds; nothing else owns them.
    unsafe {
        (
            File::from(OwnedFd::from_raw_fd(fds[0])),
            File::from(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

rt_test!(a_parked_reader_wakes_when_the_other_end_writes);
fn a_parked_reader_wakes_when_the_other_end_writes(procs: usize) {
    let _w = Watchdog::new("PollFd pipe read", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        for round in 0..stress(20) {
            let msg = format!("hello {round}");
            // wait_readable, then the caller's own read...
            let (reader, mut writer) = nonblocking_pipe();
            let reader = PollFd::new(reader).unwrap();
            let g = greenrt::spawn(move || {
                reader.wait_readable(None).unwrap();
                let mut buf = [0u8; 64];
                let n = reader.get_ref().read(&mut buf).unwrap();
                buf[..n].to_vec()
            });
            wait_parked(g.thread(), WaitReason::NetRead);
            writer.write_all(msg.as_bytes()).unwrap();
            assert_eq!(g.join().unwrap(), msg.as_bytes());
            // ... and read_with, which retries the read inside the wait.
            let (reader, mut writer) = nonblocking_pipe();
            let reader = PollFd::new(reader).unwrap();
            let g = greenrt::spawn(move || {
                let mut buf = [0u8; 64];
                let n = reader.read_with(|mut f| f.read(&mut buf)).unwrap();
                buf[..n].to_vec()
            });
            wait_parked(g.thread(), WaitReason::NetRead);
            writer.write_all(msg.as_bytes()).unwrap();
            assert_eq!(g.join().unwrap(), msg.as_bytes());
        }
    });
}

rt_test!(a_parked_writer_wakes_when_the_other_end_drains);
fn a_parked_writer_wakes_when_the_other_end_drains(procs: usize) {
    let _w = Watchdog::new("PollFd pipe write", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        let (mut reader, writer) = nonblocking_pipe();
        // Fill the pipe until the kernel says WouldBlock.
        let chunk = [7u8; 4096];
        let mut filled = 0;
        loop {
            match (&writer).write(&chunk) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let writer = PollFd::new(writer).unwrap();
        let g = greenrt::spawn(move || {
            writer.wait_writable(None).unwrap();
            writer.write_with(|mut f| f.write(b"x")).unwrap()
        });
        wait_parked(g.thread(), WaitReason::NetWrite);
        let mut sink = vec![0u8; filled];
        reader.read_exact(&mut sink).unwrap();
        assert_eq!(g.join().unwrap(), 1);
        let mut last = [0u8; 1];
        reader.read_exact(&mut last).unwrap();
        assert_eq!(&last, b"x");
    });
}

rt_test!(waits_time_out_and_ready_fds_do_not_wait);
fn waits_time_out_and_ready_fds_do_not_wait(procs: usize) {
    let _w = Watchdog::new("PollFd timeouts", Duration::from_secs(60));
    let rt = runtime(procs);
    let check = || {
        let (reader, writer) = nonblocking_pipe();
        let reader = PollFd::new(reader).unwrap();
        let start = Instant::now();
        let err = reader
            .wait_readable(Some(Duration::from_millis(30)))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(start.elapsed() >= Duration::from_millis(30));
        // An empty pipe is writable at once; with data it is readable at once.
        let writer = PollFd::new(writer).unwrap();
        writer.wait_writable(Some(Duration::from_secs(20))).unwrap();
        writer.get_ref().write_all(b"!").unwrap();
        reader.wait_readable(Some(Duration::from_secs(20))).unwrap();
        reader.wait_readable(None).unwrap();
    };
    rt.block_on(check);
    // Outside any runtime: poll(2).
    check();
}

#[test]
fn a_blocking_fd_is_refused() {
    let file = File::open("/dev/null").unwrap();
    let err = PollFd::new(file).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

/// A socket path of our own (removed first if a previous run left it).
fn socket_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("greenrt-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

rt_test!(unix_echo_many_clients);
fn unix_echo_many_clients(procs: usize) {
    let _w = Watchdog::new("unix echo", Duration::from_secs(120));
    let path = socket_path(&format!("echo-{procs}"));
    let rt = runtime(procs);
    let clients = stress(100);
    let p = path.clone();
    rt.block_on(move || {
        let listener = UnixListener::bind(&p).unwrap();
        let closer = listener.try_clone().unwrap();
        let server = greenrt::spawn(move || {
            let mut conns = 0;
            while let Ok((mut s, _)) = listener.accept() {
                conns += 1;
                greenrt::spawn(move || {
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => s.write_all(&buf[..n]).unwrap(),
                        }
                    }
                });
            }
            conns
        });
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let p = p.clone();
                greenrt::spawn(move || {
                    let mut s = UnixStream::connect(&p).unwrap();
                    let msg = format!("client {i} says hello").repeat(1 + i % 50);
                    let w = s.try_clone().unwrap();
                    let m = msg.clone();
                    // A writer green thread on a clone, a reader here.
                    let writer = greenrt::spawn(move || (&w).write_all(m.as_bytes()).unwrap());
                    let mut got = vec![0u8; msg.len()];
                    s.read_exact(&mut got).unwrap();
                    writer.join().unwrap();
                    assert_eq!(got, msg.as_bytes());
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        closer.close();
        assert_eq!(server.join().unwrap(), clients);
    });
    let _ = std::fs::remove_file(&path);
}

rt_test!(unix_pair_read_parks_until_the_peer_writes);
fn unix_pair_read_parks_until_the_peer_writes(procs: usize) {
    let _w = Watchdog::new("unix pair", Duration::from_secs(60));
    let rt = runtime(procs);
    rt.block_on(|| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let g = greenrt::spawn(move || {
            let mut buf = [0u8; 4];
            (&a).read_exact(&mut buf).unwrap();
            (buf, a)
        });
        wait_parked(g.thread(), WaitReason::NetRead);
        b.write_all(b"ping").unwrap();
        let (got, _a) = g.join().unwrap();
        assert_eq!(&got, b"ping");
        // `_a` is open and silent: the read times out.
        b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let err = b.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    });
}

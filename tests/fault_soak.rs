//! Fault soak (issue 14, item 6), loopback only and bounded: a framed echo
//! server on greenrt, 2 000 clients (`GREENRT_STRESS_ITERS` scales them) of
//! which some vanish mid-message, some stall mid-frame, some send garbage
//! and some never read, beside a CPU-hogging green thread; then the server's
//! `Runtime` is dropped mid-traffic. Checked, at procs 1, 2 and 4 in turn:
//! nothing hangs (a watchdog aborts the process), every client that finished
//! got every byte back exactly, no well-behaved client failed before the
//! drop, and the process's open fds (`/proc/self/fd`) return to where they
//! started.
//!
//! One test in its own binary, the three procs values one after the other:
//! counting the process's fds only means something when no other test of
//! the process opens any meanwhile.

mod common;
mod net_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{runtime, stress, Watchdog, PROCS};
use greenrt::net::{TcpListener, TcpStream};
use net_common::{raise_fd_limit, Rng};

/// A frame is a 4-byte big-endian length, then that many bytes; the server
/// answers each frame with the same frame and closes a connection whose
/// length is over this.
const MAX_FRAME: usize = 64 * 1024;

/// Open file descriptors of this process (the directory's own fd is open
/// while it is listed, the same every time).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Reads one frame; `None` on a clean end of stream before its header.
fn read_frame(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match s.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "frame too long",
        ));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Some(body))
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// One connection of the server: echo frames until the peer ends, errs or
/// breaks the protocol.
fn serve(mut s: TcpStream) {
    while let Ok(Some(body)) = read_frame(&mut s) {
        if s.write_all(&frame(&body)).is_err() {
            return;
        }
    }
}

/// Starts the server on `rt`: an accept loop and a CPU hog (which checks in
/// with the scheduler, as CPU-bound code on greenrt must). Returns the
/// address.
fn start_server(rt: &greenrt::Runtime) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(move || {
        while let Ok((s, _)) = listener.accept() {
            greenrt::spawn(move || serve(s));
        }
    });
    rt.spawn(|| {
        let mut x = 1u64;
        loop {
            for _ in 0..1_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            std::hint::black_box(x);
            greenrt::coop::checkpoint();
        }
    });
    addr
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Sends frames and checks every echoed byte.
    Good,
    /// The same, but pauses mid-frame a while first.
    Stalls,
    /// Sends part of a frame and closes.
    Vanishes,
    /// Sends an over-long header and random bytes.
    Garbage,
    /// Sends until its writes stop going through and never reads.
    NeverReads,
}

fn kind_of(i: usize) -> Kind {
    match i % 10 {
        0 => Kind::Stalls,
        1 => Kind::Vanishes,
        2 => Kind::Garbage,
        3 => Kind::NeverReads,
        _ => Kind::Good,
    }
}

/// What the clients share with the test.
struct Tally {
    /// Set just before the server's runtime is dropped: errors after it are
    /// expected, before it they are failures.
    dropping: AtomicBool,
    /// Good and stalling clients that got every frame back.
    finished: AtomicUsize,
    /// Good and stalling clients cut off by the drop.
    cut_off: AtomicUsize,
    /// Failures of well-behaved clients before the drop.
    failures: std::sync::Mutex<Vec<String>>,
}

/// A well-behaved client: `frames` frames, each echoed exactly.
fn echo_client(addr: SocketAddr, seed: u64, stalls: bool) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut s = TcpStream::connect(addr)?;
    for n in 0..3 {
        let len = rng.log_size(MAX_FRAME);
        let payload = rng.bytes(len);
        let f = frame(&payload);
        if stalls && n == 1 {
            let half = f.len() / 2;
            s.write_all(&f[..half])?;
            greenrt::sleep(Duration::from_millis(rng.range(20, 200) as u64));
            s.write_all(&f[half..])?;
        } else {
            s.write_all(&f)?;
        }
        match read_frame(&mut s)? {
            Some(back) => assert!(back == payload, "client {seed}: echo differs"),
            None => {
                return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "closed"));
            }
        }
    }
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    assert!(rest.is_empty(), "client {seed}: bytes after the last echo");
    Ok(())
}

fn faulty_client(addr: SocketAddr, seed: u64, kind: Kind, released: &greenrt::sync::Receiver<()>) {
    let mut rng = Rng::new(seed);
    let Ok(mut s) = TcpStream::connect(addr) else {
        return;
    };
    match kind {
        Kind::Vanishes => {
            let len = rng.range(100, MAX_FRAME);
            let f = frame(&rng.bytes(len));
            let _ = s.write_all(&f[..rng.range(1, f.len())]);
        }
        Kind::Garbage => {
            let mut g = vec![0xff];
            let len = rng.range(3, 4096);
            g.extend(rng.bytes(len));
            let _ = s.write_all(&g);
            // The server answers garbage with nothing but the end.
            let mut back = Vec::new();
            if s.read_to_end(&mut back).is_ok() {
                assert!(back.is_empty(), "client {seed}: garbage was answered");
            }
        }
        Kind::NeverReads => {
            // Fill both directions' buffers (the server blocks writing its
            // echoes), then hold the connection until the test lets go.
            s.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let f = frame(&rng.bytes(MAX_FRAME));
            while s.write_all(&f).is_ok() {}
            let _ = released.recv();
        }
        Kind::Good | Kind::Stalls => unreachable!(),
    }
}

fn soak(procs: usize, clients: usize) {
    let _w = Watchdog::new(
        &format!("fault soak procs={procs}"),
        Duration::from_secs(120),
    );
    let fds_before = open_fds();
    let tally = Arc::new(Tally {
        dropping: AtomicBool::new(false),
        finished: AtomicUsize::new(0),
        cut_off: AtomicUsize::new(0),
        failures: std::sync::Mutex::new(Vec::new()),
    });
    let well_behaved = (0..clients)
        .filter(|&i| matches!(kind_of(i), Kind::Good | Kind::Stalls))
        .count();
    {
        let server = runtime(procs);
        let addr = start_server(&server);
        let client_rt = runtime(2);
        // Closed (dropped) after the server is gone: lets NeverReads go.
        let (release, released) = greenrt::sync::channel::<()>();
        // Tells the test when half the well-behaved clients are done.
        let (half_done, half_done_rx) = mpsc::sync_channel::<()>(1);
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let (tally, released, half_done) =
                    (tally.clone(), released.clone(), half_done.clone());
                client_rt.spawn(move || {
                    let seed = i as u64 + 1;
                    match kind_of(i) {
                        kind @ (Kind::Good | Kind::Stalls) => {
                            if let Err(e) = echo_client(addr, seed, kind == Kind::Stalls) {
                                if tally.dropping.load(Ordering::SeqCst) {
                                    tally.cut_off.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    tally
                                        .failures
                                        .lock()
                                        .unwrap()
                                        .push(format!("client {i} ({kind:?}): {e}"));
                                }
                            } else if tally.finished.fetch_add(1, Ordering::Relaxed) + 1
                                == well_behaved / 2
                            {
                                let _ = half_done.try_send(());
                            }
                        }
                        kind => faulty_client(addr, seed, kind, &released),
                    }
                })
            })
            .collect();
        drop((released, half_done));
        // Mid-traffic: half the well-behaved clients are done, the rest are
        // sending, stalling or waiting for echoes.
        half_done_rx
            .recv()
            .expect("half the well-behaved clients finish before the drop");
        tally.dropping.store(true, Ordering::SeqCst);
        drop(server);
        drop(release);
        for h in handles {
            h.join().expect("a client green thread panicked");
        }
    }
    let failures = tally.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "procs={procs}: {} well-behaved clients failed before the drop, e.g. {}",
        failures.len(),
        failures[0]
    );
    let (finished, cut_off) = (
        tally.finished.load(Ordering::Relaxed),
        tally.cut_off.load(Ordering::Relaxed),
    );
    assert_eq!(finished + cut_off, well_behaved);
    assert!(
        finished >= well_behaved / 2,
        "procs={procs}: {finished} finished"
    );
    assert_eq!(
        open_fds(),
        fds_before,
        "procs={procs}: file descriptors leaked"
    );
    eprintln!(
        "fault soak procs={procs}: {clients} clients, {finished} well-behaved finished, \
         {cut_off} cut off by the drop"
    );
}

#[test]
fn fault_soak_echo_server_dropped_mid_traffic() {
    // Two fds per connection (both ends live in this process), well under
    // the 20 000 hard limit.
    let clients = stress(2_000).min(8_000);
    raise_fd_limit(2 * clients as u64 + 512);
    for procs in PROCS {
        soak(procs, clients);
    }
}

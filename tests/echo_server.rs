//! The echo_server example, each mode as a real process: it starts, prints
//! its address, echoes byte for byte to real clients (including ones that
//! send nothing, never read, or vanish mid-message), keeps serving through
//! EMFILE, rejects bad flags, and exits 0 on SIGTERM. Loopback only; every
//! wait is bounded.
//!
//! Cargo builds examples for `cargo test` but not for `cargo test --test
//! echo_server`, so the first test builds both examples with the same cargo
//! and profile into the same target directory.

mod common;
mod net_common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::Watchdog;
use net_common::Rng;

/// `target/<profile>/examples`, with both examples built (once per process).
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/echo_server-<hash>
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "--example",
            "echo_server",
            "--example",
            "echo_client",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir);
        match profile {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status().expect("run cargo build for the examples");
        assert!(status.success(), "building the examples failed: {status}");
        profile_dir.join("examples")
    })
}

/// A running echo_server: killed if a test fails before stopping it.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// Collects a pipe into a string on a thread; sends each line on `lines`.
fn collect(
    pipe: impl Read + Send + 'static,
    lines: Option<mpsc::Sender<String>>,
) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let t = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            t.lock().unwrap().push_str(&line);
            t.lock().unwrap().push('\n');
            if let Some(tx) = &lines {
                let _ = tx.send(line);
            }
        }
    });
    text
}

impl Server {
    /// Starts the server on a free port (optionally under `ulimit -n`).
    fn start(mode: &str, extra: &[&str], fd_limit: Option<u32>) -> Server {
        Self::start_at("127.0.0.1:0", mode, extra, fd_limit)
    }

    /// Starts the server on `addr`.
    fn start_at(addr: &str, mode: &str, extra: &[&str], fd_limit: Option<u32>) -> Server {
        let bin = examples_dir().join("echo_server");
        let mut cmd = match fd_limit {
            None => Command::new(&bin),
            Some(n) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(&bin);
                c
            }
        };
        cmd.args(["--addr", addr, "--mode", mode])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn echo_server");
        let (tx, rx) = mpsc::channel();
        let stdout = collect(child.stdout.take().unwrap(), Some(tx));
        let stderr = collect(child.stderr.take().unwrap(), None);
        // Wait for the announced address instead of sleeping.
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no startup line; stderr: {}", stderr.lock().unwrap()));
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected startup line {line:?}"));
        Server {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    fn terminate(mut self) -> (ExitStatus, String, String) {
        // SAFETY: kill(2) with our own child's pid and a valid signal.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "echo_server did not exit within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // Let the pipe readers drain.
        std::thread::sleep(Duration::from_millis(50));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status, out, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `payload` from one thread while reading the echo on this one.
fn echo_roundtrip(addr: SocketAddr, payload: Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let len = payload.len();
    let payload = Arc::new(payload);
    let p = payload.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&p).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::with_capacity(len);
    s.read_to_end(&mut got).expect("read the echo");
    writer.join().unwrap();
    assert_eq!(got.len(), len);
    assert!(got == *payload, "echoed bytes differ");
}

/// Closes with a TCP reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on an open socket with a correctly sized linger.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(s);
}

fn serves_and_exits_cleanly(mode: &str, extra: &[&str]) {
    let _w = Watchdog::new("echo_server mode", Duration::from_secs(300));
    let server = Server::start(mode, extra, None);
    let addr = server.addr;

    // A client that never sends anything stays connected throughout.
    let silent = TcpStream::connect(addr).unwrap();
    // A client that sends and never reads: the server must stop reading
    // from it (bounded buffering) and keep serving everyone else.
    let hog = TcpStream::connect(addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut pushed = 0usize;
    let chunk = vec![1u8; 64 * 1024];
    loop {
        match (&hog).write(&chunk) {
            Ok(n) => pushed += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("{mode}: hog write: {e}"),
        }
        assert!(pushed < 512 << 20, "{mode}: the server never pushed back");
    }
    // Clients that vanish mid-message: half a message, then FIN or RST.
    for i in 0..10 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&vec![9u8; 3000]).unwrap();
        if i % 2 == 0 {
            reset(s);
        } else {
            drop(s);
        }
    }
    // Real clients, concurrently, payloads from 0 bytes to 256 KiB.
    let clients: Vec<_> = (0..16u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(i + 100);
                for _ in 0..4 {
                    let n = rng.log_size(256 * 1024);
                    echo_roundtrip(addr, rng.bytes(n));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // The load generator, briefly, against the same server.
    let out = Command::new(examples_dir().join("echo_client"))
        .args([
            "--addr",
            &addr.to_string(),
            "--conns",
            "50",
            "--secs",
            "0.5",
        ])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{mode}: echo_client failed: {report}");
    assert!(
        report.contains("connect_errors=0 io_errors=0 mismatches=0"),
        "{mode}: {report}"
    );
    assert!(!report.contains(" round_trips=0 "), "{mode}: {report}");
    // The latency percentiles (from echo_client's histogram) are ordered.
    let figure = |key: &str| -> f64 {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{mode}: no {key}= in {report}"))
    };
    let (p50, p99, max) = (figure("p50_us"), figure("p99_us"), figure("max_us"));
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= max,
        "{mode}: p50 {p50} p99 {p99} max {max}"
    );

    let (status, stdout, stderr) = server.terminate();
    assert!(status.success(), "{mode}: exit {status}; stderr: {stderr}");
    assert!(stdout.contains("stopped by SIGTERM"), "{mode}: {stdout}");
    assert!(stderr.contains("received SIGTERM"), "{mode}: {stderr}");
    // It raised its soft open-file limit to the hard one it inherited.
    // SAFETY: getrlimit writes only the struct we pass.
    let hard = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_max
    };
    assert!(
        stderr.contains(&format!("echo_server: open-file limit {hard}\n")),
        "{mode}: {stderr}"
    );
    drop((silent, hog));
}

#[test]
fn green_mode_procs_1() {
    serves_and_exits_cleanly("green", &["--procs", "1"]);
}

#[test]
fn green_mode_procs_2() {
    serves_and_exits_cleanly("green", &["--procs", "2"]);
}

#[test]
fn event_loop_mode() {
    serves_and_exits_cleanly("event-loop", &[]);
}

#[test]
fn thread_mode() {
    serves_and_exits_cleanly("thread", &[]);
}

/// With `ulimit -n 32`, accepts fail with EMFILE once a few connections are
/// open; the server must log, back off, and serve again once they close.
/// Two processes with `--reuseport` listen on one port, and the kernel
/// gives each some of the connections (all 64 to one has probability 2^-63).
#[test]
fn two_reuseport_servers_share_one_port() {
    let _w = Watchdog::new("echo_server --reuseport", Duration::from_secs(120));
    let first = Server::start("green", &["--procs", "1", "--reuseport"], None);
    let addr = first.addr.to_string();
    let second = Server::start_at(&addr, "green", &["--procs", "1", "--reuseport"], None);
    assert_eq!(second.addr, first.addr);
    const CONNS: usize = 64;
    for i in 0..CONNS {
        echo_roundtrip(first.addr, vec![i as u8; 100]);
    }
    let accepted = [first, second].map(|server| {
        let (status, out, err) = server.terminate();
        assert!(status.success(), "status {status}; stderr: {err}");
        let n = out
            .split("accepted ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no summary in {out:?}"));
        n
    });
    assert_eq!(accepted.iter().sum::<usize>(), CONNS, "{accepted:?}");
    assert!(
        accepted.iter().all(|&n| n > 0),
        "one server got none: {accepted:?}"
    );
}

/// The hard open-file limit this process (and so its children) may raise
/// its soft limit to.
fn hard_fd_limit() -> u64 {
    // SAFETY: getrlimit writes only the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_max
    }
}

/// As many connections as the open-file limit allows (20 000 on the
/// project's machines, minus what the processes themselves hold), spread
/// over two source addresses by echo_client, each doing three checked
/// round trips through one green-mode server process.
#[test]
fn green_mode_serves_as_many_connections_as_the_fd_limit_allows() {
    let _w = Watchdog::new("connections at the fd limit", Duration::from_secs(240));
    let conns = hard_fd_limit().min(20_000).saturating_sub(100);
    assert!(
        conns >= 1_000,
        "hard open-file limit {} is too low",
        hard_fd_limit()
    );
    let server = Server::start("green", &["--procs", "2"], None);
    let out = Command::new(examples_dir().join("echo_client"))
        .args(["--addr", &server.addr.to_string()])
        .args(["--conns", &conns.to_string()])
        .args([
            "--rounds",
            "3",
            "--secs",
            "120",
            "--sources",
            "2",
            "--procs",
            "2",
        ])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "echo_client failed: {report}");
    let expected = format!("round_trips={} ", 3 * conns);
    assert!(report.contains(&expected), "want {expected}in {report}");
    assert!(
        report.contains("connect_errors=0 io_errors=0 mismatches=0 incomplete_conns=0"),
        "{report}"
    );
    let (status, _, stderr) = server.terminate();
    assert!(status.success(), "exit {status}; stderr: {stderr}");
}

fn survives_emfile(mode: &str, extra: &[&str]) {
    let _w = Watchdog::new("echo_server EMFILE", Duration::from_secs(120));
    let server = Server::start(mode, extra, Some(32));
    let addr = server.addr;
    let held: Vec<TcpStream> = (0..48).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Wait until the server reports the failure (bounded).
    let start = Instant::now();
    while !server.stderr.lock().unwrap().contains("accept failed") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{mode}: no accept error logged; stderr: {}",
            server.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(held);
    // Served again once descriptors are free (back-off is at most 1 s).
    echo_roundtrip(addr, b"still alive".to_vec());
    let (status, stdout, stderr) = server.terminate();
    assert!(status.success(), "{mode}: exit {status}; stderr: {stderr}");
    assert!(stdout.contains("accept errors"), "{mode}: {stdout}");
}

#[test]
fn green_mode_survives_emfile() {
    survives_emfile("green", &["--procs", "1"]);
}

#[test]
fn event_loop_mode_survives_emfile() {
    survives_emfile("event-loop", &[]);
}

#[test]
fn thread_mode_survives_emfile() {
    survives_emfile("thread", &[]);
}

/// Every mistake: status 2 and clap's short error naming the flag and what
/// it accepts, with a pointer to `--help` rather than the whole help text.
#[test]
fn bad_flags_print_a_short_error_and_exit_2() {
    let _w = Watchdog::new("bad flags", Duration::from_secs(120));
    let dir = examples_dir();
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "echo_server",
            &["--mode", "fibers"],
            &[
                "invalid value 'fibers' for '--mode <MODE>'",
                "[possible values: green, event-loop, thread]",
            ],
        ),
        (
            "echo_server",
            &["--procs", "0"],
            &["invalid value '0' for '--procs <N>': expected a whole number from 1 to 1024"],
        ),
        (
            "echo_server",
            &["--mode", "thread", "--procs", "2"],
            &["--procs only applies to --mode green"],
        ),
        (
            "echo_server",
            &["--addr"],
            &["a value is required for '--addr <ADDR>'"],
        ),
        (
            "echo_server",
            &["--frobnicate"],
            &["unexpected argument '--frobnicate'"],
        ),
        (
            "echo_client",
            &["--conns", "0"],
            &["invalid value '0' for '--conns <C>': expected a whole number from 1 to 100000"],
        ),
        (
            "echo_client",
            &["--bytes", "2000000"],
            &["invalid value '2000000' for '--bytes <B>': expected a whole number from 1 to 1048576"],
        ),
        (
            "echo_client",
            &["--secs", "soon"],
            &["invalid value 'soon' for '--secs <D>': expected a number from 0.1 to 3600"],
        ),
        (
            "echo_client",
            &["--addr", "192.0.2.1:7"],
            &["refusing to load 192.0.2.1:7: echo_client only targets loopback addresses"],
        ),
    ];
    for (bin, args, pieces) in cases {
        let out = Command::new(dir.join(bin)).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {err}");
        for piece in *pieces {
            assert!(
                err.contains(piece),
                "{bin} {args:?}: lacks {piece:?}: {err}"
            );
        }
        assert!(err.contains("try '--help'"), "{bin} {args:?}: {err}");
        assert!(
            !err.contains("Options:") && err.lines().count() <= 6,
            "{bin} {args:?}: more than a short error: {err}"
        );
        assert!(out.stdout.is_empty(), "{bin} {args:?}: wrote to stdout");
    }
    for bin in ["echo_server", "echo_client"] {
        let help = Command::new(dir.join(bin)).arg("--help").output().unwrap();
        assert!(help.status.success(), "{bin} --help: {:?}", help.status);
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("--addr <ADDR>"), "{bin} --help: {text}");
    }
}

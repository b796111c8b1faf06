//! The deadlock report (issue 17 item 3), checked in child processes whose
//! stderr the parent reads: a two-G deadlock is reported with both names and
//! wait reasons; green threads that sleep, sit in a syscall or wait on a
//! socket for longer than the grace period are not reported.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Watchdog;
use greenrt::config::DeadlockAction;
use greenrt::Runtime;

const CHILD: &str = "GREENRT_DEADLOCK_TEST_CHILD";
const GRACE: Duration = Duration::from_millis(200);
const REPORT: &str = "green threads are asleep - possible deadlock";

fn child_procs() -> Option<usize> {
    std::env::var(CHILD).ok().map(|v| v.parse().unwrap())
}

fn runtime(procs: usize, action: DeadlockAction) -> Runtime {
    Runtime::builder()
        .procs(procs)
        .deadlock_grace(Some(GRACE))
        .deadlock_action(action)
        .build()
        .unwrap()
}

fn child(name: &str, procs: usize, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, procs.to_string())
        .env_remove("GREENRT_DEADLOCK");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Two green threads, each waiting on a channel whose sender the other
/// holds; the main thread waits in `block_on`. Exits when stdin closes.
#[test]
fn child_two_g_deadlock() {
    let Some(procs) = child_procs() else { return };
    let action = match std::env::var("GREENRT_DEADLOCK").as_deref() {
        Ok("abort") => greenrt::config::deadlock_from_env().unwrap(),
        _ => DeadlockAction::Report,
    };
    let rt = runtime(procs, action);
    let (to_alice, alice_rx) = greenrt::sync::unbounded::<u32>();
    let (to_bob, bob_rx) = greenrt::sync::unbounded::<u32>();
    rt.spawn(move || {
        // The main thread lets the process exit when the parent says so.
        std::thread::spawn(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            std::process::exit(0);
        });
    });
    rt.block_on(move || {
        let alice = greenrt::spawn_named("alice", move || {
            let v = alice_rx.recv().unwrap();
            to_bob.send(v).unwrap();
        });
        let bob = greenrt::spawn_named("bob", move || {
            let v = bob_rx.recv().unwrap();
            to_alice.send(v).unwrap();
        });
        alice.join().unwrap();
        bob.join().unwrap();
    });
    unreachable!("the two green threads wait for each other");
}

fn two_g_deadlock_is_reported(procs: usize) {
    let _w = Watchdog::new("two_g_deadlock_is_reported", Duration::from_secs(30));
    let mut c = child("child_two_g_deadlock", procs, &[])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(c.stderr.take().unwrap());
    // Read up to the end of the report: the header and three entries of two
    // lines each (alice, bob and the block_on green thread).
    let mut report = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "child ended: {report}"
        );
        if line.contains(REPORT) || !report.is_empty() {
            report.push_str(&line);
        }
        if report.lines().count() == 7 {
            break;
        }
    }
    // Let the child go, then check it said nothing more (reported once).
    drop(c.stdin.take());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(c.wait().unwrap().success());
    assert!(
        report.starts_with("greenrt: all 3 green threads are asleep - possible deadlock\n"),
        "{report}"
    );
    assert!(
        report.contains("\"alice\": parked (ChanRecv) for "),
        "{report}"
    );
    assert!(
        report.contains("\"bob\": parked (ChanRecv) for "),
        "{report}"
    );
    assert!(report.contains(": parked (Join) for "), "{report}");
    assert!(
        report.contains(&format!("spawned at {}:", file!())),
        "{report}"
    );
    assert!(!rest.contains(REPORT), "reported twice: {rest}");
}

#[test]
fn two_g_deadlock_is_reported_procs_1() {
    two_g_deadlock_is_reported(1);
}

#[test]
fn two_g_deadlock_is_reported_procs_2() {
    two_g_deadlock_is_reported(2);
}

#[test]
fn two_g_deadlock_is_reported_procs_4() {
    two_g_deadlock_is_reported(4);
}

#[test]
fn deadlock_abort_is_fatal() {
    let _w = Watchdog::new("deadlock_abort_is_fatal", Duration::from_secs(30));
    let mut c = child("child_two_g_deadlock", 2, &[("GREENRT_DEADLOCK", "abort")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Stdin stays open (the child would exit on its end): only the abort
    // ends it.
    let _stdin = c.stdin.take();
    let mut stderr = String::new();
    c.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = c.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}: {stderr}");
    assert!(stderr.contains(REPORT), "{stderr}");
    assert!(stderr.contains("\"alice\": parked (ChanRecv)"), "{stderr}");
}

/// Each phase keeps every green thread asleep for three grace periods, in
/// a way the runtime can see will end: a timer, a syscall, a socket.
#[test]
fn child_quiet_but_not_stuck() {
    let Some(procs) = child_procs() else { return };
    let rt = runtime(procs, DeadlockAction::Abort);
    let long = GRACE * 3;
    // Sleepers.
    rt.block_on(move || {
        let hs: Vec<_> = (0..3)
            .map(|_| greenrt::spawn(move || greenrt::sleep(long)))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    // A green thread in a syscall (its processor is handed away and idles).
    rt.block_on(move || greenrt::syscall(|| std::thread::sleep(long)));
    // A green thread waiting on a socket that a plain OS thread writes to.
    let sock = rt
        .block_on(|| greenrt::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(long);
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"x", addr).unwrap();
    });
    let n = rt.block_on(move || sock.recv_from(&mut [0u8; 8]).unwrap().0);
    assert_eq!(n, 1);
    writer.join().unwrap();
    println!("quiet child done");
}

fn quiet_is_not_reported(procs: usize) {
    let _w = Watchdog::new("quiet_is_not_reported", Duration::from_secs(30));
    let out = child("child_quiet_but_not_stuck", procs, &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("quiet child done"), "{stdout}");
    assert!(!stderr.contains(REPORT), "false report:\n{stderr}");
}

#[test]
fn quiet_is_not_reported_procs_1() {
    quiet_is_not_reported(1);
}

#[test]
fn quiet_is_not_reported_procs_2() {
    quiet_is_not_reported(2);
}

#[test]
fn quiet_is_not_reported_procs_4() {
    quiet_is_not_reported(4);
}

//! Regression test: an M going idle while sysmon's non-blocking poll holds
//! the poller must not park behind it (issue 14, defect 6(b);
//! `Machine::block`, `NetPoller::has_sleeper`).
//!
//! The window is a few microseconds, so the test-only `poll_hold` hook makes
//! sysmon hold the poller for a long while; a G goes to sleep inside that
//! window while every other P runs a G that never reaches a checkpoint.
//! Before the fix, the sleeping G's M parked, no M ever polled again and
//! the timer was never served.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sched::poll_hold;
use crate::Builder;

/// How long sysmon holds the poller per poll while armed.
const HOLD: Duration = Duration::from_millis(300);
/// The verdict: a 20 ms sleep must end within this (HOLD + slack).
const WAKE_WITHIN: Duration = Duration::from_secs(2);
/// Failing rather than hanging when the window is never reached.
const SETUP_WITHIN: Duration = Duration::from_secs(20);

fn busy_wait_until(deadline: Instant, done: impl Fn() -> bool) -> bool {
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::hint::spin_loop();
    }
    done()
}

fn sleep_inside_a_sysmon_poll_is_served(procs: usize) {
    let name = format!("greenrt-pollhold-p{procs}");
    let hook = poll_hold::arm(&name, HOLD);
    let rt = Builder::new()
        .procs(procs)
        .thread_name(name)
        .time_slice(Duration::from_millis(2))
        .hog_report(false)
        .deadlock_grace(None)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    rt.spawn({
        let hook = hook.clone();
        let stop = stop.clone();
        move || {
            // A G parked on a socket, so sysmon polls (`poll_overdue`).
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").unwrap();
            crate::spawn(move || {
                let _ = listener.accept();
            });
            // Every other P runs a G that never reaches a checkpoint.
            for _ in 1..procs {
                let stop = stop.clone();
                crate::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                });
            }
            let setup_deadline = Instant::now() + SETUP_WITHIN;
            // A short sleep hands the poller's M this G (its P was idle), so
            // no M is left blocked in the poller and sysmon's poll becomes
            // overdue; busy-wait (no checkpoint) until sysmon holds it.
            loop {
                crate::sleep(Duration::from_millis(1));
                let soon = (Instant::now() + Duration::from_millis(50)).min(setup_deadline);
                if busy_wait_until(soon, || hook.holding()) {
                    break;
                }
                if Instant::now() >= setup_deadline {
                    tx.send("window never reached").unwrap();
                    return;
                }
            }
            // Inside the window: this M gives its P back and finds the
            // poller taken by sysmon's non-blocking poll.
            tx.send("sleeping").unwrap();
            crate::sleep(Duration::from_millis(20));
            tx.send("woke").unwrap();
        }
    });
    let first = rx.recv_timeout(SETUP_WITHIN + Duration::from_secs(5));
    let woke = rx.recv_timeout(WAKE_WITHIN);
    hook.disarm();
    stop.store(true, Ordering::Relaxed);
    drop(rt);
    assert_eq!(first, Ok("sleeping"), "procs {procs}: setup failed");
    assert_eq!(
        woke,
        Ok("woke"),
        "procs {procs}: a 20 ms sleep begun while sysmon polled was not served within {WAKE_WITHIN:?}"
    );
}

#[test]
fn sleep_inside_a_sysmon_poll_is_served_procs_1() {
    sleep_inside_a_sysmon_poll_is_served(1);
}

#[test]
fn sleep_inside_a_sysmon_poll_is_served_procs_2() {
    sleep_inside_a_sysmon_poll_is_served(2);
}

#[test]
fn sleep_inside_a_sysmon_poll_is_served_procs_4() {
    sleep_inside_a_sysmon_poll_is_served(4);
}

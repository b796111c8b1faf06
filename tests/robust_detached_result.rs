//! A detached green thread drops its own result, on its own stack: a
//! result's `Drop` that blocks or panics never runs on an M's scheduler
//! stack (issue 14 defect 2; docs/ARCHITECTURE.md, "User code runs only on
//! a green thread"). Before the fix the M dropped it at the end of
//! `Machine::execute`: a `Drop` that joined parked the M's OS thread with
//! its P (a hang at procs 1), and a `Drop` that panicked killed the M.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, Watchdog};
use greenrt::sync::{unbounded, Sender};
use greenrt::JoinHandle;

/// Joins another G when dropped, telling the test when it starts and ends.
struct JoinsOnDrop {
    other: Option<JoinHandle<()>>,
    started: Sender<()>,
    done: Sender<bool>,
}

impl Drop for JoinsOnDrop {
    fn drop(&mut self) {
        let on_a_green_thread = greenrt::current().is_some();
        self.started.send(()).unwrap();
        self.other.take().unwrap().join().unwrap();
        self.done.send(on_a_green_thread).unwrap();
    }
}

rt_test!(a_detached_results_drop_may_join_a_waiting_green_thread);
fn a_detached_results_drop_may_join_a_waiting_green_thread(procs: usize) {
    let _w = Watchdog::new("detached result joins in Drop", Duration::from_secs(20));
    let rt = common::runtime(procs);
    rt.block_on(|| {
        for _ in 0..common::stress(3) {
            let (tx, rx) = unbounded::<()>();
            let waiter = greenrt::spawn(move || rx.recv().unwrap());
            let (started_tx, started) = unbounded();
            let (done_tx, done) = unbounded();
            drop(greenrt::spawn(move || JoinsOnDrop {
                other: Some(waiter),
                started: started_tx,
                done: done_tx,
            }));
            // The result's Drop now waits for `waiter`, which waits for us.
            started.recv().unwrap();
            tx.send(()).unwrap();
            assert!(
                done.recv().unwrap(),
                "the result was dropped on a green thread"
            );
        }
    });
}

/// Panics when dropped, after saying so.
struct PanicsOnDrop(Sender<u64>);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.0.send(greenrt::current().unwrap().id()).unwrap();
        panic!("a result's Drop panicked");
    }
}

/// M threads of this process (named `<prefix>-m<N>`).
fn m_threads(prefix: &str) -> usize {
    let prefix = format!("{prefix}-m");
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(&prefix))
        .count()
}

/// Returns the id of the G whose result panicked in `Drop`, after checking
/// that every P still runs Gs and the M count matches the M threads alive.
fn panic_in_a_detached_results_drop(procs: usize, prefix: &str, name: &str) -> u64 {
    let rt = greenrt::Runtime::builder()
        .procs(procs)
        .thread_name(prefix)
        .build()
        .unwrap();
    let id = rt.block_on({
        let name = name.to_string();
        move || {
            let (tx, rx) = unbounded();
            drop(greenrt::spawn_named(name, move || PanicsOnDrop(tx)));
            let id = rx.recv().unwrap();
            // Every P still runs a G: `procs` Gs that spin until all of
            // them are running at once (a lost P would leave one waiting).
            let arrived = Arc::new(AtomicUsize::new(0));
            let all: Vec<_> = (0..procs)
                .map(|_| {
                    let arrived = arrived.clone();
                    greenrt::spawn(move || {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        while arrived.load(Ordering::SeqCst) < procs {
                            std::hint::spin_loop();
                        }
                    })
                })
                .collect();
            for h in all {
                h.join().unwrap();
            }
            id
        }
    });
    // An M whose thread died would still be counted.
    while rt.stats().machines != m_threads(prefix) {
        std::thread::yield_now();
    }
    id
}

rt_test!(a_panic_in_a_detached_results_drop_is_contained);
fn a_panic_in_a_detached_results_drop_is_contained(procs: usize) {
    let _w = Watchdog::new(
        "panicking Drop of a detached result",
        Duration::from_secs(20),
    );
    panic_in_a_detached_results_drop(procs, &format!("rdrop{procs}"), "drops-badly");
}

const CHILD_ENV: &str = "GREENRT_DETACHED_RESULT_CHILD";

/// The panic is reported once on stderr, naming the green thread.
#[test]
fn a_panic_in_a_detached_results_drop_is_reported_once_naming_the_green_thread() {
    let test = "a_panic_in_a_detached_results_drop_is_reported_once_naming_the_green_thread";
    if std::env::var_os(CHILD_ENV).is_some() {
        let _w = Watchdog::new("child", Duration::from_secs(20));
        let id = panic_in_a_detached_results_drop(2, "rdrop-child", "drops-badly");
        println!("child: green thread id {id}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child: {stdout}\n{stderr}");
    let id = stdout
        .lines()
        .find_map(|l| l.split("child: green thread id ").nth(1))
        .expect("child reports the id")
        .trim()
        .to_string();
    let ours = format!("greenrt: green thread {id} (drops-badly) panicked");
    assert_eq!(stderr.matches(&ours).count(), 1, "reported once: {stderr}");
    assert_eq!(
        stderr.matches("a result's Drop panicked").count(),
        1,
        "{stderr}"
    );
}

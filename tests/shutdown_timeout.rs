//! Shutdown finishes and never spins (issue 14 defect 4): cancelled green
//! threads unwind on the runtime's machines, a timed wait in a cancelled G
//! returns at once, other waits park, and what is still waiting after the
//! shutdown timeout is leaked and named on stderr (`sched/shutdown.rs`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{process_cpu_time, rt_test, until_parked, Watchdog};
use greenrt::sync::{unbounded, Receiver, Sender};
use greenrt::{JoinHandle, WaitReason};

/// Sleeps for 2 s when dropped, then says it is done.
struct SleepsOnDrop(Sender<()>);

impl Drop for SleepsOnDrop {
    fn drop(&mut self) {
        greenrt::sleep(Duration::from_secs(2));
        self.0.send(()).unwrap();
    }
}

rt_test!(a_destructor_that_sleeps_does_not_make_shutdown_spin);
/// Before: the cancelled G's `sleep` looped without switching until the 2 s
/// had passed, so `drop(rt)` burned 2 s of CPU.
fn a_destructor_that_sleeps_does_not_make_shutdown_spin(procs: usize) {
    let _w = Watchdog::new("drop with a sleeping destructor", Duration::from_secs(20));
    let rt = common::runtime(procs);
    let (done_tx, done) = unbounded();
    rt.block_on(move || {
        let guard = SleepsOnDrop(done_tx);
        let parked = greenrt::spawn(move || {
            let _g = guard;
            loop {
                greenrt::park();
            }
        });
        until_parked(std::slice::from_ref(&parked), WaitReason::Park);
    });
    let before = process_cpu_time();
    let start = std::time::Instant::now();
    drop(rt);
    let (wall, cpu) = (start.elapsed(), process_cpu_time() - before);
    eprintln!("drop(rt) with a 2 s sleeping destructor: {wall:?} wall, {cpu:?} CPU");
    assert_eq!(done.try_recv(), Ok(()), "the destructor ran to its end");
    // The sleep returned at once: it did not wait out its 2 s.
    assert!(wall < Duration::from_millis(1900), "drop(rt) took {wall:?}");
    // Generous: a spin through the 2 s sleep used 1 to 2 s of CPU here.
    assert!(
        cpu < Duration::from_millis(250),
        "drop(rt) used {cpu:?} of CPU"
    );
}

/// Waits on a channel when dropped, then reports where it ran.
struct RecvsOnDrop {
    rx: Receiver<()>,
    report: std::sync::mpsc::Sender<(Option<u64>, bool)>,
}

impl Drop for RecvsOnDrop {
    fn drop(&mut self) {
        let disconnected = self.rx.recv().is_err();
        let me = greenrt::current().map(|g| g.id());
        self.report.send((me, disconnected)).unwrap();
    }
}

/// Spawns a G, when dropped, whose closure owns a `RecvsOnDrop` waiting for
/// `tx` (dropped after this, by the same unwinding G).
struct SpawnsOnDrop(Option<RecvsOnDrop>);

impl Drop for SpawnsOnDrop {
    fn drop(&mut self) {
        let capture = self.0.take().unwrap();
        drop(greenrt::spawn(move || drop(capture)));
    }
}

rt_test!(closures_of_green_threads_that_never_ran_are_dropped_on_a_green_thread);
/// A G spawned during shutdown never runs; its closure is dropped on a green
/// thread of its own, where a wait parks it. Before: it was dropped by the
/// spawner, whose cancelled waits returned at once: `recv` spun forever.
fn closures_of_green_threads_that_never_ran_are_dropped_on_a_green_thread(procs: usize) {
    let _w = Watchdog::new("closure dropped at shutdown", Duration::from_secs(20));
    let rt = common::runtime(procs);
    let (report_tx, report) = std::sync::mpsc::channel();
    let spawner = rt.block_on(move || {
        let (tx, rx) = unbounded::<()>();
        let spawns = SpawnsOnDrop(Some(RecvsOnDrop {
            rx,
            report: report_tx,
        }));
        let h = greenrt::spawn(move || {
            // Dropped in reverse order: `spawns` first, then `tx`.
            let _tx = tx;
            let _spawns = spawns;
            loop {
                greenrt::park();
            }
        });
        until_parked(std::slice::from_ref(&h), WaitReason::Park);
        h
    });
    let spawner_id = spawner.thread().id();
    drop(rt);
    let (ran_on, disconnected) = report.try_recv().expect("the capture was dropped");
    let ran_on = ran_on.expect("on a green thread");
    assert_ne!(
        ran_on, spawner_id,
        "on the new green thread, not the spawner"
    );
    assert!(disconnected, "its recv parked until the sender was dropped");
    assert!(spawner.join().is_err(), "the spawner was cancelled");
}

/// Joins a G when dropped.
struct JoinsOnDrop(Option<JoinHandle<()>>);

impl Drop for JoinsOnDrop {
    fn drop(&mut self) {
        let _ = self.0.take().unwrap().join();
    }
}

const CHILD_ENV: &str = "GREENRT_SHUTDOWN_TIMEOUT_CHILD";

/// In the child: two cancelled Gs whose destructors wait on each other.
fn deadlocked_destructors_in_child() {
    let _w = Watchdog::new("child", Duration::from_secs(20));
    let timeout = Duration::from_millis(300);
    let rt = greenrt::Runtime::builder().procs(2).build().unwrap();
    let (a, b) = rt.block_on(|| {
        let (tx, rx) = unbounded::<()>();
        // b's destructor waits for a message or for `tx` to go; a holds
        // `tx` and, dropping first, joins b.
        let b = greenrt::spawn_named("waits-for-a", move || {
            let _r = RecvsOnDrop {
                rx,
                report: std::sync::mpsc::channel().0,
            };
            loop {
                greenrt::park();
            }
        });
        // b must have run (built its guard) before shutdown: a G that never
        // ran is cancelled without running, and nothing then deadlocks.
        until_parked(std::slice::from_ref(&b), WaitReason::Park);
        let b_id = b.thread().id();
        let a = greenrt::spawn_named("waits-for-b", move || {
            let _tx = tx;
            let _j = JoinsOnDrop(Some(b));
            loop {
                greenrt::park();
            }
        });
        until_parked(std::slice::from_ref(&a), WaitReason::Park);
        (a.thread().id(), b_id)
    });
    let before = process_cpu_time();
    rt.shutdown_timeout(timeout);
    let cpu = process_cpu_time() - before;
    // Both wait parked: no spinning through the timeout.
    assert!(
        cpu < Duration::from_millis(250),
        "shutdown used {cpu:?} of CPU"
    );
    println!("child: ids {a} {b}");
}

#[test]
fn cancelled_green_threads_waiting_on_each_other_are_leaked_and_named_after_the_timeout() {
    let test =
        "cancelled_green_threads_waiting_on_each_other_are_leaked_and_named_after_the_timeout";
    if std::env::var_os(CHILD_ENV).is_some() {
        deadlocked_destructors_in_child();
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
    let ids: Vec<String> = stdout
        .lines()
        .find_map(|l| l.split("child: ids ").nth(1))
        .expect("child reports the ids")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for (id, name) in ids.iter().zip(["waits-for-b", "waits-for-a"]) {
        let line = format!("greenrt: shutdown: green thread {id} ({name}) was still unfinished");
        assert_eq!(
            stderr.matches(&line).count(),
            1,
            "`{line}` once in: {stderr}"
        );
    }
    assert!(stderr.contains("leaked"), "{stderr}");
}

//! `Runtime::dump` / `greenrt::dump` (issue 17 item 4): every live green
//! thread with its name, state, wait reason and spawn location, and the
//! opt-in SIGQUIT dump (in a child process, whose stderr is read).

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{rt_test, Watchdog};
use greenrt::sync as channel;
use greenrt::{Runtime, WaitReason};

/// Waits (up to 10 s, then fails) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

fn dump_lists_parked_and_running(procs: usize) {
    let _watchdog = Watchdog::new("dump_lists_parked_and_running", Duration::from_secs(30));
    let rt = Runtime::builder().procs(procs).build().unwrap();
    let (tx, rx) = channel::unbounded::<()>();
    // A parked G, named, blocked in recv.
    let receiver_line = line!() + 1;
    let receiver = rt.block_on(move || greenrt::spawn_named("the-receiver", move || rx.recv()));
    // A G that never parks: it spins until told to stop, so it is only ever
    // running or runnable (found through its P's record or the registry).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner_line = line!() + 2;
    let s2 = stop.clone();
    let spinner = rt.spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            greenrt::coop::checkpoint();
            std::hint::spin_loop();
        }
    });
    wait_until("the receiver to park", || {
        receiver.thread().wait_reason() == WaitReason::ChanRecv
    });
    let spinner_id = spinner.thread().id();
    let receiver_id = receiver.thread().id();
    let mut dump = String::new();
    wait_until("the spinner to show up", || {
        dump = rt.dump();
        dump.contains(&format!("green thread {spinner_id}:"))
    });
    let file = file!();
    assert!(
        dump.contains(&format!(
            "green thread {receiver_id} \"the-receiver\": parked (ChanRecv) for"
        )),
        "{dump}"
    );
    assert!(
        dump.contains(&format!("spawned at {file}:{receiver_line}:")),
        "receiver's spawn location missing:\n{dump}"
    );
    assert!(
        dump.contains(&format!("spawned at {file}:{spinner_line}:")),
        "spinner's spawn location missing:\n{dump}"
    );
    let spinner_entry = dump
        .split("green thread ")
        .find(|e| e.starts_with(&format!("{spinner_id}:")))
        .unwrap();
    assert!(
        spinner_entry.contains(": running on P") || spinner_entry.contains(": runnable"),
        "{dump}"
    );
    assert!(dump.starts_with("greenrt: "), "{dump}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spinner.join().unwrap();
    tx.send(()).unwrap();
    receiver.join().unwrap().unwrap();
    wait_until("both to leave the dump", || {
        let d = rt.dump();
        !d.contains(&format!("green thread {receiver_id} "))
            && !d.contains(&format!("green thread {spinner_id}:"))
    });
}

#[test]
fn dump_lists_parked_and_running_procs_1() {
    dump_lists_parked_and_running(1);
}

#[test]
fn dump_lists_parked_and_running_procs_2() {
    dump_lists_parked_and_running(2);
}

#[test]
fn dump_lists_parked_and_running_procs_4() {
    dump_lists_parked_and_running(4);
}

/// Many short-lived Gs racing with dumps: every dump is well formed and
/// nothing crashes (the running records are read while Gs finish).
#[test]
fn dumps_race_with_spawns() {
    let _watchdog = Watchdog::new("dumps_race_with_spawns", Duration::from_secs(60));
    let iters = common::stress(2_000);
    for procs in [1, 2, 4] {
        let rt = std::sync::Arc::new(Runtime::builder().procs(procs).build().unwrap());
        let (done_tx, done_rx) = mpsc::channel();
        let rt2 = rt.clone();
        let dumper = std::thread::spawn(move || {
            let mut n = 0;
            while done_rx.try_recv().is_err() {
                let d = rt2.dump();
                assert!(d.starts_with("greenrt: "), "{d}");
                for entry in d.split("\ngreen thread ").skip(1) {
                    assert!(entry.contains("\n    spawned at "), "{d}");
                }
                n += 1;
            }
            n
        });
        rt.block_on(move || {
            let hs: Vec<_> = (0..iters)
                .map(|i| {
                    greenrt::spawn(move || {
                        if i % 3 == 0 {
                            greenrt::yield_now();
                        }
                        i
                    })
                })
                .collect();
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
            }
        });
        done_tx.send(()).unwrap();
        assert!(dumper.join().unwrap() > 0);
    }
}

/// `greenrt::dump()` from inside a green thread names the caller as
/// running.
#[test]
fn dump_from_a_green_thread_shows_itself_running() {
    let rt = Runtime::builder().procs(2).build().unwrap();
    let (id, d) = rt.block_on(|| (greenrt::current().unwrap().id(), greenrt::dump()));
    assert!(
        d.contains(&format!("green thread {id}: running on P")),
        "{d}"
    );
}

const CHILD_ENV: &str = "GREENRT_DUMP_TEST_CHILD";

/// The child: parks a named G on a channel, then signals itself with
/// SIGQUIT and keeps going; the dump goes to stderr.
#[test]
fn sigquit_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let rt = Runtime::builder().procs(2).build().unwrap();
    let (tx, rx) = channel::unbounded::<()>();
    let h = rt.spawn(|| {});
    h.join().unwrap();
    let parked = rt.block_on(move || greenrt::spawn_named("sigquit-waiter", move || rx.recv()));
    wait_until("the waiter to park", || {
        parked.thread().wait_reason() == WaitReason::ChanRecv
    });
    // SAFETY: raising a signal in our own process; the runtime installed a
    // handler for it (GREENRT_DUMP_ON_SIGQUIT=1), so it does not kill us.
    unsafe { libc::raise(libc::SIGQUIT) };
    // Survive the signal long enough for the dump to be printed; the parent
    // reads stderr once we exit.
    std::thread::sleep(Duration::from_millis(500));
    tx.send(()).unwrap();
    parked.join().unwrap().unwrap();
    println!("child survived SIGQUIT");
}

#[test]
fn sigquit_prints_a_dump_and_does_not_kill() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "sigquit_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("GREENRT_DUMP_ON_SIGQUIT", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    assert!(stdout.contains("child survived SIGQUIT"), "{stdout}");
    assert!(
        stderr.contains("\"sigquit-waiter\": parked (ChanRecv) for"),
        "no dump on stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("spawned at {}:", file!())),
        "{stderr}"
    );
}

/// A green thread blocked in a call nobody wrapped in `greenrt::syscall`
/// loses its P to the work queued behind it (sysmon's retake, issue 17 item
/// 1). The dump must then show it as blocked, not as running on a P it no
/// longer has, and must still list it after that P has started another
/// green thread: a G that never switched out is named only by its P's
/// running record, which the next G to start on the P overwrites.
fn dump_shows_a_blocking_call_whose_p_was_retaken(procs: usize) {
    let _watchdog = Watchdog::new("dump of a retaken blocking call", Duration::from_secs(30));
    let rt = common::runtime_without_hog_report(procs);
    let holding = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let counters_started = Arc::new(AtomicUsize::new(0));
    let blocker_line = line!() + 6;
    let (wakers, blockers): (Vec<_>, Vec<_>) = (0..procs)
        .map(|_| {
            let (wake, woken) = mpsc::channel::<()>();
            let (holding, release, stop) = (holding.clone(), release.clone(), stop.clone());
            let started = counters_started.clone();
            let blocker = rt.spawn(move || {
                holding.fetch_add(1, Ordering::SeqCst);
                // Hold this P (spinning) until every P is held.
                while !release.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                // Queued on this P: the work that makes sysmon retake it,
                // and the fresh G whose start overwrites its record.
                let counter = greenrt::spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    while !stop.load(Ordering::Relaxed) {
                        greenrt::yield_now();
                    }
                });
                woken.recv().unwrap(); // unwrapped, on purpose
                counter
            });
            (wake, blocker)
        })
        .unzip();
    wait_until("every P to be held", || {
        holding.load(Ordering::SeqCst) == procs
    });
    release.store(true, Ordering::SeqCst);
    wait_until("every blocker's P to be retaken", || {
        rt.stats().blocking_call_handoffs >= procs as u64
    });
    wait_until("the green threads queued behind them to start", || {
        counters_started.load(Ordering::SeqCst) == procs
    });
    let dump = rt.dump();
    let file = file!();
    for blocker in &blockers {
        let id = blocker.thread().id();
        let entries: Vec<&str> = dump
            .split("green thread ")
            .filter(|e| e.starts_with(&format!("{id}:")))
            .collect();
        assert_eq!(entries.len(), 1, "blocker {id} listed once:\n{dump}");
        assert!(
            entries[0].contains(
                ": in a blocking call not wrapped in greenrt::syscall (its P retaken) for"
            ),
            "blocker {id}:\n{dump}"
        );
        assert!(
            entries[0].contains(&format!("spawned at {file}:{blocker_line}:")),
            "blocker {id}:\n{dump}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for wake in wakers {
        wake.send(()).unwrap();
    }
    for blocker in blockers {
        blocker.join().unwrap().join().unwrap();
    }
}
rt_test!(dump_shows_a_blocking_call_whose_p_was_retaken);

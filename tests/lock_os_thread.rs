//! `lock_os_thread`: a locked green thread stays on its OS thread across
//! yields and parks, no other green thread runs on that thread meanwhile,
//! and the rest of the runtime keeps running on every processor.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};

/// The kernel's id of the calling OS thread (no thread-local involved).
fn os_thread_id() -> i64 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// A locked green thread yields 10 000 times (and parks on a channel now
/// and then) while `procs` busy green threads keep every processor busy.
/// It sees one OS thread throughout; the busy ones keep making progress
/// (at procs 1 only if the locked G's processor is handed to another OS
/// thread) and never run on that OS thread while it is locked.
fn one_os_thread_across_yields(procs: usize) {
    let _w = Watchdog::new("lock_os_thread yields", Duration::from_secs(120));
    let rt = runtime(procs);
    let yields = stress(10_000);
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let trespassers = Arc::new(Mutex::new(HashSet::new()));
    // The OS thread the green thread is locked to, while it is (0: none).
    let locked_tid = Arc::new(AtomicI64::new(0));
    let busy: Vec<_> = (0..procs)
        .map(|_| {
            let stop = stop.clone();
            let progress = progress.clone();
            let trespassers = trespassers.clone();
            let locked_tid = locked_tid.clone();
            rt.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // Read the flag, then where we run, with no runtime
                    // call between: both describe the same moment.
                    let locked = locked_tid.load(Ordering::SeqCst);
                    let me = os_thread_id();
                    if locked != 0 && locked == me {
                        trespassers.lock().unwrap().insert(me);
                    }
                    progress.fetch_add(1, Ordering::Relaxed);
                    greenrt::yield_now();
                }
            })
        })
        .collect();
    let (tx, rx) = greenrt::sync::bounded::<usize>(0);
    let pinger = rt.spawn(move || {
        for i in 0..yields / 100 {
            tx.send(i).unwrap();
        }
    });
    let progress_seen = progress.clone();
    let tid_cell = locked_tid.clone();
    let locked = rt.spawn(move || {
        let guard = greenrt::lock_os_thread();
        let tid = os_thread_id();
        tid_cell.store(tid, Ordering::SeqCst);
        let mut tids = HashSet::new();
        let before = progress_seen.load(Ordering::Relaxed);
        for i in 0..yields {
            greenrt::yield_now();
            if i % 100 == 0 {
                rx.recv().unwrap(); // a real park, woken by another G
            }
            tids.insert(os_thread_id());
        }
        let others_ran = progress_seen.load(Ordering::Relaxed) - before;
        tid_cell.store(0, Ordering::SeqCst);
        drop(guard);
        (tid, tids, others_ran)
    });
    let (tid, tids, others_ran) = locked.join().unwrap();
    pinger.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for h in busy {
        h.join().unwrap();
    }
    assert_eq!(
        tids,
        HashSet::from([tid]),
        "the locked G stayed on its OS thread"
    );
    assert!(others_ran > 0, "the busy green threads ran meanwhile");
    assert!(
        trespassers.lock().unwrap().is_empty(),
        "another G ran on the locked OS thread"
    );
}
rt_test!(one_os_thread_across_yields);

/// A locked green thread that sleeps (a timer wake, from whichever M runs
/// timers) resumes on its OS thread; nested guards keep the lock until the
/// last one is dropped; locking on a plain OS thread is a no-op.
fn parks_and_nesting(procs: usize) {
    let _w = Watchdog::new("lock_os_thread parks", Duration::from_secs(60));
    let rt = runtime(procs);
    let ok = rt.block_on(|| {
        let outer = greenrt::lock_os_thread();
        let tid = os_thread_id();
        let mut same = true;
        {
            let _inner = greenrt::lock_os_thread();
            for _ in 0..20 {
                greenrt::sleep(Duration::from_micros(200));
                same &= os_thread_id() == tid;
            }
        }
        // Still locked by `outer`.
        for _ in 0..20 {
            greenrt::sleep(Duration::from_micros(200));
            same &= os_thread_id() == tid;
        }
        drop(outer);
        same
    });
    assert!(ok);
    let _plain = greenrt::lock_os_thread(); // plain OS thread: nothing to do
}
rt_test!(parks_and_nesting);

/// Dropping the runtime while a locked green thread is parked wakes its
/// sleeping OS thread so the runtime can stop, and cancels the green thread.
fn shutdown_with_a_locked_green_thread_parked(procs: usize) {
    let _w = Watchdog::new("lock_os_thread shutdown", Duration::from_secs(60));
    let rt = runtime(procs);
    let (_tx, rx) = greenrt::sync::unbounded::<()>();
    let h = rt.spawn(move || {
        let _g = greenrt::lock_os_thread();
        let _ = rx.recv();
    });
    common::until_parked_from_os_thread(std::slice::from_ref(&h), greenrt::WaitReason::ChanRecv);
    drop(rt);
    let err = h.join().expect_err("cancelled");
    assert!(err.downcast_ref::<String>().unwrap().contains("cancelled"));
}
rt_test!(shutdown_with_a_locked_green_thread_parked);

/// A green thread that returns with its guard forgotten frees its OS
/// thread for other green threads.
#[test]
fn a_forgotten_guard_ends_with_its_green_thread() {
    let _w = Watchdog::new("forgotten guard", Duration::from_secs(60));
    let rt = runtime(1);
    rt.spawn(|| std::mem::forget(greenrt::lock_os_thread()))
        .join()
        .unwrap();
    let n = rt.block_on(|| {
        let hs: Vec<_> = (0..100).map(|i| greenrt::spawn(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
    });
    assert_eq!(n, 4950);
}

/// A locked green thread that blocks in `greenrt::syscall` (its processor
/// taken by sysmon meanwhile) or is preempted in a CPU-bound loop still
/// resumes on its OS thread, while a busy green thread shares the runtime.
fn syscalls_and_preemption(procs: usize) {
    let _w = Watchdog::new("lock_os_thread syscall", Duration::from_secs(60));
    let rt = runtime(procs);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let busy = rt.spawn(move || {
        while !s.load(Ordering::Relaxed) {
            greenrt::yield_now();
        }
    });
    let ok = rt.block_on(|| {
        let _g = greenrt::lock_os_thread();
        let tid = os_thread_id();
        let mut same = true;
        for _ in 0..3 {
            greenrt::syscall(|| std::thread::sleep(Duration::from_millis(30)));
            same &= os_thread_id() == tid;
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(30) {
                greenrt::coop::checkpoint(); // preempted after a time slice
            }
            same &= os_thread_id() == tid;
        }
        same
    });
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert!(ok);
    assert!(rt.stats().preemptions > 0, "the locked G was preempted");
}
rt_test!(syscalls_and_preemption);

thread_local! {
    /// Where a test smuggles a guard out of its green thread.
    static STASH: std::cell::RefCell<Option<greenrt::OsThreadGuard>> =
        const { std::cell::RefCell::new(None) };
}

/// A guard smuggled out of its green thread through a `thread_local!` and
/// dropped by another green thread does not end the first one's lock: in
/// debug builds it panics with a message naming the mistake.
#[test]
fn a_guard_dropped_by_another_green_thread_is_refused() {
    let _w = Watchdog::new("misplaced guard", Duration::from_secs(60));
    let rt = runtime(1);
    let (first, second) = rt
        .spawn(|| {
            STASH.with(|s| *s.borrow_mut() = Some(greenrt::lock_os_thread()));
            let tid = os_thread_id();
            // Queued in this processor's `runnext`: at procs 1 it runs next,
            // on this OS thread, once this green thread has finished.
            let second = greenrt::spawn(move || {
                assert_eq!(os_thread_id(), tid, "ran next on the same OS thread");
                let guard = STASH.with(|s| s.borrow_mut().take()).expect("stashed here");
                drop(guard);
            });
            (greenrt::current().unwrap().id(), second)
        })
        .join()
        .unwrap();
    match second.join() {
        Ok(()) => {
            if cfg!(debug_assertions) {
                panic!("debug builds refuse loudly");
            }
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            if !cfg!(debug_assertions) {
                panic!("release builds ignore it: {msg}");
            }
            assert!(msg.contains("OsThreadGuard"), "{msg}");
            assert!(msg.contains(&format!("green thread {first}")), "{msg}");
            assert!(msg.contains("docs/GUIDE.md"), "{msg}");
        }
    }
}

//! A blocking call nobody wrapped in `greenrt::syscall` loses its processor
//! to the green threads queued behind it, and a CPU-bound green thread does
//! not (issue 17 item 1; docs/ARCHITECTURE.md, "Syscall handoff and sysmon").

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, Watchdog};

/// How long each sleeper blocks its OS thread.
const SLEEP: Duration = Duration::from_millis(500);

/// Every P is held by a green thread sleeping in an unwrapped
/// `std::thread::sleep`, and a counter that yields in a loop is queued
/// behind them. Without the retake nothing can run the counter until a
/// sleeper wakes, so the first sleeper to wake would see it at 0.
fn unwrapped_sleep_lets_queued_green_threads_run(procs: usize) {
    let _dog = Watchdog::new("unwrapped sleep test", Duration::from_secs(30));
    let rt = common::runtime_without_hog_report(procs);
    let count = Arc::new(AtomicU64::new(0));
    let holding = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let sleepers: Vec<_> = (0..procs)
        .map(|_| {
            let (count, holding, release) = (count.clone(), holding.clone(), release.clone());
            rt.spawn(move || {
                holding.fetch_add(1, Ordering::SeqCst);
                // Hold this P (spinning, so no other G gets it) until every
                // P is held and the counter is queued.
                while !release.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                std::thread::sleep(SLEEP); // unwrapped, on purpose
                let seen = count.load(Ordering::SeqCst);
                // Back in the runtime after losing the P: a checkpoint
                // (yields to get a P back), spawn, join.
                greenrt::coop::checkpoint();
                let h = greenrt::spawn(|| 7);
                assert_eq!(h.join().unwrap(), 7);
                greenrt::yield_now();
                seen
            })
        })
        .collect();
    while holding.load(Ordering::SeqCst) < procs {
        std::thread::yield_now();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let counter = rt.spawn({
        let (count, stop) = (count.clone(), stop.clone());
        move || {
            while !stop.load(Ordering::Relaxed) {
                count.fetch_add(1, Ordering::SeqCst);
                greenrt::yield_now();
            }
        }
    });
    release.store(true, Ordering::SeqCst);
    let seen: Vec<u64> = sleepers.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    counter.join().unwrap();
    assert!(
        seen.iter().all(|&c| c > 0),
        "the counter stood still during an unwrapped sleep: {seen:?}"
    );
    let stats = rt.stats();
    assert!(stats.blocking_call_handoffs > 0, "{stats:?}");
    assert_eq!(stats.syscall_handoffs, 0, "nothing was wrapped: {stats:?}");
}
rt_test!(unwrapped_sleep_lets_queued_green_threads_run);

/// Every P is held by a green thread spinning without checkpoints (its OS
/// thread is running, not asleep), with a green thread queued behind. Its
/// P must stay with it: nothing is retaken, and the queued one runs only
/// once a spinner has finished.
fn cpu_bound_green_threads_keep_their_processor(procs: usize) {
    let _dog = Watchdog::new("cpu-bound test", Duration::from_secs(30));
    let rt = greenrt::Runtime::builder()
        .procs(procs)
        .hog_report(false)
        .time_slice(Duration::from_millis(1))
        .build()
        .unwrap();
    let holding = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let spinners: Vec<_> = (0..procs)
        .map(|_| {
            let (holding, finished) = (holding.clone(), finished.clone());
            rt.spawn(move || {
                holding.fetch_add(1, Ordering::SeqCst);
                // Many detection periods (1 ms each) and slices: no
                // runtime call, no checkpoint, no sleep.
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                }
                finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    while holding.load(Ordering::SeqCst) < procs {
        std::thread::yield_now();
    }
    // How many spinners had finished when the queued green thread ran.
    let queued = rt.spawn({
        let finished = finished.clone();
        move || finished.load(Ordering::SeqCst)
    });
    for h in spinners {
        h.join().unwrap();
    }
    let finished_before_queued_ran = queued.join().unwrap();
    assert!(
        finished_before_queued_ran > 0,
        "the queued green thread ran while every processor was busy spinning"
    );
    let stats = rt.stats();
    assert_eq!(stats.blocking_call_handoffs, 0, "{stats:?}");
}
rt_test!(cpu_bound_green_threads_keep_their_processor);

/// Race hunt for the lend word: many green threads alternate short
/// unwrapped sleeps (so sysmon retakes their Ps mid-call) with runtime calls
/// that use a P — spawn, join, channel hand-offs, yields, checkpoints —
/// while yielders keep work queued. Every message must arrive and nothing
/// may hang (the watchdog) or panic (an M using a P it lost asserts).
fn unwrapped_sleeps_mixed_with_runtime_calls(procs: usize) {
    let _dog = Watchdog::new("unwrapped stress", Duration::from_secs(120));
    let rt = common::runtime_without_hog_report(procs);
    let rounds = common::stress(10);
    let workers = 2 * procs;
    let yielders = common::Yielders::start(&rt, procs);
    let (tx, rx) = greenrt::sync::bounded::<u64>(1);
    let consumer = rt.spawn(move || rx.into_iter().sum::<u64>());
    let hs: Vec<_> = (0..workers)
        .map(|w| {
            let tx = tx.clone();
            rt.spawn(move || {
                for r in 0..rounds {
                    // Unwrapped; a few long enough for a retake, the rest
                    // short enough to race it.
                    let ms = if r % 3 == 0 { 20 } else { 1 + (w + r) % 4 };
                    std::thread::sleep(Duration::from_millis(ms as u64));
                    tx.send(1).unwrap();
                    let h = greenrt::spawn(move || w + r);
                    assert_eq!(h.join().unwrap(), w + r);
                    greenrt::coop::checkpoint();
                    greenrt::yield_now();
                }
            })
        })
        .collect();
    drop(tx);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), (workers * rounds) as u64);
    yielders.stop();
    // How many retakes happened depends on timing: not asserted here
    // (unwrapped_sleep_lets_queued_green_threads_run asserts one happens).
    eprintln!("retakes: {}", rt.stats().blocking_call_handoffs);
}
rt_test!(unwrapped_sleeps_mixed_with_runtime_calls);

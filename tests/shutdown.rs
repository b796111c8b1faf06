//! Dropping a runtime: Ms stop, unfinished Gs are unwound, joins return Err.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{runtime, Watchdog, PROCS};

struct CountsDrops(Arc<AtomicUsize>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn values_owned_by_parked_green_threads_are_dropped_at_shutdown() {
    for procs in PROCS {
        let _w = Watchdog::new("shutdown", Duration::from_secs(30));
        let drops = Arc::new(AtomicUsize::new(0));
        let rt = runtime(procs);
        let d = drops.clone();
        let handles = rt.block_on(move || {
            let mut hs = Vec::new();
            for _ in 0..50 {
                // Parked forever (nobody unparks them).
                let guard = CountsDrops(d.clone());
                hs.push(greenrt::spawn!(move || {
                    let _g = guard;
                    loop {
                        greenrt::park();
                    }
                }));
                // Asleep for an hour.
                let guard = CountsDrops(d.clone());
                hs.push(greenrt::spawn!(move || {
                    let _g = guard;
                    greenrt::sleep(Duration::from_secs(3600));
                }));
            }
            // Let every G start and park.
            for _ in 0..10 {
                greenrt::yield_now();
                greenrt::sleep(Duration::from_millis(1));
            }
            hs
        });
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        // Probably never started: its closure (and the guard it owns) is
        // dropped at shutdown if it did not run before.
        let guard = CountsDrops(drops.clone());
        let never_ran = rt.spawn(move || {
            let _g = guard;
        });
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), 101, "procs = {procs}");
        for h in handles {
            let err = h.join().expect_err("cancelled G reports Err");
            let msg = err.downcast_ref::<String>().expect("message");
            assert!(msg.contains("cancelled"), "{msg}");
        }
        // The never-run G may have run before the drop; either way join
        // returns rather than hangs.
        let _ = never_ran.join();
    }
}

#[test]
fn join_from_os_thread_is_released_by_shutdown() {
    let _w = Watchdog::new("join released", Duration::from_secs(30));
    let rt = runtime(2);
    let h = rt.spawn(|| loop {
        greenrt::park();
    });
    let joiner = std::thread::spawn(move || h.join().is_err());
    // Wait until the G has really parked.
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    assert!(joiner.join().unwrap());
}

#[test]
fn destructors_that_use_the_runtime_during_shutdown_do_not_hang() {
    struct ParksOnDrop;
    impl Drop for ParksOnDrop {
        fn drop(&mut self) {
            // Runtime calls from a destructor during cancellation keep
            // unwinding instead of blocking the dropping thread.
            greenrt::yield_now();
            greenrt::spawn(|| ());
        }
    }
    let _w = Watchdog::new("destructor", Duration::from_secs(30));
    let rt = runtime(1);
    let h = rt.spawn(|| {
        let _p = ParksOnDrop;
        greenrt::sleep(Duration::from_secs(3600));
    });
    rt.block_on(|| greenrt::sleep(Duration::from_millis(5)));
    drop(rt);
    assert!(h.join().is_err());
}

#[test]
fn runtime_threads_exit_on_drop() {
    let rt = runtime(4);
    rt.block_on(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| greenrt::spawn!(greenrt::yield_now))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    drop(rt); // joins every M: returning at all is the assertion
}

/// Shutdown must reach every M, including one that is about to become the
/// netpoller just as the runtime stops: a wake consumed by another poller
/// must not leave it sleeping in `epoll_wait` forever (the drop would
/// hang joining it). Many short-lived runtimes whose Ms go idle over
/// timers make that window likely.
#[test]
fn dropping_runtimes_whose_machines_are_going_idle_never_hangs() {
    let _w = Watchdog::new("shutdown of idle machines", Duration::from_secs(60));
    for round in 0..common::stress(200) {
        let procs = PROCS[round % PROCS.len()];
        let rt = runtime(procs);
        rt.block_on(move || {
            let hs: Vec<_> = (0..procs * 2)
                .map(|i| {
                    greenrt::spawn(move || greenrt::sleep(Duration::from_micros(50 * i as u64)))
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        drop(rt);
    }
}

/// A timer added while an M is deciding to block in the netpoller must
/// bound that M's sleep: otherwise the sleeping G is not woken until some
/// unrelated event, and here nothing else would happen.
#[test]
fn sleeps_end_while_the_only_other_machine_polls() {
    let _w = Watchdog::new("timers vs the blocking poller", Duration::from_secs(60));
    for procs in PROCS {
        let rt = runtime(procs);
        rt.block_on(move || {
            for _ in 0..common::stress(300) {
                let hs: Vec<_> = (0..procs)
                    .map(|i| {
                        greenrt::spawn(move || {
                            greenrt::sleep(Duration::from_micros(20 + 30 * i as u64))
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
        });
    }
}

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

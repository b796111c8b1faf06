//! Stress: mixed spawn/yield/sleep/park/join workloads and runtime
//! start/stop cycles, many iterations at procs = 1, 2, 4.
//! Scale with `GREENRT_STRESS_ITERS=N` when hunting races.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};

/// A spawn tree `depth` levels deep, `fan` wide, mixing yields and short
/// sleeps; returns the number of nodes.
fn tree(depth: u32, fan: u32, seed: u64) -> u64 {
    if depth == 0 {
        match seed % 4 {
            0 => greenrt::yield_now(),
            1 => greenrt::sleep(Duration::from_micros(50)),
            _ => {}
        }
        return 1;
    }
    let kids: Vec<_> = (0..fan)
        .map(|i| {
            let s = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i as u64 + 1);
            greenrt::spawn!(move || tree(depth - 1, fan, s))
        })
        .collect();
    1 + kids.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
}

// Also the check of invariant 2 (no stranded G: the `wakep` handshake of
// sched/mod.rs). That handshake relies on SeqCst store buffering, which loom
// does not model (it treats SeqCst as AcqRel), so it has no loom model
// (docs/ARCHITECTURE.md, "Model-checked protocols"): this stress test, run
// at procs 1/2/4 with `GREENRT_STRESS_ITERS` for more, is its check.
rt_test!(spawn_trees_with_yields_and_sleeps);
fn spawn_trees_with_yields_and_sleeps(procs: usize) {
    let iters = stress(5);
    {
        let _w = Watchdog::new(
            &format!("spawn trees procs={procs}"),
            Duration::from_secs(60),
        );
        let rt = runtime(procs);
        for it in 0..iters {
            let n = rt.block_on(move || tree(4, 6, it as u64));
            // 1 + 6 + 36 + 216 + 1296
            assert_eq!(n, 1555, "procs = {procs}, iteration {it}");
        }
    }
}

rt_test!(runtime_start_stop_cycles_with_work_in_flight);
fn runtime_start_stop_cycles_with_work_in_flight(procs: usize) {
    let iters = stress(20);
    {
        let _w = Watchdog::new(
            &format!("start/stop procs={procs}"),
            Duration::from_secs(60),
        );
        for _ in 0..iters {
            let rt = runtime(procs);
            let counter = Arc::new(AtomicU64::new(0));
            let c = counter.clone();
            let done = rt.block_on(move || {
                let hs: Vec<_> = (0..64)
                    .map(|i| {
                        let c = c.clone();
                        greenrt::spawn!(move || {
                            for _ in 0..(i % 5) {
                                greenrt::yield_now();
                            }
                            c.fetch_add(1, Ordering::SeqCst);
                        })
                    })
                    .collect();
                hs.into_iter().filter(|_| true).count()
            });
            assert_eq!(done, 64);
            // Drop with those Gs finished or in flight: must not hang or leak.
            drop(rt);
            assert!(counter.load(Ordering::SeqCst) <= 64);
        }
    }
}

#[test]
fn cross_runtime_wakeups() {
    // A G in one runtime joins a G of another runtime.
    let _w = Watchdog::new("cross runtime", Duration::from_secs(60));
    let a = runtime(2);
    let b = runtime(1);
    for _ in 0..stress(50) {
        let hb = b.spawn(|| {
            greenrt::yield_now();
            7
        });
        let v = a.block_on(move || hb.join().unwrap() + 1);
        assert_eq!(v, 8);
    }
}

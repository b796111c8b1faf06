//! The memory of finished green threads is reused (runtime/sched/g_alloc.rs):
//! a new G may live where an old one of another type lived. These tests mix
//! task types of different sizes and alignments in waves, release the last
//! reference to Gs on Ms and on plain OS threads, and check that every
//! result arrives intact and every value is dropped exactly once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};

/// Counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Over-aligned: its G's allocation bypasses the block cache.
#[repr(align(64))]
struct Aligned(u64);

/// Spawns one G of one of five shapes (small, medium, large capture, one
/// beyond the cached sizes, one over-aligned) returning a value derived
/// from `i` and carrying a `Tracked` both in its closure and its result.
fn spawn_shape(i: u64, drops: &Arc<AtomicUsize>) -> greenrt::JoinHandle<(u64, Tracked)> {
    let captured = Tracked(drops.clone());
    let result = Tracked(drops.clone());
    match i % 5 {
        0 => greenrt::spawn(move || {
            let _c = captured;
            (i, result)
        }),
        1 => {
            let data = [i; 8];
            greenrt::spawn(move || {
                let _c = captured;
                (data.iter().sum::<u64>() / 8, result)
            })
        }
        2 => {
            let data = [i; 40];
            let text = format!("g{i}");
            greenrt::spawn(move || {
                let _c = captured;
                assert_eq!(text, format!("g{i}"));
                (data.iter().sum::<u64>() / 40, result)
            })
        }
        3 => {
            let data = [i; 200]; // 1.6 KiB: larger than any block class
            greenrt::spawn(move || {
                let _c = captured;
                (data.iter().sum::<u64>() / 200, result)
            })
        }
        _ => {
            let a = Aligned(i);
            greenrt::spawn(move || {
                let _c = captured;
                assert_eq!(std::ptr::addr_of!(a) as usize % 64, 0);
                (a.0, result)
            })
        }
    }
}

rt_test!(reused_memory_keeps_every_result_and_drops_each_value_once);
fn reused_memory_keeps_every_result_and_drops_each_value_once(procs: usize) {
    let _w = Watchdog::new("reuse waves", Duration::from_secs(60));
    let waves = stress(20);
    const PER_WAVE: u64 = 2_000;
    {
        let rt = runtime(procs);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        rt.block_on(move || {
            for wave in 0..waves as u64 {
                let handles: Vec<_> = (0..PER_WAVE)
                    .map(|k| spawn_shape(wave * PER_WAVE + k, &d))
                    .collect();
                for (k, h) in handles.into_iter().enumerate() {
                    let i = wave * PER_WAVE + k as u64;
                    // Every third handle is dropped unjoined: the G's result
                    // then goes with its memory, whenever the G finishes.
                    if k % 3 == 2 {
                        drop(h);
                        continue;
                    }
                    let (v, r) = h.join().expect("no panic");
                    assert_eq!(v, i, "procs = {procs}");
                    drop(r);
                }
            }
        });
        // Unjoined Gs may still be finishing: the runtime's drop settles them.
        drop(rt);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            2 * waves * PER_WAVE as usize,
            "procs = {procs}: each closure capture and each result dropped exactly once"
        );
    }
}

rt_test!(gs_released_on_os_threads_give_their_memory_back_for_reuse);
fn gs_released_on_os_threads_give_their_memory_back_for_reuse(procs: usize) {
    let _w = Watchdog::new("release off the runtime", Duration::from_secs(60));
    let rounds = stress(20);
    {
        let rt = runtime(procs);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel::<Vec<(u64, greenrt::JoinHandle<(u64, Tracked)>)>>();
        // A plain OS thread joins (and so drops the last reference to)
        // every G, while the runtime keeps spawning new ones.
        let joiner = std::thread::spawn(move || {
            let mut joined = 0usize;
            for batch in rx {
                for (i, h) in batch {
                    let (v, _r) = h.join().expect("no panic");
                    assert_eq!(v, i);
                    joined += 1;
                }
            }
            joined
        });
        let d = drops.clone();
        rt.block_on(move || {
            for round in 0..rounds as u64 {
                let batch = (0..500)
                    .map(|k| {
                        let i = round * 500 + k;
                        (i, spawn_shape(i, &d))
                    })
                    .collect();
                tx.send(batch).unwrap();
                greenrt::yield_now();
            }
        });
        assert_eq!(joiner.join().unwrap(), rounds * 500, "procs = {procs}");
        drop(rt);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            2 * rounds * 500,
            "procs = {procs}"
        );
    }
}

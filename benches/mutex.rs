//! Mutex cost: greenrt's `sync::Mutex` against `parking_lot::Mutex` and
//! `std::sync::Mutex`, in one run so the ratios compare like with like.
//!
//! * `mutex_uncontended/*`: one lock + increment + unlock, from a plain OS
//!   thread and from inside a green thread (procs 1). The fast path is one
//!   CAS each way; the target is greenrt within 1.1x of parking_lot.
//! * `mutex_contended/*`: 4 workers share one lock, each doing its part of
//!   the iterations — greenrt with 4 green threads at procs 2 (waiters park
//!   their G), the OS-thread locks with 4 OS threads.
//!
//! `cargo bench --bench mutex -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// One lock + increment + unlock, for each mutex measured.
trait Lock: Send + Sync + 'static {
    fn unlocked_zero() -> Self;
    fn bump(&self);
    fn value(&self) -> u64;
}

impl Lock for greenrt::sync::Mutex<u64> {
    fn unlocked_zero() -> Self {
        greenrt::sync::Mutex::new(0)
    }
    #[inline]
    fn bump(&self) {
        *self.lock() += 1;
    }
    fn value(&self) -> u64 {
        *self.lock()
    }
}

impl Lock for parking_lot::Mutex<u64> {
    fn unlocked_zero() -> Self {
        parking_lot::Mutex::new(0)
    }
    #[inline]
    fn bump(&self) {
        *self.lock() += 1;
    }
    fn value(&self) -> u64 {
        *self.lock()
    }
}

impl Lock for std::sync::Mutex<u64> {
    fn unlocked_zero() -> Self {
        std::sync::Mutex::new(0)
    }
    #[inline]
    fn bump(&self) {
        *self.lock().unwrap() += 1;
    }
    fn value(&self) -> u64 {
        *self.lock().unwrap()
    }
}

type Greenrt = greenrt::sync::Mutex<u64>;
type ParkingLot = parking_lot::Mutex<u64>;
type Std = std::sync::Mutex<u64>;

// ---------------------------------------------------------------- uncontended

fn from_os_thread<L: Lock>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
) {
    let m = L::unlocked_zero();
    c.bench_function(BenchmarkId::new(name, "os_thread"), |b| {
        b.iter(|| black_box(&m).bump());
    });
}

fn from_green_thread<L: Lock>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &greenrt::Runtime,
    name: &str,
) {
    c.bench_function(BenchmarkId::new(name, "green_thread"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let m = L::unlocked_zero();
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(&m).bump();
                }
                let elapsed = start.elapsed();
                assert_eq!(m.value(), iters);
                elapsed
            })
        });
    });
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_uncontended");
    from_os_thread::<Greenrt>(&mut g, "greenrt");
    from_os_thread::<ParkingLot>(&mut g, "parking_lot");
    from_os_thread::<Std>(&mut g, "std");
    // A measured loop with no checkpoint is a hog by design: no report.
    let rt = greenrt::Runtime::builder()
        .procs(1)
        .hog_report(false)
        .build()
        .unwrap();
    from_green_thread::<Greenrt>(&mut g, &rt, "greenrt");
    from_green_thread::<ParkingLot>(&mut g, &rt, "parking_lot");
    from_green_thread::<Std>(&mut g, &rt, "std");
    g.finish();
}

// ------------------------------------------------------------------ contended

const WORKERS: u64 = 4;

/// Worker `w`'s share of `total` iterations.
fn share(total: u64, w: u64) -> u64 {
    total / WORKERS + u64::from(w < total % WORKERS)
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_contended");
    g.sample_size(10);

    // A measured loop with no checkpoint is a hog by design: no report.
    let rt = greenrt::Runtime::builder()
        .procs(2)
        .hog_report(false)
        .build()
        .unwrap();
    g.bench_function(BenchmarkId::new("greenrt", "4_green_threads_procs2"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let m = Arc::new(Greenrt::unlocked_zero());
                let start = Instant::now();
                let workers: Vec<_> = (0..WORKERS)
                    .map(|w| {
                        let m = m.clone();
                        greenrt::spawn(move || {
                            for _ in 0..share(iters, w) {
                                m.bump();
                            }
                        })
                    })
                    .collect();
                workers.into_iter().for_each(|h| h.join().unwrap());
                let elapsed = start.elapsed();
                assert_eq!(m.value(), iters);
                elapsed
            })
        });
    });

    fn os_threads<L: Lock>(iters: u64) -> Duration {
        let m = Arc::new(L::unlocked_zero());
        let start = Instant::now();
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..share(iters, w) {
                        m.bump();
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|h| h.join().unwrap());
        let elapsed = start.elapsed();
        assert_eq!(m.value(), iters);
        elapsed
    }
    g.bench_function(BenchmarkId::new("parking_lot", "4_os_threads"), |b| {
        b.iter_custom(os_threads::<ParkingLot>);
    });
    g.bench_function(BenchmarkId::new("std", "4_os_threads"), |b| {
        b.iter_custom(os_threads::<Std>);
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended, contended
}
criterion_main!(benches);

//! greenrt::sync side by side with the OS-thread equivalents:
//!
//! * one-way message latency: ping-pong over `bounded(0)` between two Gs on
//!   one P, vs two OS threads over `std::sync::mpsc::sync_channel(0)` and
//!   over crossbeam-channel's `bounded(0)`;
//! * throughput of `bounded(1024)` with 4 producers and 4 consumers: green
//!   threads at procs = 2 vs crossbeam-channel between OS threads.
//!
//! (Locks, `Mutex` against parking_lot and std, are benches/mutex.rs.)
//!
//! `cargo bench --bench channel -- --warm-up-time 1 --measurement-time 3`.
//! Figures: docs/BENCHMARKS.md.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

#[path = "common/rendezvous.rs"]
mod rendezvous;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

// ------------------------------------------------------------------ latency

/// Iteration = one round trip; the closure returns half its time, so the
/// reported figure is the one-way latency.
fn pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel/oneway_rendezvous");

    // A measured loop with no checkpoint is a hog by design: no report.
    let rt = greenrt::Runtime::builder()
        .procs(1)
        .hog_report(false)
        .build()
        .unwrap();
    g.bench_function("greenrt_bounded0_2g_1p", |b| {
        b.iter_custom(|iters| rt.block_on(move || rendezvous::greenrt_oneway_rendezvous(iters)));
    });

    g.bench_function("std_sync_channel0_2threads", |b| {
        b.iter_custom(|iters| {
            let (ping_tx, ping_rx) = mpsc::sync_channel::<u64>(0);
            let (pong_tx, pong_rx) = mpsc::sync_channel::<u64>(0);
            let echo = thread::spawn(move || {
                for v in ping_rx.iter() {
                    pong_tx.send(v).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..iters {
                ping_tx.send(i).unwrap();
                pong_rx.recv().unwrap();
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            echo.join().unwrap();
            elapsed / 2
        });
    });

    g.bench_function("crossbeam_bounded0_2threads", |b| {
        b.iter_custom(|iters| {
            let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(0);
            let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(0);
            let echo = thread::spawn(move || {
                for v in ping_rx.iter() {
                    pong_tx.send(v).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..iters {
                ping_tx.send(i).unwrap();
                pong_rx.recv().unwrap();
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            echo.join().unwrap();
            elapsed / 2
        });
    });
    g.finish();
}

// --------------------------------------------------------------- throughput

const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const CAP: usize = 1024;

/// Splits `total` messages over the producers.
fn share(total: u64, p: u64) -> u64 {
    total / PRODUCERS + u64::from(p < total % PRODUCERS)
}

/// 4 producers and 4 consumers on OS threads over `$bounded::<u64>(CAP)`
/// (greenrt's and crossbeam's have the same API); the time to move `iters`
/// messages.
macro_rules! os_threads_mpmc {
    ($bounded:path, $iters:expr) => {{
        let iters: u64 = $iters;
        let (tx, rx) = $bounded(CAP);
        let start = Instant::now();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..share(iters, p) {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.iter().count() as u64)
            })
            .collect();
        producers.into_iter().for_each(|h| h.join().unwrap());
        let got: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(got, iters);
        start.elapsed()
    }};
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel/mpmc_bounded1024_4p4c");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);

    // A measured loop with no checkpoint is a hog by design: no report.
    let rt = greenrt::Runtime::builder()
        .procs(2)
        .hog_report(false)
        .build()
        .unwrap();
    g.bench_function(BenchmarkId::new("greenrt_green_threads", "procs2"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let (tx, rx) = greenrt::sync::bounded::<u64>(CAP);
                let start = Instant::now();
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let tx = tx.clone();
                        greenrt::spawn(move || {
                            for i in 0..share(iters, p) {
                                tx.send(i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let consumers: Vec<_> = (0..CONSUMERS)
                    .map(|_| {
                        let rx = rx.clone();
                        greenrt::spawn(move || rx.iter().count() as u64)
                    })
                    .collect();
                producers.into_iter().for_each(|h| h.join().unwrap());
                let got: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
                assert_eq!(got, iters);
                start.elapsed()
            })
        });
    });

    // The same program on plain OS threads, greenrt's channel against
    // crossbeam's (a drop-in should not lose there: issue 16 item 8).
    g.bench_function(BenchmarkId::new("greenrt_os_threads", "8threads"), |b| {
        b.iter_custom(|iters| os_threads_mpmc!(greenrt::sync::bounded, iters));
    });
    g.bench_function(BenchmarkId::new("crossbeam_os_threads", "8threads"), |b| {
        b.iter_custom(|iters| os_threads_mpmc!(crossbeam_channel::bounded, iters));
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
    targets = pingpong, throughput
}
criterion_main!(benches);

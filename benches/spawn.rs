//! Spawn + join cost: 100 000 no-op green threads spawned then joined,
//! against `std::thread::spawn` + join.
//!
//! `cargo bench --bench spawn`. Figures: docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const BATCH: u64 = 100_000;

fn green_spawn_join(c: &mut Criterion, procs: usize) {
    let rt = greenrt::Runtime::builder().procs(procs).build().unwrap();
    let mut g = c.benchmark_group("spawn");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function(format!("greenrt_spawn_join_100k_{procs}p"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    let hs: Vec<_> = (0..BATCH).map(|i| greenrt::spawn(move || i)).collect();
                    for h in hs {
                        criterion::black_box(h.join().unwrap());
                    }
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

fn green_1p(c: &mut Criterion) {
    green_spawn_join(c, 1);
}

fn green_2p(c: &mut Criterion) {
    green_spawn_join(c, 2);
}

fn os_spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("std_thread_spawn_join", |b| {
        b.iter(|| {
            std::thread::spawn(|| criterion::black_box(1))
                .join()
                .unwrap()
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = green_1p, green_2p, os_spawn_join
}
criterion_main!(benches);

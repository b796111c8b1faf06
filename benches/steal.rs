//! Work stealing pays: a CPU-bound batch of 64 green threads, all spawned
//! from one green thread, at procs = 1 and procs = 2. With two Ps the second
//! M steals half the batch, so the batch should take about half as long on
//! this 2-core machine.
//!
//! `cargo bench --bench steal`. Figures: docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

/// About 1 ms of integer work.
fn work(seed: u64) -> u64 {
    let mut x = seed;
    for i in 0..1_000_000u64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
    }
    x
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("steal");
    for procs in [1, 2] {
        let rt = greenrt::Runtime::builder().procs(procs).build().unwrap();
        g.bench_function(format!("cpu_batch_64x1ms_{procs}p"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(move || {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let hs: Vec<_> = (0..64).map(|i| greenrt::spawn(move || work(i))).collect();
                        for h in hs {
                            criterion::black_box(h.join().unwrap());
                        }
                    }
                    start.elapsed()
                })
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = batch
}
criterion_main!(benches);

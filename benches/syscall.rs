//! Syscall handoff overhead: `greenrt::syscall(|| getpid())` inside a green
//! thread against a bare `getpid()` in the same green thread.
//!
//! `cargo bench --bench syscall`. Figures: docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions. (libc's wrapper may cache the
    // pid on some libcs; glibc ≥ 2.25 makes the real system call.)
    unsafe { libc::getpid() }
}

fn bench(c: &mut Criterion) {
    let rt = greenrt::Runtime::builder().procs(1).build().unwrap();
    let mut g = c.benchmark_group("syscall");
    g.bench_function("bare_getpid_in_green_thread", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    criterion::black_box(getpid());
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("greenrt_syscall_getpid", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    criterion::black_box(greenrt::syscall(getpid));
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

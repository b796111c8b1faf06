//! Context-switch cost: greenrt's yield ping-pong vs the bare corosensei
//! switch (the floor) vs two OS threads taking turns with a Mutex + Condvar.
//!
//! `cargo bench --bench switch`. Figures: docs/BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use criterion::{criterion_group, criterion_main, Criterion};

/// Bare corosensei: one resume + one suspend per iteration.
fn raw_coroutine(c: &mut Criterion) {
    c.bench_function("switch/corosensei_resume_suspend", |b| {
        let mut co: Coroutine<(), (), (), DefaultStack> =
            Coroutine::with_stack(DefaultStack::new(64 * 1024).unwrap(), |y, ()| loop {
                y.suspend(());
            });
        b.iter(|| {
            let r = co.resume(());
            debug_assert!(matches!(r, CoroutineResult::Yield(())));
        });
    });
}

/// Two Gs on one P alternating with `yield_now`: time per switch.
fn green_yield(c: &mut Criterion) {
    let rt = greenrt::Runtime::builder().procs(1).build().unwrap();
    c.bench_function("switch/greenrt_yield_pingpong_1p", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let half = iters.div_ceil(2);
                let start = Instant::now();
                let a = greenrt::spawn(move || {
                    for _ in 0..half {
                        greenrt::yield_now();
                    }
                });
                let b = greenrt::spawn(move || {
                    for _ in 0..half {
                        greenrt::yield_now();
                    }
                });
                a.join().unwrap();
                b.join().unwrap();
                start.elapsed()
            })
        });
    });
}

/// Two OS threads taking turns through a parking_lot Mutex + Condvar.
fn os_thread_pingpong(c: &mut Criterion) {
    use parking_lot::{Condvar, Mutex};
    c.bench_function("switch/os_threads_mutex_condvar_pingpong", |b| {
        b.iter_custom(|iters| {
            let state = Arc::new((Mutex::new(0u64), Condvar::new()));
            let s2 = state.clone();
            let n = iters;
            let start = Instant::now();
            let t = std::thread::spawn(move || {
                let (m, cv) = &*s2;
                let mut g = m.lock();
                while *g < n {
                    while *g % 2 == 0 && *g < n {
                        cv.wait(&mut g);
                    }
                    if *g < n {
                        *g += 1;
                        cv.notify_one();
                    }
                }
            });
            {
                let (m, cv) = &*state;
                let mut g = m.lock();
                while *g < n {
                    while *g % 2 == 1 && *g < n {
                        cv.wait(&mut g);
                    }
                    if *g < n {
                        *g += 1;
                        cv.notify_one();
                    }
                }
            }
            t.join().unwrap();
            start.elapsed()
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = raw_coroutine, green_yield, os_thread_pingpong
}
criterion_main!(benches);

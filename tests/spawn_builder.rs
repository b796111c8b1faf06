//! `greenrt::spawn_builder()`: a per-spawn name and stack size, whose
//! failures are the spawner's `Err`, and `Runtime::spawn_named`.

mod common;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};

/// Uses about `kib` KiB of its stack.
#[inline(never)]
fn use_stack(kib: usize) -> u8 {
    let mut on_stack = [0u8; 512 * 1024];
    let n = (kib * 1024).min(on_stack.len());
    for (i, b) in on_stack[..n].iter_mut().enumerate().step_by(4096) {
        *b = i as u8;
    }
    std::hint::black_box(&mut on_stack);
    on_stack[..n].iter().fold(0, |a, &b| a.wrapping_add(b))
}

fn expected_sum() -> u8 {
    (0..512 * 1024usize)
        .step_by(4096)
        .fold(0u8, |a, i| a.wrapping_add(i as u8))
}

/// A green thread with a 1 MiB stack uses 512 KiB of it (eight times the
/// default stack, which would overflow), and sees its name; spawned from a
/// green thread and from an OS thread.
fn a_large_stack_and_a_name(procs: usize) {
    let _w = Watchdog::new("builder large stack", Duration::from_secs(60));
    let rt = runtime(procs);
    let from_os = rt
        .spawn_builder()
        .name("big-os")
        .stack_size(1 << 20)
        .spawn(|| {
            (
                greenrt::current().unwrap().name().map(str::to_owned),
                use_stack(512),
            )
        })
        .expect("a 1 MiB stack maps");
    let from_green = rt.block_on(|| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                greenrt::spawn_builder()
                    .name(format!("big-{i}"))
                    .stack_size(1 << 20)
                    .spawn(move || {
                        greenrt::yield_now();
                        (
                            greenrt::current().unwrap().name().map(str::to_owned),
                            use_stack(512),
                        )
                    })
                    .expect("a 1 MiB stack maps")
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let expected = expected_sum();
    assert_eq!(from_os.join().unwrap(), (Some("big-os".into()), expected));
    for (i, (name, sum)) in from_green.into_iter().enumerate() {
        assert_eq!(name, Some(format!("big-{i}")));
        assert_eq!(sum, expected);
    }
}
rt_test!(a_large_stack_and_a_name);

/// Many builder spawns of the runtime's own size (stacks from the pool, so
/// they come back to it) and of another size (mapped and unmapped per
/// green thread), all running to completion.
fn many_builder_spawns(procs: usize) {
    let _w = Watchdog::new("many builder spawns", Duration::from_secs(60));
    let n = stress(2_000);
    let sum = runtime(procs).block_on(move || {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let b = greenrt::spawn_builder();
                let b = if i % 2 == 0 {
                    b
                } else {
                    b.stack_size(32 * 1024)
                };
                b.spawn(move || {
                    greenrt::yield_now();
                    i
                })
                .unwrap()
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    assert_eq!(sum, n * (n - 1) / 2);
}
rt_test!(many_builder_spawns);

struct CountsDrops(Arc<AtomicUsize>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Out-of-range stack sizes (an absurd 64 TiB among them) are
/// `InvalidInput` errors naming the setting; the closure is dropped, never
/// run, and no green thread is spawned.
#[test]
fn out_of_range_stack_sizes_are_errors() {
    let rt = runtime(1);
    let before = rt.stats().spawned;
    let drops = Arc::new(AtomicUsize::new(0));
    for size in [1usize << 46, (1 << 30) + 1, 1024, 0] {
        let guard = CountsDrops(drops.clone());
        let err = rt
            .spawn_builder()
            .stack_size(size)
            .spawn(move || {
                let _g = guard;
                panic!("must not run");
            })
            .expect_err("out of range");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("stack_size"), "{err}");
    }
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    assert_eq!(rt.stats().spawned, before);
}

/// `Runtime::spawn_named` names the green thread.
#[test]
fn runtime_spawn_named() {
    let rt = runtime(2);
    let h = rt.spawn_named("worker-7", || {
        greenrt::current().unwrap().name().map(str::to_owned)
    });
    assert_eq!(h.thread().name(), Some("worker-7"));
    assert_eq!(h.join().unwrap().as_deref(), Some("worker-7"));
}

/// `SpawnBuilder::spawn_scoped`: a named, sized scoped green thread that
/// borrows from the caller.
fn spawn_scoped_borrows(procs: usize) {
    let _w = Watchdog::new("spawn_scoped", Duration::from_secs(60));
    runtime(procs).block_on(|| {
        let mut v = vec![1, 2, 3];
        greenrt::scope(|s| {
            let h = greenrt::spawn_builder()
                .name("scoped")
                .stack_size(1 << 20)
                .spawn_scoped(s, || {
                    assert_eq!(use_stack(512), expected_sum());
                    v.push(4);
                    greenrt::current().unwrap().name().map(str::to_owned)
                })
                .unwrap();
            assert_eq!(h.join().unwrap().as_deref(), Some("scoped"));
            let err = greenrt::spawn_builder()
                .stack_size(1 << 46)
                .spawn_scoped(s, || ())
                .expect_err("out of range");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        });
        // The failed spawn is not a panic of the scope.
        assert_eq!(v, [1, 2, 3, 4]);
    });
}
rt_test!(spawn_scoped_borrows);

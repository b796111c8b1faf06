//! The scheduler core: spawn, join, work stealing, panics, nesting.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rt_test, runtime, Watchdog};

rt_test!(hundred_thousand_green_threads_sum_exactly);
fn hundred_thousand_green_threads_sum_exactly(procs: usize) {
    {
        let _w = Watchdog::new("100k spawn+join", Duration::from_secs(60));
        let rt = runtime(procs);
        let n: u64 = 100_000;
        let sum = rt.block_on(move || {
            let handles: Vec<_> = (0..n).map(|i| greenrt::spawn!(move || i * 3)).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .sum::<u64>()
        });
        assert_eq!(sum, 3 * n * (n - 1) / 2, "procs = {procs}");
    }
}

#[test]
fn block_on_returns_value_and_spawn_macro_accepts_a_block() {
    let rt = runtime(2);
    let v = rt.block_on(|| {
        let x = 20;
        let h = greenrt::spawn!({ x + 1 });
        h.join().unwrap() * 2
    });
    assert_eq!(v, 42);
}

#[test]
fn two_processors_run_green_threads_in_parallel_on_two_machines() {
    // G `a` announces it runs, then spins until `b` answers; `b` spins
    // until `a` has announced. On one M, whichever runs first spins forever
    // (nothing preempts a tight loop), so finishing at all proves the two
    // ran at once on two Ms.
    let _w = Watchdog::new("parallel Ms", Duration::from_secs(30));
    let rt = runtime(2);
    let threads = rt.block_on(|| {
        let started = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let (st, an, s1) = (started.clone(), answered.clone(), seen.clone());
        let a = greenrt::spawn!(move || {
            s1.lock().unwrap().insert(std::thread::current().id());
            st.store(true, Ordering::Release);
            while !an.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
        });
        let (st, an, s2) = (started.clone(), answered.clone(), seen.clone());
        let b = greenrt::spawn!(move || {
            s2.lock().unwrap().insert(std::thread::current().id());
            while !st.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            an.store(true, Ordering::Release);
        });
        a.join().unwrap();
        b.join().unwrap();
        let n = seen.lock().unwrap().len();
        n
    });
    assert_eq!(threads, 2, "the two green threads ran on two OS threads");
}

#[test]
fn work_spawned_from_one_green_thread_spreads_over_all_machines() {
    let _w = Watchdog::new("spread", Duration::from_secs(30));
    let rt = runtime(2);
    let distinct = rt.block_on(|| {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let handles: Vec<_> = (0..200)
            .map(|_| {
                let seen = seen.clone();
                greenrt::spawn!(move || {
                    // ~1 ms of CPU each, so the other M has time to steal.
                    let mut x = 0u64;
                    for i in 0..400_000u64 {
                        x = x.wrapping_mul(31).wrapping_add(i);
                    }
                    std::hint::black_box(x);
                    seen.lock().unwrap().insert(std::thread::current().id());
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let n = seen.lock().unwrap().len();
        n
    });
    assert_eq!(distinct, 2, "Gs spawned by one G ran on both Ms");
}

rt_test!(panic_payload_comes_back_through_join_and_others_finish);
fn panic_payload_comes_back_through_join_and_others_finish(procs: usize) {
    {
        let rt = runtime(procs);
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let (msg, ok) = rt.block_on(move || {
            let seven = std::hint::black_box(7);
            let bad = greenrt::spawn!(move || -> u32 { panic!("boom {seven}") });
            let good: Vec<_> = (0..100)
                .map(|i| {
                    let f = f.clone();
                    greenrt::spawn!(move || {
                        greenrt::yield_now();
                        f.fetch_add(1, Ordering::SeqCst);
                        i
                    })
                })
                .collect();
            let err = bad.join().expect_err("panicked G reports Err");
            let msg = err
                .downcast_ref::<String>()
                .cloned()
                .expect("formatted panic payload is a String");
            let ok: i32 = good.into_iter().map(|h| h.join().unwrap()).sum();
            (msg, ok)
        });
        assert_eq!(msg, "boom 7");
        assert_eq!(ok, (0..100).sum::<i32>());
        assert_eq!(finished.load(Ordering::SeqCst), 100);
        // The runtime still works after the panic.
        assert_eq!(rt.block_on(|| 5), 5, "procs = {procs}");
    }
}

#[test]
fn panic_with_static_str_payload() {
    let rt = runtime(1);
    let err = rt
        .spawn(|| -> () { std::panic::panic_any("static payload") })
        .join()
        .unwrap_err();
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "static payload");
}

#[test]
fn block_on_resumes_a_panic_on_the_caller() {
    let rt = runtime(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(|| -> () { panic!("inner") })
    }));
    let err = r.unwrap_err();
    assert_eq!(err.downcast_ref::<&str>().copied(), Some("inner"));
}

rt_test!(nested_spawns_and_joins_inside_and_outside);
fn nested_spawns_and_joins_inside_and_outside(procs: usize) {
    {
        let rt = runtime(procs);
        // Join from outside the runtime (a plain OS thread blocks).
        let outer = rt.spawn(|| {
            // G spawns G spawns G, joined from inside.
            let mid = greenrt::spawn!(|| {
                let inner = greenrt::spawn!(|| greenrt::current().unwrap().id());
                let inner_id = inner.join().unwrap();
                (greenrt::current().unwrap().id(), inner_id)
            });
            let (mid_id, inner_id) = mid.join().unwrap();
            (greenrt::current().unwrap().id(), mid_id, inner_id)
        });
        let (a, b, c) = outer.join().unwrap();
        assert!(a < b && b < c, "ids grow with spawn order: {a} {b} {c}");
    }
}

#[test]
fn handles_cross_threads_and_join_from_another_os_thread() {
    let rt = runtime(2);
    let h = rt.spawn(|| {
        greenrt::sleep(Duration::from_millis(5));
        "done"
    });
    let joined = std::thread::spawn(move || h.join().unwrap())
        .join()
        .unwrap();
    assert_eq!(joined, "done");
}

#[test]
fn spawn_from_a_plain_os_thread_uses_the_default_runtime() {
    let h = std::thread::spawn(|| {
        assert!(!greenrt::in_green_thread());
        let h = greenrt::spawn!(|| {
            assert!(greenrt::in_green_thread());
            greenrt::yield_now();
            11
        });
        h.join().unwrap()
    });
    assert_eq!(h.join().unwrap(), 11);
    assert_eq!(greenrt::run(|| 1 + 1), 2);
}

#[test]
fn run_from_many_os_threads_at_once() {
    let threads: Vec<_> = (0..8)
        .map(|i| std::thread::spawn(move || greenrt::run(move || i * 2)))
        .collect();
    let sum: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(sum, (0..8).map(|i| i * 2).sum::<i32>());
}

#[test]
fn current_reports_id_and_name() {
    let rt = runtime(1);
    let (id, name, outside) = rt.block_on(|| {
        let h = greenrt::spawn_named("worker-7", || {
            let me = greenrt::current().unwrap();
            (me.id(), me.name().map(str::to_owned))
        });
        let thread_id = h.thread().id();
        let (id, name) = h.join().unwrap();
        assert_eq!(id, thread_id);
        (
            id,
            name,
            std::thread::spawn(greenrt::current).join().unwrap(),
        )
    });
    assert!(id > 0);
    assert_eq!(name.as_deref(), Some("worker-7"));
    assert!(outside.is_none());
}

#[test]
fn is_finished_turns_true_after_completion() {
    let rt = runtime(1);
    rt.block_on(|| {
        let h = greenrt::spawn!(greenrt::park);
        greenrt::yield_now();
        assert!(!h.is_finished());
        h.thread().unpark();
        while !h.is_finished() {
            greenrt::yield_now();
        }
        h.join().unwrap();
    });
}

rt_test!(procs_reports_the_runtime_setting);
fn procs_reports_the_runtime_setting(procs: usize) {
    {
        let rt = runtime(procs);
        assert_eq!(rt.procs(), procs);
        assert_eq!(rt.block_on(greenrt::procs), procs);
    }
}

#[test]
fn builder_rejects_bad_settings_with_the_accepted_range() {
    let e = greenrt::Runtime::builder().procs(0).build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let msg = e.to_string();
    assert!(msg.contains("procs") && msg.contains("1 to 1024"), "{msg}");
    let e = greenrt::Runtime::builder()
        .stack_size(100)
        .build()
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("stack_size") && msg.contains("16384"), "{msg}");
    for bad in [Duration::from_micros(99), Duration::from_secs(2)] {
        let e = greenrt::Runtime::builder()
            .time_slice(bad)
            .build()
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("time_slice") && msg.contains("100µs to 1s"),
            "{msg}"
        );
    }
}

// A finishing G queues the joiner it wakes behind the Gs already queued
// (`Placement::Last`), so joining many Gs in order waits once, not once per
// G: run next instead, the joiner would resume, find the next G still
// queued and park again, for every G. At procs 1 the order is exact; with
// more Ps other Ms take Gs too, so only the results are checked there.
rt_test!(joining_many_green_threads_in_order_parks_the_joiner_rarely);
fn joining_many_green_threads_in_order_parks_the_joiner_rarely(procs: usize) {
    let _w = Watchdog::new("fork-join parks", Duration::from_secs(30));
    let rt = runtime(procs);
    let n: u64 = 2_000;
    let before = rt.stats().parks;
    let sum = rt.block_on(move || {
        let handles: Vec<_> = (0..n).map(|i| greenrt::spawn(move || i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, n * (n - 1) / 2);
    let parks = rt.stats().parks - before;
    if procs == 1 {
        // One park for the first join (nothing had run yet), then every
        // other G has finished by the time the joiner runs again.
        assert!(parks <= 2, "the joiner parked {parks} times for {n} joins");
    }
}

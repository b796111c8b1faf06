//! `RuntimeStats`' cumulative counters move with the events they count.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, runtime, Watchdog};
use greenrt::sync::bounded;

/// Polls `cond` on the runtime's stats until it holds; the watchdog turns a
/// counter that never moves into a failure.
fn wait_for(rt: &greenrt::Runtime, what: &str, cond: impl Fn(&greenrt::RuntimeStats) -> bool) {
    let _dog = Watchdog::new(what, Duration::from_secs(20));
    while !cond(&rt.stats()) {
        std::thread::yield_now();
    }
}

fn spawned_counts_every_spawn(procs: usize) {
    let rt = runtime(procs);
    let before = rt.stats().spawned;
    rt.block_on(|| {
        let hs: Vec<_> = (0..100).map(|i| greenrt::spawn(move || i)).collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    // The 100 spawns plus the block_on green thread itself.
    assert_eq!(rt.stats().spawned - before, 101);
}
rt_test!(spawned_counts_every_spawn);

fn parks_count_blocked_green_threads(procs: usize) {
    let rt = runtime(procs);
    let before = rt.stats().parks;
    rt.block_on(|| {
        let (tx, rx) = bounded::<()>(0);
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let rx = rx.clone();
                greenrt::spawn(move || rx.recv().unwrap())
            })
            .collect();
        // Every receiver waits on a rendezvous channel: it parks, at least
        // once, before its message can arrive.
        for h in &hs {
            while h.thread().wait_reason() == greenrt::WaitReason::None {
                greenrt::yield_now();
            }
        }
        for _ in 0..20 {
            tx.send(()).unwrap();
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(rt.stats().parks - before >= 20, "{:?}", rt.stats());
}
rt_test!(parks_count_blocked_green_threads);

fn preemptions_count_honoured_requests(procs: usize) {
    let rt = greenrt::Runtime::builder()
        .procs(procs)
        .time_slice(Duration::from_millis(1))
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..procs)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    greenrt::coop::checkpoint();
                }
            })
        })
        .collect();
    wait_for(&rt, "a preemption is counted", |s| s.preemptions > 0);
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
}
rt_test!(preemptions_count_honoured_requests);

fn syscall_handoffs_count_retaken_processors(procs: usize) {
    let rt = runtime(procs);
    // One green thread per P blocks in a wrapped sleep while others are
    // runnable, so sysmon hands its P away.
    let sleepers: Vec<_> = (0..procs)
        .map(|_| rt.spawn(|| greenrt::syscall(|| std::thread::sleep(Duration::from_millis(50)))))
        .collect();
    let busy = common::Yielders::start(&rt, procs);
    for h in sleepers {
        h.join().unwrap();
    }
    busy.stop();
    assert!(rt.stats().syscall_handoffs > 0, "{:?}", rt.stats());
}
rt_test!(syscall_handoffs_count_retaken_processors);

fn netpoll_wakeups_count_socket_readiness(procs: usize) {
    use std::io::{Read, Write};
    let rt = runtime(procs);
    let before = rt.stats().netpoll_wakeups;
    rt.block_on(|| {
        let listener = greenrt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = greenrt::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1];
            s.read_exact(&mut buf).unwrap();
            buf[0]
        });
        let mut c = greenrt::net::TcpStream::connect(addr).unwrap();
        // The reader parks on its socket before the byte is written.
        while reader.thread().wait_reason() != greenrt::WaitReason::NetRead {
            greenrt::yield_now();
        }
        c.write_all(&[7]).unwrap();
        assert_eq!(reader.join().unwrap(), 7);
    });
    assert!(rt.stats().netpoll_wakeups > before, "{:?}", rt.stats());
}
rt_test!(netpoll_wakeups_count_socket_readiness);

#[test]
fn steals_happen_when_one_processor_spawns_all_the_work() {
    let rt = runtime(2);
    let before = rt.stats().steals;
    rt.block_on(|| {
        // All these go onto this P's queue; the idle P's M can only get
        // them by stealing. Each one spins briefly so the queue stays long.
        let hs: Vec<_> = (0..200)
            .map(|_| {
                greenrt::spawn(|| {
                    let t = std::time::Instant::now();
                    while t.elapsed() < Duration::from_micros(200) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(rt.stats().steals > before, "{:?}", rt.stats());
}

#[test]
fn busy_time_grows_with_work_and_not_while_idle() {
    let rt = runtime(2);
    rt.block_on(|| {
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(20) {
            greenrt::coop::checkpoint();
        }
    });
    let total = |s: &greenrt::RuntimeStats| s.busy.iter().sum::<Duration>();
    let s = rt.stats();
    assert_eq!(s.busy.len(), 2);
    assert!(total(&s) >= Duration::from_millis(20), "{s:?}");
    // Idle now: wait until every P is back in the idle list, then the
    // busy total stops growing.
    wait_for(&rt, "every processor goes idle", |s| s.idle_procs == 2);
    let idle = total(&rt.stats());
    let cpu = common::process_cpu_time();
    while common::process_cpu_time() < cpu + Duration::from_millis(5) {
        std::hint::spin_loop(); // let time pass on this OS thread, not the runtime
    }
    assert_eq!(total(&rt.stats()), idle, "busy time grew while idle");
}

fn wrapped_and_unwrapped_blocking_calls_are_counted_apart(procs: usize) {
    let rt = common::runtime_without_hog_report(procs);
    let busy = common::Yielders::start(&rt, procs);
    // Unwrapped first: with yielding green threads queued on every P, a
    // sleeping thread's P is retaken as a blocking call, not a syscall.
    let unwrapped: Vec<_> = (0..procs)
        .map(|_| rt.spawn(|| std::thread::sleep(Duration::from_millis(50))))
        .collect();
    for h in unwrapped {
        h.join().unwrap();
    }
    let after_unwrapped = rt.stats();
    assert!(
        after_unwrapped.blocking_call_handoffs > 0,
        "{after_unwrapped:?}"
    );
    assert_eq!(after_unwrapped.syscall_handoffs, 0, "{after_unwrapped:?}");
    let wrapped: Vec<_> = (0..procs)
        .map(|_| rt.spawn(|| greenrt::syscall(|| std::thread::sleep(Duration::from_millis(50)))))
        .collect();
    for h in wrapped {
        h.join().unwrap();
    }
    busy.stop();
    let s = rt.stats();
    assert!(s.syscall_handoffs > 0, "{s:?}");
}
rt_test!(wrapped_and_unwrapped_blocking_calls_are_counted_apart);

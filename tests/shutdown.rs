//! Dropping a runtime: Ms stop, unfinished Gs are unwound, joins return Err.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, runtime, until_parked, until_parked_from_os_thread, Watchdog, PROCS};
use greenrt::WaitReason;

struct CountsDrops(Arc<AtomicUsize>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The message a join of a cancelled G returns.
fn assert_cancelled(err: Box<dyn std::any::Any + Send>) {
    let msg = err
        .downcast_ref::<String>()
        .expect("a cancellation message");
    assert!(msg.contains("cancelled"), "{msg}");
}

rt_test!(values_owned_by_parked_green_threads_are_dropped_at_shutdown);
fn values_owned_by_parked_green_threads_are_dropped_at_shutdown(procs: usize) {
    {
        let _w = Watchdog::new("shutdown", Duration::from_secs(30));
        let drops = Arc::new(AtomicUsize::new(0));
        let rt = runtime(procs);
        let d = drops.clone();
        let handles = rt.block_on(move || {
            let mut parked = Vec::new();
            let mut asleep = Vec::new();
            for _ in 0..50 {
                // Parked forever (nobody unparks them).
                let guard = CountsDrops(d.clone());
                parked.push(greenrt::spawn!(move || {
                    let _g = guard;
                    loop {
                        greenrt::park();
                    }
                }));
                // Asleep for an hour.
                let guard = CountsDrops(d.clone());
                asleep.push(greenrt::spawn!(move || {
                    let _g = guard;
                    greenrt::sleep(Duration::from_secs(3600));
                }));
            }
            until_parked(&parked, WaitReason::Park);
            until_parked(&asleep, WaitReason::Sleep);
            parked.into_iter().chain(asleep).collect::<Vec<_>>()
        });
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        // Probably never started: its closure (and the guard it owns) is
        // dropped at shutdown if it did not run before.
        let guard = CountsDrops(drops.clone());
        let never_ran = rt.spawn(move || {
            let _g = guard;
        });
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), 101, "procs = {procs}");
        for h in handles {
            assert_cancelled(h.join().expect_err("cancelled G reports Err"));
        }
        // An M may or may not have run it before the drop: it either
        // finished (Ok) or was cancelled unstarted (Err saying so); its
        // guard was dropped exactly once either way (the 101 above).
        if let Err(err) = never_ran.join() {
            assert_cancelled(err);
        }
    }
}

#[test]
fn join_from_os_thread_is_released_by_shutdown() {
    let _w = Watchdog::new("join released", Duration::from_secs(30));
    let rt = runtime(2);
    let h = rt.spawn(|| loop {
        greenrt::park();
    });
    until_parked_from_os_thread(std::slice::from_ref(&h), WaitReason::Park);
    let joiner = std::thread::spawn(move || h.join());
    drop(rt);
    assert_cancelled(
        joiner
            .join()
            .unwrap()
            .expect_err("the parked G was cancelled"),
    );
}

#[test]
fn destructors_that_use_the_runtime_during_shutdown_do_not_hang() {
    struct ParksOnDrop;
    impl Drop for ParksOnDrop {
        fn drop(&mut self) {
            // Runtime calls from a destructor during cancellation keep
            // unwinding instead of blocking the dropping thread.
            greenrt::yield_now();
            greenrt::spawn(|| ());
        }
    }
    let _w = Watchdog::new("destructor", Duration::from_secs(30));
    let rt = runtime(1);
    let h = rt.spawn(|| {
        let _p = ParksOnDrop;
        greenrt::sleep(Duration::from_secs(3600));
    });
    until_parked_from_os_thread(std::slice::from_ref(&h), WaitReason::Sleep);
    drop(rt);
    assert!(h.join().is_err());
}

#[test]
fn runtime_threads_exit_on_drop() {
    let rt = runtime(4);
    rt.block_on(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| greenrt::spawn!(greenrt::yield_now))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    drop(rt); // joins every M: returning at all is the assertion
}

/// Shutdown must reach every M, including one that is about to become the
/// netpoller just as the runtime stops: a wake consumed by another poller
/// must not leave it sleeping in `epoll_wait` forever (the drop would
/// hang joining it). Many short-lived runtimes whose Ms go idle over
/// timers make that window likely.
#[test]
fn dropping_runtimes_whose_machines_are_going_idle_never_hangs() {
    let _w = Watchdog::new("shutdown of idle machines", Duration::from_secs(60));
    for round in 0..common::stress(200) {
        let procs = PROCS[round % PROCS.len()];
        let rt = runtime(procs);
        rt.block_on(move || {
            let hs: Vec<_> = (0..procs * 2)
                .map(|i| {
                    greenrt::spawn(move || greenrt::sleep(Duration::from_micros(50 * i as u64)))
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        drop(rt);
    }
}

rt_test!(sleeps_end_while_the_only_other_machine_polls);
/// A timer added while an M is deciding to block in the netpoller must
/// bound that M's sleep: otherwise the sleeping G is not woken until some
/// unrelated event, and here nothing else would happen.
fn sleeps_end_while_the_only_other_machine_polls(procs: usize) {
    let _w = Watchdog::new("timers vs the blocking poller", Duration::from_secs(60));
    {
        let rt = runtime(procs);
        rt.block_on(move || {
            for _ in 0..common::stress(300) {
                let hs: Vec<_> = (0..procs)
                    .map(|i| {
                        greenrt::spawn(move || {
                            greenrt::sleep(Duration::from_micros(20 + 30 * i as u64))
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
        });
    }
}

/// A G spawned by a destructor while the runtime cancels its Gs never runs
/// (no M is left to run it); its join must still return, with the
/// cancellation message, rather than wait forever.
#[test]
fn join_of_a_green_thread_spawned_during_shutdown_returns() {
    struct SpawnsOnDrop(std::sync::mpsc::Sender<greenrt::JoinHandle<()>>);
    impl Drop for SpawnsOnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(greenrt::spawn(|| ()));
        }
    }
    let _w = Watchdog::new(
        "join of a G spawned during shutdown",
        Duration::from_secs(30),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let rt = runtime(1);
    let h = rt.spawn(move || {
        let _s = SpawnsOnDrop(tx);
        greenrt::sleep(Duration::from_secs(3600));
    });
    until_parked_from_os_thread(std::slice::from_ref(&h), WaitReason::Sleep);
    drop(rt);
    assert_cancelled(h.join().expect_err("the sleeping G was cancelled"));
    let late = rx.recv().expect("the destructor ran and spawned");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(late.join()));
    match done_rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Err(err)) => assert_cancelled(err),
        Ok(Ok(())) => panic!("a G spawned during shutdown ran after the Ms stopped"),
        Err(_) => panic!("join of a G spawned during shutdown did not return"),
    }
}

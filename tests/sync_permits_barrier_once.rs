//! Owned and multi-permit `Semaphore` acquisition, `Barrier` and `OnceLock`
//! (issue 18, items 9 and 10), at procs 1, 2 and 4.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, runtime, stress, until_parked, until_parked_from_os_thread, Watchdog};
use greenrt::sync::{bounded, Barrier, OnceLock, Semaphore};
use greenrt::WaitReason;

const LIMIT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------ permits

rt_test!(owned_permit_moves_into_a_spawned_green_thread);
/// The permit is taken by the spawning G and held by the spawned one until
/// it drops it: while the holder is parked, a third G waits for the permit.
fn owned_permit_moves_into_a_spawned_green_thread(procs: usize) {
    let _w = Watchdog::new("owned_permit", LIMIT);
    runtime(procs).block_on(|| {
        let sem = Arc::new(Semaphore::new(1));
        let permit = sem.clone().acquire_owned();
        assert_eq!(permit.num_permits(), 1);
        let (release_tx, release_rx) = bounded::<()>(0);
        let holder = greenrt::spawn(move || {
            release_rx.recv().unwrap();
            drop(permit);
        });
        let waiter = {
            let sem = sem.clone();
            greenrt::spawn(move || sem.acquire_owned().num_permits())
        };
        until_parked(std::slice::from_ref(&waiter), WaitReason::Semaphore);
        assert_eq!(sem.available_permits(), 0, "the moved permit is held");
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(waiter.join().unwrap(), 1);
        assert_eq!(sem.available_permits(), 1, "every permit came back");
    });
}

rt_test!(owned_permits_bound_spawned_green_threads);
/// A spawner takes an owned permit per task and moves it in: at most
/// `LIMIT` tasks ever run at once, and every permit comes back.
fn owned_permits_bound_spawned_green_threads(procs: usize) {
    const MAX: usize = 3;
    let _w = Watchdog::new("owned_permits_bound", LIMIT);
    let tasks = stress(64);
    runtime(procs).block_on(move || {
        let sem = Arc::new(Semaphore::new(MAX));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let permit = sem.clone().acquire_owned();
                let (running, peak) = (running.clone(), peak.clone());
                greenrt::spawn(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    greenrt::yield_now();
                    running.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert!(
            peak.load(Ordering::SeqCst) <= MAX,
            "more tasks than permits"
        );
        assert_eq!(sem.available_permits(), MAX);
    });
}

rt_test!(acquire_many_is_served_in_arrival_order);
/// A waiter for 3 permits at the head collects released permits; a waiter
/// for 1 behind it waits even while one permit has been released.
fn acquire_many_is_served_in_arrival_order(procs: usize) {
    let _w = Watchdog::new("acquire_many_fifo", LIMIT);
    runtime(procs).block_on(|| {
        let sem = Arc::new(Semaphore::new(0));
        let (got_tx, got_rx) = bounded::<usize>(1);
        let (release_tx, release_rx) = bounded::<()>(0);
        let big = {
            let sem = sem.clone();
            greenrt::spawn(move || {
                let p = sem.acquire_many(3);
                got_tx.send(p.num_permits()).unwrap();
                release_rx.recv().unwrap();
            })
        };
        until_parked(std::slice::from_ref(&big), WaitReason::Semaphore);
        let small = {
            let sem = sem.clone();
            greenrt::spawn(move || sem.acquire().num_permits())
        };
        until_parked(std::slice::from_ref(&small), WaitReason::Semaphore);

        sem.add_permits(1);
        assert_eq!(sem.available_permits(), 0, "the head keeps what it got");
        assert!(sem.try_acquire().is_none());
        assert_eq!(small.thread().wait_reason(), WaitReason::Semaphore);

        sem.add_permits(2);
        assert_eq!(got_rx.recv().unwrap(), 3);
        assert_eq!(small.thread().wait_reason(), WaitReason::Semaphore);
        assert_eq!(sem.available_permits(), 0);

        release_tx.send(()).unwrap();
        big.join().unwrap();
        assert_eq!(small.join().unwrap(), 1);
        assert_eq!(sem.available_permits(), 3, "no permit lost");
        assert_eq!(sem.try_acquire_many(3).map(|p| p.num_permits()), Some(3));
        assert!(sem.try_acquire_many(4).is_none());
        assert_eq!(sem.acquire_many(0).num_permits(), 0);
    });
}

rt_test!(acquire_many_under_contention_loses_no_permit);
/// Gs taking 1 to 4 of 4 permits in a loop never hold more than 4
/// together, and all 4 are back at the end.
fn acquire_many_under_contention_loses_no_permit(procs: usize) {
    const PERMITS: usize = 4;
    let _w = Watchdog::new("acquire_many_contention", LIMIT);
    let rounds = stress(200);
    runtime(procs).block_on(move || {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let held = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|g| {
                let (sem, held) = (sem.clone(), held.clone());
                greenrt::spawn(move || {
                    for r in 0..rounds {
                        let n = 1 + (g + r) % PERMITS;
                        let p = if r % 2 == 0 {
                            sem.acquire_many(n)
                        } else {
                            match sem.try_acquire_many(n) {
                                Some(p) => p,
                                None => sem.acquire_many(n),
                            }
                        };
                        let now = held.fetch_add(n, Ordering::SeqCst) + n;
                        assert!(now <= PERMITS, "{now} permits held of {PERMITS}");
                        greenrt::yield_now();
                        held.fetch_sub(n, Ordering::SeqCst);
                        drop(p);
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), PERMITS);
    });
}

/// A waiter for several permits that holds some of them when its green
/// thread is unwound (runtime dropped) gives them back.
#[test]
fn acquire_many_waiter_unwound_returns_the_permits_it_collected() {
    let _w = Watchdog::new("acquire_many_unwound", LIMIT);
    let sem = Arc::new(Semaphore::new(0));
    let rt = runtime(2);
    let waiter = {
        let sem = sem.clone();
        rt.spawn(move || sem.acquire_many(3).forget())
    };
    until_parked_from_os_thread(std::slice::from_ref(&waiter), WaitReason::Semaphore);
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 0, "collected by the waiter");
    drop(rt);
    assert!(waiter.join().is_err());
    assert_eq!(
        sem.available_permits(),
        2,
        "the collected permits came back"
    );
}

// ------------------------------------------------------------------ Barrier

rt_test!(barrier_of_16_has_one_leader_per_generation);
/// 16 Gs meet at a barrier round after round: nobody leaves a round before
/// all 16 arrived, and each round has exactly one leader.
fn barrier_of_16_has_one_leader_per_generation(procs: usize) {
    const PARTIES: usize = 16;
    let _w = Watchdog::new("barrier_16", LIMIT);
    let rounds = stress(20);
    runtime(procs).block_on(move || {
        let barrier = Arc::new(Barrier::new(PARTIES));
        let arrived: Arc<Vec<AtomicUsize>> =
            Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
        let leaders: Arc<Vec<AtomicUsize>> =
            Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
        let handles: Vec<_> = (0..PARTIES)
            .map(|_| {
                let (barrier, arrived, leaders) =
                    (barrier.clone(), arrived.clone(), leaders.clone());
                greenrt::spawn(move || {
                    for r in 0..rounds {
                        arrived[r].fetch_add(1, Ordering::SeqCst);
                        let result = barrier.wait();
                        assert_eq!(
                            arrived[r].load(Ordering::SeqCst),
                            PARTIES,
                            "left round {r} before everyone arrived"
                        );
                        if result.is_leader() {
                            leaders[r].fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        for (r, l) in leaders.iter().enumerate() {
            assert_eq!(l.load(Ordering::SeqCst), 1, "leaders in round {r}");
        }
    });
}

rt_test!(barrier_parks_the_early_parties);
/// The first 15 parties park (reason `Barrier`) until the 16th arrives;
/// the 16th, the last, is the leader.
fn barrier_parks_the_early_parties(procs: usize) {
    let _w = Watchdog::new("barrier_parks", LIMIT);
    runtime(procs).block_on(|| {
        let barrier = Arc::new(Barrier::new(16));
        let early: Vec<_> = (0..15)
            .map(|_| {
                let barrier = barrier.clone();
                greenrt::spawn(move || barrier.wait().is_leader())
            })
            .collect();
        until_parked(&early, WaitReason::Barrier);
        assert!(barrier.wait().is_leader(), "the last arrival leads");
        for h in early {
            assert!(!h.join().unwrap());
        }
        // Reusable, and a barrier of 1 (or 0) never waits.
        assert!(Barrier::new(1).wait().is_leader());
        assert!(Barrier::new(0).wait().is_leader());
    });
}

// ----------------------------------------------------------------- OnceLock

rt_test!(once_lock_initialises_once_and_parks_the_waiters);
/// Many Gs call `get_or_init` while one initialiser is parked inside its
/// closure: the others park (reason `OnceLock`), the closure runs once,
/// and all see its value.
fn once_lock_initialises_once_and_parks_the_waiters(procs: usize) {
    let _w = Watchdog::new("once_lock_once", LIMIT);
    let waiters_n = stress(32);
    runtime(procs).block_on(move || {
        let cell = Arc::new(OnceLock::<usize>::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = bounded::<()>(0);
        let (go_tx, go_rx) = bounded::<()>(0);
        let first = {
            let (cell, inits) = (cell.clone(), inits.clone());
            greenrt::spawn(move || {
                *cell.get_or_init(|| {
                    inits.fetch_add(1, Ordering::SeqCst);
                    started_tx.send(()).unwrap();
                    go_rx.recv().unwrap(); // parks inside the initialiser
                    42
                })
            })
        };
        started_rx.recv().unwrap();
        let waiters: Vec<_> = (0..waiters_n)
            .map(|_| {
                let (cell, inits) = (cell.clone(), inits.clone());
                greenrt::spawn(move || {
                    *cell.get_or_init(|| {
                        inits.fetch_add(1, Ordering::SeqCst);
                        0
                    })
                })
            })
            .collect();
        until_parked(&waiters, WaitReason::OnceLock);
        assert!(cell.get().is_none());
        go_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap(), 42);
        for h in waiters {
            assert_eq!(h.join().unwrap(), 42);
        }
        assert_eq!(
            inits.load(Ordering::SeqCst),
            1,
            "initialised more than once"
        );
        assert_eq!(cell.get(), Some(&42));
        assert_eq!(cell.set(7), Err(7));
    });
}

rt_test!(once_lock_panicking_initialiser_lets_the_next_caller_try);
/// The initialiser panics while others wait: the panic reaches its caller,
/// the cell stays empty, and exactly one waiter initialises it instead.
fn once_lock_panicking_initialiser_lets_the_next_caller_try(procs: usize) {
    let _w = Watchdog::new("once_lock_panic", LIMIT);
    runtime(procs).block_on(|| {
        let cell = Arc::new(OnceLock::<usize>::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = bounded::<()>(0);
        let (go_tx, go_rx) = bounded::<()>(0);
        let panicker = {
            let cell = cell.clone();
            greenrt::spawn(move || {
                *cell.get_or_init(|| {
                    started_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    panic!("initialiser fails");
                })
            })
        };
        started_rx.recv().unwrap();
        let waiters: Vec<_> = (0..8)
            .map(|i| {
                let (cell, inits) = (cell.clone(), inits.clone());
                greenrt::spawn(move || {
                    *cell.get_or_init(|| {
                        inits.fetch_add(1, Ordering::SeqCst);
                        100 + i
                    })
                })
            })
            .collect();
        until_parked(&waiters, WaitReason::OnceLock);
        go_tx.send(()).unwrap();
        assert!(panicker.join().is_err(), "the panic reaches its caller");
        let values: Vec<usize> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(inits.load(Ordering::SeqCst), 1, "one retry initialised it");
        assert!(values.iter().all(|&v| v == values[0]), "{values:?}");
        assert_eq!(cell.get(), Some(&values[0]));
    });
}

/// An OS thread initialises while a G waits (parked, not blocking its M),
/// and an OS thread waits while a G initialises.
#[test]
fn once_lock_between_os_threads_and_green_threads() {
    let _w = Watchdog::new("once_lock_os", LIMIT);
    let rt = runtime(1);
    // OS thread initialises; a G waits.
    let cell = Arc::new(OnceLock::<&'static str>::new());
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let init = {
        let cell = cell.clone();
        std::thread::spawn(move || {
            *cell.get_or_init(|| {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                "os"
            })
        })
    };
    started_rx.recv().unwrap();
    let waiter = {
        let cell = cell.clone();
        rt.spawn(move || *cell.get_or_init(|| "green"))
    };
    until_parked_from_os_thread(std::slice::from_ref(&waiter), WaitReason::OnceLock);
    // Its M is free: another G on the same single P still runs.
    let ran = Arc::new(AtomicBool::new(false));
    {
        let ran = ran.clone();
        rt.block_on(move || ran.store(true, Ordering::SeqCst));
    }
    assert!(ran.load(Ordering::SeqCst));
    go_tx.send(()).unwrap();
    assert_eq!(init.join().unwrap(), "os");
    assert_eq!(waiter.join().unwrap(), "os");

    // A G initialises; an OS thread waits (it blocks).
    let cell = Arc::new(OnceLock::<&'static str>::new());
    let (go_tx, go_rx) = bounded::<()>(0);
    let (started_tx, started_rx) = bounded::<()>(0);
    let init = {
        let cell = cell.clone();
        rt.spawn(move || {
            *cell.get_or_init(|| {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                "green"
            })
        })
    };
    started_rx.recv().unwrap();
    let os_waiter = {
        let cell = cell.clone();
        std::thread::spawn(move || *cell.get_or_init(|| "os"))
    };
    go_tx.send(()).unwrap();
    assert_eq!(init.join().unwrap(), "green");
    assert_eq!(os_waiter.join().unwrap(), "green");
}

#[test]
fn once_lock_std_api() {
    let mut cell = OnceLock::new();
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(String::from("a")), Ok(()));
    assert_eq!(cell.set(String::from("b")), Err(String::from("b")));
    cell.get_mut().unwrap().push('!');
    assert_eq!(cell.get().map(String::as_str), Some("a!"));
    assert_eq!(cell.take().as_deref(), Some("a!"));
    assert_eq!(cell.get(), None);
    assert_eq!(OnceLock::from(5).into_inner(), Some(5));
    assert_eq!(format!("{:?}", OnceLock::from(5)), "OnceLock(5)");
    // Dropping a full cell drops its value once.
    let value = Arc::new(());
    drop(OnceLock::from(value.clone()));
    assert_eq!(Arc::strong_count(&value), 1);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<OnceLock<String>>();
    send_sync::<Barrier>();
}

//! Mutex, RwLock, Condvar, WaitGroup, Semaphore: park green threads, work
//! from OS threads, and hand off fairly.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, until_parked, Watchdog};
use greenrt::sync::{
    bounded, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore,
    SemaphorePermit, WaitGroup,
};
use greenrt::WaitReason;

const LIMIT: Duration = Duration::from_secs(60);

rt_test!(
    mutex_16_green_threads_sum_exactly,
    procs_1 = 1,
    procs_2 = 2,
    procs_4 = 4
);
fn mutex_16_green_threads_sum_exactly(procs: usize) {
    let _w = Watchdog::new("mutex_sum", LIMIT);
    let per = stress(10_000);
    {
        let total = runtime(procs).block_on(move || {
            let m = Arc::new(Mutex::new(0usize));
            let hs: Vec<_> = (0..16)
                .map(|_| {
                    let m = m.clone();
                    greenrt::spawn(move || {
                        for _ in 0..per {
                            *m.lock() += 1;
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            let n = *m.lock();
            n
        });
        assert_eq!(total, 16 * per, "procs {procs}");
    }
}

/// Measures, for every acquisition, how many acquisitions by others
/// happened while the locker was waiting; holders yield inside the critical
/// section so that everybody queues. A barging lock lets the yielding
/// holder re-take the lock before the woken waiter runs, starving it; with
/// hand-off the wait is bounded by the number of contenders.
fn max_wait_in_handoffs(procs: usize, gs: usize, rounds: usize) -> usize {
    runtime(procs).block_on(move || {
        let m = Arc::new(Mutex::new(0usize));
        let hs: Vec<_> = (0..gs)
            .map(|_| {
                let m = m.clone();
                greenrt::spawn(move || {
                    let mut worst = 0;
                    for _ in 0..rounds {
                        let before = *m.lock();
                        let mut g = m.lock();
                        worst = worst.max(*g - before);
                        *g += 1;
                        greenrt::yield_now();
                        drop(g);
                    }
                    worst
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).max().unwrap()
    })
}

#[test]
fn mutex_no_green_thread_starves() {
    let _w = Watchdog::new("mutex_fairness", LIMIT);
    let rounds = stress(500);
    // One P: scheduling is deterministic up to the lock's policy. Each wait
    // lasts at most one hand-off per other contender (plus the holder).
    let worst = max_wait_in_handoffs(1, 16, rounds);
    assert!(worst <= 16, "a waiter saw {worst} acquisitions by others");
}

rt_test!(
    mutex_queued_waiter_bounded_hand_offs_across_processors,
    procs_2 = 2,
    procs_4 = 4
);
/// Across processors the statistical test above would also count time a
/// green thread spends on an M the OS has descheduled (outside the lock's
/// queue). So here every contender is parked in the queue first, then the
/// victim queues behind them: whatever the OS does to the Ms, the victim
/// gets the lock after exactly one acquisition per waiter ahead of it —
/// contenders that re-lock go behind it, nobody barges while it waits.
fn mutex_queued_waiter_bounded_hand_offs_across_processors(procs: usize) {
    let _w = Watchdog::new("mutex_fairness_mp", LIMIT);
    const CONTENDERS: usize = 15;
    let rounds = stress(10);
    {
        runtime(procs).block_on(move || {
            for _ in 0..rounds {
                let m = Arc::new(Mutex::new(0usize));
                let stop = Arc::new(AtomicBool::new(false));
                let held = m.lock();
                let contenders: Vec<_> = (0..CONTENDERS)
                    .map(|_| {
                        let (m, stop) = (m.clone(), stop.clone());
                        greenrt::spawn(move || {
                            while !stop.load(Ordering::SeqCst) {
                                let mut g = m.lock();
                                *g += 1;
                                greenrt::yield_now();
                                drop(g);
                            }
                        })
                    })
                    .collect();
                until_parked(&contenders, WaitReason::Mutex);
                let victim = {
                    let m = m.clone();
                    greenrt::spawn(move || *m.lock())
                };
                until_parked(std::slice::from_ref(&victim), WaitReason::Mutex);
                drop(held);
                let seen = victim.join().unwrap();
                stop.store(true, Ordering::SeqCst);
                contenders.into_iter().for_each(|h| h.join().unwrap());
                assert!(
                    seen <= CONTENDERS,
                    "procs {procs}: the victim waited for {seen} acquisitions"
                );
            }
        });
    }
}

/// A G holding the lock across a park (a channel receive) does not block
/// the other Gs of its P, even with one P.
#[test]
fn mutex_held_across_a_park_on_one_p() {
    let _w = Watchdog::new("mutex_across_park", LIMIT);
    runtime(1).block_on(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = bounded::<u32>(0);
        let holder = {
            let m = m.clone();
            greenrt::spawn(move || {
                let mut g = m.lock();
                g.push(rx.recv().unwrap()); // parks while holding the lock
            })
        };
        while holder.thread().wait_reason() != WaitReason::ChanRecv {
            greenrt::yield_now();
        }
        let waiter = {
            let m = m.clone();
            greenrt::spawn(move || m.lock().push(2))
        };
        while waiter.thread().wait_reason() != WaitReason::Mutex {
            greenrt::yield_now();
        }
        tx.send(1).unwrap();
        holder.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(*m.lock(), [1, 2]);
    });
}

#[test]
fn mutex_shared_by_os_threads_and_green_threads() {
    let _w = Watchdog::new("mutex_mixed", LIMIT);
    let per = stress(5_000);
    let rt = runtime(2);
    let m = Arc::new(Mutex::new(0usize));
    let gs: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            rt.spawn(move || (0..per).for_each(|_| *m.lock() += 1))
        })
        .collect();
    let os: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || (0..per).for_each(|_| *m.lock() += 1))
        })
        .collect();
    gs.into_iter().for_each(|h| h.join().unwrap());
    os.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(*m.lock(), 6 * per);
}

#[test]
fn mutex_api() {
    let mut m = Mutex::new(5);
    *m.get_mut() += 1;
    {
        let g = m.lock();
        assert!(m.try_lock().is_none() && m.is_locked());
        assert_eq!(format!("{m:?}"), "Mutex { data: <locked> }");
        assert_eq!(*g, 6);
    }
    assert_eq!(format!("{m:?}"), "Mutex { data: 6 }");
    assert_eq!(*m.try_lock().unwrap(), 6);
    assert_eq!(m.into_inner(), 6);
    assert_eq!(*Mutex::<u8>::default().lock(), 0);
    assert_eq!(Mutex::from(3).into_inner(), 3);
    static GLOBAL: Mutex<u32> = Mutex::new(1);
    *GLOBAL.lock() += 1;
    assert_eq!(*GLOBAL.lock(), 2);
}

rt_test!(rwlock_readers_share_writers_exclude);
fn rwlock_readers_share_writers_exclude(procs: usize) {
    let _w = Watchdog::new("rwlock", LIMIT);
    let per = stress(2_000);
    {
        runtime(procs).block_on(move || {
            let lock = Arc::new(RwLock::new((0usize, 0usize)));
            let readers_in = Arc::new(AtomicUsize::new(0));
            let max_readers = Arc::new(AtomicUsize::new(0));
            let mut hs = Vec::new();
            for _ in 0..4 {
                let lock = lock.clone();
                hs.push(greenrt::spawn(move || {
                    for _ in 0..per {
                        let mut g = lock.write();
                        g.0 += 1;
                        g.1 += 1; // both halves change together
                    }
                }));
            }
            for _ in 0..8 {
                let (lock, inside, max) = (lock.clone(), readers_in.clone(), max_readers.clone());
                hs.push(greenrt::spawn(move || {
                    for i in 0..per {
                        let g = lock.read();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        if i % 16 == 0 {
                            greenrt::yield_now(); // let other readers in
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                }));
            }
            hs.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(*lock.read(), (4 * per, 4 * per));
        });
    }
}

#[test]
fn rwlock_waiting_writer_is_not_starved_by_readers() {
    let _w = Watchdog::new("rwlock_writer", LIMIT);
    runtime(2).block_on(|| {
        let lock = Arc::new(RwLock::new(0));
        let first = lock.read();
        let writer = {
            let lock = lock.clone();
            greenrt::spawn(move || *lock.write() = 1)
        };
        while writer.thread().wait_reason() != WaitReason::RwLock {
            greenrt::yield_now();
        }
        // A queued writer stops new readers from overtaking it.
        assert!(lock.try_read().is_none());
        let late_reader = {
            let lock = lock.clone();
            greenrt::spawn(move || *lock.read())
        };
        drop(first);
        assert_eq!(late_reader.join().unwrap(), 1, "the writer went first");
        writer.join().unwrap();
    });
}

#[test]
fn rwlock_api_and_os_threads() {
    let mut l = RwLock::new(1);
    *l.get_mut() += 1;
    {
        let _r = l.read();
        assert!(l.try_write().is_none() && l.try_read().is_some());
        assert_eq!(format!("{l:?}"), "RwLock { data: 2 }");
    }
    {
        let _w = l.write();
        assert!(l.try_read().is_none());
        assert_eq!(format!("{l:?}"), "RwLock { data: <locked> }");
    }
    assert_eq!(l.into_inner(), 2);
    assert_eq!(RwLock::<u8>::default().into_inner(), 0);
    assert_eq!(RwLock::from(4).into_inner(), 4);

    let rt = runtime(2);
    let l = Arc::new(RwLock::new(0usize));
    let g = {
        let l = l.clone();
        rt.spawn(move || (0..1000).for_each(|_| *l.write() += 1))
    };
    let os = {
        let l = l.clone();
        std::thread::spawn(move || (0..1000).for_each(|_| *l.write() += 1))
    };
    g.join().unwrap();
    os.join().unwrap();
    assert_eq!(*l.read(), 2000);
}

rt_test!(condvar_notify_one_and_all);
fn condvar_notify_one_and_all(procs: usize) {
    let _w = Watchdog::new("condvar", LIMIT);
    {
        runtime(procs).block_on(|| {
            let state = Arc::new((Mutex::new(0u32), Condvar::new()));
            let waiters: Vec<_> = (0..6)
                .map(|_| {
                    let state = state.clone();
                    greenrt::spawn(move || {
                        let (m, cv) = &*state;
                        let g = cv.wait_while(m.lock(), |n| *n == 0);
                        *g
                    })
                })
                .collect();
            while !waiters
                .iter()
                .all(|h| h.thread().wait_reason() == WaitReason::Condvar)
            {
                greenrt::yield_now();
            }
            *state.0.lock() = 7;
            state.1.notify_all();
            for h in waiters {
                assert_eq!(h.join().unwrap(), 7);
            }

            // notify_one wakes exactly one per call (a token-passing loop).
            let (m, cv) = (Arc::new(Mutex::new(0usize)), Arc::new(Condvar::new()));
            let hs: Vec<_> = (0..4)
                .map(|k| {
                    let (m, cv) = (m.clone(), cv.clone());
                    greenrt::spawn(move || {
                        for round in 0..50 {
                            let mut g = cv.wait_while(m.lock(), |turn| *turn % 4 != k);
                            assert_eq!(*g, round * 4 + k);
                            *g += 1;
                            cv.notify_all();
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(*m.lock(), 200);
        });
    }
}

#[test]
fn condvar_timeouts() {
    runtime(1).block_on(|| {
        let m = Mutex::new(false);
        let cv = Condvar::new();
        let start = Instant::now();
        let (g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(10));
        assert!(r.timed_out() && !*g && start.elapsed() >= Duration::from_millis(10));
        drop(g);
        let (g, r) = cv.wait_timeout_while(m.lock(), Duration::from_millis(10), |done| !*done);
        assert!(r.timed_out() && !*g);
        drop(g);
        *m.lock() = true;
        let (_g, r) = cv.wait_timeout_while(m.lock(), Duration::from_secs(30), |done| !*done);
        assert!(!r.timed_out());
    });
}

#[test]
fn condvar_between_os_thread_and_green_thread() {
    let _w = Watchdog::new("condvar_mixed", LIMIT);
    let rt = runtime(2);
    let state = Arc::new((Mutex::new(None::<u32>), Condvar::new()));
    let g = {
        let state = state.clone();
        rt.spawn(move || {
            let (m, cv) = &*state;
            let g = cv.wait_while(m.lock(), |v| v.is_none());
            g.unwrap()
        })
    };
    *state.0.lock() = Some(3);
    state.1.notify_one();
    assert_eq!(g.join().unwrap(), 3);
    // And an OS thread waiting for a G.
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let s2 = state.clone();
    rt.spawn(move || {
        *s2.0.lock() = true;
        s2.1.notify_all();
    });
    let (m, cv) = &*state;
    let g = cv.wait_while(m.lock(), |done| !*done);
    assert!(*g);
}

rt_test!(wait_group_waits_for_all);
fn wait_group_waits_for_all(procs: usize) {
    let _w = Watchdog::new("wait_group", LIMIT);
    {
        runtime(procs).block_on(|| {
            let wg = Arc::new(WaitGroup::new());
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..32 {
                wg.add(1);
                let (wg, done) = (wg.clone(), done.clone());
                greenrt::spawn(move || {
                    greenrt::yield_now();
                    done.fetch_add(1, Ordering::SeqCst);
                    wg.done();
                });
            }
            // Several waiters, one of them an OS thread.
            let other = {
                let wg = wg.clone();
                greenrt::spawn(move || wg.wait())
            };
            let os = {
                let (wg, done) = (wg.clone(), done.clone());
                std::thread::spawn(move || {
                    wg.wait();
                    done.load(Ordering::SeqCst)
                })
            };
            wg.wait();
            assert_eq!(done.load(Ordering::SeqCst), 32);
            other.join().unwrap();
            assert_eq!(os.join().unwrap(), 32);
            assert_eq!(wg.count(), 0);
            wg.wait(); // zero: returns at once
        });
    }
}

#[test]
#[should_panic(expected = "negative counter")]
fn wait_group_negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

rt_test!(semaphore_bounds_concurrency);
fn semaphore_bounds_concurrency(procs: usize) {
    let _w = Watchdog::new("semaphore", LIMIT);
    let per = stress(300);
    {
        runtime(procs).block_on(move || {
            let sem = Arc::new(Semaphore::new(3));
            let inside = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..12)
                .map(|_| {
                    let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                    greenrt::spawn(move || {
                        for _ in 0..per {
                            let _permit = sem.acquire();
                            let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(n, Ordering::SeqCst);
                            greenrt::yield_now();
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            assert!(max.load(Ordering::SeqCst) <= 3);
            assert_eq!(sem.available_permits(), 3);
        });
    }
}

#[test]
fn semaphore_api_timeouts_and_os_threads() {
    let sem = Semaphore::new(1);
    let p = sem.try_acquire().unwrap();
    assert!(sem.try_acquire().is_none());
    let start = Instant::now();
    assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    assert!(start.elapsed() >= Duration::from_millis(10));
    p.forget();
    assert_eq!(sem.available_permits(), 0);
    sem.release();
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 3);
    assert!(format!("{sem:?}").contains("permits: 3"));

    // A G waits for a permit an OS thread returns, and the reverse.
    let rt = runtime(2);
    let sem = Arc::new(Semaphore::new(0));
    let g = {
        let sem = sem.clone();
        rt.spawn(move || sem.acquire().forget())
    };
    sem.release();
    g.join().unwrap();
    let s2 = sem.clone();
    rt.spawn(move || s2.release());
    sem.acquire().forget();
    assert_eq!(sem.available_permits(), 0);
}

#[test]
fn semaphore_hands_permits_out_in_arrival_order() {
    let _w = Watchdog::new("semaphore_fifo", LIMIT);
    runtime(1).block_on(|| {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let (sem, order) = (sem.clone(), order.clone());
                let h = greenrt::spawn(move || {
                    sem.acquire().forget();
                    order.lock().push(i);
                });
                // Queue the waiters one by one, in order.
                while h.thread().wait_reason() != WaitReason::Semaphore {
                    greenrt::yield_now();
                }
                h
            })
            .collect();
        // A waiter is queued: a newcomer may not overtake it.
        sem.add_permits(1);
        assert!(sem.try_acquire().is_none());
        // One permit at a time: it must go to the head of the queue, so
        // waiter i is the one that finishes. (Granting all at once would
        // test run order instead: the last G woken runs first, from
        // `runnext`, as in Go.)
        let mut hs = hs.into_iter();
        hs.next().unwrap().join().unwrap();
        assert_eq!(*order.lock(), [0]);
        for i in 1..5 {
            sem.add_permits(1);
            hs.next().unwrap().join().unwrap();
            assert_eq!(*order.lock(), (0..=i).collect::<Vec<_>>());
        }
    });
}

#[test]
fn lock_types_are_send_and_sync_like_std() {
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<RwLock<Vec<u8>>>();
    send_sync::<Condvar>();
    send_sync::<WaitGroup>();
    send_sync::<Semaphore>();
    send_sync::<SemaphorePermit<'static>>();
    sync::<MutexGuard<'static, Vec<u8>>>();
    sync::<RwLockReadGuard<'static, Vec<u8>>>();
    sync::<RwLockWriteGuard<'static, Vec<u8>>>();
    // Unlike std's, a Mutex guard may move with its green thread.
    fn send<T: Send>() {}
    send::<MutexGuard<'static, Vec<u8>>>();
}

/// Green threads unwound while parked (the runtime is dropped under them)
/// leave every queue: the lock and the permit they were waiting for are not
/// handed to a thread that is gone.
#[test]
fn green_threads_unwound_at_shutdown_leave_the_queues() {
    let _w = Watchdog::new("unwound_waiters", LIMIT);
    let m = Arc::new(Mutex::new(0));
    let sem = Arc::new(Semaphore::new(0));
    let (tx, rx) = bounded::<u32>(0);
    let held = m.lock();
    let rt = runtime(2);
    let locker = {
        let m = m.clone();
        rt.spawn(move || *m.lock() += 1)
    };
    let acquirer = {
        let sem = sem.clone();
        rt.spawn(move || sem.acquire().forget())
    };
    let receiver = rt.spawn(move || rx.recv());
    until_parked(std::slice::from_ref(&locker), WaitReason::Mutex);
    until_parked(std::slice::from_ref(&acquirer), WaitReason::Semaphore);
    until_parked(std::slice::from_ref(&receiver), WaitReason::ChanRecv);
    drop(rt);
    assert!(locker.join().is_err() && acquirer.join().is_err());
    assert!(receiver.join().is_err());
    drop(held);
    assert!(
        m.try_lock().is_some(),
        "the lock went to a cancelled waiter"
    );
    sem.release();
    assert!(
        sem.try_acquire().is_some(),
        "the permit went to a cancelled waiter"
    );
    // The cancelled receiver dropped its `Receiver`: the channel is closed.
    assert!(tx.try_send(1).unwrap_err().is_disconnected());
}

/// Readers and writers unwound while queued on an `RwLock` (the runtime is
/// dropped under them) leave the queue and clear its `QUEUED` mark: the
/// lock is entirely free once its holder releases it.
#[test]
fn rwlock_waiters_unwound_at_shutdown_leave_the_queue() {
    let _w = Watchdog::new("unwound_rwlock_waiters", LIMIT);
    let lock = Arc::new(RwLock::new(0));
    let held = lock.write();
    let rt = runtime(2);
    let waiters: Vec<_> = (0..4)
        .map(|i| {
            let lock = lock.clone();
            rt.spawn(move || {
                if i % 2 == 0 {
                    *lock.write() += 1;
                } else {
                    let _ = *lock.read();
                }
            })
        })
        .collect();
    until_parked(&waiters, WaitReason::RwLock);
    drop(rt);
    for w in waiters {
        assert!(w.join().is_err(), "a waiter ran after shutdown");
    }
    drop(held);
    assert!(
        lock.try_write().is_some(),
        "the lock went to a cancelled waiter, or still counts one"
    );
    assert_eq!(*lock.read(), 0);
}

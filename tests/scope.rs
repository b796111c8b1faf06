//! `greenrt::scope`: scoped green threads borrow from the caller's stack,
//! are all finished before `scope` returns, and a panic among them is
//! raised after all have finished — from a green thread (which parks) and
//! from a plain OS thread (which blocks), at procs 1, 2 and 4.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};

/// Each scoped green thread scales its own chunk of a borrowed `Vec`,
/// parking in between so that they interleave.
fn scale_chunks(data: &mut [u64], chunk: usize) {
    greenrt::scope(|s| {
        for part in data.chunks_mut(chunk) {
            s.spawn(move || {
                for x in part.iter_mut() {
                    *x *= 3;
                    greenrt::yield_now();
                }
            });
        }
    });
}

fn expected(n: u64) -> Vec<u64> {
    (0..n).map(|i| i * 3).collect()
}

fn borrows_a_vec_mutably_from_a_green_thread(procs: usize) {
    let _w = Watchdog::new("scope from a G", Duration::from_secs(60));
    let rt = runtime(procs);
    let n = stress(200) as u64;
    let ok = rt.block_on(move || {
        let mut data: Vec<u64> = (0..n).collect();
        scale_chunks(&mut data, 7);
        data == expected(n)
    });
    assert!(ok);
}
rt_test!(borrows_a_vec_mutably_from_a_green_thread);

#[test]
fn borrows_a_vec_mutably_from_an_os_thread() {
    let _w = Watchdog::new("scope from an OS thread", Duration::from_secs(60));
    let n = stress(200) as u64;
    let mut data: Vec<u64> = (0..n).collect();
    scale_chunks(&mut data, 5);
    assert_eq!(data, expected(n));
}

/// One scoped green thread panics while the others are still parked: the
/// scope waits for every one of them (each finishes its chunk) and only
/// then panics.
fn a_panic_is_raised_after_all_finished(procs: usize, from_green: bool) {
    let body = move || {
        let finished = AtomicUsize::new(0);
        let mut data = vec![1u64; 64];
        let (release_tx, release_rx) = greenrt::sync::unbounded::<()>();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            greenrt::scope(|s| {
                for (i, part) in data.chunks_mut(8).enumerate() {
                    let finished = &finished;
                    let release = release_rx.clone();
                    s.spawn(move || {
                        if i == 3 {
                            panic!("chunk 3 fails on purpose");
                        }
                        // Still running after the panic: the scope must wait.
                        release.recv().unwrap();
                        part.iter_mut().for_each(|x| *x = 2);
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
                for _ in 0..7 {
                    release_tx.send(()).unwrap();
                }
            })
        }));
        let msg = outcome.expect_err("the scope re-raises the panic");
        let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
        assert_eq!(msg, "a scoped green thread panicked");
        assert_eq!(finished.load(Ordering::SeqCst), 7, "all others finished");
        let twos = data.iter().filter(|&&x| x == 2).count();
        assert_eq!(twos, 56, "every surviving chunk was written");
    };
    if from_green {
        runtime(procs).block_on(body);
    } else {
        body();
    }
}

fn panic_from_a_green_thread(procs: usize) {
    let _w = Watchdog::new("scope panic from a G", Duration::from_secs(60));
    a_panic_is_raised_after_all_finished(procs, true);
}
rt_test!(panic_from_a_green_thread);

#[test]
fn panic_from_an_os_thread() {
    let _w = Watchdog::new("scope panic from an OS thread", Duration::from_secs(60));
    a_panic_is_raised_after_all_finished(0, false);
}

/// `ScopedJoinHandle::join` inside the scope returns values (which may
/// borrow from the caller) and panics as `Err`; a joined panic is handled
/// and not raised again by the scope.
fn join_inside_the_scope(procs: usize) {
    let _w = Watchdog::new("scoped join", Duration::from_secs(60));
    runtime(procs).block_on(|| {
        let words = ["alpha".to_string(), "beta".to_string()];
        let total = greenrt::scope(|s| {
            let firsts: Vec<_> = words.iter().map(|w| s.spawn(move || &w[..1])).collect();
            let failing = s.spawn(|| -> usize { panic!("joined on purpose") });
            let err = failing.join().expect_err("the panic arrives as Err");
            assert_eq!(err.downcast_ref::<&str>(), Some(&"joined on purpose"));
            let firsts: Vec<&str> = firsts.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(firsts, ["a", "b"]);
            words.len()
        });
        assert_eq!(total, 2);
    });
}
rt_test!(join_inside_the_scope);

/// Scoped green threads spawn more scoped green threads (through the same
/// `&Scope`) and open scopes of their own; everything is done when the
/// outer scope returns.
fn nested_spawns_and_scopes(procs: usize) {
    let _w = Watchdog::new("nested scopes", Duration::from_secs(60));
    runtime(procs).block_on(|| {
        let count = AtomicUsize::new(0);
        let mut cells = vec![0u32; 8];
        greenrt::scope(|s| {
            for cell in cells.iter_mut() {
                let count = &count;
                s.spawn(move || {
                    s.spawn(move || {
                        greenrt::yield_now();
                        count.fetch_add(1, Ordering::SeqCst);
                    });
                    greenrt::scope(|inner| {
                        inner.spawn(|| {
                            greenrt::yield_now();
                            *cell += 1;
                        });
                    });
                    *cell += 1;
                });
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 8);
        assert!(cells.iter().all(|&c| c == 2), "{cells:?}");
    });
}
rt_test!(nested_spawns_and_scopes);

/// A panic in the scope's own closure is resumed (with its payload) after
/// the scoped green threads have finished.
#[test]
fn a_panic_of_the_closure_waits_for_its_green_threads() {
    let _w = Watchdog::new("closure panic", Duration::from_secs(60));
    let finished = AtomicUsize::new(0);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        greenrt::scope(|s| {
            s.spawn(|| {
                for _ in 0..100 {
                    greenrt::yield_now();
                }
                finished.fetch_add(1, Ordering::SeqCst);
            });
            panic!("the closure fails");
        })
    }));
    let payload = outcome.expect_err("resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the closure fails"));
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

/// Forgetting a handle does not skip the wait: the scope still returns
/// only after the green thread finished.
#[test]
fn a_forgotten_handle_is_still_waited_for() {
    let _w = Watchdog::new("forgotten handle", Duration::from_secs(60));
    let mut done = false;
    greenrt::scope(|s| {
        let h = s.spawn(|| {
            for _ in 0..100 {
                greenrt::yield_now();
            }
            done = true;
        });
        std::mem::forget(h);
    });
    assert!(done);
}

/// Writes into a borrowed counter, then a shared one, when dropped.
struct CountsOnDrop<'a>(&'a AtomicUsize, Arc<AtomicUsize>);

impl Drop for CountsOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// Dropping the runtime while a scope waits for parked scoped green
/// threads unwinds them before the green thread whose stack they borrow
/// from (newest first), so their destructors still reach the borrowed
/// counter. Unwinding the scope's green thread first would free it under
/// them (the scope aborts the process instead).
fn shutdown_unwinds_scoped_green_threads_before_their_scope(procs: usize) {
    let _w = Watchdog::new("shutdown inside a scope", Duration::from_secs(60));
    let rt = runtime(procs);
    let (parked_tx, parked_rx) = std::sync::mpsc::channel::<usize>();
    let (_never_tx, never_rx) = greenrt::sync::unbounded::<()>();
    let unwound = Arc::new(AtomicUsize::new(0));
    let unwound_in_g = Arc::clone(&unwound);
    let opener = rt.spawn(move || {
        let drops = AtomicUsize::new(0);
        greenrt::scope(|s| {
            for _ in 0..4 {
                let drops = &drops;
                let never = never_rx.clone();
                let parked = parked_tx.clone();
                let unwound = Arc::clone(&unwound_in_g);
                s.spawn(move || {
                    let _guard = CountsOnDrop(drops, unwound);
                    parked.send(0).unwrap();
                    let _ = never.recv();
                    // Only reached if the runtime let go of the channel.
                    drops.fetch_add(100, Ordering::SeqCst);
                });
            }
        });
        // Unreachable: the scope's green threads never finish on their own.
        parked_tx.send(drops.load(Ordering::SeqCst)).unwrap();
    });
    for _ in 0..4 {
        parked_rx.recv().unwrap();
    }
    common::until_parked_from_os_thread(&[opener], greenrt::WaitReason::Join);
    drop(rt);
    assert_eq!(unwound.load(Ordering::SeqCst), 4, "every guard unwound");
}
rt_test!(shutdown_unwinds_scoped_green_threads_before_their_scope);

//! `Select` is `Send + Sync` like crossbeam's (issue 16 item 1): built on
//! one thread, cloned into scoped threads (or green threads), run there.
//! Selection only reserves; the message moves in
//! `SelectedOperation::recv`/`send`, so the reservations selection makes
//! (a promised buffered message, a claimed waiting sender) must complete
//! and be given back correctly too.

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::sync::{bounded, unbounded, Receiver, Select, Sender};
use greenrt::WaitReason;

const LIMIT: Duration = Duration::from_secs(60);

fn assert_send_sync<T: Send + Sync>(_: &T) {}

/// Receives every message of `r1`/`r2` through clones of one `Select`.
fn drain_with_clones(sel: &Select<'_>, r1: &Receiver<usize>, r2: &Receiver<usize>, total: usize) {
    let got = AtomicUsize::new(0);
    let sum = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let mut sel = sel.clone();
            let (got, sum) = (&got, &sum);
            scope.spawn(move || {
                let mut open = 2;
                while open > 0 {
                    let op = sel.select();
                    let i = op.index();
                    match op.recv(if i == 0 { r1 } else { r2 }) {
                        Ok(v) => {
                            sum.fetch_add(v, Ordering::Relaxed);
                            got.fetch_add(1, Ordering::Relaxed);
                        }
                        // Drained and disconnected: stop selecting it.
                        Err(_) => {
                            sel.remove(i);
                            open -= 1;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(got.load(Ordering::Relaxed), total);
    assert_eq!(sum.load(Ordering::Relaxed), total * (total - 1) / 2);
}

/// crossbeam's pattern: a `Select` cloned into scoped OS threads.
#[test]
fn cloned_into_scoped_threads() {
    let _w = Watchdog::new("cloned_into_scoped_threads", LIMIT);
    let total = stress(2_000);
    for cap in [Some(0), Some(1), Some(16), None] {
        let ((s1, r1), (s2, r2)) = match cap {
            Some(c) => (bounded(c), bounded(c)),
            None => (unbounded(), unbounded()),
        };
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert_send_sync(&sel);
        let senders = std::thread::spawn(move || {
            for v in 0..total {
                if v % 2 == 0 { &s1 } else { &s2 }.send(v).unwrap();
            }
        });
        drain_with_clones(&sel, &r1, &r2, total);
        senders.join().unwrap();
    }
}

// The same from green threads: the selecting threads are green, and so is
// the sender.
rt_test!(cloned_into_green_threads);
fn cloned_into_green_threads(procs: usize) {
    let _w = Watchdog::new("cloned_into_green_threads", LIMIT);
    let total = stress(2_000);
    for cap in [0, 1, 16] {
        runtime(procs).block_on(move || {
            let (s1, r1) = bounded::<usize>(cap);
            let (s2, r2) = bounded::<usize>(cap);
            let (r1, r2): (&'static Receiver<usize>, &'static Receiver<usize>) =
                (Box::leak(Box::new(r1)), Box::leak(Box::new(r2)));
            let mut sel = Select::new();
            sel.recv(r1);
            sel.recv(r2);
            let got = std::sync::Arc::new(AtomicUsize::new(0));
            let selectors: Vec<_> = (0..4)
                .map(|_| {
                    let mut sel = sel.clone();
                    let got = got.clone();
                    greenrt::spawn(move || {
                        let mut open = 2;
                        while open > 0 {
                            let op = sel.select();
                            let i = op.index();
                            match op.recv(if i == 0 { r1 } else { r2 }) {
                                Ok(_) => {
                                    got.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(_) => {
                                    sel.remove(i);
                                    open -= 1;
                                }
                            }
                        }
                    })
                })
                .collect();
            for v in 0..total {
                if v % 2 == 0 { &s1 } else { &s2 }.send(v).unwrap();
            }
            drop((s1, s2));
            for h in selectors {
                h.join().unwrap();
            }
            assert_eq!(got.load(Ordering::Relaxed), total);
        });
    }
}

/// A `Select` over channels of a message type that is not `Send` can still
/// be moved to another thread: waiting for readiness there touches no
/// message; the message is received back on its own thread.
#[test]
fn moved_to_another_thread_with_non_send_messages() {
    let (tx, rx) = unbounded::<Rc<i32>>();
    let mut sel = Select::new();
    let i = sel.recv(&rx);
    tx.send(Rc::new(5)).unwrap();
    let ready = std::thread::scope(|scope| scope.spawn(move || sel.ready()).join().unwrap());
    assert_eq!(ready, i);
    assert_eq!(*rx.try_recv().unwrap(), 5);
}

/// A select that chose a buffered message has a promise on it, not the
/// message: others receive the messages behind it, in order, and the
/// promised one is delivered when the select completes.
#[test]
fn a_promised_message_waits_for_its_select() {
    let (tx, rx) = bounded::<i32>(3);
    for v in 1..=3 {
        tx.send(v).unwrap();
    }
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    assert_eq!(
        rx.len(),
        2,
        "the promised message is no longer in the channel"
    );
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv(), Ok(3));
    assert!(rx.try_recv().is_err());
    assert_eq!(op.recv(&rx), Ok(1));
    // The promised message used its slot until it was taken.
    for v in 4..=6 {
        tx.try_send(v).unwrap();
    }
    assert!(tx.try_send(7).is_err());
}

/// Dropping a selected receive without completing it panics and gives the
/// promise back: the message stays for the next receiver, and a receiver
/// that started waiting meanwhile gets it.
#[test]
fn dropping_a_selected_receive_gives_the_promise_back() {
    let _w = Watchdog::new("dropping_a_selected_receive", LIMIT);
    let (tx, rx) = unbounded::<i32>();
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    let rx2 = rx.clone();
    let waiting = greenrt::spawn(move || rx2.recv());
    common::until_parked_from_os_thread(std::slice::from_ref(&waiting), WaitReason::ChanRecv);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op)));
    assert!(dropped.is_err());
    assert_eq!(waiting.join().unwrap(), Ok(1));
    drop(tx);
}

// A select whose receive arm committed to a waiting plain sender
// (rendezvous): the sender fills in its message for the select.
rt_test!(selected_receive_from_a_waiting_sender);
fn selected_receive_from_a_waiting_sender(procs: usize) {
    let _w = Watchdog::new("selected_receive_from_a_waiting_sender", LIMIT);
    runtime(procs).block_on(|| {
        let (tx, rx): (Sender<i32>, Receiver<i32>) = bounded(0);
        for v in 0..stress(100) as i32 {
            let tx = tx.clone();
            let sender = greenrt::spawn(move || tx.send(v));
            common::until_parked(std::slice::from_ref(&sender), WaitReason::ChanSend);
            let mut sel = Select::new();
            sel.recv(&rx);
            assert_eq!(sel.select().recv(&rx), Ok(v));
            assert_eq!(sender.join().unwrap(), Ok(()));
        }
    });
}

/// If that select drops its operation before the sender filled in its
/// message, the sender sends again the ordinary way and nothing is lost.
/// (At procs 1 the woken sender cannot run before the drop; a message that
/// was filled in already is leaked, never dropped on the select's thread.)
#[test]
fn dropped_selected_receive_lets_the_sender_send_again() {
    let _w = Watchdog::new("dropped_selected_receive", LIMIT);
    runtime(1).block_on(|| {
        let (tx, rx): (Sender<i32>, Receiver<i32>) = bounded(0);
        let mut sel = Select::new();
        sel.recv(&rx);
        let sender = greenrt::spawn(move || tx.send(8));
        common::until_parked(std::slice::from_ref(&sender), WaitReason::ChanSend);
        let op = sel.select();
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op)));
        assert!(dropped.is_err());
        assert_eq!(rx.recv(), Ok(8));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

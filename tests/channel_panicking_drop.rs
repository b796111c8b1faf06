//! A message whose `Drop` panics, dropped with its channel (issue 16 item
//! 6): every other buffered message is still dropped, and the first panic
//! propagates normally (a `catch_unwind` around the drop sees it) instead
//! of aborting the process. For every flavour, from an OS thread and from a
//! green thread, whichever handle goes last.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::runtime;
use greenrt::sync::{bounded, unbounded, Receiver, Sender};

/// Counts its drops; panics in `drop` if `bomb` (two of the five do: a
/// second panic while the first unwinds is what used to abort).
struct Msg {
    bomb: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.bomb {
            panic!("message drop panics");
        }
    }
}

const MSGS: usize = 5;

fn filled(cap: Option<usize>, drops: &Arc<AtomicUsize>) -> (Sender<Msg>, Receiver<Msg>) {
    let (tx, rx) = match cap {
        Some(c) => bounded(c),
        None => unbounded(),
    };
    for i in 0..MSGS {
        let msg = Msg {
            bomb: i == 1 || i == 3,
            drops: drops.clone(),
        };
        tx.try_send(msg).expect("room for every message");
    }
    (tx, rx)
}

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Drops a filled channel's handles (receiver last or sender last), inside
/// `catch_unwind`.
fn check_drop(cap: Option<usize>, receiver_last: bool) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = filled(cap, &drops);
    let caught = catch_unwind(AssertUnwindSafe(move || {
        if receiver_last {
            drop(tx);
            drop(rx);
        } else {
            drop(rx);
            drop(tx);
        }
    }));
    let err = caught.expect_err("the message's panic propagates");
    assert_eq!(panic_message(err), "message drop panics");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        MSGS,
        "every message was dropped"
    );
}

fn every_flavour() {
    for cap in [Some(MSGS), Some(MSGS + 3), None] {
        for receiver_last in [true, false] {
            check_drop(cap, receiver_last);
        }
    }
}

#[test]
fn from_an_os_thread() {
    every_flavour();
}

#[test]
fn from_a_green_thread() {
    runtime(1).block_on(every_flavour);
}

/// A rendezvous channel holds no messages; a send that fails because the
/// receivers are gone hands its message back, and dropping that one
/// panics in the sender's hands, where `catch_unwind` sees it.
#[test]
fn rendezvous_send_hands_the_message_back() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded::<Msg>(0);
    drop(rx);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let msg = Msg {
            bomb: true,
            drops: drops.clone(),
        };
        let _ = tx.send(msg);
    }));
    assert_eq!(panic_message(caught.unwrap_err()), "message drop panics");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

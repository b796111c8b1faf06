//! Big messages (issue 16 item 7): a 32 KiB and a 1 MiB message go through
//! every flavour of channel, and through `select!`, from green threads
//! whose stack is the message's size plus 64 KiB — the bound
//! `greenrt::sync`'s documentation states (the caller's own copy of the
//! message, and nothing message-sized in the channel's frames: big
//! messages travel boxed, `chan/big.rs`). Each blocking and non-blocking path is
//! taken (buffered, rendezvous with either side waiting, a sender waiting
//! for room, timed and `try_` operations), so a path that keeps more
//! copies of the message on the stack runs into the guard page and kills
//! the test.

mod common;

use std::time::Duration;

use common::{runtime, Watchdog, PROCS};
use greenrt::select;
use greenrt::sync::{bounded, unbounded, Receiver, Sender};

const KIB: usize = 1024;
const ROUNDS: u8 = 6;

/// The stack a green thread handling `N`-byte messages gets: the bound
/// `greenrt::sync` documents. It holds for optimised builds; unoptimised
/// ones give every temporary (inside `Box::new`, say) a slot of its own,
/// so the tests are ignored there (`cargo test --release` runs them).
const fn stack_for(n: usize) -> usize {
    n + 64 * KIB
}

/// A message of `N` bytes; byte `i` is `tag + i` (mod 256), so a torn or
/// mixed-up copy is caught. Built on the heap, so that building it is not
/// what overflows.
fn big<const N: usize>(tag: u8) -> Box<[u8; N]> {
    let bytes: Vec<u8> = (0..N).map(|i| tag.wrapping_add(i as u8)).collect();
    bytes.into_boxed_slice().try_into().expect("N bytes")
}

/// Checks a message `big::<N>(tag)` built (a few bytes, spread out).
#[inline(never)]
fn check<const N: usize>(msg: &[u8; N], tag: u8) {
    for i in [0, 1, N / 3, N / 2, N - 2, N - 1] {
        assert_eq!(
            msg[i],
            tag.wrapping_add(i as u8),
            "byte {i} of message {tag}"
        );
    }
}

fn spawn_small<F: FnOnce() + Send + 'static>(n: usize, f: F) -> greenrt::JoinHandle<()> {
    greenrt::spawn_builder()
        .stack_size(stack_for(n))
        .spawn(f)
        .expect("spawn with a small stack")
}

// Each operation is in a function of its own, as a user's code with one
// message in a frame would be: the bound is about the channel's frames,
// not about how many messages a caller keeps in one frame of its own.

#[inline(never)]
fn send_one<const N: usize>(tx: &Sender<[u8; N]>, tag: u8) {
    // `is_ok`, not `expect`: the error (which holds the message) would be
    // a second copy in this frame.
    assert!(tx.send(*big::<N>(tag)).is_ok(), "send");
}

#[inline(never)]
fn send_timeout_one<const N: usize>(tx: &Sender<[u8; N]>, tag: u8) {
    let sent = tx.send_timeout(*big::<N>(tag), Duration::from_secs(60));
    assert!(sent.is_ok(), "send_timeout");
}

/// `try_send`; false (the message dropped) if the channel was full.
#[inline(never)]
fn try_send_one<const N: usize>(tx: &Sender<[u8; N]>, tag: u8) -> bool {
    match tx.try_send(*big::<N>(tag)) {
        Ok(()) => true,
        Err(e) => {
            assert!(e.is_full(), "the receiver is alive");
            false
        }
    }
}

#[inline(never)]
fn recv_one<const N: usize>(rx: &Receiver<[u8; N]>, tag: u8) {
    check(rx.recv().as_ref().expect("recv"), tag);
}

#[inline(never)]
fn recv_timeout_one<const N: usize>(rx: &Receiver<[u8; N]>, tag: u8) {
    check(
        rx.recv_timeout(Duration::from_secs(60))
            .as_ref()
            .expect("recv_timeout"),
        tag,
    );
}

/// `try_recv`; false if nothing was there.
#[inline(never)]
fn try_recv_one<const N: usize>(rx: &Receiver<[u8; N]>, tag: u8) -> bool {
    match &rx.try_recv() {
        Ok(m) => {
            check(m, tag);
            true
        }
        Err(e) => {
            assert!(e.is_empty(), "the sender is alive");
            false
        }
    }
}

/// Sends `ROUNDS` messages with `send`, `ROUNDS` with `send_timeout`,
/// `ROUNDS` with `try_send` (retrying while full: the receiver blocks, so a
/// rendezvous completes), and `ROUNDS` more with `send` (against
/// `try_recv`).
fn sender<const N: usize>(tx: Sender<[u8; N]>) {
    for tag in 0..ROUNDS {
        send_one(&tx, tag);
    }
    for tag in ROUNDS..2 * ROUNDS {
        send_timeout_one(&tx, tag);
    }
    for tag in 2 * ROUNDS..3 * ROUNDS {
        while !try_send_one(&tx, tag) {
            greenrt::yield_now();
        }
    }
    for tag in 3 * ROUNDS..4 * ROUNDS {
        send_one(&tx, tag);
    }
}

/// Receives what [`sender`] sends: `recv`, `recv_timeout`, `recv` (against
/// `try_send`), `try_recv`.
fn receiver<const N: usize>(rx: Receiver<[u8; N]>) {
    for tag in 0..ROUNDS {
        recv_one(&rx, tag);
    }
    for tag in ROUNDS..2 * ROUNDS {
        recv_timeout_one(&rx, tag);
    }
    for tag in 2 * ROUNDS..3 * ROUNDS {
        recv_one(&rx, tag);
    }
    for tag in 3 * ROUNDS..4 * ROUNDS {
        while !try_recv_one(&rx, tag) {
            greenrt::yield_now();
        }
    }
    assert!(rx.recv().is_err(), "disconnected after the last message");
}

/// Sends through `select!` (a send arm beside a receive arm that never
/// fires), receives through `select!`.
#[inline(never)]
fn select_sender<const N: usize>(tx: Sender<[u8; N]>, idle: Receiver<()>) {
    for tag in 0..ROUNDS {
        let msg = big::<N>(tag);
        select! {
            send(tx, *msg) -> r => assert!(r.is_ok(), "selected send"),
            recv(idle) -> _ => unreachable!("nobody sends on idle"),
        }
    }
}

#[inline(never)]
fn select_receiver<const N: usize>(rx: Receiver<[u8; N]>, idle: Receiver<()>) {
    for tag in 0..ROUNDS {
        select! {
            recv(rx) -> m => check(m.as_ref().expect("selected recv"), tag),
            recv(idle) -> _ => unreachable!("nobody sends on idle"),
        }
    }
}

fn flavours<T>() -> Vec<(&'static str, Sender<T>, Receiver<T>)> {
    let (a, b) = unbounded();
    let (c, d) = bounded(1);
    let (e, f) = bounded(0);
    vec![
        ("unbounded", a, b),
        ("bounded(1)", c, d),
        ("bounded(0)", e, f),
    ]
}

fn through_every_flavour<const N: usize>() {
    let _dog = Watchdog::new("big messages", Duration::from_secs(120));
    for procs in PROCS {
        runtime(procs).block_on(move || {
            for (name, tx, rx) in flavours::<[u8; N]>() {
                eprintln!("{N} bytes, {name}, procs {procs}: plain");
                // Receiver first: it waits, so the sender hands off.
                let r = spawn_small(N, move || receiver(rx));
                let s = spawn_small(N, move || sender(tx));
                s.join().expect("sender");
                r.join().expect("receiver");
            }
            for (name, tx, rx) in flavours::<[u8; N]>() {
                eprintln!("{N} bytes, {name}, procs {procs}: select");
                let (keep, idle) = bounded::<()>(0);
                let idle2 = idle.clone();
                // Sender first this time: it waits in the select.
                let s = spawn_small(N, move || select_sender(tx, idle));
                let r = spawn_small(N, move || select_receiver(rx, idle2));
                s.join().expect("select sender");
                r.join().expect("select receiver");
                drop(keep);
            }
        });
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "the stack bound is for optimised builds")]
fn messages_of_32_kib() {
    through_every_flavour::<{ 32 * KIB }>();
}

#[test]
#[cfg_attr(debug_assertions, ignore = "the stack bound is for optimised builds")]
fn messages_of_1_mib() {
    through_every_flavour::<{ 1024 * KIB }>();
}

//! Loops of operations that never park are checkpoints (`runtime/coop.rs`):
//! a polling loop of failing non-blocking operations and a
//! producer sending into an unbounded channel yield once their time slice
//! is over. At procs 1 they would otherwise hold the only processor while
//! the green thread they wait for, or the consumer they feed, never runs:
//! each test below then hangs and its watchdog fails it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rt_test, Watchdog};
use greenrt::select;
use greenrt::sync::{bounded, unbounded, Select, TryRecvError, TrySendError};

/// A short slice, so that a test waits a millisecond, not ten, for sysmon
/// to ask the loop to yield.
fn runtime(procs: usize) -> greenrt::Runtime {
    greenrt::Runtime::builder()
        .procs(procs)
        .time_slice(Duration::from_millis(1))
        .hog_report(false)
        .build()
        .unwrap()
}

/// Polls with `try_recv` for a message a green thread spawned behind the
/// poller sends.
fn a_try_recv_loop_lets_the_sender_run(procs: usize) {
    let _dog = Watchdog::new("try_recv polling loop", Duration::from_secs(30));
    let got = runtime(procs).block_on(|| {
        let (tx, rx) = unbounded::<u32>();
        let sender = greenrt::spawn(move || tx.send(7).unwrap());
        let got = loop {
            match rx.try_recv() {
                Ok(v) => break v,
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        };
        sender.join().unwrap();
        got
    });
    assert_eq!(got, 7);
}
rt_test!(a_try_recv_loop_lets_the_sender_run);

/// Polls with `try_send` into a full channel that a green thread spawned
/// behind the poller drains.
fn a_try_send_loop_lets_the_receiver_run(procs: usize) {
    let _dog = Watchdog::new("try_send polling loop", Duration::from_secs(30));
    runtime(procs).block_on(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(1).unwrap();
        let receiver = greenrt::spawn(move || (rx.recv().unwrap(), rx.recv().unwrap()));
        let mut msg = 2;
        loop {
            match tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => msg = m,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(receiver.join().unwrap(), (1, 2));
    });
}
rt_test!(a_try_send_loop_lets_the_receiver_run);

/// Polls with `select!` and `default`, and with `Select::try_select`.
fn select_polling_loops_let_the_sender_run(procs: usize) {
    let _dog = Watchdog::new("select polling loops", Duration::from_secs(30));
    runtime(procs).block_on(|| {
        let (tx, rx) = unbounded::<u32>();
        let (_tx2, rx2) = unbounded::<u32>();
        let sender = {
            let tx = tx.clone();
            greenrt::spawn(move || tx.send(1).unwrap())
        };
        let got = loop {
            select! {
                recv(rx) -> v => break v.unwrap(),
                recv(rx2) -> _ => unreachable!(),
                default => {}
            }
        };
        assert_eq!(got, 1);
        sender.join().unwrap();

        let sender = greenrt::spawn(move || tx.send(2).unwrap());
        let mut sel = Select::new();
        let i = sel.recv(&rx);
        let op = loop {
            if let Ok(op) = sel.try_select() {
                break op;
            }
        };
        assert_eq!(op.index(), i);
        assert_eq!(op.recv(&rx), Ok(2));
        sender.join().unwrap();
    });
}
rt_test!(select_polling_loops_let_the_sender_run);

/// A producer that sends into an unbounded channel until its consumer,
/// spawned behind it, says it has seen a message.
fn an_unbounded_producer_lets_its_consumer_run(procs: usize) {
    let _dog = Watchdog::new("unbounded producer", Duration::from_secs(30));
    runtime(procs).block_on(|| {
        let (tx, rx) = unbounded::<u64>();
        let seen = Arc::new(AtomicBool::new(false));
        let consumer = {
            let seen = seen.clone();
            greenrt::spawn(move || {
                let first = rx.recv().unwrap();
                seen.store(true, Ordering::SeqCst);
                first
            })
        };
        let mut sent = 0u64;
        while !seen.load(Ordering::SeqCst) {
            // With more than one P the consumer may finish (dropping its
            // receiver) before this loop sees the flag.
            if tx.send(sent).is_err() {
                break;
            }
            sent += 1;
        }
        assert_eq!(consumer.join().unwrap(), 0);
        assert!(seen.load(Ordering::SeqCst) && sent > 0);
    });
}
rt_test!(an_unbounded_producer_lets_its_consumer_run);

/// A green thread takes `lock` with `hold`, which calls `queued` while
/// holding it: `queued` yields, so the holder sits queued behind the caller
/// with the lock taken. Once it does, the caller polls `try_take` until it
/// succeeds, which it can only once the holder has run again.
fn polls_until_released<L: Send + Sync + 'static>(
    lock: L,
    hold: fn(&L, &dyn Fn()),
    try_take: fn(&L) -> bool,
) {
    let lock = Arc::new(lock);
    let held = Arc::new(AtomicBool::new(false));
    let holder = {
        let (lock, held) = (lock.clone(), held.clone());
        greenrt::spawn(move || {
            hold(&lock, &|| {
                held.store(true, Ordering::SeqCst);
                greenrt::yield_now();
            })
        })
    };
    while !held.load(Ordering::SeqCst) {
        greenrt::yield_now();
    }
    while !try_take(&lock) {}
    holder.join().unwrap();
}

/// Polls `try_lock`, `try_read`, `try_write` and `try_acquire` while the
/// green thread holding the lock or permit is queued behind the poller.
fn lock_polling_loops_let_the_holder_run(procs: usize) {
    use greenrt::sync::{Mutex, RwLock, Semaphore};
    let _dog = Watchdog::new("lock polling loops", Duration::from_secs(30));
    runtime(procs).block_on(|| {
        polls_until_released(
            Mutex::new(()),
            |m, queued| {
                let _guard = m.lock();
                queued();
            },
            |m| m.try_lock().is_some(),
        );
        polls_until_released(
            RwLock::new(()),
            |l, queued| {
                let _guard = l.write();
                queued();
            },
            |l| l.try_read().is_some(),
        );
        polls_until_released(
            RwLock::new(()),
            |l, queued| {
                let _guard = l.read();
                queued();
            },
            |l| l.try_write().is_some(),
        );
        polls_until_released(
            Semaphore::new(1),
            |s, queued| {
                let _permit = s.acquire();
                queued();
            },
            |s| s.try_acquire().is_some(),
        );
    });
}
rt_test!(lock_polling_loops_let_the_holder_run);

/// Polls a socket in non-blocking mode for a datagram a green thread
/// queued behind the poller sends.
fn a_nonblocking_socket_polling_loop_lets_the_sender_run(procs: usize) {
    let _dog = Watchdog::new("non-blocking socket polling loop", Duration::from_secs(30));
    runtime(procs).block_on(|| {
        let a = greenrt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = greenrt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = a.local_addr().unwrap();
        a.set_nonblocking(true).unwrap();
        let sender = greenrt::spawn(move || b.send_to(b"ping", to).unwrap());
        let mut buf = [0u8; 8];
        let n = loop {
            match a.recv_from(&mut buf) {
                Ok((n, _)) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(sender.join().unwrap(), 4);
    });
}
rt_test!(a_nonblocking_socket_polling_loop_lets_the_sender_run);

/// Polls `JoinHandle::is_finished` for a green thread spawned behind the
/// poller.
fn an_is_finished_loop_lets_the_green_thread_finish(procs: usize) {
    let _dog = Watchdog::new("is_finished polling loop", Duration::from_secs(30));
    runtime(procs).block_on(|| {
        let h = greenrt::spawn(|| 5);
        while !h.is_finished() {
            std::hint::spin_loop();
        }
        assert_eq!(h.join().unwrap(), 5);
    });
}
rt_test!(an_is_finished_loop_lets_the_green_thread_finish);

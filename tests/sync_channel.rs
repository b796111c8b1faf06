//! Channels: crossbeam-channel semantics, parking green threads, mixing
//! green threads and OS threads.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, until_parked, until_parked_from_os_thread, Watchdog};
use greenrt::sync::{
    bounded, channel, never, unbounded, Receiver, RecvError, RecvTimeoutError, SendError,
    SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use greenrt::WaitReason;

const LIMIT: Duration = Duration::from_secs(60);

/// Messages each MPMC producer sends: 100 000 in release (800 000 per
/// channel), fewer in debug builds, times `GREENRT_STRESS_ITERS`.
fn mpmc_per_producer() -> usize {
    stress(if cfg!(debug_assertions) {
        2_000
    } else {
        100_000
    })
}

fn make<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    match cap {
        Some(n) => bounded(n),
        None => unbounded(),
    }
}

/// 8 producers x 8 consumers, every message received exactly once and in
/// per-producer order as each consumer sees it.
fn mpmc(procs: usize, cap: Option<usize>) {
    const P: usize = 8;
    const C: usize = 8;
    let per_producer = mpmc_per_producer();
    let rt = runtime(procs);
    let got: Vec<Vec<(usize, usize)>> = rt.block_on(move || {
        let (tx, rx) = make::<(usize, usize)>(cap);
        let producers: Vec<_> = (0..P)
            .map(|p| {
                let tx = tx.clone();
                greenrt::spawn(move || {
                    for seq in 0..per_producer {
                        tx.send((p, seq)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..C)
            .map(|_| {
                let rx = rx.clone();
                greenrt::spawn(move || rx.iter().collect::<Vec<_>>())
            })
            .collect();
        drop(rx);
        producers.into_iter().for_each(|h| h.join().unwrap());
        consumers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = vec![vec![false; per_producer]; P];
    for consumer in &got {
        let mut last: HashMap<usize, usize> = HashMap::new();
        for &(p, seq) in consumer {
            assert!(!seen[p][seq], "message ({p}, {seq}) received twice");
            seen[p][seq] = true;
            if let Some(prev) = last.insert(p, seq) {
                assert!(prev < seq, "producer {p}: {seq} after {prev}");
            }
        }
    }
    assert!(
        seen.iter().flatten().all(|&s| s),
        "lost messages (procs {procs}, cap {cap:?})"
    );
}

rt_test!(mpmc_rendezvous);
fn mpmc_rendezvous(procs: usize) {
    let _w = Watchdog::new("mpmc_rendezvous", LIMIT);
    {
        mpmc(procs, Some(0));
    }
}

rt_test!(mpmc_bounded);
fn mpmc_bounded(procs: usize) {
    let _w = Watchdog::new("mpmc_bounded", LIMIT);
    {
        mpmc(procs, Some(16));
    }
}

rt_test!(mpmc_unbounded);
fn mpmc_unbounded(procs: usize) {
    let _w = Watchdog::new("mpmc_unbounded", LIMIT);
    {
        mpmc(procs, None);
    }
}

#[test]
fn mpmc_mixed_os_threads_and_green_threads() {
    let _w = Watchdog::new("mpmc_mixed", LIMIT);
    let n = stress(2_000);
    for cap in [Some(0), Some(4), None] {
        let rt = runtime(2);
        let (tx, rx) = make::<usize>(cap);
        // Two OS producers, two green producers; two OS consumers, two green.
        let os_tx: Vec<_> = (0..2)
            .map(|k| {
                let tx = tx.clone();
                std::thread::spawn(move || (0..n).for_each(|i| tx.send(k * n + i).unwrap()))
            })
            .collect();
        let g_tx: Vec<_> = (2..4)
            .map(|k| {
                let tx = tx.clone();
                rt.spawn(move || (0..n).for_each(|i| tx.send(k * n + i).unwrap()))
            })
            .collect();
        drop(tx);
        let os_rx: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.iter().collect::<Vec<_>>())
            })
            .collect();
        let g_rx: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                rt.spawn(move || rx.iter().collect::<Vec<_>>())
            })
            .collect();
        drop(rx);
        os_tx.into_iter().for_each(|h| h.join().unwrap());
        g_tx.into_iter().for_each(|h| h.join().unwrap());
        let mut all: Vec<usize> = os_rx
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .chain(g_rx.into_iter().flat_map(|h| h.join().unwrap()))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..4 * n).collect::<Vec<_>>(), "cap {cap:?}");
    }
}

rt_test!(rendezvous_send_waits_for_receiver);
/// A send on bounded(0) returns only once a receiver has taken the value:
/// the receiver checks, before each receive, that the sender has not
/// finished more sends than were received.
fn rendezvous_send_waits_for_receiver(procs: usize) {
    let _w = Watchdog::new("rendezvous", LIMIT);
    let n = stress(500);
    {
        let rt = runtime(procs);
        for os_sender in [false, true] {
            let (tx, rx) = bounded::<usize>(0);
            let done = Arc::new(AtomicUsize::new(0));
            let d = done.clone();
            let send = move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                    d.fetch_add(1, Ordering::SeqCst);
                }
            };
            let os = os_sender.then(|| std::thread::spawn(send.clone()));
            let g = (!os_sender).then(|| rt.spawn(send));
            rt.block_on(move || {
                for i in 0..n {
                    assert!(
                        done.load(Ordering::SeqCst) <= i,
                        "send returned before recv"
                    );
                    if i % 7 == 0 {
                        greenrt::yield_now(); // give the sender time to misbehave
                    }
                    assert_eq!(rx.recv(), Ok(i));
                }
            });
            if let Some(h) = os {
                h.join().unwrap();
            }
            if let Some(h) = g {
                h.join().unwrap();
            }
        }
    }
}

#[test]
fn rendezvous_without_partner_fails_fast_or_times_out() {
    let (tx, rx) = bounded::<i32>(0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let start = Instant::now();
    assert_eq!(
        tx.send_timeout(2, Duration::from_millis(20)),
        Err(SendTimeoutError::Timeout(2))
    );
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(tx.is_empty() && tx.is_full() && rx.is_full());
    assert_eq!(
        (tx.len(), tx.capacity(), rx.capacity()),
        (0, Some(0), Some(0))
    );
}

#[test]
fn bounded_capacity_len_and_try_ops() {
    let (tx, rx) = bounded(2);
    assert!(rx.is_empty() && !rx.is_full());
    tx.try_send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert!(tx.is_full() && rx.is_full());
    assert_eq!((tx.len(), rx.len(), rx.capacity()), (2, 2, Some(2)));
    assert_eq!(
        tx.send_deadline(3, Instant::now() + Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(3))
    );
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let (utx, urx) = channel::<u8>();
    assert_eq!(utx.capacity(), None);
    assert!(!urx.is_full());
}

#[test]
fn same_channel() {
    let (tx, rx) = unbounded::<()>();
    let (tx2, rx2) = unbounded::<()>();
    assert!(tx.same_channel(&tx.clone()) && !tx.same_channel(&tx2));
    assert!(rx.same_channel(&rx.clone()) && !rx.same_channel(&rx2));
    assert!(never::<()>().same_channel(&never()) && !rx.same_channel(&never()));
}

#[test]
fn iterators() {
    let (tx, rx) = unbounded();
    (0..5).for_each(|i| tx.send(i).unwrap());
    assert_eq!(rx.try_iter().take(2).collect::<Vec<_>>(), [0, 1]);
    assert_eq!((&rx).into_iter().take(1).collect::<Vec<_>>(), [2]);
    drop(tx);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [3, 4]);
    let (tx, rx) = unbounded();
    tx.send(9).unwrap();
    drop(tx);
    assert_eq!(rx.into_iter().collect::<Vec<_>>(), [9]);
}

rt_test!(senders_dropped_mid_stream_receivers_drain_then_error);
fn senders_dropped_mid_stream_receivers_drain_then_error(procs: usize) {
    let _w = Watchdog::new("senders_dropped", LIMIT);
    {
        let rt = runtime(procs);
        rt.block_on(|| {
            for cap in [Some(0), Some(3), None] {
                let (tx, rx) = make::<u32>(cap);
                let senders: Vec<_> = (0..4u32)
                    .map(|k| {
                        let tx = tx.clone();
                        greenrt::spawn(move || (0..50).for_each(|i| tx.send(k * 100 + i).unwrap()))
                    })
                    .collect();
                drop(tx);
                let mut n = 0;
                while rx.recv().is_ok() {
                    n += 1;
                }
                assert_eq!(n, 200);
                assert_eq!(rx.recv(), Err(RecvError));
                assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
                assert_eq!(
                    rx.recv_timeout(Duration::from_secs(5)),
                    Err(RecvTimeoutError::Disconnected)
                );
                senders.into_iter().for_each(|h| h.join().unwrap());
            }
        });
    }
}

rt_test!(parked_receivers_wake_when_last_sender_drops);
fn parked_receivers_wake_when_last_sender_drops(procs: usize) {
    let _w = Watchdog::new("receivers_wake", LIMIT);
    {
        runtime(procs).block_on(|| {
            let (tx, rx) = bounded::<u8>(0);
            let rxs: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    greenrt::spawn(move || rx.recv())
                })
                .collect();
            until_parked(&rxs, WaitReason::ChanRecv);
            drop(tx);
            for h in rxs {
                assert_eq!(h.join().unwrap(), Err(RecvError));
            }
        });
    }
}

rt_test!(parked_senders_get_their_values_back_when_receivers_drop);
/// Receivers dropped while senders are parked: every sender wakes with an
/// error holding its own value.
fn parked_senders_get_their_values_back_when_receivers_drop(procs: usize) {
    let _w = Watchdog::new("senders_wake", LIMIT);
    {
        runtime(procs).block_on(|| {
            for cap in [0, 1] {
                let (tx, rx) = bounded::<String>(cap);
                if cap == 1 {
                    tx.send("buffered".into()).unwrap();
                }
                let senders: Vec<_> = (0..5)
                    .map(|i| {
                        let tx = tx.clone();
                        greenrt::spawn(move || tx.send(format!("msg{i}")))
                    })
                    .collect();
                until_parked(&senders, WaitReason::ChanSend);
                let rx2 = rx.clone();
                drop(rx);
                assert!(senders.iter().all(|h| !h.is_finished()));
                drop(rx2);
                for (i, h) in senders.into_iter().enumerate() {
                    assert_eq!(h.join().unwrap(), Err(SendError(format!("msg{i}"))));
                }
                assert_eq!(tx.send("late".into()), Err(SendError("late".into())));
                assert_eq!(
                    tx.try_send("x".into()),
                    Err(TrySendError::Disconnected("x".into()))
                );
            }
        });
    }
}

#[test]
fn os_thread_waits_on_green_sender_and_reverse() {
    let _w = Watchdog::new("os_and_green", LIMIT);
    let rt = runtime(2);
    for cap in [Some(0), Some(1), None] {
        // OS thread receives from a G.
        let (tx, rx) = make::<u32>(cap);
        let g = rt.spawn(move || (0..100).for_each(|i| tx.send(i).unwrap()));
        assert_eq!(rx.iter().collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        g.join().unwrap();
        // A G receives from an OS thread.
        let (tx, rx) = make::<u32>(cap);
        let g = rt.spawn(move || rx.iter().sum::<u32>());
        (0..100).for_each(|i| tx.send(i).unwrap());
        drop(tx);
        assert_eq!(g.join().unwrap(), 4950);
    }
}

rt_test!(timeouts_in_green_threads);
fn timeouts_in_green_threads(procs: usize) {
    let _w = Watchdog::new("timeouts", LIMIT);
    {
        runtime(procs).block_on(|| {
            let (tx, rx) = bounded::<u8>(0);
            let t = Instant::now();
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(15)),
                Err(RecvTimeoutError::Timeout)
            );
            assert_eq!(
                tx.send_timeout(1, Duration::from_millis(15)),
                Err(SendTimeoutError::Timeout(1))
            );
            assert!(t.elapsed() >= Duration::from_millis(30));
            // A timed-out waiter left nothing behind: a pair still meets.
            let h = greenrt::spawn(move || tx.send(7));
            assert_eq!(rx.recv(), Ok(7));
            h.join().unwrap().unwrap();
        });
    }
}

#[test]
fn buffered_messages_are_dropped_with_the_last_receiver() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded(4);
    for _ in 0..3 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    let err = tx.send(Counted(drops.clone())).unwrap_err();
    drop(err);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn never_receiver() {
    let r = never::<i32>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        r.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(
        (r.len(), r.capacity(), r.is_empty(), r.is_full()),
        (0, Some(0), true, true)
    );
}

/// Display and Debug output, and the helpers, are crossbeam-channel's.
#[test]
fn error_types_match_crossbeam() {
    use crossbeam_channel as cb;
    use greenrt::sync::{ReadyTimeoutError, SelectTimeoutError, TryReadyError, TrySelectError};
    fn same<A: std::fmt::Display + std::fmt::Debug, B: std::fmt::Display + std::fmt::Debug>(
        ours: A,
        theirs: B,
    ) {
        assert_eq!(ours.to_string(), theirs.to_string());
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    }
    same(SendError(1), cb::SendError(1));
    same(TrySendError::Full(1), cb::TrySendError::Full(1));
    same(
        TrySendError::Disconnected(1),
        cb::TrySendError::Disconnected(1),
    );
    same(
        SendTimeoutError::Timeout(1),
        cb::SendTimeoutError::Timeout(1),
    );
    same(
        SendTimeoutError::Disconnected(1),
        cb::SendTimeoutError::Disconnected(1),
    );
    same(RecvError, cb::RecvError);
    same(TryRecvError::Empty, cb::TryRecvError::Empty);
    same(TryRecvError::Disconnected, cb::TryRecvError::Disconnected);
    same(RecvTimeoutError::Timeout, cb::RecvTimeoutError::Timeout);
    same(
        RecvTimeoutError::Disconnected,
        cb::RecvTimeoutError::Disconnected,
    );
    same(TrySelectError, cb::TrySelectError);
    same(SelectTimeoutError, cb::SelectTimeoutError);
    assert_eq!(
        format!("{:?}", TryReadyError),
        format!("{:?}", cb::TryReadyError)
    );
    assert_eq!(
        format!("{:?}", ReadyTimeoutError),
        format!("{:?}", cb::ReadyTimeoutError)
    );

    assert!(TrySendError::Full(1).is_full() && TrySendError::Disconnected(1).is_disconnected());
    assert_eq!(TrySendError::from(SendError(5)).into_inner(), 5);
    assert_eq!(SendTimeoutError::from(SendError(6)).into_inner(), 6);
    assert!(SendTimeoutError::Timeout(()).is_timeout());
    assert_eq!(SendError(7).into_inner(), 7);
    assert!(TryRecvError::Empty.is_empty());
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);
    assert!(RecvTimeoutError::from(RecvError).is_disconnected());
    assert!(RecvTimeoutError::Timeout.is_timeout());
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(SendError(3u8));
    assert_eq!(boxed.to_string(), "sending on a disconnected channel");
}

#[test]
fn handles_are_send_and_sync_like_crossbeam() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Sender<String>>();
    send_sync::<Receiver<String>>();
    send_sync::<greenrt::sync::Iter<'static, String>>();
    send_sync::<greenrt::sync::IntoIter<String>>();
    send_sync::<SendError<String>>();
    send_sync::<TrySendError<String>>();
    send_sync::<RecvTimeoutError>();
}

// ------------------------------------------------ stack-slot rendezvous path
//
// Plain `send`/`recv` wait in a slot on their own stack (runtime/sync/
// channel/entry.rs). These tests hammer the ways such a slot leaves its
// queue: taken by a partner, withdrawn at a deadline while a partner races
// for it, and unwound with its green thread at shutdown.

/// Sends `msg`, retrying after short timeouts when `timed` (so withdrawals
/// race with hand-offs); a timed-out send must hand its message back.
fn send_retrying<T>(tx: &Sender<T>, mut msg: T, timed: bool) {
    if !timed {
        return tx.send(msg).unwrap();
    }
    loop {
        match tx.send_timeout(msg, Duration::from_micros(50)) {
            Ok(()) => return,
            Err(SendTimeoutError::Timeout(m)) => msg = m,
            Err(SendTimeoutError::Disconnected(_)) => panic!("receivers gone"),
        }
    }
}

/// Receives until disconnected, with short timeouts when `timed`.
fn recv_all<T>(rx: &Receiver<T>, timed: bool) -> Vec<T> {
    let mut got = Vec::new();
    loop {
        let r = if timed {
            match rx.recv_timeout(Duration::from_micros(50)) {
                Err(RecvTimeoutError::Timeout) => continue,
                r => r.map_err(|_| RecvError),
            }
        } else {
            rx.recv()
        };
        match r {
            Ok(m) => got.push(m),
            Err(RecvError) => return got,
        }
    }
}

rt_test!(rendezvous_stress_os_and_green_threads_with_timeouts);
/// bounded(0) between OS threads and green threads at procs 1, 2 and 4,
/// half of each side using short timeouts: every message arrives exactly
/// once, in per-producer order as each consumer sees it.
fn rendezvous_stress_os_and_green_threads_with_timeouts(procs: usize) {
    let _w = Watchdog::new("rendezvous_stress", LIMIT);
    let n = stress(if cfg!(debug_assertions) { 500 } else { 3_000 });
    {
        let rt = runtime(procs);
        let (tx, rx) = bounded::<(usize, usize)>(0);
        let mut os_tx = Vec::new();
        let mut g_tx = Vec::new();
        for p in 0..4 {
            let tx = tx.clone();
            let timed = p % 2 == 1;
            let body = move || (0..n).for_each(|i| send_retrying(&tx, (p, i), timed));
            if p < 2 {
                os_tx.push(std::thread::spawn(body));
            } else {
                g_tx.push(rt.spawn(body));
            }
        }
        drop(tx);
        let mut os_rx = Vec::new();
        let mut g_rx = Vec::new();
        for c in 0..4 {
            let rx = rx.clone();
            let timed = c % 2 == 0;
            let body = move || recv_all(&rx, timed);
            if c < 2 {
                os_rx.push(std::thread::spawn(body));
            } else {
                g_rx.push(rt.spawn(body));
            }
        }
        drop(rx);
        os_tx.into_iter().for_each(|h| h.join().unwrap());
        g_tx.into_iter().for_each(|h| h.join().unwrap());
        let consumers: Vec<Vec<(usize, usize)>> = os_rx
            .into_iter()
            .map(|h| h.join().unwrap())
            .chain(g_rx.into_iter().map(|h| h.join().unwrap()))
            .collect();
        let mut seen = vec![vec![false; n]; 4];
        for got in &consumers {
            let mut last: HashMap<usize, usize> = HashMap::new();
            for &(p, i) in got {
                assert!(!seen[p][i], "({p}, {i}) received twice (procs {procs})");
                seen[p][i] = true;
                if let Some(prev) = last.insert(p, i) {
                    assert!(prev < i, "producer {p}: {i} after {prev} (procs {procs})");
                }
            }
        }
        assert!(
            seen.iter().flatten().all(|&s| s),
            "lost messages (procs {procs})"
        );
    }
}

/// Counts drops, so a message dropped twice (or never) shows.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

rt_test!(plain_waiters_unwound_at_shutdown_leave_the_queues);
/// Green threads unwound while parked in a plain send or receive (with and
/// without a deadline) take their stack slots out of the queues: afterwards
/// nobody hands a message to, or takes one from, a frame that is gone; each
/// unwound sender's message is dropped exactly once; the channels still
/// work.
fn plain_waiters_unwound_at_shutdown_leave_the_queues(procs: usize) {
    let _w = Watchdog::new("unwound_plain_waiters", LIMIT);
    {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded::<Tracked>(0);
        let (tx2, rx2) = bounded::<Tracked>(0);
        let rt = runtime(procs);
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for k in 0..4 {
            let tx = tx.clone();
            let msg = Tracked(drops.clone());
            senders.push(rt.spawn(move || {
                if k % 2 == 0 {
                    tx.send(msg).is_ok()
                } else {
                    tx.send_timeout(msg, Duration::from_secs(3600)).is_ok()
                }
            }));
            let rx2 = rx2.clone();
            receivers.push(rt.spawn(move || {
                if k % 2 == 0 {
                    rx2.recv().is_ok()
                } else {
                    rx2.recv_timeout(Duration::from_secs(3600)).is_ok()
                }
            }));
        }
        until_parked_from_os_thread(&senders, WaitReason::ChanSend);
        until_parked_from_os_thread(&receivers, WaitReason::ChanRecv);
        drop(rt);
        for h in senders.into_iter().chain(receivers) {
            assert!(h.join().is_err(), "a parked green thread was cancelled");
        }
        assert_eq!(drops.load(Ordering::SeqCst), 4, "unwound senders' messages");
        // No slot of a cancelled thread is left in either queue.
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        match tx2.try_send(Tracked(drops.clone())) {
            Err(TrySendError::Full(m)) => drop(m),
            other => panic!("a cancelled receiver took a message: {:?}", other.is_ok()),
        }
        assert_eq!(drops.load(Ordering::SeqCst), 5);
        // Both channels still hand off between live parties.
        for (tx, rx) in [(&tx, &rx), (&tx2, &rx2)] {
            std::thread::scope(|s| {
                s.spawn(|| tx.send(Tracked(drops.clone())).unwrap());
                drop(rx.recv().unwrap());
            });
        }
        assert_eq!(drops.load(Ordering::SeqCst), 7);
    }
}

rt_test!(select_send_arm_committing_to_a_plain_receiver);
/// A select's send arm that commits to a parked plain receiver, then is
/// dropped without sending, sends that receiver back to waiting; one that
/// completes hands it the message.
fn select_send_arm_committing_to_a_plain_receiver(procs: usize) {
    use greenrt::sync::Select;
    let _w = Watchdog::new("select_to_plain_receiver", LIMIT);
    {
        let rt = runtime(procs);
        let (tx, rx) = bounded::<u32>(0);
        let receiver = rt.spawn(move || (rx.recv(), rx.recv()));
        until_parked_from_os_thread(std::slice::from_ref(&receiver), WaitReason::ChanRecv);
        // Commit to the parked receiver, then drop the operation (a bug,
        // which panics, but must release the receiver).
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut sel = Select::new();
            sel.send(&tx);
            let op = sel.try_select().expect("a receiver is waiting");
            drop(op);
        }));
        assert!(dropped.is_err());
        // The receiver waits again: a plain send reaches it.
        tx.send(1).unwrap();
        // Commit and complete.
        loop {
            let mut sel = Select::new();
            sel.send(&tx);
            if let Ok(op) = sel.try_select() {
                op.send(&tx, 2).unwrap();
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(receiver.join().unwrap(), (Ok(1), Ok(2)));
    }
}

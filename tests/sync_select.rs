//! `select!`, `select_biased!`, the dynamic `Select`, and timer channels.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::sync::{
    after, at, bounded, never, tick, unbounded, Receiver, RecvError, Select, SendError, Sender,
};
use greenrt::{select, select_biased, WaitReason};

const LIMIT: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

rt_test!(fairness_between_two_ready_arms);
fn fairness_between_two_ready_arms(procs: usize) {
    let _w = Watchdog::new("fairness", LIMIT);
    const ROUNDS: usize = 10_000;
    {
        let (a, b) = runtime(procs).block_on(|| {
            let (tx1, rx1) = unbounded();
            let (tx2, rx2) = unbounded();
            tx1.send(()).unwrap();
            tx2.send(()).unwrap();
            let (mut a, mut b) = (0usize, 0usize);
            for _ in 0..ROUNDS {
                // Both arms are always ready: refill whichever was taken.
                select! {
                    recv(rx1) -> m => { m.unwrap(); a += 1; tx1.send(()).unwrap(); }
                    recv(rx2) -> m => { m.unwrap(); b += 1; tx2.send(()).unwrap(); }
                }
            }
            (a, b)
        });
        assert_eq!(a + b, ROUNDS);
        for n in [a, b] {
            assert!(
                (ROUNDS * 40 / 100..=ROUNDS * 60 / 100).contains(&n),
                "unfair select at procs {procs}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn dynamic_select_is_fair_too() {
    let (tx1, rx1) = unbounded();
    let (tx2, rx2) = unbounded();
    let (tx3, rx3) = unbounded();
    for tx in [&tx1, &tx2, &tx3] {
        tx.send(()).unwrap();
    }
    let mut counts = [0usize; 3];
    for _ in 0..9_000 {
        let mut sel = Select::new();
        let rxs = [&rx1, &rx2, &rx3];
        for rx in rxs {
            sel.recv(rx);
        }
        let op = sel.select();
        let i = op.index();
        op.recv(rxs[i]).unwrap();
        [&tx1, &tx2, &tx3][i].send(()).unwrap();
        counts[i] += 1;
    }
    for c in counts {
        assert!((2_400..=3_600).contains(&c), "unfair: {counts:?}");
    }
}

#[test]
fn biased_select_prefers_the_first_ready_arm() {
    let (tx1, rx1) = unbounded();
    let (tx2, rx2) = unbounded();
    for i in 0..100 {
        tx1.send(i).unwrap();
        tx2.send(i).unwrap();
    }
    for i in 0..100 {
        select_biased! {
            recv(rx1) -> m => assert_eq!(m, Ok(i)),
            recv(rx2) -> _ => panic!("biased select took the second arm"),
        }
    }
    let mut sel = Select::new_biased();
    sel.recv(&rx1);
    let i2 = sel.recv(&rx2);
    let op = sel.select();
    assert_eq!(op.index(), i2);
    assert_eq!(op.recv(&rx2), Ok(0));
}

fn not_evaluated() -> i32 {
    panic!("the message of an unchosen send arm is not evaluated")
}

#[test]
fn default_never_blocks() {
    runtime(1).block_on(|| {
        let (_tx, rx) = bounded::<i32>(0);
        let (tx2, _rx2) = bounded::<i32>(0);
        for _ in 0..1_000 {
            let evaluated = select! {
                recv(rx) -> _ => panic!("nothing to receive"),
                send(tx2, not_evaluated()) -> _ => unreachable!(),
                default => true,
            };
            assert!(evaluated);
        }
    });
}

rt_test!(default_timeout_fires_after_the_timeout);
fn default_timeout_fires_after_the_timeout(procs: usize) {
    let _w = Watchdog::new("default_timeout", LIMIT);
    {
        runtime(procs).block_on(|| {
            let (_tx, rx) = unbounded::<i32>();
            let start = Instant::now();
            let fired = select! {
                recv(rx) -> _ => false,
                default(ms(20)) => true,
            };
            assert!(fired && start.elapsed() >= ms(20));
        });
    }
    // And from a plain OS thread.
    let (_tx, rx) = unbounded::<i32>();
    let start = Instant::now();
    select! {
        recv(rx) -> _ => panic!(),
        default(ms(10)) => assert!(start.elapsed() >= ms(10)),
    }
}

#[test]
fn default_timeout_does_not_fire_when_a_message_arrives() {
    runtime(2).block_on(|| {
        let (tx, rx) = bounded(0);
        let h = greenrt::spawn(move || tx.send(5).unwrap());
        let got = select! {
            recv(rx) -> m => m.unwrap(),
            default(Duration::from_secs(30)) => panic!("timed out"),
        };
        assert_eq!(got, 5);
        h.join().unwrap();
    });
}

rt_test!(send_arms);
fn send_arms(procs: usize) {
    let _w = Watchdog::new("send_arms", LIMIT);
    {
        runtime(procs).block_on(|| {
            // Buffered: room reserved, then filled.
            let (tx, rx) = bounded(1);
            select! {
                send(tx, 10) -> res => res.unwrap(),
            }
            assert_eq!(rx.try_recv(), Ok(10));
            // Rendezvous with a parked plain receiver.
            let (tx, rx) = bounded(0);
            let h = greenrt::spawn(move || rx.recv());
            while h.thread().wait_reason() != WaitReason::ChanRecv {
                greenrt::yield_now();
            }
            select! {
                send(tx, "hi") -> res => res.unwrap(),
                default(Duration::from_secs(30)) => panic!("receiver not found"),
            }
            assert_eq!(h.join().unwrap(), Ok("hi"));
            // Disconnected: the arm is ready and hands the message back.
            let (tx, rx) = bounded::<u8>(0);
            drop(rx);
            select! {
                send(tx, 3) -> res => assert_eq!(res, Err(SendError(3))),
            }
            // Unbounded: always ready.
            let (tx, rx) = unbounded();
            let evaluated = AtomicUsize::new(0);
            select! {
                send(tx, { evaluated.fetch_add(1, Ordering::SeqCst); 1 }) -> res => res.unwrap(),
            }
            assert_eq!((rx.recv(), evaluated.load(Ordering::SeqCst)), (Ok(1), 1));
        });
    }
}

rt_test!(selects_pair_with_each_other_on_rendezvous_channels);
/// A select's send arm and another select's (or a plain operation's)
/// receive meet on rendezvous channels, in every combination.
fn selects_pair_with_each_other_on_rendezvous_channels(procs: usize) {
    let _w = Watchdog::new("select_pairs", LIMIT);
    let n = stress(300);
    {
        runtime(procs).block_on(move || {
            let (tx, rx) = bounded::<usize>(0);
            let (_other_tx, other_rx) = bounded::<usize>(0);
            let (other_tx2, _other_rx2) = bounded::<usize>(0);
            // select send  <->  select recv
            let sender = greenrt::spawn({
                let tx = tx.clone();
                let other_tx2 = other_tx2.clone();
                move || {
                    for i in 0..n {
                        select! {
                            send(tx, i) -> r => r.unwrap(),
                            send(other_tx2, usize::MAX) -> _ => unreachable!(),
                        }
                    }
                }
            });
            for i in 0..n {
                select! {
                    recv(rx) -> m => assert_eq!(m, Ok(i)),
                    recv(other_rx) -> _ => unreachable!(),
                }
            }
            sender.join().unwrap();
            // select send  <->  plain recv
            let sender = greenrt::spawn({
                let tx = tx.clone();
                move || {
                    for i in 0..n {
                        select! { send(tx, i) -> r => r.unwrap() }
                    }
                }
            });
            for i in 0..n {
                assert_eq!(rx.recv(), Ok(i));
            }
            sender.join().unwrap();
            // plain send  <->  select recv
            let sender = greenrt::spawn(move || (0..n).for_each(|i| tx.send(i).unwrap()));
            for i in 0..n {
                select! { recv(rx) -> m => assert_eq!(m, Ok(i)) }
            }
            sender.join().unwrap();
        });
    }
}

rt_test!(select_stress_exactly_once);
/// Many green threads select over shared channels with send and receive
/// arms: every message is delivered exactly once.
fn select_stress_exactly_once(procs: usize) {
    let _w = Watchdog::new("select_stress", LIMIT);
    let per = stress(if cfg!(debug_assertions) { 500 } else { 3_000 });
    {
        for cap in [0, 2] {
            let sum = runtime(procs).block_on(move || {
                let (tx_a, rx_a) = bounded::<usize>(cap);
                let (tx_b, rx_b) = bounded::<usize>(cap);
                let producers: Vec<_> = (0..4)
                    .map(|p| {
                        let (tx_a, tx_b) = (tx_a.clone(), tx_b.clone());
                        greenrt::spawn(move || {
                            for i in 0..per {
                                let v = p * per + i;
                                select! {
                                    send(tx_a, v) -> r => r.unwrap(),
                                    send(tx_b, v) -> r => r.unwrap(),
                                }
                            }
                        })
                    })
                    .collect();
                drop((tx_a, tx_b));
                let consumers: Vec<_> = (0..4)
                    .map(|_| {
                        let (rx_a, rx_b) = (rx_a.clone(), rx_b.clone());
                        greenrt::spawn(move || {
                            let mut got = Vec::new();
                            let (mut a_open, mut b_open) = (true, true);
                            let off = never::<usize>();
                            while a_open || b_open {
                                select! {
                                    recv(if a_open { &rx_a } else { &off }) -> m => match m {
                                        Ok(v) => got.push(v),
                                        Err(RecvError) => a_open = false,
                                    },
                                    recv(if b_open { &rx_b } else { &off }) -> m => match m {
                                        Ok(v) => got.push(v),
                                        Err(RecvError) => b_open = false,
                                    },
                                }
                            }
                            got
                        })
                    })
                    .collect();
                producers.into_iter().for_each(|h| h.join().unwrap());
                let mut all: Vec<usize> = consumers
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect();
                all.sort_unstable();
                assert_eq!(all, (0..4 * per).collect::<Vec<_>>());
                all.len()
            });
            assert_eq!(sum, 4 * per);
        }
    }
}

rt_test!(after_at_never_and_tick_arms);
fn after_at_never_and_tick_arms(procs: usize) {
    let _w = Watchdog::new("timer_arms", LIMIT);
    {
        runtime(procs).block_on(|| {
            let start = Instant::now();
            let (_tx, rx) = unbounded::<i32>();
            select! {
                recv(rx) -> _ => panic!(),
                recv(never::<i32>()) -> _ => panic!(),
                recv(after(ms(15))) -> t => {
                    let t = t.unwrap();
                    assert!(t >= start + ms(15) && start.elapsed() >= ms(15));
                }
            }
            let when = Instant::now() + ms(5);
            let r = at(when);
            assert_eq!(r.recv(), Ok(when));
            // Delivered once; the channel never disconnects.
            assert!(r.recv_timeout(ms(5)).unwrap_err().is_timeout());
            assert_eq!(at(Instant::now() - ms(1)).try_recv().map(|_| ()), Ok(()));

            let ticker = tick(ms(5));
            let mut last = Instant::now();
            for _ in 0..4 {
                select! {
                    recv(ticker) -> t => { let t = t.unwrap(); assert!(t >= last); last = t; }
                    recv(after(Duration::from_secs(30))) -> _ => panic!("tick missed"),
                }
            }
            assert!(start.elapsed() >= ms(15 + 5 + 20));
            assert_eq!(
                (ticker.capacity(), after(ms(1)).capacity()),
                (Some(1), Some(1))
            );
        });
    }
}

#[test]
fn timer_channels_from_an_os_thread() {
    let start = Instant::now();
    assert!(after(ms(10)).recv().unwrap() >= start + ms(10));
    let t = tick(ms(3));
    let a = t.recv().unwrap();
    let b = t.recv().unwrap();
    assert!(b > a);
}

#[test]
fn disconnected_channels_make_arms_ready() {
    let (tx, rx) = unbounded::<i32>();
    drop(tx);
    select! {
        recv(rx) -> m => assert_eq!(m, Err(RecvError)),
        default => panic!("a disconnected receive is ready"),
    }
}

#[test]
fn dynamic_select_api() {
    let (tx1, rx1) = bounded::<i32>(0);
    let (tx2, rx2) = bounded::<i32>(1);
    let mut sel = Select::new();
    let r1 = sel.recv(&rx1);
    let s2 = sel.send(&tx2);
    assert_eq!((r1, s2), (0, 1));

    // Only the send into the buffered channel can proceed.
    let op = sel.try_select().unwrap();
    assert_eq!(op.index(), s2);
    op.send(&tx2, 7).unwrap();
    assert!(sel.try_select().is_err());
    assert!(sel.try_ready().is_err());
    assert!(sel.select_timeout(ms(5)).is_err());
    assert!(sel.select_deadline(Instant::now() + ms(5)).is_err());
    assert!(sel.ready_timeout(ms(5)).is_err());

    // remove() takes an operation out; indices are not reused.
    sel.remove(s2);
    let r2 = sel.recv(&rx2);
    assert_eq!(r2, 2);
    assert_eq!(sel.ready(), r2);
    assert_eq!(sel.try_ready(), Ok(r2));
    let op = sel.select();
    assert_eq!(op.index(), r2);
    assert_eq!(op.recv(&rx2), Ok(7));

    // A plain OS thread meets a green thread through Select.
    let rt = runtime(2);
    let h = rt.spawn(move || tx1.send(42).unwrap());
    let mut sel = Select::new();
    sel.recv(&rx1);
    let op = sel.select();
    assert_eq!(op.recv(&rx1), Ok(42));
    h.join().unwrap();
    assert!(format!("{:?}", Select::default()).contains("Select"));
}

rt_test!(ready_wakes_when_an_operation_becomes_ready);
fn ready_wakes_when_an_operation_becomes_ready(procs: usize) {
    let _w = Watchdog::new("ready", LIMIT);
    {
        runtime(procs).block_on(|| {
            let (tx, rx) = bounded::<i32>(0);
            let (_tx2, rx2) = unbounded::<i32>();
            let h = greenrt::spawn(move || {
                let mut sel = Select::new();
                let i = sel.recv(&rx);
                sel.recv(&rx2);
                assert_eq!(sel.ready(), i);
                rx.recv().unwrap()
            });
            while h.thread().wait_reason() != WaitReason::Select {
                greenrt::yield_now();
            }
            tx.send(9).unwrap();
            assert_eq!(h.join().unwrap(), 9);
        });
    }
}

#[test]
#[should_panic(expected = "passed a receiver that wasn't selected")]
fn completing_with_another_receiver_panics() {
    let (tx, rx) = unbounded::<i32>();
    let (_tx2, rx2) = unbounded::<i32>();
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    let _ = op.recv(&rx2);
}

#[test]
fn dropping_a_selected_operation_panics_and_releases_it() {
    let (tx, rx) = bounded::<i32>(1);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.send(&tx);
        drop(sel.select());
    }));
    assert!(dropped.is_err());
    // The reserved slot was released.
    tx.try_send(1).unwrap();
    assert_eq!(rx.recv(), Ok(1));
}

#[test]
fn many_arms_and_expression_forms() {
    let chans: Vec<(Sender<usize>, Receiver<usize>)> = (0..6).map(|_| unbounded()).collect();
    chans[4].0.send(4).unwrap();
    let r = &chans;
    let got = select! {
        recv(r[0].1) -> m => m.unwrap(),
        recv(r[1].1) -> m => m.unwrap(),
        recv(r[2].1) -> m => m.unwrap(),
        recv(r[3].1) -> m => m.unwrap(),
        recv(r[4].1) -> m => m.unwrap(),
        recv(r[5].1) -> m => m.unwrap()
    };
    assert_eq!(got, 4);
    // Block bodies without commas, trailing commas in arguments, `_` patterns.
    let (tx, rx) = unbounded();
    tx.send(1).unwrap();
    let mut hits = 0;
    loop {
        select! {
            recv(rx,) -> _ => { hits += 1; }
            default => { break }
        }
    }
    assert_eq!(hits, 1);
}

#[test]
fn select_between_os_thread_and_green_threads() {
    let _w = Watchdog::new("select_mixed", LIMIT);
    let rt = runtime(2);
    let (tx, rx) = bounded::<u32>(0);
    let (done_tx, done_rx) = bounded::<()>(0);
    let g = rt.spawn(move || {
        let mut n = 0;
        loop {
            select! {
                recv(rx) -> m => n += m.unwrap(),
                recv(done_rx) -> _ => return n,
            }
        }
    });
    for i in 0..100 {
        select! { send(tx, i) -> r => r.unwrap() }
    }
    done_tx.send(()).unwrap();
    assert_eq!(g.join().unwrap(), 4950);
    let _ = Arc::new(()); // keep the Arc import meaningful for other cfgs
}

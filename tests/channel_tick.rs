//! `tick` with crossbeam-channel 0.5's semantics (issue 16 item 5): each
//! message is the instant the tick was due, the first due at start +
//! period; at most one tick is pending, and the next is due a period after
//! the later of the tick taken and the start of the receive that took it,
//! so a slow reader gets fewer, later ticks and never a backlog; `len`,
//! `is_empty` and `is_full` follow whether a tick is due. And `select!`
//! with `default` over tick channels, under stress, from several threads.
//!
//! Being slow is what the first tests are about, so they sleep on purpose;
//! their assertions are exact bounds from instants read around the calls,
//! never a guess of how long something takes.

#![allow(clippy::len_zero)] // `len` is under test beside `is_empty`

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{runtime, stress, Watchdog, PROCS};
use greenrt::select;
use greenrt::sync::tick;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// From a plain OS thread or a green thread, the same facts.
fn slow_reader_sees_no_backlog() {
    let period = ms(20);
    let before = Instant::now();
    let r = tick(period);
    let after = Instant::now();
    assert_eq!(r.capacity(), Some(1));
    assert!(
        r.is_empty() && !r.is_full() && r.len() == 0,
        "nothing due yet"
    );

    // Miss five periods.
    thread_or_green_sleep(period * 6);
    assert!(!r.is_empty() && r.is_full() && r.len() == 1, "one tick due");

    // The one pending tick is the first, due at start + period.
    let took_from = Instant::now();
    let first = r.try_recv().expect("a tick is due");
    let took_to = Instant::now();
    assert!(
        first >= before + period && first <= after + period,
        "the first tick"
    );
    // No backlog of the missed ones.
    assert!(r.try_recv().is_err(), "at most one tick is pending");
    assert!(r.is_empty() && !r.is_full() && r.len() == 0);

    // The next is due a period after it was taken (late), not on the grid.
    let second = r.recv().expect("ticks never disconnect");
    assert!(
        second >= took_from + period && second <= took_to + period,
        "the next tick is due a period after the late take"
    );
    assert!(second <= Instant::now());

    // Late again, with a blocking receive this time: it gets the pending
    // tick, and the next is due a period after that receive began.
    thread_or_green_sleep(period * 3);
    let recv_from = Instant::now();
    let third = r.recv().expect("ticks never disconnect");
    let recv_to = Instant::now();
    assert_eq!(third, second + period, "the pending tick, due on time");
    let fourth = r.recv_timeout(Duration::from_secs(30)).expect("a tick");
    assert!(fourth >= recv_from + period && fourth <= recv_to + period);
}

fn thread_or_green_sleep(d: Duration) {
    if greenrt::current().is_some() {
        greenrt::time::sleep(d);
    } else {
        thread::sleep(d);
    }
}

#[test]
fn slow_reader_from_an_os_thread() {
    let _dog = Watchdog::new("slow tick reader", Duration::from_secs(60));
    slow_reader_sees_no_backlog();
}

#[test]
fn slow_reader_from_a_green_thread() {
    let _dog = Watchdog::new("slow tick reader", Duration::from_secs(60));
    for procs in PROCS {
        runtime(procs).block_on(slow_reader_sees_no_backlog);
    }
}

/// A reader that waits for each tick stays on the grid: every tick is due
/// exactly a period after the one before (the receive began before it was
/// due), unless the reader was descheduled for a whole period.
#[test]
fn waiting_reader_stays_on_the_grid() {
    let _dog = Watchdog::new("tick grid", Duration::from_secs(60));
    let period = ms(10);
    let r = tick(period);
    let mut last = r.recv().expect("a tick");
    for _ in 0..20 {
        let began = Instant::now();
        let t = r.recv().expect("a tick");
        if began < last + period {
            assert_eq!(t, last + period, "on the grid");
        } else {
            assert!(
                t >= began + period,
                "late: a period after the receive began"
            );
        }
        last = t;
    }
}

/// Checks a stream of ticks one receiver got from one channel.
fn check_stream(ticks: &[Instant], period: Duration) {
    for w in ticks.windows(2) {
        assert!(
            w[1] >= w[0] + period,
            "ticks at least a period apart, no backlog"
        );
    }
}

/// Several threads select over several tick channels with `default`,
/// spinning; every tick is delivered once, each channel's ticks (over all
/// threads) are at least a period apart, and each tick has come due when
/// it is received.
fn select_default_over_ticks(
    threads: usize,
    spawn: impl Fn(Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()>,
) {
    let periods = [ms(1), ms(2), ms(3)];
    let want = stress(40);
    let ticks: Vec<_> = periods.iter().map(|&p| tick(p)).collect();
    let got: Arc<Mutex<Vec<Vec<Instant>>>> = Arc::new(Mutex::new(vec![Vec::new(); 3]));
    let joins: Vec<_> = (0..threads)
        .map(|_| {
            let (a, b, c) = (ticks[0].clone(), ticks[1].clone(), ticks[2].clone());
            let got = got.clone();
            spawn(Box::new(move || {
                let mut mine = vec![Vec::new(); 3];
                let mut defaults = 0u64;
                while mine.iter().map(Vec::len).sum::<usize>() < want {
                    let (i, t) = select! {
                        recv(a) -> t => (0, t),
                        recv(b) -> t => (1, t),
                        recv(c) -> t => (2, t),
                        default => {
                            defaults += 1;
                            greenrt::yield_now();
                            continue;
                        }
                    };
                    let t = t.expect("ticks never disconnect");
                    assert!(t <= Instant::now(), "a tick is received once due");
                    mine[i].push(t);
                }
                assert!(defaults > 0, "the default arm ran while nothing was due");
                let mut all = got.lock().unwrap();
                for (i, m) in mine.into_iter().enumerate() {
                    all[i].extend(m);
                }
            }))
        })
        .collect();
    for j in joins {
        j();
    }
    let mut all = got.lock().unwrap();
    for (i, stream) in all.iter_mut().enumerate() {
        stream.sort();
        check_stream(stream, periods[i]);
    }
}

#[test]
fn select_default_over_ticks_on_green_threads() {
    let _dog = Watchdog::new("select over ticks", Duration::from_secs(120));
    for procs in PROCS {
        runtime(procs).block_on(|| {
            select_default_over_ticks(3, |f| {
                let h = greenrt::spawn(f);
                Box::new(move || h.join().expect("selector"))
            })
        });
    }
}

#[test]
fn select_default_over_ticks_on_os_threads() {
    let _dog = Watchdog::new("select over ticks", Duration::from_secs(120));
    select_default_over_ticks(3, |f| {
        let h = thread::spawn(f);
        Box::new(move || h.join().expect("selector"))
    });
}

/// Plain receives from clones of one tick channel on several threads: each
/// tick goes to one of them, and none is early or part of a backlog.
#[test]
fn cloned_receivers_share_the_ticks() {
    let _dog = Watchdog::new("cloned tick receivers", Duration::from_secs(120));
    for procs in PROCS {
        runtime(procs).block_on(|| {
            let period = ms(1);
            let r = tick(period);
            let hs: Vec<_> = (0..3)
                .map(|k| {
                    let r = r.clone();
                    greenrt::spawn(move || {
                        (0..stress(30))
                            .map(|i| {
                                if (i + k) % 2 == 0 {
                                    r.recv().expect("a tick")
                                } else {
                                    loop {
                                        if let Ok(t) = r.try_recv() {
                                            break t;
                                        }
                                        greenrt::yield_now();
                                    }
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<Instant> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
            all.sort();
            check_stream(&all, period);
        });
    }
}

//! A non-blocking select is linearizable (issue 16 item 3): if at every
//! instant one of its operations is ready, it never takes the default.
//!
//! The scenario: `r1` holds a message; the partner sends on `r2` and only
//! then takes the message from `r1`, so the two channels are never both
//! empty while the select runs. A select that looks at the channels one
//! after the other, at different instants, can see `r2` before the send and
//! `r1` after the take, and wrongly report "nothing ready". Each round runs
//! one of the four non-blocking forms (`default`, `default(0)`,
//! `try_select`, `select_timeout(0)`), on OS threads and on green threads.
//! Arms on channels that are always empty sit beside the two: they change
//! nothing about the guarantee, but a select that looks at the arms one by
//! one then takes longer between its looks at `r1` and `r2`, which makes
//! the race this test hunts for more likely.
//! Rounds: `stress(2_000)` per case (`GREENRT_STRESS_ITERS` scales them).

mod common;

use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::select;
use greenrt::sync::{bounded, unbounded, Receiver, Select, Sender};

const LIMIT: Duration = Duration::from_secs(300);

/// The non-blocking forms, taken in turn.
const FORMS: usize = 4;

/// How many always-empty arms a dynamic select has beside `r1` and `r2`.
const FILLERS: usize = 16;

/// Runs one non-blocking select over `r1`, `r2` and the always-empty
/// `fill` in form `form`; true if it took an operation on `r1` or `r2` (and
/// completed it), false if it fell through.
fn select_now(form: usize, r1: &Receiver<u32>, r2: &Receiver<u32>, fill: &[Receiver<u32>]) -> bool {
    let empty = || -> bool { panic!("an always-empty channel was selected") };
    match form {
        0 => select! {
            recv(fill[0]) -> _ => empty(),
            recv(r1) -> m => { m.unwrap(); true }
            recv(fill[1]) -> _ => empty(),
            recv(fill[2]) -> _ => empty(),
            recv(r2) -> m => { m.unwrap(); true }
            recv(fill[3]) -> _ => empty(),
            default => false,
        },
        1 => select! {
            recv(fill[0]) -> _ => empty(),
            recv(r1) -> m => { m.unwrap(); true }
            recv(fill[1]) -> _ => empty(),
            recv(fill[2]) -> _ => empty(),
            recv(r2) -> m => { m.unwrap(); true }
            recv(fill[3]) -> _ => empty(),
            default(Duration::ZERO) => false,
        },
        2 | 3 => {
            let mut sel = Select::new();
            let i1 = sel.recv(r1);
            let i2 = sel.recv(r2);
            for f in fill {
                sel.recv(f);
            }
            let op = if form == 2 {
                sel.try_select().ok()
            } else {
                sel.select_timeout(Duration::ZERO).ok()
            };
            match op {
                Some(op) if op.index() == i1 => op.recv(r1).is_ok(),
                Some(op) if op.index() == i2 => op.recv(r2).is_ok(),
                Some(_) => empty(),
                None => false,
            }
        }
        _ => unreachable!(),
    }
}

type Pair = (Sender<u32>, Receiver<u32>);

/// The selecting side: per round, fills `r1`, selects, then clears `r2`.
/// Returns how many selects wrongly took the default.
fn selector(rounds: usize, c1: Pair, c2: Pair, start: Sender<()>, end: Receiver<()>) -> usize {
    let ((s1, r1), (_s2, r2)) = (c1, c2);
    // Their senders stay alive, so these never become ready.
    let (_fill_tx, fill): (Vec<_>, Vec<_>) = (0..FILLERS).map(|_| bounded::<u32>(1)).unzip();
    let mut defaults = 0;
    for round in 0..rounds {
        start.send(()).unwrap();
        s1.send(1).unwrap();
        if !select_now(round % FORMS, &r1, &r2, &fill) {
            defaults += 1;
        }
        end.recv().unwrap();
        // Whatever the select did not take is gone before the next round.
        let _ = r1.try_recv();
        let _ = r2.try_recv();
    }
    defaults
}

/// The partner: per round, sends on `r2`, then takes from `r1`.
fn partner(
    rounds: usize,
    s2: Sender<u32>,
    r1: Receiver<u32>,
    start: Receiver<()>,
    end: Sender<()>,
) {
    for _ in 0..rounds {
        start.recv().unwrap();
        s2.send(2).unwrap();
        let _ = r1.try_recv();
        end.send(()).unwrap();
    }
}

struct Setup {
    selector: Box<dyn FnOnce() -> usize + Send>,
    partner: Box<dyn FnOnce() + Send>,
}

fn setup(bounded_channels: bool, rounds: usize) -> Setup {
    let make = || {
        if bounded_channels {
            bounded::<u32>(1)
        } else {
            unbounded::<u32>()
        }
    };
    let (c1, c2) = (make(), make());
    let (start_tx, start_rx) = bounded::<()>(0);
    let (end_tx, end_rx) = bounded::<()>(0);
    let (s2, r1) = (c2.0.clone(), c1.1.clone());
    Setup {
        selector: Box::new(move || selector(rounds, c1, c2, start_tx, end_rx)),
        partner: Box::new(move || partner(rounds, s2, r1, start_rx, end_tx)),
    }
}

fn check(defaults: usize, rounds: usize, what: &str) {
    assert_eq!(
        defaults, 0,
        "{what}: a non-blocking select took the default {defaults} times in {rounds} rounds \
         although an operation was ready at every instant"
    );
}

#[test]
fn on_os_threads() {
    let _w = Watchdog::new("select_linearizable::on_os_threads", LIMIT);
    let rounds = stress(2_000);
    for bounded_channels in [true, false] {
        let s = setup(bounded_channels, rounds);
        let p = std::thread::spawn(s.partner);
        let defaults = (s.selector)();
        p.join().unwrap();
        check(
            defaults,
            rounds,
            &format!("OS threads, bounded {bounded_channels}"),
        );
    }
}

rt_test!(on_green_threads);
fn on_green_threads(procs: usize) {
    let _w = Watchdog::new("select_linearizable::on_green_threads", LIMIT);
    let rounds = stress(2_000);
    for bounded_channels in [true, false] {
        let s = setup(bounded_channels, rounds);
        let defaults = runtime(procs).block_on(move || {
            let p = greenrt::spawn(s.partner);
            let defaults = (s.selector)();
            p.join().unwrap();
            defaults
        });
        check(
            defaults,
            rounds,
            &format!("green threads at procs {procs}, bounded {bounded_channels}"),
        );
    }
}

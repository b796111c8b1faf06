//! The park/unpark primitive under races: no lost wake-ups
//! (docs/ARCHITECTURE.md, "Parking and waking").

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};
use greenrt::GreenThread;

/// Two green threads taking turns on a counter, waking each other with
/// `unpark` and waiting with `park` only.
#[derive(Default)]
struct Pair {
    value: AtomicU64,
    ping: OnceLock<GreenThread>,
    pong: OnceLock<GreenThread>,
}

impl Pair {
    fn wait_for(&self, v: u64) {
        while self.value.load(Ordering::Acquire) != v {
            greenrt::park();
        }
    }
}

fn peer(cell: &OnceLock<GreenThread>) -> GreenThread {
    loop {
        if let Some(h) = cell.get() {
            return h.clone();
        }
        greenrt::yield_now();
    }
}

/// How the two sides of a ping-pong pair wake each other.
#[derive(Clone, Copy)]
enum Waking {
    /// One `unpark` per round; the pong side yields every third round, so
    /// the peer sometimes parks first and sometimes not.
    Once,
    /// Two `unpark`s per round: the spare permit is usually still pending
    /// when the next round's wake arrives.
    WithSparePermit,
}

/// Runs `pairs` ping-pong pairs of green threads for `rounds` rounds with
/// `procs` processors, waking only with `unpark` and waiting only with
/// `park`; asserts every round of every pair completed.
fn ping_pong_pairs(procs: usize, what: &str, pairs: u64, rounds: u64, waking: Waking) {
    let wake = move |peer: &GreenThread| {
        peer.unpark();
        if let Waking::WithSparePermit = waking {
            peer.unpark();
        }
    };
    {
        let _w = Watchdog::new(&format!("{what} procs={procs}"), Duration::from_secs(60));
        let rt = runtime(procs);
        let total = rt.block_on(move || {
            let mut joins = Vec::new();
            for _ in 0..pairs {
                let pair = Arc::new(Pair::default());
                let p = pair.clone();
                let pong = greenrt::spawn!(move || {
                    p.pong.set(greenrt::current().unwrap()).unwrap();
                    let ping = peer(&p.ping);
                    for r in 0..rounds {
                        p.wait_for(2 * r + 1);
                        // Sometimes let the peer park first, sometimes not:
                        // both orders of wake and park must work.
                        if let Waking::Once = waking {
                            if r % 3 == 0 {
                                greenrt::yield_now();
                            }
                        }
                        p.value.store(2 * r + 2, Ordering::Release);
                        wake(&ping);
                    }
                    rounds
                });
                let p = pair.clone();
                let ping = greenrt::spawn!(move || {
                    p.ping.set(greenrt::current().unwrap()).unwrap();
                    let pong = peer(&p.pong);
                    for r in 0..rounds {
                        p.value.store(2 * r + 1, Ordering::Release);
                        wake(&pong);
                        p.wait_for(2 * r + 2);
                    }
                    rounds
                });
                joins.push((ping, pong));
            }
            joins
                .into_iter()
                .map(|(a, b)| a.join().unwrap() + b.join().unwrap())
                .sum::<u64>()
        });
        assert_eq!(total, 2 * pairs * rounds, "procs = {procs}");
    }
}

rt_test!(ping_pong_pairs_across_processors_never_lose_a_wake_up);
fn ping_pong_pairs_across_processors_never_lose_a_wake_up(procs: usize) {
    ping_pong_pairs(procs, "ping-pong", 32, stress(2_000) as u64, Waking::Once);
}

rt_test!(a_pending_permit_never_hides_a_new_wake);
/// Every wake leaves a spare permit behind (a second `unpark`), so the next
/// wake usually finds one already pending. Such a wake must still make its
/// newly published value visible to the G that consumes the pending permit:
/// before wakes always wrote, the G could consume the old permit, re-read
/// the old value and park for good (a lost wake-up).
fn a_pending_permit_never_hides_a_new_wake(procs: usize) {
    ping_pong_pairs(
        procs,
        "spare permits",
        16,
        stress(2_000) as u64,
        Waking::WithSparePermit,
    );
}

rt_test!(unpark_before_park_is_not_lost);
fn unpark_before_park_is_not_lost(procs: usize) {
    {
        let rt = runtime(procs);
        rt.block_on(|| {
            let me = greenrt::current().unwrap();
            me.unpark();
            // Returns at once: the permit was left by the unpark above.
            greenrt::park();
        });
    }
}

#[test]
fn os_thread_wakes_green_thread_and_back() {
    let _w = Watchdog::new("os<->green", Duration::from_secs(30));
    let rt = runtime(2);
    let rounds = stress(1_000) as u64;
    let pair = Arc::new(Pair::default());
    let p = pair.clone();
    let g = rt.spawn(move || {
        p.pong.set(greenrt::current().unwrap()).unwrap();
        for r in 0..rounds {
            p.wait_for(2 * r + 1);
            p.value.store(2 * r + 2, Ordering::Release);
            // Wake the OS thread waiting below.
            OS_THREAD.get().unwrap().unpark();
        }
    });
    OS_THREAD.set(std::thread::current()).unwrap();
    let pong = loop {
        if let Some(h) = pair.pong.get() {
            break h.clone();
        }
        std::thread::yield_now();
    };
    for r in 0..rounds {
        pair.value.store(2 * r + 1, Ordering::Release);
        pong.unpark();
        while pair.value.load(Ordering::Acquire) != 2 * r + 2 {
            std::thread::park();
        }
    }
    g.join().unwrap();
}

static OS_THREAD: OnceLock<std::thread::Thread> = OnceLock::new();

#[test]
fn park_timeout_returns_after_the_timeout() {
    let rt = runtime(1);
    let waited = rt.block_on(|| {
        let t = std::time::Instant::now();
        greenrt::park_timeout(Duration::from_millis(20));
        t.elapsed()
    });
    assert!(waited >= Duration::from_millis(20), "{waited:?}");
}

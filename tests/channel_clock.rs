//! Timer channels are ready by the clock, as crossbeam's (issue 16 items 4
//! and 5): a message of `at`/`after`/`tick` that has come due is seen by
//! `len`, `try_recv` and a select even while its timer has not run yet.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, Watchdog};
use greenrt::select;
use greenrt::sync::{at, tick, TryRecvError};

/// How far ahead the messages are due: long enough that "not due yet" can
/// be checked first, short enough to spin through.
const AHEAD: Duration = Duration::from_millis(20);

/// Spins (no yield, no checkpoint) until `cond` holds.
fn spin_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::hint::spin_loop();
    }
}

/// Every P is held by a green thread that never yields, so no M reaches the
/// top of its scheduling loop, where timers run: the messages below come
/// due with their timers still pending.
fn due_messages_are_ready_before_their_timers_run(procs: usize) {
    let _dog = Watchdog::new("clock channels", Duration::from_secs(30));
    let rt = common::runtime_without_hog_report(procs);
    let holding = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let holders: Vec<_> = (1..procs)
        .map(|_| {
            let (holding, release) = (holding.clone(), release.clone());
            rt.spawn(move || {
                holding.fetch_add(1, Ordering::SeqCst);
                spin_until(|| release.load(Ordering::SeqCst));
            })
        })
        .collect();
    rt.block_on({
        let release = release.clone();
        move || {
            spin_until(|| holding.load(Ordering::SeqCst) == procs - 1);
            let start = Instant::now();
            let due = start + AHEAD;
            let alarm = at(due);
            let alarm_clone = alarm.clone();
            let ticks = tick(AHEAD);
            // The first tick is due AHEAD after `tick` read the clock: by
            // this bound at the latest.
            let tick_due = Instant::now() + AHEAD;
            assert!(
                alarm.is_empty() || Instant::now() >= due,
                "ready before it was due"
            );
            spin_until(|| Instant::now() >= tick_due);

            assert_eq!(alarm.len(), 1, "due by the clock");
            assert!(alarm.is_full());
            select! {
                recv(alarm) -> m => assert_eq!(m, Ok(due)),
                default => panic!("an at() channel that is due is not ready in select"),
            }
            // One message per channel, shared by its clones.
            assert_eq!(alarm_clone.try_recv(), Err(TryRecvError::Empty));
            assert!(alarm.is_empty() && alarm_clone.is_empty());

            assert_eq!(ticks.len(), 1, "a tick due by the clock");
            select! {
                recv(ticks) -> m => assert!(m.unwrap() >= start + AHEAD, "an early tick"),
                default => panic!("a tick that is due is not ready in select"),
            }
            assert!(ticks.is_empty(), "at most one tick pending");
            release.store(true, Ordering::SeqCst);
        }
    });
    for h in holders {
        h.join().unwrap();
    }
}
rt_test!(due_messages_are_ready_before_their_timers_run);

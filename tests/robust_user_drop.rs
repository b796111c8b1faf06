//! User code in destructors never hurts the runtime: a result's `Drop` that
//! adds timers, blocks or panics runs on its own green thread, never under a
//! runtime lock or on an M's stack (invariant 7 in `runtime/sched/mod.rs`;
//! issue 14).

mod common;

use std::time::Duration;

use common::{runtime, Watchdog, PROCS};
use greenrt::sync::{after, unbounded};

/// Adds a timer when dropped.
struct AddsTimerOnDrop;

impl Drop for AddsTimerOnDrop {
    fn drop(&mut self) {
        let _ = after(Duration::from_millis(1));
    }
}

/// A detached G parks with a timeout and is woken early, so its cancelled
/// timer entry outlives it. Whoever drops that entry last must not hold the
/// timer lock: the G's result adds a timer when dropped. Hung (deadlock on
/// the timer-heap lock) before invariant 7 was kept by `Timers::run_due`.
#[test]
fn last_reference_in_a_cancelled_timer_is_dropped_outside_the_timer_lock() {
    for procs in PROCS {
        let _w = Watchdog::new("drop under the timer lock", Duration::from_secs(20));
        let rt = runtime(procs);
        rt.block_on(|| {
            for _ in 0..common::stress(4) {
                let (tx, rx) = unbounded::<u32>();
                drop(greenrt::spawn(move || {
                    let got = rx.recv_timeout(Duration::from_millis(30));
                    assert_eq!(got, Ok(1));
                    AddsTimerOnDrop
                }));
                greenrt::sleep(Duration::from_millis(1));
                tx.send(1).unwrap();
                // Outlives the cancelled 30 ms timer: it must still fire.
                greenrt::sleep(Duration::from_millis(60));
            }
        });
    }
}

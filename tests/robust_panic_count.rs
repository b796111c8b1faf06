//! `std::thread::panicking()` stays right on both sides of a park made by a
//! destructor during an unwind, also when the G resumes on another M (issue
//! 14 defect 5, `sched/panic_count.rs`). Before the fix the unwinding G
//! left its panic count on the OS thread it parked on, so every other G
//! there saw `panicking()` true (poisoning std mutexes), and ended the
//! panic on a thread whose count was zero.

mod common;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::{rt_test, until_parked, Watchdog};
use greenrt::sync::{unbounded, Receiver, Sender};
use greenrt::WaitReason;

/// Waits for a message when dropped, reporting `panicking()` before and after.
struct ParksInDrop {
    rx: Receiver<()>,
    report: Sender<(bool, bool)>,
}

impl Drop for ParksInDrop {
    fn drop(&mut self) {
        let before = std::thread::panicking();
        self.rx.recv().unwrap();
        let after = std::thread::panicking();
        self.report.send((before, after)).unwrap();
    }
}

/// What `panicking()` says on many Gs, spread over the Ms.
fn others_panicking(procs: usize) -> bool {
    let hs: Vec<_> = (0..8 * procs)
        .map(|_| {
            greenrt::spawn(|| {
                greenrt::yield_now();
                std::thread::panicking()
            })
        })
        .collect();
    hs.into_iter().any(|h| h.join().unwrap())
}

rt_test!(panicking_is_right_on_both_sides_of_a_park_during_an_unwind);
fn panicking_is_right_on_both_sides_of_a_park_during_an_unwind(procs: usize) {
    let _w = Watchdog::new("park during an unwind", Duration::from_secs(30));
    let rt = common::runtime(procs);
    rt.block_on(move || {
        for _ in 0..common::stress(5) {
            let (tx, rx) = unbounded();
            let (report_tx, report) = unbounded();
            let unwinding = greenrt::spawn(move || {
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    let _d = ParksInDrop {
                        rx,
                        report: report_tx,
                    };
                    resume_unwind(Box::new("unwinding"));
                }));
                (caught.is_err(), std::thread::panicking())
            });
            until_parked(std::slice::from_ref(&unwinding), WaitReason::ChanRecv);
            assert!(!std::thread::panicking(), "the park left its count here");
            assert!(!others_panicking(procs), "the park left its count on an M");
            tx.send(()).unwrap();
            assert_eq!(report.recv().unwrap(), (true, true), "the unwinding G");
            assert_eq!(
                unwinding.join().unwrap(),
                (true, false),
                "after catch_unwind"
            );
            assert!(!others_panicking(procs), "the panic ended on another M");
        }
    });
}

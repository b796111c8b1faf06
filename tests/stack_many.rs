//! More green threads live at once than two mappings per stack allowed
//! (about 32 700 under the default vm.max_map_count): slab stacks make
//! 100 000 parked green threads fit, and all of them wake and finish.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LIVE: usize = 100_000;

fn watchdog(secs: u64) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            rx.recv_timeout(Duration::from_secs(secs))
        {
            eprintln!("watchdog: green threads did not all finish in {secs} s");
            std::process::abort();
        }
    });
    tx
}

#[test]
fn a_hundred_thousand_parked_green_threads_all_wake_and_finish() {
    let done_tx = watchdog(120);
    let rt = greenrt::Runtime::builder().procs(2).build().unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&finished);
    let started = rt
        .spawn(move || {
            let (tx, rx) = greenrt::sync::unbounded::<()>();
            let mut handles = Vec::with_capacity(LIVE);
            let parked = Arc::new(AtomicUsize::new(0));
            for _ in 0..LIVE {
                let rx = rx.clone();
                let f = Arc::clone(&f);
                let parked = Arc::clone(&parked);
                handles.push(greenrt::spawn(move || {
                    parked.fetch_add(1, Ordering::SeqCst);
                    rx.recv().expect("sender lives until all are woken");
                    f.fetch_add(1, Ordering::SeqCst);
                }));
            }
            while parked.load(Ordering::SeqCst) < LIVE {
                greenrt::yield_now();
            }
            for _ in 0..LIVE {
                tx.send(()).unwrap();
            }
            let mut ok = 0;
            for h in handles {
                h.join()
                    .expect("every green thread got a stack and finished");
                ok += 1;
            }
            ok
        })
        .join()
        .unwrap();
    assert_eq!(started, LIVE);
    assert_eq!(finished.load(Ordering::SeqCst), LIVE);
    done_tx.send(()).unwrap();
}

//! A green thread that cannot get a stack is cancelled with a clear error,
//! and its closure's captures are dropped safely: a runtime call in their
//! `Drop` (here a yield) used to switch a G that had no coroutine — a jump
//! through a null yielder, a SIGSEGV in release builds (issue 14 defect 3).
//!
//! Stacks fail for real: the per-stack `mprotect` fallback is forced, so
//! `vm.max_map_count` runs out after ~32 000 live green threads. Its own test
//! binary, since it exhausts the process's memory mappings.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Watchdog;

struct YieldsOnDrop(Arc<AtomicUsize>);

impl Drop for YieldsOnDrop {
    fn drop(&mut self) {
        greenrt::yield_now();
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn captures_of_a_green_thread_without_a_stack_are_dropped_safely() {
    let _w = Watchdog::new("stack failure", Duration::from_secs(60));
    // Only this test runs in this binary, before any runtime exists.
    std::env::set_var("GREENRT_STACK_GUARD", "mprotect");
    let max_maps: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .expect("vm.max_map_count")
        .trim()
        .parse()
        .unwrap();
    // Two mappings per stack: this many live green threads must exhaust it.
    let live = max_maps / 2 + 2_000;
    let rt = greenrt::Runtime::builder().procs(1).build().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&dropped);
    let parked = Arc::new(AtomicUsize::new(0));
    let (started, failed) = rt.block_on(move || {
        let (tx, rx) = greenrt::sync::unbounded::<()>();
        // Allocated before mappings run out (a large Vec is itself a mapping).
        let mut handles = Vec::with_capacity(live);
        for _ in 0..live {
            let rx = rx.clone();
            let guard = YieldsOnDrop(Arc::clone(&d));
            let parked = Arc::clone(&parked);
            handles.push(greenrt::spawn(move || {
                let _guard = guard;
                parked.fetch_add(1, Ordering::SeqCst);
                rx.recv().unwrap();
            }));
        }
        // Let every green thread start (or fail to) before waking them.
        while parked.load(Ordering::SeqCst) + d.load(Ordering::SeqCst) < live {
            greenrt::yield_now();
        }
        for _ in 0..live {
            tx.send(()).unwrap();
        }
        let mut started = 0;
        let mut failed = 0;
        for h in handles {
            match h.join() {
                Ok(()) => started += 1,
                Err(e) => {
                    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                    assert!(msg.contains("could not start"), "unexpected error: {msg}");
                    assert!(
                        msg.contains("vm.max_map_count"),
                        "error names the limit: {msg}"
                    );
                    failed += 1;
                }
            }
        }
        (started, failed)
    });
    assert!(
        failed > 0,
        "the mapping limit was never reached ({started} started)"
    );
    assert_eq!(started + failed, live);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        live,
        "every capture dropped once"
    );
}

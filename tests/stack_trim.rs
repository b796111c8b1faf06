//! Stack memory goes back after a burst: once the runtime is idle, sysmon
//! drops the pooled stacks nobody needs and unmaps every slab left without a
//! live stack, so the process's address space (and the page tables and
//! guard markers in it) falls back to about where it was. One slab holds
//! 1 024 stacks. (Mappings are not the measure: adjacent slabs merge into
//! one kernel mapping.)
//!
//! One test in its own binary: it measures the whole process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BURST: usize = 20 * 1024;
const STACK_SIZE: usize = 64 * 1024;

/// The process's mapped address space, in MiB (`VmSize`).
fn mapped_mib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kib / 1024
}

/// Spawns `BURST` green threads, lets them all park at once, wakes them.
fn burst(rt: &greenrt::Runtime) {
    rt.spawn(|| {
        let (tx, rx) = greenrt::sync::unbounded::<()>();
        let parked = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..BURST)
            .map(|_| {
                let rx = rx.clone();
                let parked = Arc::clone(&parked);
                greenrt::spawn(move || {
                    parked.fetch_add(1, Ordering::SeqCst);
                    rx.recv().unwrap()
                })
            })
            .collect();
        // All of them on a stack at once (each counts itself, then parks).
        while parked.load(Ordering::SeqCst) < BURST {
            greenrt::yield_now();
        }
        for _ in 0..BURST {
            tx.send(()).unwrap();
        }
        for h in handles {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
}

#[test]
fn an_idle_runtime_unmaps_the_slabs_of_a_finished_burst() {
    if std::env::var("GREENRT_STACK_GUARD").is_ok_and(|v| v == "mprotect") {
        return; // no slabs on the fallback path
    }
    for procs in [1, 2, 4] {
        let rt = greenrt::Runtime::builder()
            .procs(procs)
            .stack_size(STACK_SIZE)
            .build()
            .unwrap();
        let before = mapped_mib();
        burst(&rt);
        let peak = mapped_mib();
        let slab_mib = 1024 * (STACK_SIZE + 4096) / (1024 * 1024);
        assert!(
            peak >= before + (BURST / 1024 - 1) * slab_mib,
            "procs {procs}: {before} MiB -> {peak} MiB; are stacks not from slabs?"
        );
        // No signal exists for "sysmon trimmed": poll the observable
        // outcome, with a deadline that fails the test.
        let deadline = Instant::now() + Duration::from_secs(20);
        // The stacks kept (each P's cache, the global floor) and the slab
        // being carved pin a few slabs; at least half of the burst's must go.
        let at_most = peak - (BURST / 1024 / 2) * slab_mib;
        loop {
            let now = mapped_mib();
            if now <= at_most {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "procs {procs}: {before} MiB before, {peak} MiB at the peak, still {now} MiB after 20 s idle"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The runtime still works on the stacks it kept.
        burst(&rt);
    }
}

//! Dropping a runtime while a CPU-bound green thread runs: it checks in with
//! `coop::checkpoint`, as greenrt asks of such code, so the drop must get
//! it to switch and return. (Found by `tests/fault_soak.rs`: before
//! `Runtime::shutdown_timeout`, shutdown stopped sysmon — which asks running
//! green threads to yield — first, and the drop joined that G's M forever.)

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{rt_test, runtime, Watchdog};

rt_test!(dropping_a_runtime_stops_a_checkpointing_cpu_bound_green_thread);
fn dropping_a_runtime_stops_a_checkpointing_cpu_bound_green_thread(procs: usize) {
    let _w = Watchdog::new(
        &format!("drop beside a CPU-bound green thread, procs={procs}"),
        Duration::from_secs(20),
    );
    let rt = runtime(procs);
    let (running, is_running) = mpsc::channel();
    let hog = rt.spawn(move || {
        running.send(()).unwrap();
        let mut x = 1u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            greenrt::coop::checkpoint();
        }
    });
    is_running.recv().unwrap();
    drop(rt);
    let err = hog.join().expect_err("an endless loop cannot finish");
    let msg = err
        .downcast_ref::<String>()
        .expect("a cancellation message");
    assert!(msg.contains("cancelled"), "{msg}");
}

//! Idle means idle: a runtime whose green threads all wait uses no CPU.

mod common;

use std::time::Duration;

use common::{process_cpu_time, runtime};

#[test]
fn sleeping_runtime_uses_no_measurable_cpu() {
    for procs in [1, 2, 4] {
        let rt = runtime(procs);
        // Wake every M once, then let every G sleep for much longer than the
        // window we measure.
        let hs: Vec<_> = (0..1_000)
            .map(|_| rt.spawn(|| greenrt::sleep(Duration::from_secs(3600))))
            .collect();
        rt.block_on(|| greenrt::sleep(Duration::from_millis(20)));
        let before = process_cpu_time();
        // The thing measured is time itself, so this waits a fixed window.
        std::thread::sleep(Duration::from_millis(500));
        let used = process_cpu_time() - before;
        assert!(
            used < Duration::from_millis(25),
            "procs = {procs}: an idle runtime burned {used:?} of CPU in 500 ms"
        );
        drop(rt);
        for h in hs {
            assert!(h.join().is_err());
        }
    }
}

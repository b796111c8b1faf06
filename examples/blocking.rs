//! Syscall handoff in action: green threads making blocking calls through
//! `greenrt::syscall` while others keep computing, with a schedtrace line
//! every 100 ms on stderr.
//!
//! Run: `GREENRT_SCHEDTRACE=100 cargo run --release --example blocking`

use std::time::{Duration, Instant};

fn main() {
    let rt = greenrt::Runtime::builder()
        .procs(2)
        .build()
        .unwrap_or_else(|e| {
            eprintln!("blocking: {e}");
            std::process::exit(2);
        });
    let t = Instant::now();
    let ticks = rt.block_on(|| {
        let blockers: Vec<_> = (0..50)
            .map(|_| {
                greenrt::spawn!(
                    || greenrt::syscall(|| std::thread::sleep(Duration::from_millis(200)))
                )
            })
            .collect();
        let ticker = greenrt::spawn!(|| {
            let mut n = 0u64;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(300) {
                n += 1;
                greenrt::yield_now();
            }
            n
        });
        for b in blockers {
            b.join().unwrap();
        }
        ticker.join().unwrap()
    });
    let s = rt.stats();
    println!(
        "50 green threads each blocked 200 ms in syscalls: done in {:?}; \
         a computing green thread yielded {ticks} times meanwhile; machines now {}",
        t.elapsed(),
        s.machines
    );
}

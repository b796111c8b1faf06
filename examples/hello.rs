//! The smallest greenrt program: spawn green threads from a plain `fn main`,
//! let them sleep and talk, and join them.
//!
//! Run: `cargo run --release --example hello`

use std::time::{Duration, Instant};

fn main() {
    let start = Instant::now();
    // 10 000 green threads each sleep 100 ms: they all sleep at once, so
    // this takes ~100 ms, not 1 000 s, on `procs` OS threads — plus the
    // start of 10 000 green threads on fresh stacks, each of which costs the
    // kernel a guard install and a first-touch page fault (2–4 µs per stack
    // on a VM; docs/BENCHMARKS.md, "A million green threads"): 120–160 ms
    // in all on the project's 2-core VM.
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| {
            greenrt::spawn!(move || {
                greenrt::sleep(Duration::from_millis(100));
                i
            })
        })
        .collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!(
        "10000 green threads slept 100 ms each; sum of ids = {sum}; took {:?} on {} procs",
        start.elapsed(),
        greenrt::procs()
    );

    let who = greenrt::run(|| {
        let me = greenrt::current().expect("inside a green thread");
        format!("green thread #{}", me.id())
    });
    println!("hello from {who}");
}

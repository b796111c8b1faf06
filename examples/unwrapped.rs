//! Wrapped vs unwrapped: on one processor, a green thread blocks its OS
//! thread in `std::thread::sleep` — once through `greenrt::syscall`, once
//! called directly — while another green thread counts `yield_now()` loops.
//! Prints how far the counter moved during the sleep and how long after the
//! sleep began it first moved: the wrapped call hands its processor off at
//! once (one sysmon tick), the unwrapped one once sysmon sees its thread
//! asleep (the detection delay, docs/ARCHITECTURE.md "Syscall handoff and
//! sysmon").
//!
//! Run: `cargo run --release --example unwrapped [sleep_ms] [rounds]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one round measured.
struct Round {
    /// Counter loops during the sleep.
    progress: u64,
    /// From the start of the sleep to the counter's first loop after it.
    first_move: Option<Duration>,
}

fn round(rt: &greenrt::Runtime, wrapped: bool, sleep: Duration) -> Round {
    rt.block_on(move || {
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // Set by the sleeper just before it blocks; the counter notes when
        // it first runs after that.
        let sleep_began: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let first_move: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
        let counter = greenrt::spawn({
            let (count, stop) = (count.clone(), stop.clone());
            let (began, first) = (sleep_began.clone(), first_move.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    count.fetch_add(1, Ordering::Relaxed);
                    if let Some(t) = *began.lock().unwrap() {
                        first.lock().unwrap().get_or_insert_with(|| t.elapsed());
                    }
                    greenrt::yield_now();
                }
            }
        });
        // Let the counter get going first.
        while count.load(Ordering::Relaxed) < 1000 {
            greenrt::yield_now();
        }
        let sleeper = greenrt::spawn({
            let count = count.clone();
            let began = sleep_began.clone();
            move || {
                let before = count.load(Ordering::Relaxed);
                *began.lock().unwrap() = Some(Instant::now());
                if wrapped {
                    greenrt::syscall(|| std::thread::sleep(sleep));
                } else {
                    std::thread::sleep(sleep);
                }
                count.load(Ordering::Relaxed) - before
            }
        });
        let progress = sleeper.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        counter.join().unwrap();
        let first_move = *first_move.lock().unwrap();
        Round {
            progress,
            first_move,
        }
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let sleep_ms: u64 = args.next().map_or(500, |a| a.parse().expect("sleep_ms"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("rounds"));
    let sleep = Duration::from_millis(sleep_ms);
    let rt = greenrt::Runtime::builder()
        .procs(1)
        .build()
        .unwrap_or_else(|e| {
            eprintln!("unwrapped: {e}");
            std::process::exit(2);
        });
    println!("procs 1, a {sleep_ms} ms std::thread::sleep, {rounds} rounds each");
    for wrapped in [true, false] {
        let mut progress = Vec::new();
        let mut first = Vec::new();
        for _ in 0..rounds {
            let r = round(&rt, wrapped, sleep);
            progress.push(r.progress);
            first.push(r.first_move.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3));
        }
        progress.sort_unstable();
        first.sort_by(f64::total_cmp);
        println!(
            "{:>9}: counter moved {} times during the sleep (median; min {}, max {}); \
             first move {:.3} ms after the sleep began (median; min {:.3}, max {:.3})",
            if wrapped { "wrapped" } else { "unwrapped" },
            progress[rounds / 2],
            progress[0],
            progress[rounds - 1],
            first[rounds / 2],
            first[0],
            first[rounds - 1],
        );
    }
    let s = rt.stats();
    println!(
        "syscall_handoffs {}, blocking_call_handoffs {}",
        s.syscall_handoffs, s.blocking_call_handoffs
    );
}

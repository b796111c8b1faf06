//! Spawns N green threads parked on a channel at procs 2, prints spawn+park
//! time and RSS per green thread, then wakes and joins them all.
//! Usage: `cargo run --release --example million [N] [DEEP_KIB]`
//! (N default 1 000 000; DEEP_KIB > 0 first runs a burst of N green threads
//! that each touch that many KiB of stack and finish).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn usage() -> libc::rusage {
    // SAFETY: getrusage writes one rusage into the zeroed struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

/// Minor page faults of the whole process so far (first touches of memory).
fn minor_faults() -> i64 {
    usage().ru_minflt
}

/// CPU time (user + system) of all the process's threads so far, in µs.
/// On a machine shared with other work, CPU per G varies far less than wall
/// time per G (which counts time other processes held the cores).
fn cpu_us() -> f64 {
    let u = usage();
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(u.ru_utime) + us(u.ru_stime)
}

fn arg(i: usize, default: usize) -> usize {
    match std::env::args().nth(i) {
        None => default,
        Some(s) => s.replace('_', "").parse().unwrap_or_else(|_| {
            eprintln!("million: argument {i} must be a non-negative integer, got {s:?}");
            std::process::exit(2);
        }),
    }
}

#[inline(never)]
fn touch_stack(kib: usize) -> u8 {
    let mut buf = [0u8; 1024];
    buf[kib % 1024] = kib as u8;
    let below = if kib > 1 { touch_stack(kib - 1) } else { 0 };
    std::hint::black_box(&mut buf);
    buf[0].wrapping_add(below)
}

fn main() {
    let n = arg(1, 1_000_000);
    let deep_kib = arg(2, 0);
    let rt = greenrt::Runtime::builder().procs(2).build().unwrap();
    rt.spawn(move || {
        if deep_kib > 0 {
            let t = Instant::now();
            let hs: Vec<_> = (0..n)
                .map(|_| greenrt::spawn(move || touch_stack(deep_kib)))
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            println!("deep burst: {n} x {deep_kib} KiB in {:?}, RSS now {} MiB", t.elapsed(), rss_bytes() >> 20);
        }
        let before = rss_bytes();
        let faults_before = minor_faults();
        let cpu_before = cpu_us();
        let (tx, rx) = greenrt::sync::unbounded::<()>();
        let parked = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        let mut hs = Vec::with_capacity(n);
        let failed = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let rx = rx.clone();
            let parked = Arc::clone(&parked);
            let unstarted = Unstarted(Some(Arc::clone(&failed)));
            hs.push(greenrt::spawn(move || {
                unstarted.started();
                parked.fetch_add(1, Ordering::Relaxed);
                rx.recv().unwrap();
            }));
        }
        // Every green thread parks, or could not start (no stack: its
        // closure is dropped unrun).
        while parked.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n {
            greenrt::yield_now();
        }
        let spawn_park = t.elapsed();
        let per_g = (rss_bytes().saturating_sub(before)) as f64 / n as f64 / 1024.0;
        let faults_spawn = minor_faults() - faults_before;
        let cpu_spawn = cpu_us() - cpu_before;
        println!(
            "{n} green threads spawned+parked in {spawn_park:?} ({:.2} us each, {:.2} us CPU each), RSS {per_g:.2} KiB per G, {:.2} page faults per G",
            spawn_park.as_secs_f64() * 1e6 / n as f64,
            cpu_spawn / n as f64,
            faults_spawn as f64 / n as f64
        );
        let faults_before = minor_faults();
        let t = Instant::now();
        for _ in 0..n {
            tx.send(()).unwrap();
        }
        let mut first_error = None;
        for h in hs {
            if let Err(e) = h.join() {
                first_error.get_or_insert_with(|| {
                    e.downcast_ref::<String>().cloned().unwrap_or_default()
                });
            }
        }
        println!(
            "woke+joined in {:?}, {:.2} page faults per G",
            t.elapsed(),
            (minor_faults() - faults_before) as f64 / n as f64
        );
        if let Some(e) = first_error {
            let failed = failed.load(Ordering::Relaxed);
            eprintln!("million: {failed} of {n} green threads could not start; the first: {e}");
            std::process::exit(1);
        }
    })
    .join()
    .unwrap();
}

/// Counts a green thread whose closure is dropped without running (it could
/// not get a stack); the closure disarms it when it starts.
struct Unstarted(Option<Arc<AtomicUsize>>);

impl Unstarted {
    fn started(mut self) {
        self.0 = None;
    }
}

impl Drop for Unstarted {
    fn drop(&mut self) {
        if let Some(failed) = self.0.take() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

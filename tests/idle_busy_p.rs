//! An M with no P to run on sleeps: it never spins beside a busy P.
//!
//! Its own test binary: it measures the CPU of every thread but one, so no
//! other test may run beside it.

mod common;

use std::time::Duration;

use common::runtime;

/// CPU time (user + system) of each thread of this process, by thread id,
/// from `/proc/self/task/<tid>/stat` (clock ticks of 10 ms).
fn cpu_by_thread() -> Vec<(u32, Duration)> {
    let tick = Duration::from_millis(10);
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|entry| {
            let tid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
            // Fields after the parenthesised name: state is the 1st, utime
            // the 12th and stime the 13th.
            let after_name = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let ticks: u32 = fields[11].parse::<u32>().ok()? + fields[12].parse::<u32>().ok()?;
            Some((tid, tick * ticks))
        })
        .collect()
}

fn cpu_of_threads_other_than(tid: u32) -> Duration {
    cpu_by_thread()
        .into_iter()
        .filter(|&(t, _)| t != tid)
        .map(|(_, cpu)| cpu)
        .sum()
}

/// An M that finds work in the global queue but no idle P to run it on
/// sleeps until a P is free instead of polling the network with a zero
/// timeout in a loop (it used to burn a whole core beside the busy P).
#[test]
fn an_m_without_a_p_sleeps_while_the_only_p_is_busy() {
    let rt = runtime(1);
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let measured = std::thread::spawn(move || {
        let hog_tid: u32 = tid_rx.recv().unwrap();
        release_tx.send(()).unwrap();
        // Let the released M give up finding a P (the hog holds the only
        // one) before the window starts.
        std::thread::sleep(Duration::from_millis(100));
        let before = cpu_of_threads_other_than(hog_tid);
        // The thing measured is CPU over time, so this waits a fixed window.
        std::thread::sleep(Duration::from_millis(400));
        let used = cpu_of_threads_other_than(hog_tid) - before;
        done_tx.send(()).unwrap();
        used
    });
    rt.block_on(move || {
        // Blocks its M in a syscall; sysmon hands the only P to another M,
        // which runs the hog. Released, it finds no free P: its G goes to
        // the global queue and its M looks for work without a P.
        let entered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let entered_in_g = entered.clone();
        let in_syscall = greenrt::spawn(move || {
            greenrt::syscall(|| {
                entered_in_g.store(true, std::sync::atomic::Ordering::SeqCst);
                release_rx.recv().unwrap()
            })
        });
        // The hog may start only once that M is in its syscall.
        while !entered.load(std::sync::atomic::Ordering::SeqCst) {
            greenrt::yield_now();
        }
        let hog = greenrt::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() } as u32).unwrap();
            // No checkpoint: this G holds the only P until the window ends.
            while done_rx.try_recv().is_err() {
                std::hint::spin_loop();
            }
        });
        hog.join().unwrap();
        in_syscall.join().unwrap();
    });
    let used = measured.join().unwrap();
    assert!(
        used < Duration::from_millis(100),
        "threads other than the busy one burned {used:?} of CPU in 400 ms"
    );
}

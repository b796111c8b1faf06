//! Regression test: while the OS refuses machine threads, the runtime runs
//! everything on the Ms it has and reports the refusal once, then at most
//! once a second (`sched/start_failure.rs`). Every wake of an idle P tries
//! to start an M, so before the fix each attempt printed its own line: a
//! `million 40000` run out of memory mappings printed ~35 000 of them, each
//! under the idle lock.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::sched::refuse_hook;
use crate::Builder;

/// Fails the test run instead of hanging: before the fix the work queued
/// behind a refused M waited for ever while the only M slept in the poller.
fn watchdog(what: String) -> mpsc::Sender<()> {
    let (done, wait) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(Duration::from_secs(30)) {
            eprintln!("{what}: no progress in 30 s (work stranded behind a refused M)");
            std::process::abort();
        }
    });
    done
}

/// One run of the scenario: returns how many M starts were refused.
fn run_with_refusals(procs: usize, attempt: usize) -> u64 {
    let name = format!("greenrt-refuse-p{procs}-{attempt}");
    let rt = Builder::new()
        .procs(procs)
        .thread_name(name.clone())
        .deadlock_grace(None)
        .build()
        .unwrap();
    // One M exists once a green thread has run; every later start fails.
    rt.block_on(|| ());
    refuse_hook::arm(&name);
    let started = Instant::now();
    let rounds = 200;
    let done = rt.block_on(move || {
        let mut done = 0;
        for _ in 0..rounds {
            let batch: Vec<_> = (0..16).map(|i| crate::spawn(move || i)).collect();
            for (i, h) in batch.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
                done += 1;
            }
        }
        done
    });
    let elapsed = started.elapsed();
    assert_eq!(done, rounds * 16, "every green thread ran");
    let (refused, reports) = rt.machine_start_failures();
    let allowed = if refused == 0 {
        0
    } else {
        2 + elapsed.as_secs()
    };
    assert!(
        (refused.min(1)..=allowed).contains(&reports),
        "{reports} reports of {refused} refusals in {elapsed:?}"
    );
    refused
}

fn refused_machines_are_reported_once_and_work_carries_on(procs: usize) {
    let _watchdog = watchdog(format!("refused machines at procs {procs}"));
    // With more than one P, idle Ps with work try to start Ms, unless an
    // M that started before the hook was armed (a spinner woken by the
    // first green thread) is idle and takes them instead; then this run
    // tested nothing, and a fresh runtime tries again. (Even at one P a
    // wake can try for a second M: the only M may be asleep in the
    // netpoller, where it is not an idle M to hand the P to.)
    const ATTEMPTS: usize = 5;
    let refused: Vec<u64> = (0..ATTEMPTS)
        .scan(false, |seen, attempt| {
            (!*seen).then(|| {
                let r = run_with_refusals(procs, attempt);
                *seen = r > 0;
                r
            })
        })
        .collect();
    if procs > 1 {
        assert!(
            refused.iter().any(|&r| r > 0),
            "idle Ps with work never tried to start an M in {ATTEMPTS} runs: {refused:?}"
        );
    }
}

#[test]
fn refused_machines_are_reported_once_and_work_carries_on_procs_1() {
    refused_machines_are_reported_once_and_work_carries_on(1);
}

#[test]
fn refused_machines_are_reported_once_and_work_carries_on_procs_2() {
    refused_machines_are_reported_once_and_work_carries_on(2);
}

#[test]
fn refused_machines_are_reported_once_and_work_carries_on_procs_4() {
    refused_machines_are_reported_once_and_work_carries_on(4);
}

//! A green thread that runs many time slices without reaching a checkpoint
//! is named once on stderr; a well-behaved program prints nothing (issue 17
//! item 2). Reports go to stderr, so each case runs in a child process: this
//! test binary re-runs itself (`child_entry`).

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::rt_test;

const CHILD_ENV: &str = "GREENRT_HOG_TEST_CHILD";
const PROCS_ENV: &str = "GREENRT_HOG_TEST_PROCS";
const HOG_NAME: &str = "the-cruncher";
/// Long against the report threshold (10 slices of 1 ms).
const RUN_FOR: Duration = Duration::from_millis(300);

/// A runtime whose hogs are reported after 10 ms.
fn child_runtime() -> greenrt::Runtime {
    let procs = std::env::var(PROCS_ENV).unwrap().parse().unwrap();
    greenrt::Runtime::builder()
        .procs(procs)
        .time_slice(Duration::from_millis(1))
        .build()
        .unwrap()
}

/// One named G spins with no runtime call for `RUN_FOR`.
fn hog_child() {
    let rt = child_runtime();
    let h = rt.block_on(|| {
        greenrt::spawn_named(HOG_NAME, || {
            let start = Instant::now();
            while start.elapsed() < RUN_FOR {
                std::hint::spin_loop();
            }
        })
    });
    println!("child: hog id {}", h.thread().id());
    h.join().unwrap();
}

/// Everything a program may do without being a hog: long loops with
/// checkpoints, yields, sleeps, channels, wrapped blocking calls.
fn polite_child() {
    let rt = child_runtime();
    rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let looping: Vec<_> = (0..3)
            .map(|i| {
                let stop = stop.clone();
                greenrt::spawn_named(format!("polite-{i}"), move || {
                    while !stop.load(Ordering::Relaxed) {
                        greenrt::coop::checkpoint();
                    }
                })
            })
            .collect();
        let (tx, rx) = greenrt::sync::bounded::<u32>(0);
        let consumer = greenrt::spawn(move || rx.into_iter().sum::<u32>());
        let start = Instant::now();
        while start.elapsed() < RUN_FOR {
            tx.send(1).unwrap();
            greenrt::sleep(Duration::from_millis(1));
            greenrt::syscall(|| std::thread::sleep(Duration::from_millis(2)));
        }
        drop(tx);
        consumer.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        for h in looping {
            h.join().unwrap();
        }
    });
}

#[test]
fn child_entry() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("hog") => hog_child(),
        Ok("polite") => polite_child(),
        _ => {} // not a child: nothing to do
    }
}

/// Runs `child_entry` in a child as `kind`; returns (stdout, stderr).
fn run_child(kind: &str, procs: usize, extra_env: &[(&str, &str)]) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, kind)
        .env(PROCS_ENV, procs.to_string())
        .env_remove("GREENRT_HOG_REPORT");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child: {stdout}\n{stderr}");
    (stdout, stderr)
}

fn a_hog_is_named_once(procs: usize) {
    let (stdout, stderr) = run_child("hog", procs, &[]);
    let id: u64 = stdout
        .lines()
        .find_map(|l| l.split("child: hog id ").nth(1))
        .expect("child reports the id")
        .trim()
        .parse()
        .unwrap();
    // Named by id, name and the line of this file that spawned it.
    let named =
        format!("greenrt: green thread {id} \"{HOG_NAME}\" (spawned at tests/hog_report.rs:");
    assert!(stderr.contains(&named), "no `{named}` in: {stderr}");
    assert!(
        stderr.contains("greenrt::coop::checkpoint()"),
        "says what to add: {stderr}"
    );
    assert!(stderr.contains(") has run for"), "says how long: {stderr}");
    assert_eq!(stderr.matches(&named).count(), 1, "reported once: {stderr}");
}
rt_test!(a_hog_is_named_once);

fn the_report_can_be_turned_off(procs: usize) {
    let (_, stderr) = run_child("hog", procs, &[("GREENRT_HOG_REPORT", "0")]);
    assert!(!stderr.contains("greenrt:"), "reported anyway: {stderr}");
}
rt_test!(the_report_can_be_turned_off, procs_1 = 1);

fn a_well_behaved_program_prints_nothing(procs: usize) {
    let (_, stderr) = run_child("polite", procs, &[]);
    assert!(!stderr.contains("greenrt:"), "false report: {stderr}");
}
rt_test!(a_well_behaved_program_prints_nothing);

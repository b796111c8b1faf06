//! A green thread that overflows its stack is reported by id, name and stack
//! size, with the fix, and the process aborts (never silent corruption).
//! The overflow runs in a child process: this test re-runs its own binary.

use std::process::Command;

const CHILD_ENV: &str = "GREENRT_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(depth: u64, sink: &mut [u8; 1024]) -> u64 {
    let mut local = [0u8; 1024];
    local[(depth % 1024) as usize] = depth as u8;
    sink[0] ^= local[(depth * 7 % 1024) as usize];
    // Not a tail call: `local` is used after the recursive call returns.
    // The bound is far beyond any stack (a u64 of depth), so it overflows.
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1, &mut local) + local[3] as u64
}

/// In the child: overflows a named green thread's 32 KiB stack — the
/// runtime's, or (`sized`) one asked of `spawn_builder` on a runtime whose
/// own stacks are 64 KiB.
fn overflow_in_child(sized: bool) -> ! {
    let rt = greenrt::Runtime::builder()
        .procs(1)
        .stack_size(if sized { 64 * 1024 } else { 32 * 1024 })
        .build()
        .unwrap();
    let h = rt.spawn(move || {
        let deep = || {
            let mut sink = [0u8; 1024];
            recurse(0, &mut sink)
        };
        let b = greenrt::spawn_builder().name("deep-recursion");
        let b = if sized { b.stack_size(32 * 1024) } else { b };
        b.spawn(deep).unwrap().join()
    });
    let _ = h.join();
    unreachable!("the overflow must abort the process");
}

/// Re-runs `test` in a child with `guard` as GREENRT_STACK_GUARD (if any)
/// and checks the child aborts with a report naming the green thread.
fn check_overflow_report(test: &str, guard: Option<&str>) {
    check_overflow_report_of(test, guard, "pooled")
}

fn check_overflow_report_of(test: &str, guard: Option<&str>, kind: &str) {
    if let Some(kind) = std::env::var_os(CHILD_ENV) {
        overflow_in_child(kind == "sized");
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, kind);
    match guard {
        Some(g) => cmd.env("GREENRT_STACK_GUARD", g),
        None => cmd.env_remove("GREENRT_STACK_GUARD"),
    };
    let out = cmd.output().expect("child runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "child must die");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr: {stderr}");
    assert!(
        stderr.contains("(deep-recursion) overflowed its 32 KiB stack")
            && stderr.contains("stack_size"),
        "unclear report: {stderr}"
    );
}

/// Default stacks: slab slots on kernels with MADV_GUARD_INSTALL.
#[test]
fn overflow_is_reported_and_aborts() {
    check_overflow_report("overflow_is_reported_and_aborts", None);
}

/// The per-stack mprotect guard (fallback for older kernels).
#[test]
fn overflow_on_mprotect_fallback_is_reported_and_aborts() {
    check_overflow_report(
        "overflow_on_mprotect_fallback_is_reported_and_aborts",
        Some("mprotect"),
    );
}

/// A stack sized by `spawn_builder` reports its own size, not the runtime's.
#[test]
fn overflow_of_a_builder_sized_stack_reports_its_size() {
    check_overflow_report_of(
        "overflow_of_a_builder_sized_stack_reports_its_size",
        None,
        "sized",
    );
}

#[test]
fn ordinary_segfaults_are_not_reported_as_overflows() {
    // The handler must hand other faults to the previous handler: a null
    // dereference in a child process still dies by SIGSEGV, silently for us.
    if std::env::var_os("GREENRT_SEGV_CHILD").is_some() {
        let rt = greenrt::Runtime::builder().procs(1).build().unwrap();
        rt.block_on(|| {
            let p = std::hint::black_box(std::ptr::null::<u64>());
            // SAFETY: deliberately invalid, in a throwaway child process.
            unsafe { std::ptr::read_volatile(p) }
        });
        unreachable!();
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "ordinary_segfaults_are_not_reported_as_overflows",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GREENRT_SEGV_CHILD", "1")
        .output()
        .expect("child runs");
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "stderr: {stderr}");
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

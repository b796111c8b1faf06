//! A green thread's panic message names the green thread (id and name), and
//! a panic hook the user installed before the runtime still runs (issue 14
//! item 7). Panic output goes to stderr, so the panic runs in a child
//! process: this test re-runs its own binary.

use std::process::Command;

const CHILD_ENV: &str = "GREENRT_PANIC_HOOK_CHILD";

/// In the child: a user hook, then a runtime, then a named G that panics.
fn panic_in_child() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("user hook ran");
        previous(info);
    }));
    let rt = greenrt::Runtime::builder().procs(2).build().unwrap();
    let (id, result) = rt.block_on(|| {
        let h = greenrt::spawn_named("the-failing-one", || panic!("boom from a green thread"));
        (h.thread().id(), h.join())
    });
    assert!(result.is_err(), "the panic reaches join");
    println!("child: panicking green thread id {id}");
}

#[test]
fn panic_message_names_the_green_thread_and_chains_the_users_hook() {
    if std::env::var_os(CHILD_ENV).is_some() {
        panic_in_child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "panic_message_names_the_green_thread_and_chains_the_users_hook",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child: {stdout}\n{stderr}");
    let id: u64 = stdout
        .lines()
        // The harness may print its own "test … " on the same line.
        .find_map(|l| l.split("child: panicking green thread id ").nth(1))
        .expect("child reports the id")
        .trim()
        .parse()
        .unwrap();
    let ours = format!("greenrt: green thread {id} (the-failing-one) panicked");
    assert!(stderr.contains(&ours), "no `{ours}` in: {stderr}");
    assert!(
        stderr.contains("user hook ran"),
        "user hook chained: {stderr}"
    );
    assert!(
        stderr.contains("boom from a green thread"),
        "std message kept: {stderr}"
    );
    assert_eq!(stderr.matches(&ours).count(), 1, "reported once: {stderr}");
}

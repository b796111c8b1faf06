//! A fault that is not a green-thread overflow is handed to the handler
//! installed before greenrt's, and greenrt's stays installed: a later
//! overflow is still reported (issue 14 defect 6c). Before the fix the
//! previous handler was reinstalled for good after the first forwarded
//! fault, so the overflow died as a bare SIGSEGV. Runs in a child process.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const CHILD_ENV: &str = "GREENRT_FORWARDED_FAULT_CHILD";

/// The page the user's handler repairs (PROT_NONE until first touched).
static PAGE: AtomicUsize = AtomicUsize::new(0);
static REPAIRED: AtomicUsize = AtomicUsize::new(0);

/// The user's handler: repairs faults on `PAGE` and lets any other one kill
/// the process.
extern "C" fn user_handler(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: SA_SIGINFO handler arguments from the kernel; mprotect and
    // signal are async-signal-safe.
    unsafe {
        let addr = (*info).si_addr() as usize;
        let page = PAGE.load(Ordering::Relaxed);
        if page != 0 && (page..page + 4096).contains(&addr) {
            libc::mprotect(page as *mut _, 4096, libc::PROT_READ | libc::PROT_WRITE);
            REPAIRED.fetch_add(1, Ordering::Relaxed);
        } else {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

#[inline(never)]
fn recurse(depth: u64, sink: &mut [u8; 1024]) -> u64 {
    let mut local = [0u8; 1024];
    local[(depth % 1024) as usize] = depth as u8;
    sink[0] ^= local[(depth * 7 % 1024) as usize];
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1, &mut local) + local[3] as u64
}

fn child() -> ! {
    // SAFETY: a fresh private mapping, and a handler installed before any
    // runtime exists (so greenrt saves it as the previous one).
    unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(page, libc::MAP_FAILED);
        PAGE.store(page as usize, Ordering::Relaxed);
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = user_handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
    }
    let rt = greenrt::Runtime::builder()
        .procs(1)
        .stack_size(32 * 1024)
        .build()
        .unwrap();
    rt.block_on(|| {
        // An unrelated fault, on a green thread: the user's handler fixes it.
        let page = PAGE.load(Ordering::Relaxed) as *const u8;
        // SAFETY: the page is mapped; the read faults once and is repaired.
        let v = unsafe { std::ptr::read_volatile(page) };
        assert_eq!(v, 0);
        assert_eq!(REPAIRED.load(Ordering::Relaxed), 1);
        eprintln!("child: unrelated fault repaired");
        let _ = greenrt::spawn_named("deep-recursion", || {
            let mut sink = [0u8; 1024];
            recurse(0, &mut sink)
        })
        .join();
    });
    unreachable!("the overflow must abort the process");
}

#[test]
fn an_overflow_after_a_forwarded_fault_is_still_reported() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_overflow_after_a_forwarded_fault_is_still_reported",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("child runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("child: unrelated fault repaired"),
        "{stderr}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr: {stderr}");
    assert!(
        stderr.contains("(deep-recursion) overflowed its 32 KiB stack"),
        "no overflow report: {stderr}"
    );
}

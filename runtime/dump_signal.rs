//! Opt-in `SIGQUIT` dumps (`GREENRT_DUMP_ON_SIGQUIT=1`, like Go's default):
//! the signal prints every live runtime's green threads to stderr and the
//! process goes on.
//!
//! A signal handler may only call async-signal-safe functions — no locks,
//! no allocation, no formatting — and a dump does all three. So the handler
//! writes one byte to a pipe (self-pipe), and a dedicated thread, blocked
//! reading the other end, takes and prints the dumps. The handler is
//! installed once per process, when the first runtime that asks for it is
//! built; runtimes are remembered weakly, so a dropped one is skipped.

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::sched::Scheduler;

/// The pipe's write end, for the handler (-1 until installed).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Runtimes to dump, in the order they were built.
static RUNTIMES: OnceLock<Mutex<Vec<Weak<Scheduler>>>> = OnceLock::new();

/// Adds `sched` to the runtimes dumped on `SIGQUIT`, installing the handler
/// and its thread on first use. A failure is reported on stderr and leaves
/// `SIGQUIT` at its default (the process is not worth failing for it).
pub(crate) fn watch(sched: &Arc<Scheduler>) {
    let mut first = false;
    let list = RUNTIMES.get_or_init(|| {
        first = true;
        Mutex::new(Vec::new())
    });
    {
        let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(sched));
    }
    if first {
        if let Err(e) = install() {
            eprintln!("greenrt: GREENRT_DUMP_ON_SIGQUIT: cannot install the handler: {e}");
        }
    }
}

fn install() -> std::io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    // Never block in the handler: with the pipe full, a dump is already due.
    // SAFETY: `write_fd` is the descriptor pipe2 just opened.
    unsafe { libc::fcntl(write_fd, libc::F_SETFL, libc::O_NONBLOCK) };
    std::thread::Builder::new()
        .name("greenrt-sigquit".into())
        .spawn(move || printer(read_fd))?;
    WAKE_FD.store(write_fd, Ordering::SeqCst);
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
    // `on_sigquit` has the signature the kernel calls (no SA_SIGINFO), and
    // only calls async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The handler: one `write`, errno preserved (both async-signal-safe).
extern "C" fn on_sigquit(_: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: `__errno_location` returns this thread's errno slot; `write`
    // reads one byte from a live local.
    unsafe {
        let errno = *libc::__errno_location();
        let byte = 1u8;
        libc::write(fd, (&byte as *const u8).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// The printing thread: one round of dumps per wake-up (several signals in
/// quick succession may share one).
fn printer(read_fd: libc::c_int) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a live local buffer of the given length.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        let live: Vec<Arc<Scheduler>> = RUNTIMES
            .get()
            .map(|l| {
                let l = l.lock().unwrap_or_else(|e| e.into_inner());
                l.iter().filter_map(Weak::upgrade).collect()
            })
            .unwrap_or_default();
        let mut text = format!("greenrt: SIGQUIT: {} runtime(s)\n", live.len());
        for (i, sched) in live.iter().enumerate() {
            text.push_str(&format!("runtime {i}:\n"));
            text.push_str(&sched.dump());
        }
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

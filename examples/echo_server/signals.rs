//! Clean exit on SIGINT/SIGTERM without async-signal-safety hazards.
//!
//! `main` blocks both signals before any other thread exists, so every
//! thread (the runtime's Ms, connection threads) inherits the mask and none
//! of them is ever interrupted. One dedicated thread takes them with
//! `sigwait(2)` as ordinary values, sets the serving loops' stop flag
//! (examples/common/serve/stop.rs) and runs the mode's stop action on a
//! normal stack, where it may lock, allocate and wake green threads. A
//! second signal while stopping exits at once.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::serve::stop::request_stop;

static SIGNAL: AtomicI32 = AtomicI32::new(0);

fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and edit the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts
/// later. Call first thing in `main`.
pub fn block() {
    let set = termination_set();
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "pthread_sigmask failed");
}

/// The name of the signal that stopped us, if any.
pub fn received() -> Option<&'static str> {
    match SIGNAL.load(Ordering::SeqCst) {
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => None,
    }
}

/// Starts the thread that waits for SIGINT/SIGTERM and then runs `stop`
/// (which must make the serving loop return).
pub fn on_termination(stop: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let set = termination_set();
            let mut stop = Some(stop);
            loop {
                let mut sig = 0;
                // SAFETY: `set` is initialised and `sig` is a valid out slot.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    continue;
                }
                if let Some(stop) = stop.take() {
                    SIGNAL.store(sig, Ordering::SeqCst);
                    request_stop();
                    eprintln!(
                        "echo_server: received {}, shutting down",
                        received().unwrap_or("a signal")
                    );
                    stop();
                } else {
                    eprintln!("echo_server: second signal, exiting now");
                    std::process::exit(130);
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("echo_server: cannot start the signal thread: {e}");
        std::process::exit(1);
    }
}

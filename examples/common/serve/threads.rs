//! The thread design: the classic one — `std::net` blocking calls, one OS
//! thread per connection. The baseline green threads must beat at scale.
//!
//! Threads get 64 KiB stacks, like a green thread's default, so the memory
//! comparison is about the design and not a 2 MiB default. When the OS
//! refuses a thread (limits on threads, memory or mappings), the new
//! connection is closed with a clear message and the server keeps serving
//! the others.
//!
//! One limit cannot be left to the OS: every `std` thread maps its stack and
//! an alternate signal stack, each with a guard page — about four memory
//! mappings — and when `vm.max_map_count` (65 530 by default) runs out
//! mid-way, `std` fails *inside the new thread* while installing the signal
//! stack, which aborts the whole process. So the server counts its
//! connection threads and refuses connections beyond what the mapping limit
//! allows, instead of crashing (this happened at ~16 400 threads here).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::stats::{
    echo_until_closed, transient_accept_error, Backoff, Throttled, ACCEPT_LOG, STATS,
};
use super::stop;

const THREAD_STACK: usize = 64 * 1024;
/// Memory mappings one `std` thread costs: stack + guard page, and the
/// alternate signal stack + guard page `std` sets up for overflow reports.
const MAPS_PER_THREAD: usize = 4;
/// Mappings left for everything else (heap arenas, libraries, the binary).
const MAPS_RESERVED: usize = 2048;

static SPAWN_LOG: Throttled = Throttled::new();
/// Connection threads alive right now.
static LIVE_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The most connection threads this process can start without running out
/// of memory mappings (module docs).
pub fn thread_limit() -> usize {
    let max_maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(65_530);
    max_maps.saturating_sub(MAPS_RESERVED) / MAPS_PER_THREAD
}

/// Decrements `LIVE_THREADS` when a connection thread ends (even by panic).
struct LiveThread;

impl Drop for LiveThread {
    fn drop(&mut self) {
        LIVE_THREADS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What makes [`accept_loop`] return once a stop is requested: shutdown(2)
/// on the listening socket, which makes a blocked accept(2) fail (EINVAL)
/// on Linux; closing the fd would not. It acts through its own clone of the
/// listener, so the fd it names stays open however the loop ends.
pub fn stopper(listener: &TcpListener) -> io::Result<impl FnOnce() + Send + 'static> {
    let clone = listener.try_clone()?;
    Ok(move || {
        // SAFETY: shutdown on the fd `clone` owns, open until this closure
        // returns; no memory is passed.
        unsafe { libc::shutdown(clone.as_raw_fd(), libc::SHUT_RDWR) };
    })
}

/// Accepts connections and starts a thread for each, at most `limit` at
/// once, until accept fails during a stop.
pub fn accept_loop(listener: TcpListener, limit: usize) -> io::Result<()> {
    let mut backoff = Backoff::new();
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                backoff.reset();
                STATS.accepted.fetch_add(1, Ordering::Relaxed);
                let live = LIVE_THREADS.fetch_add(1, Ordering::Relaxed);
                let spawned = if live >= limit {
                    Err(io::Error::other(format!(
                        "the thread limit of {limit} is reached"
                    )))
                } else {
                    std::thread::Builder::new()
                        .name("conn".into())
                        .stack_size(THREAD_STACK)
                        .spawn(move || {
                            let _live = LiveThread;
                            serve(stream)
                        })
                        .map(drop)
                };
                if let Err(e) = spawned {
                    // The stream was dropped with the closure (or is dropped
                    // here): the client sees its connection closed.
                    LIVE_THREADS.fetch_sub(1, Ordering::Relaxed);
                    STATS.refused.fetch_add(1, Ordering::Relaxed);
                    SPAWN_LOG.log(|| {
                        format!(
                            "cannot start a thread for the connection from {peer} \
                             ({live} connection threads live): {e}; closing it, still serving the others"
                        )
                    });
                }
            }
            Err(_) if stop::stopping() => return Ok(()),
            Err(e) if transient_accept_error(&e) => {}
            Err(e) => {
                STATS.accept_errors.fetch_add(1, Ordering::Relaxed);
                let wait = backoff.fail();
                ACCEPT_LOG.log(|| format!("accept failed: {e}; retrying in {wait:?}"));
                std::thread::sleep(wait);
            }
        }
    }
}

fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    echo_until_closed(stream);
}

//! Counters, rate-limited logging and accept back-off, shared by the modes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Bytes a connection may hold between reading and writing them back: one
/// page, plenty for small messages and cheap at 10 000 connections. Every
/// mode reads at most this much and writes it all back before reading again,
/// so a client that never reads costs at most this much memory (plus kernel
/// socket buffers), and the server stops reading from it: backpressure.
pub const BUF_SIZE: usize = 4 * 1024;

/// Process-wide counters (echo_server prints them at exit).
pub struct Stats {
    pub accepted: AtomicU64,
    pub closed: AtomicU64,
    pub conn_errors: AtomicU64,
    pub accept_errors: AtomicU64,
    pub refused: AtomicU64,
    pub bytes: AtomicU64,
}

pub static STATS: Stats = Stats {
    accepted: AtomicU64::new(0),
    closed: AtomicU64::new(0),
    conn_errors: AtomicU64::new(0),
    accept_errors: AtomicU64::new(0),
    refused: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
};

impl Stats {
    /// Records a finished connection (`bytes` echoed, `failed` on error).
    pub fn connection_done(&self, bytes: u64, failed: bool) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.closed.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.conn_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Prints at most one line per second for one kind of event, then says how
/// many it held back — so 10 000 failing accepts cannot flood stderr.
pub struct Throttled {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttled {
    pub const fn new() -> Self {
        Throttled {
            state: Mutex::new((None, 0)),
        }
    }

    pub fn log(&self, msg: impl FnOnce() -> String) {
        let mut st = self.state.lock();
        let now = Instant::now();
        if st
            .0
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            st.1 += 1;
            return;
        }
        let held = std::mem::take(&mut st.1);
        st.0 = Some(now);
        drop(st);
        if held > 0 {
            eprintln!(
                "echo_server: {} (and {held} similar messages held back)",
                msg()
            );
        } else {
            eprintln!("echo_server: {}", msg());
        }
    }
}

/// Back-off after a failed `accept` (EMFILE, ENFILE, ENOBUFS, ...): 5 ms,
/// doubling to 1 s, reset by a success — Go's net/http `Server.Serve`.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    pub fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    /// Records a failure; returns how long to wait before the next accept.
    pub fn fail(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// True for errors that mean "this one connection went away before we
/// accepted it": retry at once, no back-off.
pub fn transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted)
}

pub static ACCEPT_LOG: Throttled = Throttled::new();

/// Echoes one connection until EOF or an error, then counts it: the loop the
/// green and thread designs share (blocking-style code on either kind of
/// thread). `write_all` waits while the client does not read, and nothing
/// is read meanwhile: the backpressure is the code shape.
pub fn echo_until_closed(mut stream: impl std::io::Read + std::io::Write) {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut echoed = 0u64;
    let failed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    break true;
                }
                echoed += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    STATS.connection_done(echoed, failed);
}

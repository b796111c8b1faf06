//! The internal echo client of `--serve`: one measuring phase.
//!
//! Why its own OS threads, with plain `std` blocking sockets: the figures
//! are about the *server's* scheduling. A client on the greenrt runtime
//! under test (as examples/echo_client is) would take that runtime's
//! processors from the miners and the server, and a client sharing the
//! event loop's thread would be served by the very loop it measures. OS
//! threads leave the measured design's own threads alone; they still share
//! the machine's cores, like any real client on the same host.
//!
//! Each connection runs examples/echo_client's round-trip loop
//! (examples/common/round_trips.rs: 64-byte requests, every echoed byte
//! checked) and records each round trip's latency in the phase's histogram.
//! The warm-up round trips go to a histogram of their own, not reported. A phase goes in three steps, so that its window covers exactly
//! what is measured:
//!
//! 1. [`Phase::start`]: every connection connects and makes one warm-up
//!    round trip (the server has accepted it and is serving it), then waits;
//!    [`Phase::ready`] turns true.
//! 2. [`Phase::go`] opens the window: round trips until `secs` pass or
//!    [`Phase::end`] is called (the mining finished first). Each connection
//!    finishes the round trip it has in flight, and makes at least one, so a
//!    window always holds a sample per connection.
//! 3. [`Phase::done`] turns true; [`Phase::join`] returns the figures.
//!
//! Every state change calls the `notify` callback, so the caller can wait in
//! whatever way suits it (parking a thread, or turning an event loop that
//! must keep serving meanwhile). It is bounded: connecting times out after
//! 5 s, every read and write after 10 s (a failure, counted as an error),
//! and the window after `secs`.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::round_trips::{run_conn, ConnReport, Latencies, Totals};

/// Bytes per request, as in docs/BENCHMARKS.md's echo figures.
pub const MESSAGE_BYTES: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longer than any stall a design may legitimately cause: an event-loop
/// chunk is capped at about 0.8 s of mining (serve_config.rs).
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CLIENT_STACK: usize = 64 * 1024;

/// Called on every state change of a phase; must not block.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// What one phase measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// From [`Phase::go`] to the end of the last connection's last round trip.
    pub secs: f64,
    pub round_trips: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// Failed connects and I/O errors (including timeouts).
    pub errors: u64,
    /// Echoes that differed from what was sent.
    pub mismatches: u64,
}

impl Figures {
    /// Round trips per second of window.
    pub fn rtt_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.round_trips as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// A measuring phase in progress (module docs).
pub struct Phase {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Conn>>,
}

struct Shared {
    conns: usize,
    /// The window's round trips; `warm_ups` the first one of each.
    latencies: Latencies,
    warm_ups: Latencies,
    secs: Duration,
    notify: Notify,
    /// Connections that are waiting for `go` (or gave up before it).
    ready: AtomicUsize,
    /// Connections whose window is over.
    finished: AtomicUsize,
    /// Set by `end` (or when the phase is dropped): close the window now.
    over: AtomicBool,
    /// Whether the window is open, and since when.
    window: Mutex<Window>,
    opened: Condvar,
}

#[derive(Clone, Copy)]
enum Window {
    Closed,
    Open(Instant),
    Abandoned,
}

/// One connection's share of the phase.
struct Conn {
    report: ConnReport,
    connect_failed: bool,
    /// When its last round trip ended.
    finished_at: Instant,
}

impl Shared {
    fn arrive(&self, counter: &AtomicUsize) {
        if counter.fetch_add(1, Ordering::SeqCst) + 1 == self.conns {
            (self.notify)();
        }
    }

    /// Blocks until `go`; `None` if the phase was dropped first.
    fn wait_for_window(&self) -> Option<Instant> {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *w {
                Window::Closed => w = self.opened.wait(w).unwrap_or_else(|p| p.into_inner()),
                Window::Open(at) => return Some(at),
                Window::Abandoned => return None,
            }
        }
    }

    fn set_window(&self, to: Window) {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*w, Window::Closed) {
            *w = to;
        }
        self.opened.notify_all();
    }
}

impl Phase {
    /// Starts `conns` client threads against `addr` (step 1 above).
    pub fn start(
        addr: SocketAddr,
        conns: usize,
        secs: Duration,
        notify: Notify,
    ) -> std::io::Result<Phase> {
        let shared = Arc::new(Shared {
            conns,
            latencies: Latencies::new(),
            warm_ups: Latencies::new(),
            secs,
            notify,
            ready: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            window: Mutex::new(Window::Closed),
            opened: Condvar::new(),
        });
        let mut phase = Phase {
            shared: shared.clone(),
            threads: Vec::with_capacity(conns),
        };
        for id in 0..conns {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("echo-client-{id}"))
                .stack_size(CLIENT_STACK)
                .spawn(move || connection(addr, id as u64, &shared))?;
            // On an error, dropping `phase` releases the threads started.
            phase.threads.push(thread);
        }
        Ok(phase)
    }

    /// True once every connection is connected and warmed up (or failed).
    pub fn ready(&self) -> bool {
        self.shared.ready.load(Ordering::SeqCst) == self.shared.conns
    }

    /// Opens the window (step 2).
    pub fn go(&self) {
        self.shared.set_window(Window::Open(Instant::now()));
    }

    /// Closes the window early: each connection stops after its round trip
    /// in flight.
    pub fn end(&self) {
        self.shared.over.store(true, Ordering::SeqCst);
    }

    /// True once every connection's window is over.
    pub fn done(&self) -> bool {
        self.shared.finished.load(Ordering::SeqCst) == self.shared.conns
    }

    /// Waits for the client threads and sums up what they measured.
    pub fn join(mut self) -> Figures {
        let opened = match *self.shared.window.lock().unwrap_or_else(|p| p.into_inner()) {
            Window::Open(at) => Some(at),
            _ => None,
        };
        let conns: Vec<Conn> = std::mem::take(&mut self.threads)
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        let last = conns.iter().map(|c| c.finished_at).max();
        let secs = match (opened, last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let connect_errors = conns.iter().filter(|c| c.connect_failed).count() as u64;
        let t = Totals::of(conns.into_iter().map(|c| c.report), &self.shared.latencies);
        Figures {
            secs,
            round_trips: t.round_trips,
            p50_us: t.p50_us,
            p99_us: t.p99_us,
            max_us: t.max_us,
            errors: connect_errors + t.io_errors,
            mismatches: t.mismatches,
        }
    }
}

impl Drop for Phase {
    /// A phase given up (an error elsewhere) lets its threads end on their
    /// own, within the time bounds above, without waiting for them.
    fn drop(&mut self) {
        self.shared.over.store(true, Ordering::SeqCst);
        self.shared.set_window(Window::Abandoned);
    }
}

/// One client thread: connect, warm up, wait for the window, measure.
fn connection(addr: SocketAddr, id: u64, shared: &Shared) -> Conn {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).and_then(|s| {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(s)
    });
    let mut conn = Conn {
        report: ConnReport::default(),
        connect_failed: stream.is_err(),
        finished_at: Instant::now(),
    };
    // One round trip: the server has accepted the connection and serves it.
    let warm_up = stream.as_ref().ok().map(|mut s| {
        let mut once = true;
        run_conn(&mut s, id, MESSAGE_BYTES, &shared.warm_ups, || {
            std::mem::take(&mut once)
        })
    });
    shared.arrive(&shared.ready);
    let window = shared.wait_for_window();
    match (stream, warm_up, window) {
        // A failed warm-up is reported instead of a window.
        (_, Some(w), _) if w.io_errors + w.mismatches > 0 => conn.report = w,
        (Ok(mut s), _, Some(opened)) => {
            let deadline = opened + shared.secs;
            let mut first = true;
            conn.report = run_conn(&mut s, id, MESSAGE_BYTES, &shared.latencies, || {
                std::mem::take(&mut first)
                    || (Instant::now() < deadline && !shared.over.load(Ordering::Relaxed))
            });
        }
        _ => {}
    }
    conn.finished_at = Instant::now();
    shared.arrive(&shared.finished);
    conn
}

//! What `--serve` asks for: where the echo server listens, which of the
//! three echo designs runs beside the miners (with its one tuning knob), and
//! how long and how hard the internal client measures it.
//!
//! Plain data with no dependencies, so that cli.rs (and the tests, which
//! compile cli.rs in) can build it without pulling in the servers.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::modes::Mode;

/// Default `--serve-conns`: a few connections keep the closed-loop client
/// light (it shares the two cores with the miners) while still giving
/// thousands of latency samples per second.
pub const DEFAULT_SERVE_CONNS: usize = 4;
/// Largest `--serve-conns`: the client runs an OS thread per connection.
pub const MAX_SERVE_CONNS: usize = 256;
/// Default `--serve-secs`, the length of each of the two phases.
pub const DEFAULT_SERVE_SECS: f64 = 2.0;
/// `--serve-secs` range: long enough to say anything, short enough that a
/// typo cannot load the machine for an hour.
pub const MIN_SERVE_SECS: f64 = 0.1;
pub const MAX_SERVE_SECS: f64 = 60.0;

/// The time slice of the green runtime under `--serve` (greenrt's default,
/// Go's, is 10 ms).
///
/// With every processor busy mining, a request waits for two things: sysmon
/// polling the network (it does so when nobody has for one slice) and a
/// miner being asked to yield (after it has run one slice; it then yields at
/// its next checkpoint, within 1 024 draws ≈ 85 µs). So a request waits up
/// to about two slices: 1 ms keeps p99 well under the 5 ms goal (2.65 ms
/// measured; 13.7 ms with 10 ms). Not for free: on two cores the miners ran
/// ~11 % slower than with 10 ms, mostly because sysmon then wakes more
/// often and each wake-up takes a core from a miner (docs/BENCHMARKS.md,
/// "Mining beside serving").
pub const DEFAULT_SERVE_TIME_SLICE: Duration = Duration::from_millis(1);

/// Default `--loop-chunk`: draws the event loop mines between two polls.
/// 100 000 draws (≈ 8 ms, the pool's batch) is what a Node.js program
/// splitting work with `setImmediate` would pick so that the per-chunk cost
/// stays invisible, and is close to Go's 10 ms slice. `--loop-chunk 1024`
/// gives the loop the green miners' checkpoint interval instead.
pub const DEFAULT_LOOP_CHUNK: u64 = 100_000;
/// Largest `--loop-chunk` (≈ 0.8 s of mining): a stalled round trip must
/// stay well inside the client's I/O timeout.
pub const MAX_LOOP_CHUNK: u64 = 10_000_000;

/// Which echo server runs beside the miners, with its scheduling knob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Server {
    /// examples/echo_server's green design on the miners' own runtime.
    Green {
        /// The runtime's `Builder::time_slice`.
        time_slice: Duration,
    },
    /// examples/echo_server's mio loop, mining on the loop's own thread.
    EventLoop {
        /// Draws mined between two polls.
        chunk: u64,
    },
    /// examples/echo_server's thread-per-connection server beside OS-thread
    /// miners; the kernel schedules.
    Thread,
}

impl Server {
    /// The `--server-mode` names, in the order the usage text lists them.
    pub const NAMES: [&'static str; 3] = ["green", "event-loop", "thread"];

    /// The design called `name`, with its default knob.
    pub fn from_name(name: &str) -> Option<Server> {
        match name {
            "green" => Some(Server::Green {
                time_slice: DEFAULT_SERVE_TIME_SLICE,
            }),
            "event-loop" => Some(Server::EventLoop {
                chunk: DEFAULT_LOOP_CHUNK,
            }),
            "thread" => Some(Server::Thread),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Server::Green { .. } => "green",
            Server::EventLoop { .. } => "event-loop",
            Server::Thread => "thread",
        }
    }

    /// The mining mode that matches this design when `--mode` is not given.
    pub fn default_mode(&self) -> Mode {
        match self {
            Server::Green { .. } => Mode::Green,
            Server::EventLoop { .. } => Mode::Single,
            Server::Thread => Mode::Threads,
        }
    }

    /// The mining modes that can share the process with this design: green
    /// threads need the server's runtime, the event loop mines on its own
    /// (single) thread, the thread server sits beside OS-thread miners.
    pub fn mining_modes(&self) -> &'static [Mode] {
        match self {
            Server::Green { .. } => &[Mode::Green, Mode::Pool],
            Server::EventLoop { .. } => &[Mode::Single],
            Server::Thread => &[Mode::Threads],
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A resolved `--serve` request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeConfig {
    /// A loopback address; port 0 lets the OS pick one.
    pub addr: SocketAddr,
    pub server: Server,
    /// The internal client's connections.
    pub conns: usize,
    /// The length of each phase (without mining, then while mining).
    pub secs: Duration,
}

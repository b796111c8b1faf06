//! The echo clients' measuring loop: request/response round trips on one
//! connection, every echoed byte checked, every round trip's time recorded
//! in a latency histogram shared by all connections. examples/echo_client
//! runs it on green threads, happycoin `--serve` on OS threads.
//!
//! The histogram (`hdrhistogram`, 3 significant digits, 1 ns to 1 hour) has
//! a fixed size, about 264 KiB, however long the run and however many round
//! trips it makes; keeping every sample instead would cost 8 bytes per
//! round trip (2.4 GB for an hour at 80 000 round trips/s). Percentiles are
//! then exact to 0.1 %; the maximum is kept exactly beside it. So that
//! thousands of connections do not meet on its lock every round trip, each
//! connection collects [`BATCH`] samples and adds them in one go.
//!
//! Shared by echo_client and happycoin (examples/common/serve says why
//! shared code lives in this folder).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Round trips a connection times before adding them to the histogram:
/// 2 KiB of samples per connection, one lock per 256 round trips.
pub const BATCH: usize = 256;
/// The longest round trip told apart from longer ones, in nanoseconds;
/// longer ones count as this long (the exact maximum is kept separately).
const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// Where the connections of one measurement record their round-trip times.
/// Clones share the histogram.
#[derive(Clone)]
pub struct Latencies {
    histogram: Arc<Mutex<Histogram<u64>>>,
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Latencies {
        let h = Histogram::new_with_bounds(1, HIGHEST_NS, SIGNIFICANT_DIGITS)
            .expect("valid histogram bounds");
        Latencies {
            histogram: Arc::new(Mutex::new(h)),
        }
    }

    /// Adds one connection's batch of samples (nanoseconds).
    fn add(&self, batch: &mut Vec<u64>) {
        let mut h = self.histogram.lock();
        for &ns in batch.iter() {
            h.saturating_record(ns);
        }
        drop(h);
        batch.clear();
    }

    /// The value at quantile `q` (0.5 for the median), in microseconds;
    /// 0 when nothing was recorded.
    fn quantile_us(&self, q: f64) -> f64 {
        self.histogram.lock().value_at_quantile(q) as f64 / 1000.0
    }
}

/// What one connection did during the run.
#[derive(Default)]
pub struct ConnReport {
    pub round_trips: u64,
    pub io_errors: u64,
    pub mismatches: u64,
    /// The longest round trip, in nanoseconds.
    pub max_ns: u64,
}

/// What all connections did: totals and latency percentiles.
pub struct Totals {
    pub round_trips: u64,
    pub io_errors: u64,
    pub mismatches: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Totals {
    /// Sums the connections' reports; the percentiles come from the
    /// histogram they recorded into, in microseconds. A histogram bucket
    /// reports its upper end, so a percentile is capped at the exact
    /// maximum: p50 <= p99 <= max always holds.
    pub fn of(reports: impl IntoIterator<Item = ConnReport>, latencies: &Latencies) -> Totals {
        let (mut round_trips, mut io_errors, mut mismatches, mut max_ns) = (0, 0, 0, 0);
        for r in reports {
            round_trips += r.round_trips;
            io_errors += r.io_errors;
            mismatches += r.mismatches;
            max_ns = max_ns.max(r.max_ns);
        }
        let max_us = max_ns as f64 / 1000.0;
        Totals {
            round_trips,
            io_errors,
            mismatches,
            p50_us: latencies.quantile_us(0.50).min(max_us),
            p99_us: latencies.quantile_us(0.99).min(max_us),
            max_us,
        }
    }
}

/// Fills `buf` with bytes unique to (connection, round trip), so a byte
/// echoed to the wrong connection or out of order is caught.
fn fill(buf: &mut [u8], conn: u64, seq: u64) {
    let mut x = (conn << 32) ^ seq ^ 0x9E37_79B9_7F4A_7C15;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// Round trips of `bytes` bytes on `s` while `more()` says so, each one
/// checked byte for byte and timed into `latencies`; stops at the first
/// error or mismatch.
pub fn run_conn(
    mut s: impl Read + Write,
    id: u64,
    bytes: usize,
    latencies: &Latencies,
    mut more: impl FnMut() -> bool,
) -> ConnReport {
    let mut r = ConnReport::default();
    let mut out = vec![0u8; bytes];
    let mut back = vec![0u8; bytes];
    let mut batch = Vec::with_capacity(BATCH);
    let mut seq = 0u64;
    while more() {
        fill(&mut out, id, seq);
        let t0 = Instant::now();
        if s.write_all(&out)
            .and_then(|()| s.read_exact(&mut back))
            .is_err()
        {
            r.io_errors += 1;
            break;
        }
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        r.max_ns = r.max_ns.max(ns);
        batch.push(ns);
        if batch.len() == BATCH {
            latencies.add(&mut batch);
        }
        r.round_trips += 1;
        if back != out {
            // The stream is out of step now: stop this connection.
            r.mismatches += 1;
            break;
        }
        seq += 1;
    }
    latencies.add(&mut batch);
    r
}

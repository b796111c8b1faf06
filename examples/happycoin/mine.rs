//! The Happycoin workload: the tests, the random draws and the mining loop.
//!
//! A *Happycoin* is a random `u64` that is a happy number and a multiple of
//! 10 000. This module knows nothing about threads: every mode (single, OS
//! threads, green threads, the pool) mines ranges of *draw indices* with
//! [`Source::mine`], and the caller decides where that runs. Two hooks make
//! the loop fit any caller:
//!
//! * a `checkpoint` closure called every [`MineConfig::checkpoint_every`]
//!   draws — green threads pass `greenrt::coop::checkpoint`, so a miner can be
//!   preempted (and, later, share its processors with an echo server);
//! * a [`Control`] shared by all miners: a stop request, looked at at the same
//!   points, and a count of draws done, read by the progress bar.
//!
//! With [`Rng::Fast`], draw `i` is `splitmix64(seed, i)`, a pure function of
//! the seed and the index, so however the index range is split among workers
//! the same draws happen and the same coins are found.

use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A Happycoin is a multiple of this (and happy).
pub const COIN_DIVISOR: u64 = 10_000;

/// Default number of draws between two checkpoints.
///
/// One draw costs 80–90 ns on the project's VM (11–12 M draws/s; the happy
/// test's digit loops dominate), so 1 024 draws are about 85 µs of work. A
/// checkpoint costs a few nanoseconds when no yield is due — under 0.01% of
/// that, invisible in draws/s — and a yield requested by sysmon (after a
/// green thread has run for 10 ms) is honoured within ~85 µs, well inside
/// the ~1 ms target. A much larger interval would delay preemption (and a
/// stop request) for no measurable gain; a much smaller one would only add
/// shared-counter traffic. The stop request and the progress counter are
/// looked at on the same schedule.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1024;

/// Which of the two tests runs first. Both give the same coins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The book's order: the (expensive) happy test on every draw, then
    /// divisibility. This keeps the job CPU-bound, which is the point of the
    /// benchmark.
    HappyFirst,
    /// The algorithmic shortcut: 9 999 draws in 10 000 fail the cheap
    /// divisibility test, so the happy test almost never runs.
    RejectFirst,
}

/// Where the random numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rng {
    /// splitmix64, seeded: draw `i` is [`splitmix64`]`(seed, i)`.
    Fast {
        /// The stream's seed.
        seed: u64,
    },
    /// The operating system's CSPRNG (`getrandom(2)`), like the book's
    /// `crypto` draws. Not reproducible.
    Os,
}

/// One coin: which draw found it, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Coin {
    /// Index of the draw, from 0.
    pub draw: u64,
    /// The random number drawn.
    pub value: u64,
}

/// What one call of [`Source::mine`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mined {
    /// Coins in ascending draw order.
    pub coins: Vec<Coin>,
    /// Draws made: the whole range unless a stop was requested.
    pub draws: u64,
}

/// How to mine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MineConfig {
    /// Test order.
    pub order: Order,
    /// Draws between two calls of the checkpoint hook (at least 1).
    pub checkpoint_every: u64,
}

impl Default for MineConfig {
    fn default() -> Self {
        MineConfig {
            order: Order::HappyFirst,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
        }
    }
}

/// State shared by every miner of one run: a stop request and the number of
/// draws done so far. Both are relaxed atomics touched once per checkpoint
/// interval, so sharing them costs nothing measurable.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    draws_done: AtomicU64,
}

impl Control {
    /// A control with no stop requested and no draws counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every miner to stop at its next checkpoint.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// True once [`request_stop`](Self::request_stop) has been called.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Draws done so far by all miners (updated once per checkpoint interval).
    pub fn draws_done(&self) -> u64 {
        self.draws_done.load(Ordering::Relaxed)
    }

    fn add_draws(&self, n: u64) {
        self.draws_done.fetch_add(n, Ordering::Relaxed);
    }
}

/// The sum of the squares of the decimal digits of `n`.
pub fn digit_square_sum(mut n: u64) -> u64 {
    let mut sum = 0;
    while n > 0 {
        let d = n % 10;
        sum += d * d;
        n /= 10;
    }
    sum
}

/// True when `n` is a happy number: repeatedly replacing it by
/// [`digit_square_sum`] reaches 1.
///
/// Every positive integer ends either at 1 (happy) or in the cycle
/// 4 → 16 → 37 → 58 → 89 → 145 → 42 → 20 → 4 (unhappy), so the loop stops at
/// 1 or 4, like the book's. 0 is not happy (its sum is 0 again: the book's
/// loop would never end on it).
pub fn is_happy(mut n: u64) -> bool {
    if n == 0 {
        return false;
    }
    while n != 1 && n != 4 {
        n = digit_square_sum(n);
    }
    n == 1
}

/// True when `n` is a Happycoin, testing in the given order.
#[inline]
pub fn is_happycoin(n: u64, order: Order) -> bool {
    match order {
        Order::HappyFirst => is_happy(n) && n % COIN_DIVISOR == 0,
        Order::RejectFirst => n % COIN_DIVISOR == 0 && is_happy(n),
    }
}

/// Draw `i` of the splitmix64 stream seeded with `seed`: the `i + 1`-th
/// output of Vigna's reference `splitmix64` whose state starts at `seed`.
/// A pure function of `(seed, i)`, so any worker can compute any draw.
#[inline]
pub fn splitmix64(seed: u64, i: u64) -> u64 {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut z = seed.wrapping_add(GAMMA.wrapping_mul(i.wrapping_add(1)));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A supply of draws for one miner.
trait Draw {
    fn draw(&mut self, i: u64) -> u64;
}

struct FastDraws {
    seed: u64,
}

impl Draw for FastDraws {
    #[inline]
    fn draw(&mut self, i: u64) -> u64 {
        splitmix64(self.seed, i)
    }
}

/// OS random numbers, fetched 4 KiB at a time: one `getrandom(2)` per 512
/// draws instead of one per draw keeps the system-call cost off the profile.
struct OsDraws {
    buf: Box<[u8; OS_BUF_BYTES]>,
    pos: usize,
}

const OS_BUF_BYTES: usize = 4096;

impl OsDraws {
    /// Fails when the OS has no usable random source; the first buffer is
    /// filled here so that such an error shows before mining starts.
    fn new() -> io::Result<Self> {
        let mut buf = Box::new([0u8; OS_BUF_BYTES]);
        getrandom::fill(&mut buf[..])?;
        Ok(OsDraws { buf, pos: 0 })
    }
}

impl Draw for OsDraws {
    #[inline]
    fn draw(&mut self, _i: u64) -> u64 {
        if self.pos == OS_BUF_BYTES {
            // getrandom(2) does not fail once it has succeeded (`new`) on
            // Linux; the crate retries EINTR. A failure here is a broken OS.
            if let Err(e) = getrandom::fill(&mut self.buf[..]) {
                panic!("the OS random source failed mid-run: {e}");
            }
            self.pos = 0;
        }
        let bytes: [u8; 8] = self.buf[self.pos..self.pos + 8]
            .try_into()
            .expect("an 8-byte slice");
        self.pos += 8;
        u64::from_le_bytes(bytes)
    }
}

/// One miner's random number generator.
pub struct Source(SourceKind);

enum SourceKind {
    Fast(FastDraws),
    Os(OsDraws),
}

impl Source {
    /// A generator for `rng`. Fails only for [`Rng::Os`] when the OS has no
    /// random source.
    pub fn new(rng: Rng) -> io::Result<Self> {
        Ok(Source(match rng {
            Rng::Fast { seed } => SourceKind::Fast(FastDraws { seed }),
            Rng::Os => SourceKind::Os(OsDraws::new()?),
        }))
    }

    /// Makes the draws of `range` (indices into the run's draw sequence) and
    /// returns the coins found, in draw order.
    ///
    /// Every `cfg.checkpoint_every` draws it adds them to `ctl`'s count, calls
    /// `checkpoint`, and stops early if `ctl` asks it to.
    pub fn mine(
        &mut self,
        range: Range<u64>,
        cfg: &MineConfig,
        ctl: &Control,
        checkpoint: impl FnMut(),
    ) -> Mined {
        // Dispatch once, so the inner loop is compiled for each generator.
        match &mut self.0 {
            SourceKind::Fast(d) => mine_with(d, range, cfg, ctl, checkpoint),
            SourceKind::Os(d) => mine_with(d, range, cfg, ctl, checkpoint),
        }
    }
}

fn mine_with<D: Draw>(
    draws: &mut D,
    range: Range<u64>,
    cfg: &MineConfig,
    ctl: &Control,
    mut checkpoint: impl FnMut(),
) -> Mined {
    let every = cfg.checkpoint_every.max(1);
    let mut coins = Vec::new();
    let mut next = range.start;
    while next < range.end && !ctl.stop_requested() {
        let end = next.saturating_add(every).min(range.end);
        for i in next..end {
            let value = draws.draw(i);
            if is_happycoin(value, cfg.order) {
                coins.push(Coin { draw: i, value });
            }
        }
        ctl.add_draws(end - next);
        next = end;
        checkpoint();
    }
    Mined {
        coins,
        draws: next.saturating_sub(range.start),
    }
}

/// Splits `0..draws` into `parts` contiguous ranges whose lengths differ by
/// at most one, in ascending order.
pub fn split(draws: u64, parts: usize) -> Vec<Range<u64>> {
    let parts = parts.max(1) as u64;
    let (share, extra) = (draws / parts, draws % parts);
    let mut start = 0;
    (0..parts)
        .map(|k| {
            let end = start + share + u64::from(k < extra);
            let r = start..end;
            start = end;
            r
        })
        .collect()
}

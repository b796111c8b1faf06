//! Helpers shared by the greenrt::net tests (loopback only).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use greenrt::WaitReason;

/// The `procs` values every net test runs with.
pub const NET_PROCS: [usize; 2] = [1, 2];

/// Raises this process's soft fd limit to at least `want` (up to the hard
/// limit) and returns the new soft limit.
pub fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the one struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want as libc::rlim_t {
            lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
        lim.rlim_cur as u64
    }
}

/// A loopback address nobody listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// xorshift64*: deterministic test data without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Log-uniform in `0..=max`: as many tiny payloads as huge ones, so a
    /// test covers every size class while the total stays modest.
    pub fn log_size(&mut self, max: usize) -> usize {
        let bits = usize::BITS - max.leading_zeros();
        let b = self.range(0, bits as usize) as u32;
        let hi = if b == 0 { 0 } else { (1usize << b) - 1 };
        self.range(hi / 2, hi.min(max))
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Waits (polling, bounded) until `t` is parked for `reason`. Works from a
/// green thread or an OS thread.
pub fn wait_parked(t: &greenrt::GreenThread, reason: WaitReason) {
    let start = Instant::now();
    while t.wait_reason() != reason {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "green thread {} never parked for {reason:?} (now {:?})",
            t.id(),
            t.wait_reason()
        );
        greenrt::sleep(Duration::from_millis(1));
    }
}

/// A count-down latch for green threads: `wait` parks until `n` callers
/// have arrived. (Used to hold every connection open at once.)
pub struct Latch {
    remaining: std::sync::atomic::AtomicUsize,
    waiters: std::sync::Mutex<Vec<greenrt::GreenThread>>,
}

impl Latch {
    pub fn new(n: usize) -> Self {
        Latch {
            remaining: std::sync::atomic::AtomicUsize::new(n),
            waiters: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Arrives and parks until everyone has; must run in a green thread.
    pub fn arrive_and_wait(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let me = greenrt::current().expect("Latch is for green threads");
        {
            let mut w = self.waiters.lock().unwrap();
            if self.remaining.fetch_sub(1, SeqCst) == 1 {
                for t in w.drain(..) {
                    t.unpark();
                }
                return;
            }
            w.push(me);
        }
        // The lock is never held across the park; park may return early.
        while self.remaining.load(SeqCst) != 0 {
            greenrt::park();
        }
    }
}

//! A small, fast, per-OS-thread random source for `select`'s fairness.
//!
//! Among ready operations `select!` must choose uniformly (as Go and
//! crossbeam do) so no arm starves. Quality needs are modest; speed matters.
//! xorshift64* seeded per thread from the clock and a thread-local address.
//! The thread-local is only touched inside one `#[inline(never)]` call that
//! cannot park, so a G migrating between OS threads is harmless
//! (docs/ARCHITECTURE.md, "Thread identity").

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// splitmix64 finaliser: spreads a poor seed over all bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniformly distributed number in `0..n` (`n > 0`).
#[inline(never)]
pub(crate) fn below(n: usize) -> usize {
    debug_assert!(n > 0);
    let x = STATE
        .try_with(|s| {
            let mut x = s.get();
            if x == 0 {
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                x = mix(nanos ^ (s as *const Cell<u64> as u64)) | 1;
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            s.set(x);
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        })
        .unwrap_or(0x2545_F491_4F6C_DD1D);
    // Lemire's multiply-shift: unbiased enough for n far below 2^64.
    ((x as u128 * n as u128) >> 64) as usize
}

/// Shuffles `v` in place (Fisher–Yates).
pub(crate) fn shuffle(v: &mut [usize]) {
    for i in (1..v.len()).rev() {
        v.swap(i, below(i + 1));
    }
}

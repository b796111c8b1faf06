//! The lend word: who may use a P while its M runs a G on it.
//!
//! While a G runs, its M lends it the P (`MachineContext::p`): the G's own
//! runtime calls (spawn, wake, syscall entry) use the P's owner-only parts
//! from the G's stack. A G that makes a blocking call nobody wrapped in
//! `greenrt::syscall` puts its thread to sleep in the kernel with the P
//! still lent, and the Gs queued behind it wait. sysmon may then take the P
//! away (docs/ARCHITECTURE.md, "Syscall handoff and sysmon") — while the
//! G's thread may wake up at any moment and use it. Both sides meet at this
//! word, and every transfer is one compare-and-swap, so exactly one side
//! wins (invariant 8, lent P, of `sched/mod.rs`):
//!
//! | word                      | meaning                                         |
//! |---------------------------|-------------------------------------------------|
//! | `0`                       | not lent: the P is held by an M in its own loop, idle, or in its syscall slot |
//! | `key << 2`                | lent to the G on thread `key`, which runs user code: sysmon may retake it |
//! | `key << 2 \| IN_RUNTIME`  | that thread is using the P (claimed): sysmon leaves it alone |
//! | `key << 2 \| INSPECTED`   | sysmon is reading the running G (hog report); the thread waits |
//!
//! `key` is the M's thread key (`thread_state.rs`), non-zero and distinct
//! among live threads, so a thread whose P was retaken and then lent to
//! another M can never mistake the new lend for its own.
//!
//! The cost on the G's side: one CAS and one store around each runtime
//! call that uses the P, and one CAS when the G switches out (the M's
//! `reclaim`), all on a cache line that only sysmon reads, and only for a
//! P that looks stuck.
//!
//! The slot is generic over what it lends (`P`, the runtime's `Processor`)
//! and whom to (`G`, its `GreenThread`), and takes its atomics from
//! `loom.rs`, so the loom model below checks the code the runtime runs.

use std::ptr;

use super::green_thread::GreenThread;
use super::loom::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use super::processor::Processor;

/// The lent P's thread is using it.
const IN_RUNTIME: u64 = 1;
/// sysmon is reading the running G.
const INSPECTED: u64 = 2;

/// A P's lend word, plus what sysmon needs once it wins it.
pub(crate) struct LendSlot<P = Processor, G = GreenThread> {
    word: AtomicU64,
    /// The lent P's own box (written before each lend): what a retake owns.
    p: AtomicPtr<P>,
    /// The G the P is lent to: valid while sysmon holds `INSPECTED`.
    g: AtomicPtr<G>,
    /// Counts lends (written by the lender only): sysmon tells a G that has
    /// held the P since its last look from a new lend.
    lends: AtomicU32,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Claimed: use the P, then `release`.
    Taken,
    /// This thread already holds the claim (runtime code nested in runtime
    /// code, e.g. a destructor): use the P, do not release.
    Nested,
    /// sysmon retook the P: it is no longer this thread's.
    Lost,
}

impl<P, G> LendSlot<P, G> {
    pub(crate) fn new() -> Self {
        LendSlot {
            word: AtomicU64::new(0),
            p: AtomicPtr::new(ptr::null_mut()),
            g: AtomicPtr::new(ptr::null_mut()),
            lends: AtomicU32::new(0),
        }
    }

    /// The M (or a G leaving a syscall) lends `p` to `g`, running on thread
    /// `key`. The caller owns `p` and the word is 0.
    #[inline]
    pub(crate) fn lend(&self, key: u64, p: *mut P, g: *const G) {
        debug_assert_eq!(self.word.load(Ordering::Relaxed), 0, "lent twice");
        self.p.store(p, Ordering::Relaxed);
        self.g.store(g.cast_mut(), Ordering::Relaxed);
        let n = self.lends.load(Ordering::Relaxed).wrapping_add(1);
        self.lends.store(n, Ordering::Relaxed);
        // Release: a retake that wins the word sees the P as we left it.
        self.word.store(key << 2, Ordering::Release);
    }

    /// The lent P's thread, before using the P.
    #[inline]
    pub(crate) fn claim(&self, key: u64) -> Claim {
        let lent = key << 2;
        loop {
            match self.word.compare_exchange(
                lent,
                lent | IN_RUNTIME,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Claim::Taken,
                Err(w) if w == lent | IN_RUNTIME => return Claim::Nested,
                Err(w) if w == lent | INSPECTED => wait_for_sysmon(),
                Err(_) => return Claim::Lost,
            }
        }
    }

    /// Ends a `Claim::Taken`.
    #[inline]
    pub(crate) fn release(&self, key: u64) {
        debug_assert_eq!(self.word.load(Ordering::Relaxed), key << 2 | IN_RUNTIME);
        self.word.store(key << 2, Ordering::Release);
    }

    /// The claimed P leaves the G (for its syscall slot): not lent any more.
    /// The caller holds a `Claim::Taken` and owns the P from here on.
    pub(crate) fn end_lend_claimed(&self, key: u64) {
        debug_assert_eq!(self.word.load(Ordering::Relaxed), key << 2 | IN_RUNTIME);
        self.word.store(0, Ordering::Relaxed);
    }

    /// The M, after its G switched out: takes the P back. `false`: sysmon
    /// retook it (the M no longer owns it).
    #[inline]
    pub(crate) fn reclaim(&self, key: u64) -> bool {
        let lent = key << 2;
        loop {
            // Acquire on failure too: a `false` (sysmon retook the P) must
            // see sysmon's last `inspect` of the G finished, since the M
            // goes on to change, and may free, the G it just switched out
            // of (the retake's CAS continues the release sequence of the
            // inspect's closing store). Found by the loom model below.
            match self
                .word
                .compare_exchange(lent, 0, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(w) if w == lent | INSPECTED => wait_for_sysmon(),
                Err(w) => {
                    assert_ne!(
                        w,
                        lent | IN_RUNTIME,
                        "a G switched out holding its P's claim"
                    );
                    return false;
                }
            }
        }
    }

    /// Whether the P is still lent to thread `key` (claimed or not).
    #[inline]
    pub(crate) fn is_lent_to(&self, key: u64) -> bool {
        self.word.load(Ordering::Relaxed) >> 2 == key
    }

    /// How many times the P has been lent (sysmon: has it changed hands?).
    pub(crate) fn lends(&self) -> u32 {
        self.lends.load(Ordering::Relaxed)
    }

    /// sysmon: the thread the P is lent to, when it runs user code.
    pub(crate) fn lent_to(&self) -> Option<u64> {
        let w = self.word.load(Ordering::Relaxed);
        (w != 0 && w & (IN_RUNTIME | INSPECTED) == 0).then_some(w >> 2)
    }

    /// sysmon: takes the P lent to thread `key`, if that thread is still in
    /// user code. `Some`: the caller owns the P now.
    pub(crate) fn retake(&self, key: u64) -> Option<Box<P>> {
        self.word
            .compare_exchange(key << 2, 0, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        let p = self.p.load(Ordering::Relaxed);
        assert!(!p.is_null(), "a lent P records its box");
        // SAFETY: `lend` stored the lent P's box (from `Box::into_raw`)
        // before the word we just won (acquire pairs with its release); the
        // CAS moved ownership from the G's thread, which uses the box only
        // after a claim or reclaim that now fails (invariant 8, lent P).
        Some(unsafe { Box::from_raw(p) })
    }

    /// sysmon: runs `read` on the G the P is lent to on thread `key`, which
    /// cannot switch out meanwhile (its M's `reclaim` waits). `None`: the
    /// thread was not in user code. `read` must be short and must not block.
    pub(crate) fn inspect<R>(&self, key: u64, read: impl FnOnce(&G) -> R) -> Option<R> {
        let lent = key << 2;
        self.word
            .compare_exchange(lent, lent | INSPECTED, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        let g = self.g.load(Ordering::Relaxed);
        // SAFETY: `lend` stored the running G before the word; while the
        // word says INSPECTED its M cannot finish `reclaim`, so the M still
        // holds its reference to the G and the G is alive.
        let r = unsafe { g.as_ref() }.map(read);
        self.word.store(lent, Ordering::Release);
        r
    }
}

/// sysmon holds the word for a few loads; let it finish (it may have been
/// descheduled, so give up the CPU rather than spin).
#[cold]
fn wait_for_sysmon() {
    super::loom::yield_now();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lent_slot(key: u64) -> (LendSlot, *mut Processor) {
        let slot = LendSlot::new();
        let (p, _) = Processor::new(0, 1);
        let raw = Box::into_raw(p);
        slot.lend(key, raw, ptr::null());
        (slot, raw)
    }

    #[test]
    fn a_claim_keeps_sysmon_out_and_a_retake_keeps_the_thread_out() {
        let (slot, raw) = lent_slot(7);
        assert_eq!(slot.claim(7), Claim::Taken);
        assert_eq!(slot.claim(7), Claim::Nested);
        assert_eq!(slot.lent_to(), None, "claimed: not retakable");
        assert!(slot.retake(7).is_none());
        slot.release(7);
        assert_eq!(slot.lent_to(), Some(7));
        let p = slot.retake(7).expect("unclaimed: retakable");
        assert_eq!(Box::into_raw(p), raw);
        assert_eq!(slot.claim(7), Claim::Lost);
        assert!(!slot.reclaim(7));
        assert!(!slot.is_lent_to(7));
        // SAFETY: the retake gave us the box; nobody else holds it.
        drop(unsafe { Box::from_raw(raw) });
    }

    #[test]
    fn another_threads_lend_is_not_ours() {
        let (slot, raw) = lent_slot(7);
        // sysmon retakes, the P is lent on thread 9: thread 7 lost it.
        let p = slot.retake(7).unwrap();
        slot.lend(9, Box::into_raw(p), ptr::null());
        assert_eq!(slot.claim(7), Claim::Lost);
        assert!(!slot.reclaim(7));
        assert!(slot.reclaim(9));
        // SAFETY: thread 9's reclaim gave it back to us.
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// Model check (`RUSTFLAGS="--cfg loom" cargo test --lib loom_`; see
/// `.ci/run`) of invariant 8 (lent P): the G's thread claims the P for a
/// runtime call and releases it, then its M takes the P back (`reclaim`)
/// after the switch, while sysmon, seeing the P lent, inspects the G and
/// retakes the P. Exactly one of the M and sysmon must own the P in the
/// end, every use of the P (a write to a loom cell in it) must be ordered
/// after the previous owner's (loom reports a data race otherwise), a
/// `Lost` claim must never touch it, and the M must not finish `reclaim`
/// — after which it may free the G — while sysmon reads the G.
#[cfg(all(test, loom))]
mod loom_model {
    use super::{Claim, LendSlot};
    use crate::sched::loom::UnsafeCell;
    use loom::sync::Arc;

    /// The G's thread (the M runs the G on its own thread: one key).
    const KEY: u64 = 5;

    struct P {
        /// The P's state, used only by whoever owns it.
        uses: UnsafeCell<usize>,
    }

    struct G {
        /// What sysmon reads while inspecting, and the M writes once the
        /// G has switched out.
        state: UnsafeCell<usize>,
    }

    fn use_p(p: &P) -> usize {
        // SAFETY: only the P's owner touches it; loom checks the order.
        p.uses.with_mut(|u| unsafe {
            *u += 1;
            *u
        })
    }

    /// The lent slot, the P's box and the G, as the M leaves them when it
    /// resumes the G.
    fn lent() -> (Arc<LendSlot<P, G>>, *mut P, Arc<G>) {
        let slot = Arc::new(LendSlot::<P, G>::new());
        let p = Box::into_raw(Box::new(P {
            uses: UnsafeCell::new(0),
        }));
        let g = Arc::new(G {
            state: UnsafeCell::new(1),
        });
        // SAFETY: `p` is ours until lent.
        assert_eq!(use_p(unsafe { &*p }), 1);
        slot.lend(KEY, p, Arc::as_ptr(&g));
        (slot, p, g)
    }

    /// sysmon: inspect the G if `inspect`, then retake the P. Returns
    /// whether it owns the P.
    fn sysmon(slot: &LendSlot<P, G>, inspect: bool) -> bool {
        let Some(key) = slot.lent_to() else {
            return false;
        };
        if inspect {
            // SAFETY: `inspect` holds the G's M off `reclaim`; loom checks it.
            let _ = slot.inspect(key, |g| g.state.with(|s| unsafe { *s }));
        }
        match slot.retake(key) {
            Some(p) => {
                assert!(use_p(&p) >= 2, "the previous owner's use is not visible");
                drop(p);
                true
            }
            None => false,
        }
    }

    /// The G's thread: one runtime call that uses the P, then the switch
    /// out and the M's take-back. Returns whether the M owns the P.
    fn g_then_m(slot: &LendSlot<P, G>, p: *mut P, g: &G) -> bool {
        match slot.claim(KEY) {
            Claim::Taken => {
                // SAFETY: claimed: the P is this thread's until `release`.
                use_p(unsafe { &*p });
                slot.release(KEY);
            }
            Claim::Lost => {}
            Claim::Nested => panic!("no claim is held here"),
        }
        let owns = slot.reclaim(KEY);
        // The G has switched out: its M may now change (or free) it.
        // SAFETY: no inspect can be under way once `reclaim` returned.
        g.state.with_mut(|s| unsafe { *s += 1 });
        if owns {
            // SAFETY: reclaimed: the box is the M's again.
            let p = unsafe { Box::from_raw(p) };
            assert!(use_p(&p) >= 2);
        }
        owns
    }

    fn run(inspect: bool) {
        loom::model(move || {
            let (slot, p, g) = lent();
            let sysmon = {
                let slot = slot.clone();
                loom::thread::spawn(move || sysmon(&slot, inspect))
            };
            let m_owns = g_then_m(&slot, p, &g);
            let sysmon_owns = sysmon.join().unwrap();
            assert!(m_owns != sysmon_owns, "the P has two owners or none");
            assert!(!slot.is_lent_to(KEY), "not lent any more");
        });
    }

    #[test]
    fn loom_lend_claim_reclaim_against_retake() {
        run(false);
    }

    #[test]
    fn loom_lend_reclaim_waits_for_inspect() {
        run(true);
    }
}

//! The lend word: who may use a P while its M runs a G on it.
//!
//! While a G runs, its M lends it the P (`MachineContext::p`): the G's own
//! runtime calls (spawn, wake, syscall entry) use the P's owner-only parts
//! from the G's stack. A G that makes a blocking call nobody wrapped in
//! `greenrt::syscall` puts its thread to sleep in the kernel with the P
//! still lent, and the Gs queued behind it wait. sysmon may then take the P
//! away (docs/ARCHITECTURE.md, "Syscall handoff and sysmon") — while the
//! G's thread may wake up at any moment and use it. Exactly one of them
//! must win (invariant 8, lent P, of `sched/mod.rs`).
//!
//! The G's side runs around every runtime call that uses the P and every
//! switch, sysmon's almost never, so the G's side uses no locked
//! instruction: it is an asymmetric Dekker handshake (`membarrier.rs`).
//!
//! * Each M's thread owns a [`LendState`]; only that thread writes its
//!   `lent` word: the address of the slot it holds lent, `| CLAIMED` while
//!   it uses the P, or 0. sysmon writes only its `deciding` count.
//! * The P's [`LendSlot`] records its lendee: written by the P's owner when
//!   it lends the P to its own thread (or ends the lend, claimed, for a
//!   syscall) and by sysmon when it retakes the P (back to null).
//! * The thread side (`claim`, `reclaim`): store `lent`, light fence, load
//!   `deciding`; if non-zero, wait (yielding) until it is 0 (acquire). Then
//!   the P is still this thread's iff the slot's lendee is still this
//!   thread's state.
//! * sysmon (`retake`, `inspect`): increment `deciding`, heavy fence, load
//!   `lent` (acquire). Only if it reads "lent this slot, unclaimed" and the
//!   slot's lendee is that state does it act (retake: lendee to null and
//!   take the P's box; inspect: read the G); then decrement (release).
//!
//! Why exactly one side wins: the fences make a store-buffering pair, so
//! either sysmon's load sees the thread's store or the thread's load sees
//! sysmon's increment (or the decrement that ends that decision). sysmon
//! acts only when it did not see the thread's claim or reclaim; then that
//! claim or reclaim sees `deciding`, waits for the decrement, and (acquire)
//! finds the lendee null: a `Lost` claim, a failed reclaim, after which the
//! thread never touches the P, and a reclaim that cannot end while sysmon
//! reads the G. When sysmon did see it, sysmon backs off and the thread
//! keeps the P. Every use of the P by the thread happens before the release
//! store that ends its claim, which sysmon's acquire load reads before it
//! takes the P.
//!
//! Why a retaken thread cannot clobber the P's next lend: after a retake
//! the P goes to another M and is lent to that M's thread, while the old
//! thread may still be asleep and later wake and store. It stores only to
//! its own state, which no P lent elsewhere consults; the only shared word
//! the thread side writes, the slot's lendee, it writes only while it owns
//! the P. The lendee names a thread only after that thread lent the P to
//! itself, so an old thread never finds itself the lendee again. sysmon may
//! hold a stale lendee (the P since lent elsewhere, the state since reused
//! by another M); it compares the state with the slot's own address, and a
//! thread that holds that slot lent cannot leave the lend while sysmon
//! decides (its reclaim waits), so what sysmon reads is the current lend.
//! States are never freed (spare ones are reused by the next M), so a
//! stale pointer is always safe to read; slots live as long as their
//! scheduler, whose Ms all hold it.
//!
//! The cost on the G's side: a store, a compiler fence and two loads of
//! lines it owns around each claim and each reclaim, and a release store
//! to end a claim. sysmon pays an increment, a `membarrier` (a few µs) and
//! a decrement, only for a P that has looked stuck for a while
//! (`sysmon.rs`): an idle runtime, or one whose Gs keep switching, never
//! issues it.
//!
//! The slot is generic over what it lends (`P`, the runtime's `Processor`)
//! and whom to (`G`, its `GreenThread`), and takes its atomics from
//! `loom.rs`, so the loom model below checks the code the runtime runs.

use std::ptr;
use std::sync::Mutex;

use super::green_thread::GreenThread;
use super::loom::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use super::processor::Processor;

/// The lent P's thread is using it (low bit of `LendState::lent`).
const CLAIMED: usize = 1;

/// One M's thread's side of its lends. Written by that thread alone, except
/// `deciding` (sysmon). Never freed (see the module doc): an M takes one
/// with [`Lendee::take`] and gives it back for reuse when it exits.
#[repr(align(64))]
pub(crate) struct LendState {
    /// The address of the slot this thread holds lent, `| CLAIMED` while it
    /// uses the P, or 0.
    lent: AtomicUsize,
    /// How many sysmons are deciding about this thread's lend (one per
    /// runtime; another runtime's may hold a stale pointer to this state).
    deciding: AtomicU32,
    /// The thread's key (`thread_state.rs`), for sysmon's kernel queries.
    key: AtomicU64,
    /// Under loom: the location whose read-modify-writes stand for the
    /// fence pair (see `fence_pair`).
    #[cfg(loom)]
    barrier: AtomicUsize,
}

impl LendState {
    fn new() -> LendState {
        LendState {
            lent: AtomicUsize::new(0),
            deciding: AtomicU32::new(0),
            key: AtomicU64::new(0),
            #[cfg(loom)]
            barrier: AtomicUsize::new(0),
        }
    }

    /// The key of the thread that owns this state (sysmon: a hint; the
    /// state may have passed to another M since).
    pub(crate) fn key(&self) -> u64 {
        self.key.load(Ordering::Relaxed)
    }

    /// The thread side's fence: its store above is ordered before its load
    /// below against sysmon's `heavy_fence` on the same state.
    #[inline(always)]
    fn light_fence(&self) {
        #[cfg(not(loom))]
        super::membarrier::light();
        #[cfg(loom)]
        self.fence_pair();
    }

    /// sysmon's fence (see `light_fence`).
    fn heavy_fence(&self) {
        #[cfg(not(loom))]
        super::membarrier::heavy();
        #[cfg(loom)]
        self.fence_pair();
    }

    /// Loom models neither `membarrier` nor `SeqCst` fences (it treats them
    /// as `AcqRel`), so both sides' fences are an `AcqRel` read-modify-write
    /// of one location: those are totally ordered, and the later one reads
    /// from the earlier, so the earlier side's store happens before the
    /// later side's load — the store-buffering guarantee the real pair
    /// gives.
    #[cfg(loom)]
    fn fence_pair(&self) {
        self.barrier.fetch_add(1, Ordering::AcqRel);
    }

    /// The thread side, after its store and fence: waits out any sysmon
    /// decision, then says whether `slot` is still lent to this thread.
    #[inline(always)]
    fn still_lent<P, G>(&self, slot: &LendSlot<P, G>) -> bool {
        if self.deciding.load(Ordering::Acquire) != 0 {
            self.wait_for_sysmon();
        }
        slot.is_lent_to(self)
    }

    /// sysmon is deciding (a few loads, or reading a G); let it finish (it
    /// may have been descheduled, so give up the CPU rather than spin).
    #[cold]
    #[inline(never)]
    fn wait_for_sysmon(&self) {
        while self.deciding.load(Ordering::Acquire) != 0 {
            super::loom::yield_now();
        }
    }
}

/// States of exited Ms, for the next M (never freed: see the module doc).
static SPARE: Mutex<Vec<&'static LendState>> = Mutex::new(Vec::new());

/// An M's [`LendState`], held for the M's life.
pub(crate) struct Lendee(&'static LendState);

impl Lendee {
    /// A state for the calling thread, with key `key`.
    pub(crate) fn take(key: u64) -> Lendee {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let state = spare.unwrap_or_else(|| Box::leak(Box::new(LendState::new())));
        debug_assert_eq!(state.lent.load(Ordering::Relaxed), 0);
        state.key.store(key, Ordering::Relaxed);
        Lendee(state)
    }

    pub(crate) fn state(&self) -> &'static LendState {
        self.0
    }
}

impl Drop for Lendee {
    fn drop(&mut self) {
        // A P retaken from this thread leaves its last lend recorded here;
        // nothing reads that as current (the slot's lendee moved on).
        self.0.lent.store(0, Ordering::Relaxed);
        SPARE.lock().unwrap_or_else(|e| e.into_inner()).push(self.0);
    }
}

/// A P's lend record, plus what sysmon needs once it wins it. Must not move
/// while lent (its address names it in `LendState::lent`).
pub(crate) struct LendSlot<P = Processor, G = GreenThread> {
    /// The state of the thread the P was last lent to (null: retaken, or
    /// given to a syscall slot): see the module doc for who writes it.
    lendee: AtomicPtr<LendState>,
    /// The lent P's own box (written before each lend): what a retake owns.
    p: AtomicPtr<P>,
    /// The G the P is lent to: valid while sysmon decides on a lend it saw.
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
            lendee: AtomicPtr::new(ptr::null_mut()),
            p: AtomicPtr::new(ptr::null_mut()),
            g: AtomicPtr::new(ptr::null_mut()),
            lends: AtomicU32::new(0),
        }
    }

    /// This slot's name in `LendState::lent`.
    #[inline(always)]
    fn addr(&self) -> usize {
        let addr = self as *const Self as usize;
        debug_assert_eq!(addr & CLAIMED, 0, "a slot is aligned");
        addr
    }

    /// The M (or a G leaving a syscall) lends `p` to `g`, running on the
    /// calling thread, whose state is `me`. The caller owns `p`.
    #[inline]
    pub(crate) fn lend(&self, me: &'static LendState, p: *mut P, g: *const G) {
        debug_assert_eq!(me.lent.load(Ordering::Relaxed), 0, "lent twice");
        self.p.store(p, Ordering::Relaxed);
        self.g.store(g.cast_mut(), Ordering::Relaxed);
        let n = self.lends.load(Ordering::Relaxed).wrapping_add(1);
        self.lends.store(n, Ordering::Relaxed);
        self.lendee
            .store(ptr::from_ref(me).cast_mut(), Ordering::Relaxed);
        // Release: a retake that reads this sees the P as we left it, and
        // the lendee, p and g above.
        me.lent.store(self.addr(), Ordering::Release);
    }

    /// The lent P's thread, before using the P.
    #[inline]
    pub(crate) fn claim(&self, me: &LendState) -> Claim {
        let lent = self.addr();
        let now = me.lent.load(Ordering::Relaxed);
        if now == lent | CLAIMED {
            return Claim::Nested;
        }
        debug_assert_eq!(now, lent, "claimed a P not lent to this thread");
        me.lent.store(lent | CLAIMED, Ordering::Relaxed);
        me.light_fence();
        if me.still_lent(self) {
            Claim::Taken
        } else {
            me.lent.store(0, Ordering::Relaxed);
            Claim::Lost
        }
    }

    /// Ends a `Claim::Taken`.
    #[inline]
    pub(crate) fn release(&self, me: &LendState) {
        debug_assert_eq!(me.lent.load(Ordering::Relaxed), self.addr() | CLAIMED);
        // Release: a retake that reads this sees our uses of the P.
        me.lent.store(self.addr(), Ordering::Release);
    }

    /// The claimed P leaves the G (for its syscall slot): not lent any more.
    /// The caller holds a `Claim::Taken` and owns the P from here on.
    pub(crate) fn end_lend_claimed(&self, me: &LendState) {
        debug_assert_eq!(me.lent.load(Ordering::Relaxed), self.addr() | CLAIMED);
        self.lendee.store(ptr::null_mut(), Ordering::Relaxed);
        me.lent.store(0, Ordering::Relaxed);
    }

    /// The M, after its G switched out: takes the P back. `false`: sysmon
    /// retook it (the M no longer owns it).
    #[inline]
    pub(crate) fn reclaim(&self, me: &LendState) -> bool {
        let now = me.lent.load(Ordering::Relaxed);
        assert_ne!(
            now,
            self.addr() | CLAIMED,
            "a G switched out holding its P's claim"
        );
        me.lent.store(0, Ordering::Relaxed);
        me.light_fence();
        // A `false` has waited for (acquire) the decrement of the retake,
        // so sysmon's last `inspect` of the G is over: the M goes on to
        // change, and may free, the G it just switched out of.
        me.still_lent(self)
    }

    /// Whether the P is still lent to the thread whose state is `me`
    /// (claimed or not). Exact on that thread while it holds the P lent,
    /// except that a retake under way may not show yet.
    #[inline]
    pub(crate) fn is_lent_to(&self, me: &LendState) -> bool {
        ptr::eq(self.lendee.load(Ordering::Relaxed), me)
    }

    /// How many times the P has been lent (sysmon: has it changed hands?).
    pub(crate) fn lends(&self) -> u32 {
        self.lends.load(Ordering::Relaxed)
    }

    /// sysmon: the state of the thread the P is lent to, when it seems to
    /// run user code (a hint: `retake` and `inspect` decide).
    pub(crate) fn lent_to(&self) -> Option<&'static LendState> {
        let who = self.lendee.load(Ordering::Relaxed);
        // SAFETY: a lendee is a `LendState` given to `lend` as `'static`
        // (states are never freed).
        let who: &'static LendState = unsafe { who.as_ref() }?;
        (who.lent.load(Ordering::Relaxed) == self.addr()).then_some(who)
    }

    /// sysmon: runs `act` if the P is still lent to `who`, unclaimed, with
    /// `who` held off its next claim and reclaim meanwhile (module doc).
    fn decide<R>(&self, who: &LendState, act: impl FnOnce() -> R) -> Option<R> {
        who.deciding.fetch_add(1, Ordering::Relaxed);
        who.heavy_fence();
        // Acquire: the lend's stores and the P's uses before the last
        // release of its claim.
        let unclaimed = who.lent.load(Ordering::Acquire) == self.addr();
        let r = (unclaimed && self.is_lent_to(who)).then(act);
        // Release: what `act` did (the lendee cleared, the G read) comes
        // before the thread's wait ends.
        who.deciding.fetch_sub(1, Ordering::Release);
        r
    }

    /// sysmon: takes the P lent to `who`, if that thread is still in user
    /// code. `Some`: the caller owns the P now. `with_g` runs first on the
    /// G the P was lent to, as its owner: the G's thread cannot use its P,
    /// switch or finish until the decision ends (its `claim` and `reclaim`
    /// wait). It must be short and must not block.
    pub(crate) fn retake(&self, who: &LendState, with_g: impl FnOnce(&G)) -> Option<Box<P>> {
        let p = self.decide(who, || {
            let g = self.g.load(Ordering::Relaxed);
            // SAFETY: as in `inspect`: the G stored by `lend`, whose M holds
            // its reference until `reclaim`, which waits for this decision.
            if let Some(g) = unsafe { g.as_ref() } {
                with_g(g);
            }
            self.lendee.store(ptr::null_mut(), Ordering::Relaxed);
            self.p.load(Ordering::Relaxed)
        })?;
        assert!(!p.is_null(), "a lent P records its box");
        // SAFETY: `lend` stored the lent P's box (from `Box::into_raw`)
        // before the `lent` word that `decide` read (acquire pairs with its
        // release); the decision moved ownership from the G's thread, whose
        // next claim or reclaim finds the lendee cleared (invariant 8, lent
        // P), and which touches the box only after one that succeeds.
        Some(unsafe { Box::from_raw(p) })
    }

    /// sysmon: runs `read` on the G the P is lent to on `who`'s thread,
    /// which cannot switch out meanwhile (its M's `reclaim` waits). `None`:
    /// the thread was not in user code. `read` must be short and must not
    /// block.
    pub(crate) fn inspect<R>(&self, who: &LendState, read: impl FnOnce(&G) -> R) -> Option<R> {
        self.decide(who, || {
            let g = self.g.load(Ordering::Relaxed);
            // SAFETY: `lend` stored the running G before the `lent` word
            // `decide` read; while `deciding` is up its M cannot finish
            // `reclaim`, so the M still holds its reference to the G.
            unsafe { g.as_ref() }.map(read)
        })
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Boxed: a slot must not move while lent.
    fn lent_slot(me: &Lendee) -> (Box<LendSlot>, *mut Processor) {
        let slot = Box::new(LendSlot::new());
        let (p, _) = Processor::new(0, 1);
        let raw = Box::into_raw(p);
        slot.lend(me.state(), raw, ptr::null());
        (slot, raw)
    }

    #[test]
    fn a_claim_keeps_sysmon_out_and_a_retake_keeps_the_thread_out() {
        let me = Lendee::take(7);
        let (slot, raw) = lent_slot(&me);
        let me = me.state();
        assert_eq!(slot.claim(me), Claim::Taken);
        assert_eq!(slot.claim(me), Claim::Nested);
        assert!(slot.lent_to().is_none(), "claimed: not retakable");
        assert!(slot.retake(me, |_| {}).is_none());
        slot.release(me);
        let who = slot.lent_to().expect("unclaimed: lent to user code");
        assert!(ptr::eq(who, me));
        assert_eq!(who.key(), 7);
        let p = slot
            .retake(who, |_| panic!("this slot was lent with no G"))
            .expect("unclaimed: retakable");
        assert_eq!(Box::into_raw(p), raw);
        assert_eq!(slot.claim(me), Claim::Lost);
        assert!(!slot.reclaim(me));
        assert!(!slot.is_lent_to(me));
        assert!(slot.lent_to().is_none());
        // SAFETY: the retake gave us the box; nobody else holds it.
        drop(unsafe { Box::from_raw(raw) });
    }

    #[test]
    fn a_retaken_thread_that_wakes_leaves_the_next_lend_alone() {
        let (old, new) = (Lendee::take(7), Lendee::take(9));
        let (slot, raw) = lent_slot(&old);
        let (old, new) = (old.state(), new.state());
        // sysmon retakes, the P is lent on thread 9, which claims it.
        let p = slot.retake(slot.lent_to().unwrap(), |_| {}).unwrap();
        slot.lend(new, Box::into_raw(p), ptr::null());
        assert_eq!(slot.claim(new), Claim::Taken);
        // Thread 7 wakes: it lost the P, and its stores change nothing of
        // thread 9's lend.
        assert_eq!(slot.claim(old), Claim::Lost);
        assert!(!slot.reclaim(old));
        assert!(slot.is_lent_to(new));
        assert_eq!(slot.claim(new), Claim::Nested);
        slot.release(new);
        assert!(ptr::eq(slot.lent_to().unwrap(), new));
        assert!(slot.reclaim(new));
        // SAFETY: thread 9's reclaim gave it back to us.
        drop(unsafe { Box::from_raw(raw) });
    }

    #[test]
    fn a_stale_state_is_not_the_current_lend() {
        let me = Lendee::take(7);
        let (slot, raw) = lent_slot(&me);
        let me = me.state();
        let stale = slot.lent_to().unwrap();
        assert!(slot.reclaim(me));
        // Not lent any more: the old answer retakes nothing.
        assert!(slot.lent_to().is_none());
        assert!(slot.retake(stale, |_| {}).is_none());
        assert!(slot.inspect(stale, |_| ()).is_none());
        // SAFETY: reclaimed: the box is ours.
        drop(unsafe { Box::from_raw(raw) });
    }

    #[test]
    fn an_exited_ms_state_is_reused_clean() {
        let first = Lendee::take(7);
        let (slot, raw) = lent_slot(&first);
        let state = first.state();
        // The M exits with its P retaken (its thread never reclaimed).
        let p = slot.retake(slot.lent_to().unwrap(), |_| {}).unwrap();
        drop(first);
        let mut taken: Vec<Lendee> = (0..64).map(|k| Lendee::take(100 + k)).collect();
        let reused = taken
            .iter()
            .position(|l| ptr::eq(l.state(), state))
            .expect("the state is reused");
        let second = taken.swap_remove(reused);
        assert_eq!(second.state().key(), 100 + reused as u64);
        slot.lend(second.state(), Box::into_raw(p), ptr::null());
        assert!(slot.reclaim(second.state()));
        // SAFETY: reclaimed: the box is ours.
        drop(unsafe { Box::from_raw(raw) });
    }

    struct Uses(std::cell::UnsafeCell<u64>);
    // SAFETY: only the P's owner of the moment touches it (the protocol
    // under test; a lost exclusion shows as a wrong count).
    unsafe impl Sync for Uses {}

    /// The handshake on real threads with the real fences (membarrier on
    /// Linux): a thread claims and uses a P in a loop while sysmon tries to
    /// retake it. The winner must see every use the thread made, and the
    /// thread must make none after.
    #[test]
    fn a_retake_against_claims_on_real_threads_keeps_every_use() {
        let rounds: usize = std::env::var("GREENRT_STRESS_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        for _ in 0..rounds {
            let slot = Arc::new(LendSlot::<Uses, ()>::new());
            let raw = Box::into_raw(Box::new(Uses(std::cell::UnsafeCell::new(0))));
            let lent = Arc::new(std::sync::Barrier::new(2));
            let thread = {
                let (slot, lent) = (slot.clone(), lent.clone());
                let raw = raw as usize;
                std::thread::spawn(move || {
                    let me = Lendee::take(1);
                    slot.lend(me.state(), raw as *mut Uses, ptr::null());
                    lent.wait();
                    let mut used = 0u64;
                    while slot.claim(me.state()) == Claim::Taken {
                        // SAFETY: claimed: the P is this thread's.
                        unsafe { *(*(raw as *const Uses)).0.get() += 1 };
                        used += 1;
                        slot.release(me.state());
                    }
                    assert!(!slot.reclaim(me.state()));
                    used
                })
            };
            lent.wait();
            let p = loop {
                if let Some(who) = slot.lent_to() {
                    if let Some(p) = slot.retake(who, |_| {}) {
                        break p;
                    }
                }
                std::thread::yield_now();
            };
            let used = thread.join().unwrap();
            assert_eq!(unsafe { *p.0.get() }, used, "a use was lost or came after");
        }
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
/// — after which it may free the G — while sysmon reads the G. A third
/// model hands a retaken P to another thread, which lends it to itself
/// while the old thread wakes and claims: the old thread's stores must
/// leave the new lend intact. The fence pair is modelled as described at
/// `LendState::fence_pair` (loom does not model `SeqCst` fences or
/// membarrier).
#[cfg(all(test, loom))]
mod loom_model {
    use super::{Claim, LendSlot, LendState};
    use crate::sched::loom::UnsafeCell;
    use loom::sync::Arc;

    struct P {
        /// The P's state, used only by whoever owns it.
        uses: UnsafeCell<usize>,
    }

    struct G {
        /// What sysmon reads while inspecting, sysmon adds [`RETAKE_MARK`]
        /// to when it retakes, and the M adds 1 to once the G has switched
        /// out.
        state: UnsafeCell<usize>,
    }

    /// What a retake adds to the G's state.
    const RETAKE_MARK: usize = 10;

    fn use_p(p: &P) -> usize {
        // SAFETY: only the P's owner touches it; loom checks the order.
        p.uses.with_mut(|u| unsafe {
            *u += 1;
            *u
        })
    }

    /// A thread's state (leaked, as the runtime's are never freed).
    fn state() -> &'static LendState {
        Box::leak(Box::new(LendState::new()))
    }

    /// The lent slot, the P's box and the G, as the M on the thread whose
    /// state is `me` leaves them when it resumes the G.
    fn lent(me: &'static LendState) -> (Arc<LendSlot<P, G>>, *mut P, Arc<G>) {
        let slot = Arc::new(LendSlot::<P, G>::new());
        let p = Box::into_raw(Box::new(P {
            uses: UnsafeCell::new(0),
        }));
        let g = Arc::new(G {
            state: UnsafeCell::new(1),
        });
        // SAFETY: `p` is ours until lent.
        assert_eq!(use_p(unsafe { &*p }), 1);
        slot.lend(me, p, Arc::as_ptr(&g));
        (slot, p, g)
    }

    /// sysmon: inspect the G if `inspect`, then retake the P. Returns the
    /// P if it won it.
    fn sysmon(slot: &LendSlot<P, G>, inspect: bool) -> Option<Box<P>> {
        let who = slot.lent_to()?;
        if inspect {
            // SAFETY: `inspect` holds the G's M off `reclaim`; loom checks it.
            let _ = slot.inspect(who, |g| g.state.with(|s| unsafe { *s }));
        }
        // As the runtime's retake writes the G's dump status: as its owner.
        // SAFETY: the G's M cannot pass `reclaim` meanwhile; loom checks it.
        let p = slot.retake(who, |g| g.state.with_mut(|s| unsafe { *s += RETAKE_MARK }))?;
        assert!(use_p(&p) >= 2, "the previous owner's use is not visible");
        Some(p)
    }

    /// The G's thread: one runtime call that uses the P, then the switch
    /// out and the M's take-back. Returns whether the M owns the P.
    fn g_then_m(slot: &LendSlot<P, G>, me: &LendState, p: *mut P, g: &G) -> bool {
        match slot.claim(me) {
            Claim::Taken => {
                // SAFETY: claimed: the P is this thread's until `release`.
                use_p(unsafe { &*p });
                slot.release(me);
            }
            Claim::Lost => {}
            Claim::Nested => panic!("no claim is held here"),
        }
        let owns = slot.reclaim(me);
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
            let me = state();
            let (slot, p, g) = lent(me);
            let sysmon = {
                let slot = slot.clone();
                loom::thread::spawn(move || sysmon(&slot, inspect).is_some())
            };
            let m_owns = g_then_m(&slot, me, p, &g);
            let sysmon_owns = sysmon.join().unwrap();
            assert!(m_owns != sysmon_owns, "the P has two owners or none");
            assert!(slot.lent_to().is_none(), "not lent any more");
            let written = if sysmon_owns { RETAKE_MARK } else { 0 };
            // SAFETY: both threads are done with the G.
            assert_eq!(g.state.with(|s| unsafe { *s }), 2 + written);
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

    /// sysmon retakes the P from the old thread and hands it (as
    /// `handoff_p` does) to another M, whose thread lends it to itself,
    /// claims, uses and releases it and takes it back, while the old
    /// thread wakes, claims and reclaims. The new thread must end owning
    /// the P whenever the retake won, whatever the old thread stored.
    #[test]
    fn loom_lend_retaken_then_relent_to_another_thread() {
        loom::model(|| {
            let (old, new) = (state(), state());
            let (slot, p, g) = lent(old);
            let sysmon = {
                let (slot, g) = (slot.clone(), g.clone());
                loom::thread::spawn(move || {
                    let Some(p) = sysmon(&slot, false) else {
                        return false;
                    };
                    // The next M, on a thread of its own.
                    let next_m = loom::thread::spawn(move || {
                        let p = Box::into_raw(p);
                        slot.lend(new, p, Arc::as_ptr(&g));
                        assert_eq!(slot.claim(new), Claim::Taken, "nobody retakes twice");
                        // SAFETY: claimed: the P is this thread's.
                        use_p(unsafe { &*p });
                        slot.release(new);
                        assert!(slot.reclaim(new), "the old thread clobbered the new lend");
                        // SAFETY: reclaimed: the box is this M's.
                        let p = unsafe { Box::from_raw(p) };
                        assert!(use_p(&p) >= 4);
                    });
                    next_m.join().unwrap();
                    true
                })
            };
            let old_owns = g_then_m(&slot, old, p, &g);
            let new_owns = sysmon.join().unwrap();
            assert!(old_owns != new_owns, "the P has two owners or none");
        });
    }
}

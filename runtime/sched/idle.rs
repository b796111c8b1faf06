//! Idle Ps, idle Ms and spinning Ms: the bookkeeping of who is looking for
//! work, in one owner with named transitions (Go: proc.go `pidleput`,
//! `pidleget`, `mput`, `mget` and the `nmspinning` counter).
//!
//! # Why one type
//!
//! The counters `npidle` and `nmspinning` are read without a lock on the
//! hottest path of the scheduler (`Scheduler::wakep`, after every wake), and
//! the lists behind them are edited under a lock. Keeping the two consistent
//! by hand in every caller is how runtimes strand work, so every change goes
//! through a method here:
//!
//! * the idle-P list and `npidle` change together, under the lock
//!   ([`IdleGuard::put_p`], [`IdleGuard::take_p`]); `npidle` always equals the
//!   list's length when the lock is released (asserted in debug builds);
//! * a P goes idle with an empty run queue ([`IdleGuard::put_p`]), except the
//!   one case where work is waiting for an M that cannot be had
//!   ([`IdleGuard::put_p_unrun`]);
//! * `nmspinning` never goes below zero ([`Idle::stop_spinning`]).
//!
//! # The SeqCst pairing (invariant 2, no stranded G, of `sched/mod.rs`)
//!
//! A waker pushes a G and *then* reads `npidle` and `nmspinning`
//! ([`Idle::npidle`], [`Idle::nmspinning`]); an M that goes idle increments
//! `npidle` ([`IdleGuard::put_p`]) or decrements `nmspinning`
//! ([`Idle::stop_spinning`]) and *then* re-checks the queues. Each side writes
//! one location and reads the other's — the store-buffering pattern — so all
//! of these are `SeqCst`: in every interleaving at least one side sees the
//! other's write, and either the waker starts an M or the idle M finds the G.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::machine::MachineParker;
use super::processor::Processor;

/// The idle lists and the spinning count of one runtime.
pub(crate) struct Idle {
    lists: Mutex<Lists>,
    /// Mirrors `lists.ps.len()` for lock-free readers.
    npidle: AtomicUsize,
    /// Ms looking for work to steal (invariant 3, bounded spinning).
    nmspinning: AtomicUsize,
}

struct Lists {
    // Boxed: an M's context points at its P, so a P must not move when the
    // list reallocates.
    #[allow(clippy::vec_box)]
    ps: Vec<Box<Processor>>,
    ms: Vec<Arc<MachineParker>>,
}

/// The idle lists, locked. Every edit of them goes through its methods.
pub(crate) struct IdleGuard<'a> {
    idle: &'a Idle,
    lists: MutexGuard<'a, Lists>,
}

impl Idle {
    /// All of `ps` start idle; idle Ps are handed out from the back.
    #[allow(clippy::vec_box)] // see `Lists::ps`
    pub(crate) fn new(ps: Vec<Box<Processor>>) -> Idle {
        Idle {
            npidle: AtomicUsize::new(ps.len()),
            nmspinning: AtomicUsize::new(0),
            lists: Mutex::new(Lists { ps, ms: Vec::new() }),
        }
    }

    pub(crate) fn lock(&self) -> IdleGuard<'_> {
        IdleGuard {
            idle: self,
            lists: self.lists.lock(),
        }
    }

    /// Idle Ps, read without the lock (`SeqCst`: see the module docs).
    #[inline]
    pub(crate) fn npidle(&self) -> usize {
        self.npidle.load(Ordering::SeqCst)
    }

    /// Spinning Ms, read without the lock (`SeqCst`: see the module docs).
    #[inline]
    pub(crate) fn nmspinning(&self) -> usize {
        self.nmspinning.load(Ordering::SeqCst)
    }

    /// Counts one more spinning M (one that decided to look for work, or is
    /// being started to).
    pub(crate) fn start_spinning(&self) {
        self.nmspinning.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts a first spinning M when none spins: true if this caller won
    /// and must now start (or become) that M. At most one waker wins, so a
    /// burst of wakes starts one M, not many.
    #[inline]
    pub(crate) fn try_start_first_spinner(&self) -> bool {
        self.nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// A spinning M stops spinning. Returns true when it was the last one
    /// (the caller then makes sure idle Ps keep being looked after).
    pub(crate) fn stop_spinning(&self) -> bool {
        let before = self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(before > 0, "nmspinning went below zero");
        before == 1
    }
}

impl IdleGuard<'_> {
    /// Puts a P with nothing to run on the idle list.
    pub(crate) fn put_p(&mut self, p: Box<Processor>) {
        debug_assert!(
            !p.shared.has_work(),
            "P{} went idle with work in its run queue",
            p.id
        );
        self.push_p(p);
    }

    /// Puts a P that still has queued work on the idle list because no M can
    /// run it now (shutdown, the machine cap, or the OS refused a thread):
    /// the work waits for the next M that takes the P.
    pub(crate) fn put_p_unrun(&mut self, p: Box<Processor>) {
        self.push_p(p);
    }

    fn push_p(&mut self, p: Box<Processor>) {
        debug_assert!(
            !self.lists.ps.iter().any(|q| q.id == p.id),
            "P{} is already idle",
            p.id
        );
        p.shared.counters.busy.stop();
        self.lists.ps.push(p);
        self.idle.npidle.fetch_add(1, Ordering::SeqCst);
        self.check();
    }

    /// Takes an idle P, if any.
    pub(crate) fn take_p(&mut self) -> Option<Box<Processor>> {
        let p = self.lists.ps.pop()?;
        self.idle.npidle.fetch_sub(1, Ordering::SeqCst);
        p.shared.counters.busy.start();
        self.check();
        Some(p)
    }

    /// Adds an M that sleeps until it is handed a P.
    pub(crate) fn put_m(&mut self, m: Arc<MachineParker>) {
        debug_assert!(
            !self.lists.ms.iter().any(|n| Arc::ptr_eq(n, &m)),
            "M is already idle"
        );
        self.lists.ms.push(m);
    }

    /// Takes an idle M to hand a P to, if any.
    pub(crate) fn take_m(&mut self) -> Option<Arc<MachineParker>> {
        self.lists.ms.pop()
    }

    /// Withdraws `m` from the idle list; false when a waker already took it
    /// (its hand-off is then on the way).
    pub(crate) fn remove_m(&mut self, m: &Arc<MachineParker>) -> bool {
        match self.lists.ms.iter().position(|n| Arc::ptr_eq(n, m)) {
            Some(i) => {
                self.lists.ms.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Takes every idle M (shutdown wakes them all).
    pub(crate) fn take_all_ms(&mut self) -> Vec<Arc<MachineParker>> {
        std::mem::take(&mut self.lists.ms)
    }

    /// How many Ps and Ms are idle.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.lists.ps.len(), self.lists.ms.len())
    }

    /// The idle Ps, to drain at shutdown (after every M has stopped).
    pub(crate) fn ps_mut(&mut self) -> impl Iterator<Item = &mut Processor> {
        self.lists.ps.iter_mut().map(|p| &mut **p)
    }

    fn check(&self) {
        debug_assert_eq!(
            self.idle.npidle.load(Ordering::Relaxed),
            self.lists.ps.len(),
            "npidle out of step with the idle-P list"
        );
    }
}

#[cfg(test)]
mod tests {
    // The G, task and config below serve only the debug-build assertion tests.
    #[cfg(debug_assertions)]
    use super::super::g_ref::GRef;
    #[cfg(debug_assertions)]
    use super::super::green_thread::{GreenThread, GreenThreadWith, Task};
    #[cfg(debug_assertions)]
    use super::super::scheduler::Config;
    use super::*;

    #[allow(clippy::vec_box)]
    fn procs(n: usize) -> Vec<Box<Processor>> {
        (0..n).map(|id| Processor::new(id, n).0).collect()
    }

    #[cfg(debug_assertions)]
    struct Nop;
    #[cfg(debug_assertions)]
    impl Task for Nop {
        fn run(&self, _: &GreenThread) {}
        fn cancel(&self, _: String) {}
    }

    #[cfg(debug_assertions)]
    fn test_config() -> Config {
        Config {
            procs: 1,
            stack_size: 64 << 10,
            thread_name: "idle-test".into(),
            max_machines: 4,
            machine_idle_timeout: std::time::Duration::from_secs(1),
            schedtrace: None,
            time_slice: std::time::Duration::from_millis(10),
            hog_report: true,
            deadlock: crate::sched::DeadlockConfig {
                grace: None,
                abort: false,
            },
            trace: None,
        }
    }

    #[test]
    fn npidle_follows_the_list() {
        let idle = Idle::new(procs(3));
        assert_eq!(idle.npidle(), 3);
        let p = idle.lock().take_p().expect("an idle P");
        assert_eq!(idle.npidle(), 2);
        assert_eq!(idle.lock().counts(), (2, 0));
        idle.lock().put_p(p);
        assert_eq!(idle.npidle(), 3);
        let mut g = idle.lock();
        while g.take_p().is_some() {}
        assert_eq!(g.counts(), (0, 0));
        drop(g);
        assert_eq!(idle.npidle(), 0);
    }

    #[test]
    fn one_first_spinner_wins() {
        let idle = Idle::new(procs(2));
        assert!(idle.try_start_first_spinner());
        assert!(!idle.try_start_first_spinner());
        idle.start_spinning();
        assert_eq!(idle.nmspinning(), 2);
        assert!(!idle.stop_spinning());
        assert!(idle.stop_spinning());
        assert_eq!(idle.nmspinning(), 0);
    }

    #[test]
    fn idle_machines_are_withdrawn_once() {
        let idle = Idle::new(procs(1));
        let m = MachineParker::new();
        idle.lock().put_m(m.clone());
        assert_eq!(idle.lock().counts(), (1, 1));
        assert!(idle.lock().remove_m(&m));
        assert!(!idle.lock().remove_m(&m), "already withdrawn");
        idle.lock().put_m(m.clone());
        assert!(Arc::ptr_eq(&idle.lock().take_m().expect("idle M"), &m));
        assert!(idle.lock().take_all_ms().is_empty());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "nmspinning went below zero")]
    fn spinning_never_goes_below_zero() {
        Idle::new(procs(1)).stop_spinning();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "went idle with work")]
    fn a_p_with_work_cannot_go_idle() {
        let idle = Idle::new(procs(1));
        let p = idle.lock().take_p().expect("an idle P");
        let sched = super::super::scheduler::Scheduler::new(test_config()).expect("scheduler");
        super::super::keep_alive::KeepAlive::take(&sched, 1);
        let at = std::panic::Location::caller();
        // SAFETY: `write_new` writes a whole G to the fresh block; the G's
        // unit was taken just above.
        let (queued, _handle) = unsafe {
            GRef::new_pair(&sched.gblocks, None, |dst| {
                GreenThreadWith::write_new(dst, 1, None, at, &sched, Nop, None)
            })
        };
        p.push_local(queued);
        idle.lock().put_p(p);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "already idle")]
    fn a_p_is_idle_once() {
        let mut ps = procs(1);
        let twin = Processor::new(0, 1).0;
        ps.truncate(1);
        let idle = Idle::new(ps);
        idle.lock().put_p_unrun(twin);
    }
}

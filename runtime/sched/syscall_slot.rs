//! `SyscallSlot`: where a P waits while its M is in a syscall (`syscall.rs`),
//! as a type of its own so that the loom model below checks the code the
//! runtime runs.
//!
//! The M puts its P in (one release store) and, on return, takes it back
//! with one swap; sysmon takes it with the same swap to hand it to another
//! M (`sysmon.rs`, the retake). Whoever's swap returns the P owns it
//! (invariant 1, P ownership), and sees everything the M did with it before
//! putting it in.

use std::ptr;

use super::loom::atomic::{AtomicPtr, Ordering};

/// An owned `Box<T>` or nothing; see the module docs.
pub(crate) struct SyscallSlot<T>(AtomicPtr<T>);

impl<T> SyscallSlot<T> {
    pub(crate) fn new() -> SyscallSlot<T> {
        SyscallSlot(AtomicPtr::new(ptr::null_mut()))
    }

    /// Gives `p` to the slot, which must be empty (only the P's own M fills
    /// it, and it takes the P back before the next fill).
    ///
    /// # Safety
    /// `p` must come from `Box::into_raw` and be owned by the caller, who
    /// gives up that ownership here.
    pub(crate) unsafe fn put(&self, p: *mut T) {
        debug_assert!(!p.is_null());
        debug_assert!(self.is_empty(), "syscall slot filled twice");
        self.0.store(p, Ordering::Release);
    }

    /// Takes the P out, if it is still there: the caller owns it then.
    pub(crate) fn take(&self) -> Option<Box<T>> {
        let p = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-null value was `put` from an owned `Box`, and the
        // swap made us the only party to read it before it was cleared.
        (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
    }

    /// True when no P is in the slot (a hint: it may change at once).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.load(Ordering::Acquire).is_null()
    }
}

/// Model check (`RUSTFLAGS="--cfg loom" cargo test --lib loom`; see
/// `.ci/run`): an M uses its P (writes a loom cell in it), parks it in the
/// slot for a syscall and takes it back on return, while sysmon, seeing the
/// slot full, tries to retake it. Exactly one of them must own the P, and
/// the owner's use of it must come after the M's (loom reports a data race
/// otherwise).
#[cfg(all(test, loom))]
mod loom_model {
    use super::SyscallSlot;
    use crate::sched::loom::UnsafeCell;
    use loom::sync::Arc;

    struct P {
        /// The P's state, used by whoever owns it.
        runs: UnsafeCell<usize>,
    }

    fn use_p(p: &P) -> usize {
        // SAFETY: only the P's owner touches it; loom checks the order.
        p.runs.with_mut(|r| unsafe {
            *r += 1;
            *r
        })
    }

    #[test]
    fn loom_syscall_slot_retake() {
        loom::model(|| {
            let slot = Arc::new(SyscallSlot::<P>::new());
            let sysmon = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    if slot.is_empty() {
                        return false;
                    }
                    match slot.take() {
                        Some(p) => {
                            assert_eq!(use_p(&p), 2, "the M's use is not visible");
                            true
                        }
                        None => false,
                    }
                })
            };
            let p = Box::new(P {
                runs: UnsafeCell::new(0),
            });
            assert_eq!(use_p(&p), 1);
            // SAFETY: an owned box, given up here.
            unsafe { slot.put(Box::into_raw(p)) };
            // The syscall returns.
            let m_owns = match slot.take() {
                Some(p) => {
                    assert_eq!(use_p(&p), 2);
                    true
                }
                None => false,
            };
            let sysmon_owns = sysmon.join().unwrap();
            assert!(
                m_owns != sysmon_owns,
                "the P had {} owners",
                2 * usize::from(m_owns)
            );
            assert!(slot.is_empty());
        });
    }
}

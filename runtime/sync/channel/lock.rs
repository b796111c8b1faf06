//! The channel's state lock: a test-and-test-and-set spinlock with backoff.
//!
//! Critical sections here are a few pointer moves and at most one message
//! copy; nothing under the lock parks, yields, wakes anyone or runs user
//! code (C4 in `chan.rs`). For such sections a spinlock beats a parking
//! mutex on the path that matters, the uncontended one: acquiring is one
//! compare-and-swap and releasing is a plain store, where `parking_lot`'s
//! release is a second compare-and-swap (it must look for parked threads).
//! On a rendezvous ping-pong that is two locked instructions fewer per
//! message. crossbeam-channel guards its rendezvous flavour the same way.
//!
//! Contended, a locker spins with exponential backoff on a plain load, then
//! yields its OS thread to the kernel (`std::thread::yield_now`) between
//! attempts, which covers a holder whose thread the OS descheduled. A green
//! thread that spins here keeps its processor, which is fine: no holder is
//! ever a green thread switched out on that processor, because nothing
//! switches while holding the lock.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Spins of doubling length (1, 2, 4, ... pauses) before yielding instead.
const SPIN_STEPS: u32 = 6;

pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one holder at a time (the
// `locked` flag, acquired with Acquire and released with Release, orders the
// holders), so sharing the lock shares `T` only by moving exclusive access
// between threads: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock owns `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut step = 0;
        loop {
            // Wait on a plain load so the cache line is not stolen back and
            // forth while the holder works.
            while self.locked.load(Ordering::Relaxed) {
                if step < SPIN_STEPS {
                    for _ in 0..1u32 << step {
                        std::hint::spin_loop();
                    }
                    step += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Exclusive access to the locked value; releases the lock when dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its holder owns the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

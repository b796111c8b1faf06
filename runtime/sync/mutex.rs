//! `Mutex<T>`: mutual exclusion that parks green threads, not OS threads.
//!
//! Why not `std::sync::Mutex`? A green thread that blocks on a std mutex
//! blocks its whole OS thread, and with it every other G of its P — and if
//! the holder is a G parked on that same P (it held the lock across a
//! channel receive or a sleep), nothing can ever run it again: with one P
//! that is a deadlock. A std guard held across a park may also be released
//! from another OS thread after the G migrates, which std does not allow
//! (its guard is `!Send` for that reason). This mutex parks only the waiting
//! G, works from OS threads too, and does not care which thread unlocks.
//!
//! Like `parking_lot`'s there is no poisoning: `lock()` returns the guard.
//! The algorithm (spin, park, FIFO hand-off) is in `raw_mutex.rs`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::raw_mutex::RawMutex;

/// A mutual-exclusion lock that parks the green thread (or blocks the OS
/// thread) that waits for it. Fair: once waiters queue, the lock is handed
/// to them in arrival order.
///
/// ```
/// use std::sync::Arc;
/// use greenrt::sync::Mutex;
///
/// let total = greenrt::run(|| {
///     let m = Arc::new(Mutex::new(0));
///     let hs: Vec<_> = (0..10)
///         .map(|_| {
///             let m = m.clone();
///             greenrt::spawn(move || *m.lock() += 1)
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
///     let n = *m.lock();
///     n
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one thread at a time, so it
// can be shared (and sent) whenever `T` can be sent, exactly like std's.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub const fn new(value: T) -> Self {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the green thread (or blocking the OS thread) until the
    /// lock is free. Not reentrant: locking twice from one thread deadlocks.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard::new(self)
    }

    /// Locks if that needs no waiting. A failure is a checkpoint (a loop of
    /// them is a polling loop, `coop.rs`).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        crate::coop::after_poll(self.raw.try_lock()).then(|| MutexGuard::new(self))
    }

    /// Mutable access without locking (the borrow proves exclusivity).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// True if some thread holds the lock (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped.
///
/// It may be held across parks (channel operations, `sleep`, `join`) and,
/// unlike std's, is `Send` when `T` is: a green thread may resume on another
/// OS thread, and this lock does not care which thread unlocks it.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Gives the guard the auto traits of `&mut T` (Send iff `T: Send`,
    /// Sync iff `T: Sync`), like an exclusive borrow.
    _exclusive: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _exclusive: PhantomData,
        }
    }

    /// The mutex this guard locks (for `Condvar`).
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the access exclusive.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

//! The one place that chooses between std's atomics and loom's.
//!
//! The lock-free protocols that are model-checked (docs/ARCHITECTURE.md,
//! "Model-checked protocols") take their atomics and cells from here, not
//! from `std`. A normal build gets std's types unchanged; a build with
//! `RUSTFLAGS="--cfg loom"` gets loom's instrumented ones, so the `loom`
//! models in the same files run the runtime's real code under every
//! interleaving loom explores (within `LOOM_MAX_PREEMPTIONS`).
//!
//! Only the types the models need are routed through here: a loom atomic
//! works only inside `loom::model`, so under `--cfg loom` nothing but the
//! models runs. `UnsafeCell` follows loom's closure-based API (`with_mut`;
//! loom's also has `with`, which the models use), so loom checks every
//! access for a data race; the std version is a zero-cost wrapper.

#[cfg(not(loom))]
pub(crate) mod atomic {
    pub(crate) use std::sync::atomic::{
        fence, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

/// Giving up the CPU inside a wait loop (loom must see it to explore the
/// other threads instead of the loop).
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

#[cfg(loom)]
pub(crate) mod atomic {
    pub(crate) use ::loom::sync::atomic::{
        fence, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

#[cfg(loom)]
pub(crate) use ::loom::thread::yield_now;

#[cfg(loom)]
pub(crate) use ::loom::cell::UnsafeCell;
/// `std::cell::UnsafeCell` with loom's access API.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a mutable pointer to the value.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

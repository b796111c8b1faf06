//! `green_local!`: storage per green thread, `std::thread_local!`'s shape.
//!
//! A `thread_local!` belongs to the OS thread, and a green thread changes OS
//! thread whenever it parks: a value read before the park may be another
//! green thread's after it (docs/GUIDE.md, "Hazards: green threads move
//! between OS threads"). A green-local belongs to the green thread instead:
//! its slot hangs off the G (`sched/g_locals.rs`), so the value set before
//! a park is the one seen after it, on whichever OS thread the G resumes.
//!
//! Each key gets an index on first use; a G's slots are allocated on its
//! first green-local and its values are made lazily, one per key, by the
//! key's initialiser on the G's own stack. They are dropped on that stack
//! too, when the G's closure has returned (or unwound) and before its
//! result is published, so a joiner sees their destructors' effects.
//!
//! On a plain OS thread (outside any green thread) a green-local is a
//! `thread_local!` of that thread, made by the same initialiser.
//!
//! # Deviations from `std::thread_local!`
//! * The value must be `Send`: it moves between OS threads with its green
//!   thread (tokio's `task_local!` values must be `Send` for a task to be
//!   spawned, for the same reason).
//! * Initialisers may park (they run on the green thread); an initialiser
//!   that reaches its own key panics, as std's does.
//! * Touching any green-local while a green thread's values are being
//!   dropped gives [`AccessError`] (`with` panics), as for a `thread_local!`
//!   during thread exit.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::LocalKey;

use crate::sched::context;
use crate::sched::{GreenThread, LocalSlot};

/// Declares green-local statics: `static NAME: T = init;`, used with
/// [`GreenLocalKey::with`] (see there for the rules).
///
/// ```
/// use std::cell::Cell;
/// greenrt::green_local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
/// let h = greenrt::spawn(|| {
///     REQUESTS.with(|r| r.set(r.get() + 1));
///     greenrt::yield_now(); // may resume on another OS thread
///     REQUESTS.with(|r| r.get())
/// });
/// assert_eq!(h.join().unwrap(), 1);
/// ```
#[macro_export]
macro_rules! green_local {
    () => {};
    // `= const { … }`, as `thread_local!` accepts: same meaning here.
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block; $($rest:tt)*) => {
        $crate::green_local!($(#[$attr])* $vis static $name: $t = $init; $($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block) => {
        $crate::green_local!($(#[$attr])* $vis static $name: $t = $init);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::green_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::green_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::GreenLocalKey<$t> = {
            ::std::thread_local! {
                static ON_OS_THREAD: $t = $init;
            }
            fn init() -> $t {
                $init
            }
            $crate::GreenLocalKey::__new(&ON_OS_THREAD, init)
        };
    };
}

/// A key to a green-local value, declared with [`green_local!`](macro@crate::green_local).
///
/// Each green thread has its own value, made by the key's initialiser on
/// first use, kept across parks whichever OS thread the green thread
/// resumes on, and dropped on the green thread's stack when its closure
/// has finished (before `join` returns). Outside any green thread, the key
/// is a `thread_local!` of the calling OS thread.
///
/// Unlike `std::thread_local!`, the value must be `Send`: it moves between
/// OS threads with its green thread (tokio's `task_local!` needs `Send` for
/// a spawned task for the same reason). Initialisers may park. Touching
/// any green-local while a green thread's values are being dropped gives
/// [`AccessError`] from `try_with` (and a panic from `with`).
pub struct GreenLocalKey<T: Send + 'static> {
    on_os_thread: &'static LocalKey<T>,
    init: fn() -> T,
    /// 1 + this key's slot index; 0 until first used.
    index: AtomicUsize,
    value: PhantomData<fn() -> T>,
}

/// The error of [`GreenLocalKey::try_with`]: the value is being dropped (or
/// has been), because its green thread — or OS thread — is finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("green-local accessed while its values are being dropped")
    }
}

impl std::error::Error for AccessError {}

/// Slot indices handed out so far.
static NEXT_INDEX: AtomicUsize = AtomicUsize::new(0);

impl<T: Send + 'static> GreenLocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(on_os_thread: &'static LocalKey<T>, init: fn() -> T) -> Self {
        GreenLocalKey {
            on_os_thread,
            init,
            index: AtomicUsize::new(0),
            value: PhantomData,
        }
    }

    /// Runs `f` with this green thread's value (made by the initialiser on
    /// first use), or this OS thread's outside any green thread.
    ///
    /// # Panics
    /// While the values of the current green thread (or OS thread) are
    /// being dropped — for example from one of their destructors — and if
    /// the initialiser reaches this same key.
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(AccessError) => panic!(
                "greenrt: a green_local! was used while its green thread's values were \
                 being dropped (from a destructor of one of them?); use try_with there \
                 (docs/GUIDE.md, \"Per-green-thread storage\")"
            ),
        }
    }

    /// Like [`with`](Self::with), but `Err` instead of panicking while the
    /// values are being dropped.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let Some(g) = context::current_g_ptr() else {
            return self.on_os_thread.try_with(f).map_err(|_| AccessError);
        };
        // SAFETY: `g` is the running G (alive while it runs), and this is
        // its own code, on its own stack.
        let value = unsafe { self.get_or_init(g.as_ref())? };
        // SAFETY: the value lives until the G drops its values, which
        // happens after its closure — and so this call — has returned;
        // only shared references to it are ever made.
        Ok(f(unsafe { value.as_ref() }))
    }

    /// This key's value in `g`, made now if absent.
    ///
    /// # Safety
    /// `g` is the running G and the caller runs on its stack.
    unsafe fn get_or_init(&'static self, g: &GreenThread) -> Result<NonNull<T>, AccessError> {
        let index = self.index();
        // SAFETY: per the contract; no borrow of the slots is held.
        if let Some(v) = unsafe { g.locals.get(index) }.map_err(|_| AccessError)? {
            return Ok(v.cast());
        }
        // User code, which may park (and resume on another OS thread: `g`
        // is still this G) or use other green-locals.
        let value = NonNull::from(Box::leak(Box::new((self.init)())));
        let slot = LocalSlot {
            value: value.cast(),
            drop: drop_boxed::<T>,
        };
        // SAFETY: per the contract; `fill` runs no user code.
        match unsafe { g.locals.fill(index, slot) } {
            Ok(()) => Ok(value),
            Err(slot) => {
                // SAFETY: the slot was not stored; we still own its value.
                let destroying = unsafe { g.locals.get(index) }.is_err();
                // SAFETY: as above: dropped once, here.
                unsafe { (slot.drop)(slot.value) };
                if destroying {
                    Err(AccessError)
                } else {
                    panic!("greenrt: a green_local!'s initialiser used its own key")
                }
            }
        }
    }

    fn index(&self) -> usize {
        let i = self.index.load(Ordering::Relaxed);
        if i != 0 {
            return i - 1;
        }
        let mine = NEXT_INDEX.fetch_add(1, Ordering::Relaxed) + 1;
        match self
            .index
            .compare_exchange(0, mine, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => mine - 1,
            Err(theirs) => theirs - 1,
        }
    }
}

impl<T: Send + 'static> fmt::Debug for GreenLocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenLocalKey").finish_non_exhaustive()
    }
}

/// # Safety
/// `value` came from `Box::leak` of a `Box<T>` and is dropped once.
unsafe fn drop_boxed<T>(value: NonNull<()>) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(value.cast::<T>().as_ptr()) });
}

/// Drops the green-locals of `g`, which has finished its closure; called on
/// its own stack. Returns the payload of the first destructor that
/// panicked (the others still run).
pub(crate) fn drop_all(g: &GreenThread) -> Option<Box<dyn std::any::Any + Send>> {
    // SAFETY: the caller is `g`, on its stack, holding no borrow of its
    // slots; from here on no slot is filled again.
    let slots = unsafe { g.locals.take_all() };
    let mut first_panic = None;
    for slot in slots {
        // SAFETY: each value is dropped once, with its own drop function.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { (slot.drop)(slot.value) }));
        if let Err(payload) = dropped {
            first_panic.get_or_insert(payload);
        }
    }
    first_panic
}

//! Type erasure for the token of a selected operation.
//!
//! The select loop is not generic: it juggles receivers and senders of
//! different message types. The token of the chosen operation is typed
//! (`Selected<T>`), and only `SelectedOperation::recv`/`send` learn `T` again.
//! `Any` cannot carry it, because messages need not be `'static` (crossbeam
//! allows borrowed messages), so the downcast is done by hand, once, here.

use std::sync::Arc;

use crate::sync::channel::{Chan, Selected};

/// Marker so a boxed `Selected<T>` of any `T` can be held (and dropped,
/// which releases what it reserved) without naming `T`.
trait Erased {}
impl<T> Erased for Selected<T> {}

/// A `Selected<T>` with `T` erased, tagged with its channel's address.
pub(crate) struct ErasedToken<'a> {
    chan: *const (),
    token: Box<dyn Erased + 'a>,
}

impl<'a> ErasedToken<'a> {
    pub(crate) fn new<T: 'a>(token: Selected<T>) -> Self {
        ErasedToken {
            chan: Arc::as_ptr(token.chan()).cast(),
            token: Box::new(token),
        }
    }

    /// Recovers the typed token, given the channel it must belong to.
    ///
    /// # Panics
    /// If `chan` is not the channel the token was made for.
    pub(crate) fn downcast<T>(self, chan: &Arc<Chan<T>>) -> Selected<T> {
        assert!(
            std::ptr::eq(self.chan, Arc::as_ptr(chan).cast()),
            "a selected operation was completed on another channel"
        );
        let raw = Box::into_raw(self.token).cast::<Selected<T>>();
        // SAFETY: the token keeps its channel alive (it holds an `Arc`), so
        // no other live object can have that address; `chan` has it, so it is
        // that very `Chan<T>`, and the token was built by `new::<T>` for it —
        // the same `T` (`Chan<T>` is invariant in `T`, so not even lifetimes
        // can differ). The box therefore holds a `Selected<T>`; dropping the
        // vtable metadata and re-boxing it with its concrete type is sound.
        *unsafe { Box::from_raw(raw) }
    }
}

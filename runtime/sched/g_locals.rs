//! The per-G slots behind `greenrt::green_local!` (runtime/green_local.rs
//! owns the typed API and when values are made and dropped).
//!
//! A slot holds one value, type-erased to a pointer and its drop function;
//! slot `i` belongs to the `i`-th key, so the same index always holds the
//! same type. The map is allocated on first use, so a G that uses no
//! green-local costs one null pointer. Only the G itself touches its slots
//! (on its own stack, invariant 4, one runner per G), which is why none of
//! this is synchronised.

use std::cell::UnsafeCell;
use std::ptr::NonNull;

/// One value: where it lives and how to drop it.
pub(crate) struct LocalSlot {
    pub(crate) value: NonNull<()>,
    /// Drops the value at `value` and frees its memory.
    pub(crate) drop: unsafe fn(NonNull<()>),
}

#[derive(Default)]
struct LocalMap {
    slots: Vec<Option<LocalSlot>>,
    /// Set when the G's values are being dropped: no slot is filled again.
    destroying: bool,
}

/// The slots of one G (a field of its header).
#[derive(Default)]
pub(crate) struct GLocals(UnsafeCell<Option<Box<LocalMap>>>);

/// The G is dropping its green-locals; they cannot be reached any more.
#[derive(Debug)]
pub(crate) struct Destroying;

impl GLocals {
    /// The value in slot `index`, if filled.
    ///
    /// # Safety
    /// The caller is the G that owns these slots, running on its stack, and
    /// holds no `&mut` from [`fill`](Self::fill) or [`take_all`](Self::take_all).
    pub(crate) unsafe fn get(&self, index: usize) -> Result<Option<NonNull<()>>, Destroying> {
        // SAFETY: per the contract, no mutable access overlaps this read.
        let Some(map) = (unsafe { &*self.0.get() }) else {
            return Ok(None);
        };
        if map.destroying {
            return Err(Destroying);
        }
        Ok(map
            .slots
            .get(index)
            .and_then(|s| s.as_ref().map(|s| s.value)))
    }

    /// Fills the empty slot `index`. Gives `slot` back when the slot was
    /// filled meanwhile (a recursive initialisation) or the values are being
    /// dropped; the caller drops it.
    ///
    /// # Safety
    /// As for [`get`](Self::get). The mutable borrow ends inside this call,
    /// which runs no user code.
    pub(crate) unsafe fn fill(&self, index: usize, slot: LocalSlot) -> Result<(), LocalSlot> {
        // SAFETY: per the contract, this is the only access right now.
        let map = unsafe { &mut *self.0.get() }.get_or_insert_with(Box::default);
        if map.destroying {
            return Err(slot);
        }
        if map.slots.len() <= index {
            map.slots.resize_with(index + 1, || None);
        }
        match &map.slots[index] {
            Some(_) => Err(slot),
            None => {
                map.slots[index] = Some(slot);
                Ok(())
            }
        }
    }

    /// Takes every value out for dropping and refuses any new one from now
    /// on (the G is finishing).
    ///
    /// # Safety
    /// As for [`fill`](Self::fill).
    pub(crate) unsafe fn take_all(&self) -> Vec<LocalSlot> {
        // SAFETY: per the contract, this is the only access right now.
        let Some(map) = (unsafe { &mut *self.0.get() }) else {
            // The common case, kept free of allocation: no values, so no
            // destructor that could try to make one.
            return Vec::new();
        };
        map.destroying = true;
        map.slots.drain(..).flatten().collect()
    }
}

impl Drop for GLocals {
    fn drop(&mut self) {
        // Normally empty: a G's values are dropped on its stack as it ends.
        // A G dropped otherwise (never run: no values) cannot leak any.
        if let Some(map) = self.0.get_mut().take() {
            for slot in map.slots.into_iter().flatten() {
                // SAFETY: each slot's drop function matches its value, and
                // the value is dropped once, here.
                unsafe { (slot.drop)(slot.value) }
            }
        }
    }
}

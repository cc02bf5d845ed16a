//! A private interlocked SList with one entry: the floor a lookaside list is measured against.
//!
//! A lookaside hit is one pop, a free one push, plus bookkeeping. Each stress thread has its
//! own list, so the floor is the uncontended cost.

use core::cell::UnsafeCell;

use super::ffi;

/// A 16-byte aligned, initially empty `SLIST_HEADER` and one entry to cycle through it.
#[repr(C, align(16))]
pub struct SListFloor {
    header: UnsafeCell<ffi::SLIST_HEADER>,
}

/// One SList entry, 16-byte aligned as x64 requires.
#[repr(C, align(16))]
pub struct SListEntry(UnsafeCell<ffi::SLIST_ENTRY>);

impl SListEntry {
    /// An unlinked entry.
    #[must_use]
    pub const fn new() -> Self {
        Self(UnsafeCell::new(ffi::SLIST_ENTRY {
            Next: core::ptr::null_mut(),
        }))
    }
}

impl Default for SListEntry {
    fn default() -> Self {
        Self::new()
    }
}

impl SListFloor {
    /// `InitializeSListHead`: on x64, an all-zero header is an empty list.
    #[must_use]
    pub const fn new() -> Self {
        // SAFETY: SLIST_HEADER is a union of integers, for which zero is the empty list.
        let empty = unsafe { core::mem::zeroed() };
        Self {
            header: UnsafeCell::new(empty),
        }
    }

    /// Pushes `entry` and pops it again; `false` if the pop found the list empty.
    pub fn push_pop(&mut self, entry: &mut SListEntry) -> bool {
        // SAFETY: an aligned header and an aligned entry that is not linked: `&mut` proves
        // no one else uses either, and the pop below unlinks the entry again.
        unsafe { ffi::ExpInterlockedPushEntrySList(self.header.get(), entry.0.get()) };
        // SAFETY: the same header.
        let popped = unsafe { ffi::ExpInterlockedPopEntrySList(self.header.get()) };
        !popped.is_null()
    }
}

impl Default for SListFloor {
    fn default() -> Self {
        Self::new()
    }
}

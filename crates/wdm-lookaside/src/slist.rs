//! A private interlocked SList with one entry: the floor a lookaside list is measured against.
//!
//! A lookaside hit is one pop, a free one push, plus bookkeeping; the floor does the pop and the
//! push in that order, on a list that holds its one entry between pairs, as a lookaside list
//! holds the block just freed. Each stress thread has its own list, so the floor is the
//! uncontended cost.

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

    /// Pushes `entry`, then `pairs` times pops it and pushes it back, then pops it for good.
    /// (Every pop finds it: nothing else uses the list.)
    pub fn pop_push(&mut self, entry: &mut SListEntry, pairs: u32) {
        let header = self.header.get();
        // SAFETY: an aligned header and an aligned entry that is not linked: `&mut` proves no
        // one else uses either, and the final pop below unlinks the entry again.
        unsafe { ffi::ExpInterlockedPushEntrySList(header, entry.0.get()) };
        for _ in 0..pairs {
            // SAFETY: the same header, holding at most the one entry.
            let popped = unsafe { ffi::ExpInterlockedPopEntrySList(header) };
            if !popped.is_null() {
                // SAFETY: `popped` is `entry`, just unlinked and still exclusively ours.
                unsafe { ffi::ExpInterlockedPushEntrySList(header, popped) };
            }
        }
        // SAFETY: the same header; this unlinks the entry before the borrows end.
        unsafe { ffi::ExpInterlockedPopEntrySList(header) };
    }
}

impl Default for SListFloor {
    fn default() -> Self {
        Self::new()
    }
}

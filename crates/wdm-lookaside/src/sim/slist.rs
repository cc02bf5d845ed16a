//! Interlocked singly linked lists (`SLIST_HEADER`), serialised by one lock as the real
//! routines are interlocked; the header's halves are atomics, so the depth can be read
//! without it.

use core::mem::offset_of;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

use super::types::{SLIST_ENTRY, SLIST_HEADER};

/// Serialises the SList routines across threads, as the real ones are interlocked.
static SLIST_LOCK: Mutex<()> = Mutex::new(());

/// The header's two halves as atomics: drivers may read the depth (the first quadword, as
/// wdm.h's inline `ExQueryDepthSList` does) while another thread pushes.
const fn halves<'a>(head: *mut SLIST_HEADER) -> (&'a AtomicU64, &'a AtomicPtr<SLIST_ENTRY>) {
    let depth = head.wrapping_byte_add(offset_of!(SLIST_HEADER, Alignment));
    let first = head.wrapping_byte_add(offset_of!(SLIST_HEADER, Region));
    // SAFETY: the caller's live, aligned header; both fields are only accessed atomically.
    let depth = unsafe { AtomicU64::from_ptr(depth.cast()) };
    // SAFETY: the caller's live, aligned header, whose `Region` is only accessed atomically.
    let first = unsafe { AtomicPtr::from_ptr(first.cast()) };
    (depth, first)
}

pub unsafe extern "C-unwind" fn ExpInterlockedPopEntrySList(
    ListHead: *mut SLIST_HEADER,
) -> *mut SLIST_ENTRY {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    // The lock serialises every change of the header.
    let (depth, region) = halves(ListHead);
    let first = region.load(Ordering::Relaxed);
    if !first.is_null() {
        // SAFETY: `first` is an entry pushed onto this list and not popped since.
        region.store(unsafe { (*first).Next }, Ordering::Relaxed);
        depth.fetch_sub(1, Ordering::Relaxed);
    }
    first
}

pub unsafe extern "C-unwind" fn ExpInterlockedPushEntrySList(
    ListHead: *mut SLIST_HEADER,
    ListEntry: *mut SLIST_ENTRY,
) -> *mut SLIST_ENTRY {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    assert!(
        ListEntry.is_aligned(),
        "SList entries must be 16-byte aligned"
    );
    // The lock serialises every change of the header.
    let (depth, region) = halves(ListHead);
    let first = region.load(Ordering::Relaxed);
    // SAFETY: the caller hands over `ListEntry`, an unused block of at least an SLIST_ENTRY.
    unsafe { (*ListEntry).Next = first };
    region.store(ListEntry, Ordering::Relaxed);
    depth.fetch_add(1, Ordering::Relaxed);
    first
}

pub unsafe extern "C-unwind" fn ExQueryDepthSList(ListHead: *mut SLIST_HEADER) -> u16 {
    let (depth, _) = halves(ListHead);
    u16::try_from(depth.load(Ordering::Relaxed) & 0xFFFF).expect("the low 16 bits")
}

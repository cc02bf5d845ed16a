//! The processors: how many are active, and which one runs the caller (for per-processor lists).

use core::num::NonZeroU32;

use super::ffi;

/// `ALL_PROCESSOR_GROUPS` (winnt.h): count the processors of every group.
const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

/// `KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS)`: the active processors of every group,
/// at least one.
#[must_use]
pub fn active_count() -> NonZeroU32 {
    // SAFETY: a plain value argument; callable at any IRQL.
    let count = unsafe { ffi::KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS) };
    NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN)
}

/// `KeGetCurrentProcessorNumberEx(NULL)`: the index of the processor running the caller.
///
/// Below `DISPATCH_LEVEL` the thread may move to another processor at any moment, so
/// the index only picks a list; it never guards one.
#[must_use]
#[inline]
pub fn current_index() -> u32 {
    // SAFETY: the PROCESSOR_NUMBER out pointer is optional (NULL); callable at any IRQL.
    unsafe { ffi::KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) }
}

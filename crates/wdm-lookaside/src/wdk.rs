//! The kernel API from Microsoft's `wdk-sys` and `wdk` crates, for every Windows build (a
//! driver's `cargo make` on Windows, and the Linux cross-build alike).
//!
//! No panic handler and no global allocator here: both are the driver's choice (Microsoft's
//! samples take wdk-panic's and wdk-alloc's).

// The DDK's names and prototypes, documented there.
#![allow(non_snake_case, missing_docs)]

use core::ffi::c_void;

// wdk-sys has no `DbgBreakPoint`: wdm.h makes it a macro for `__debugbreak` whenever
// `_MSC_FULL_VER` is defined, as it is in the MSVC-compatible mode wdk-build runs bindgen in,
// so bindgen sees no function. The `wdk` crate's `dbg_break` is `__debugbreak` (`int 3`).
pub use wdk::{dbg_break, nt_success};
pub use wdk_sys::ntddk::{
    DbgPrint, ExDeleteLookasideListEx, ExFlushLookasideListEx, ExFreePoolWithTag,
    ExInitializeLookasideListEx, ExpInterlockedPopEntrySList, ExpInterlockedPushEntrySList,
    KdRefreshDebuggerNotPresent, KeGetCurrentProcessorNumberEx, KeQueryActiveProcessorCountEx,
    KeQueryPerformanceCounter, MmGetSystemRoutineAddress, PsCreateSystemThread,
    PsTerminateSystemThread, ZwClose, ZwOpenKey, ZwQueryValueKey, ZwWaitForSingleObject,
};
pub use wdk_sys::{
    DRIVER_OBJECT, HANDLE, KEY_QUERY_VALUE, LARGE_INTEGER, LIST_ENTRY, LOOKASIDE_LIST_EX, NTSTATUS,
    OBJ_CASE_INSENSITIVE, OBJ_KERNEL_HANDLE, OBJECT_ATTRIBUTES, PALLOCATE_FUNCTION_EX,
    PFREE_FUNCTION_EX, POOL_FLAG_NON_PAGED, POOL_FLAG_PAGED, POOL_TYPE, REG_DWORD, SIZE_T,
    SLIST_ENTRY, SLIST_HEADER, STATUS_BUFFER_OVERFLOW, STATUS_DEVICE_CONFIGURATION_ERROR,
    STATUS_INVALID_PARAMETER, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS, SYNCHRONIZE,
    UNICODE_STRING,
};

pub const NON_PAGED_POOL_NX: POOL_TYPE = wdk_sys::_POOL_TYPE::NonPagedPoolNx;
pub const PAGED_POOL: POOL_TYPE = wdk_sys::_POOL_TYPE::PagedPool;
pub const KEY_VALUE_PARTIAL_INFORMATION_CLASS: wdk_sys::KEY_VALUE_INFORMATION_CLASS =
    wdk_sys::_KEY_VALUE_INFORMATION_CLASS::KeyValuePartialInformation;

// wdk-build leaves the deprecated ExAllocatePool* family out of wdk-sys; ntoskrnl exports it on
// every release. It is the fallback where ExAllocatePool2 (Windows 10 2004+) is missing.
unsafe extern "system" {
    pub fn ExAllocatePoolWithTag(
        PoolType: POOL_TYPE,
        NumberOfBytes: SIZE_T,
        Tag: u32,
    ) -> *mut c_void;
}

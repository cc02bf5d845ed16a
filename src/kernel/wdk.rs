//! The kernel API from Microsoft's `wdk-sys` and `wdk` crates: the driver users build, on
//! Windows (`cargo make`) and in the Linux cross-build (`cargo xtask`) alike.

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
    STATUS_INVALID_PARAMETER, STATUS_OBJECT_NAME_NOT_FOUND, SYNCHRONIZE, UNICODE_STRING,
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

// wdk-panic's panic handler, as in Microsoft's samples: a panic bugchecks. (No panic site is
// linked into the driver: `cargo xtask test` reads the linker's map.)
//
// Unlike the samples, no `#[global_allocator]` (wdk-alloc's `WdkAllocator`): the driver allocates
// only through the kernel API above, and that allocator calls ExAllocatePool2, which Windows 10
// before 2004 lacks, so the loader would refuse the image there. `cargo xtask test` checks that
// the import table has no such routine.
extern crate wdk_panic;

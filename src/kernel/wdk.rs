//! The kernel API from Microsoft's wdk-sys crate: the Windows build users ship.

// The DDK's names and prototypes, documented there.
#![allow(non_snake_case, missing_docs)]

use core::ffi::c_void;

pub use wdk_sys::ntddk::{
    DbgBreakPoint, DbgPrint, ExDeleteLookasideListEx, ExFlushLookasideListEx, ExFreePoolWithTag,
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
    STATUS_OBJECT_NAME_NOT_FOUND, SYNCHRONIZE, UNICODE_STRING,
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

// The runtime of Microsoft's samples: a pool-backed global allocator, should anything use
// `alloc` (the driver itself allocates only through the kernel API above), and wdk-panic's
// panic handler, which bugchecks.
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

extern crate wdk_panic;

//! The kernel API from the MinGW-w64 DDK headers, for the Linux cross-build.
//!
//! build.rs runs bindgen over `<ntddk.h>` and the driver links against an import library made
//! from `ddk/ntoskrnl.def`. Only what the headers cannot give bindgen is written here: the
//! `STATUS_*` and `POOL_FLAG_*` values (macros with casts and `ui64` suffixes) and the runtime
//! pieces wdk-sys and wdk-panic supply in the Windows build.

#![allow(non_camel_case_types, non_snake_case, missing_docs)]

// Generated code: bindgen's style, not this crate's (it has no unsafe blocks: the bitfield
// accessors of SLIST_HEADER are not generated, see build.rs).
#[allow(
    non_upper_case_globals,
    dead_code,
    unnecessary_transmutes,
    clippy::all,
    clippy::pedantic,
    clippy::nursery
)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/ddk_bindings.rs"));
}

pub use bindings::{
    DRIVER_OBJECT, DbgBreakPoint, DbgPrint, ExAllocatePoolWithTag, ExDeleteLookasideListEx,
    ExFlushLookasideListEx, ExFreePoolWithTag, ExInitializeLookasideListEx,
    ExpInterlockedPopEntrySList, ExpInterlockedPushEntrySList, HANDLE, KEY_QUERY_VALUE,
    KdRefreshDebuggerNotPresent, KeGetCurrentProcessorNumberEx, KeQueryActiveProcessorCountEx,
    KeQueryPerformanceCounter, LARGE_INTEGER, LIST_ENTRY, LOOKASIDE_LIST_EX,
    MmGetSystemRoutineAddress, NTSTATUS, OBJ_CASE_INSENSITIVE, OBJ_KERNEL_HANDLE,
    OBJECT_ATTRIBUTES, PALLOCATE_FUNCTION_EX, PFREE_FUNCTION_EX, POOL_TYPE, PsCreateSystemThread,
    PsTerminateSystemThread, REG_DWORD, SIZE_T, SLIST_ENTRY, SLIST_HEADER, SYNCHRONIZE,
    UNICODE_STRING, ZwClose, ZwOpenKey, ZwQueryValueKey, ZwWaitForSingleObject,
};

// ntstatus.h writes these as `((NTSTATUS)0xC0000182L)`, which bindgen does not evaluate.
pub const STATUS_DEVICE_CONFIGURATION_ERROR: NTSTATUS = 0xC000_0182_u32.cast_signed();
pub const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32.cast_signed();
pub const STATUS_BUFFER_OVERFLOW: NTSTATUS = 0x8000_0005_u32.cast_signed();
// wdm.h: `#define POOL_FLAG_NON_PAGED 0x0000000000000040UI64` (bindgen skips the suffix).
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;
pub const POOL_FLAG_PAGED: u64 = 0x100;
pub const NON_PAGED_POOL_NX: POOL_TYPE = bindings::_POOL_TYPE::NonPagedPoolNx;
pub const PAGED_POOL: POOL_TYPE = bindings::_POOL_TYPE::PagedPool;
pub const KEY_VALUE_PARTIAL_INFORMATION_CLASS: bindings::KEY_VALUE_INFORMATION_CLASS =
    bindings::_KEY_VALUE_INFORMATION_CLASS::KeyValuePartialInformation;

// The linker looks for `_fltused` once floating point appears anywhere in what is linked (core
// and compiler_builtins); wdk-sys defines it in the Windows build. Defined in assembly: a
// `#[no_mangle]` static would also be exported from the driver (a larger export table).
core::arch::global_asm!(
    ".section .rdata,\"dr\"",
    ".globl _fltused",
    ".p2align 2",
    "_fltused:",
    ".long 0",
    ".text",
);

/// A panic cannot unwind in the kernel; stop the system as `__fastfail` does, with the
/// `FAST_FAIL_FATAL_APP_EXIT` code (wdk-panic bugchecks in the Windows build, with the panic's
/// location). Neither reads the panic's message: formatting it would link `core::fmt` into the
/// driver. `cargo xtask test` reads the linker's map to make sure no panic site brings it in
/// anyway (an index out of bounds, say, passes its numbers to be formatted).
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    super::fail_fast(7)
}

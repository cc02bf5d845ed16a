//! The DDK's types and constants the simulation needs, with bindgen's field paths (the
//! `__bindgen_anon_N` unions), so code written against wdk-sys compiles against them unchanged.

// The DDK's names, documented in wdm.h and ntdef.h.
#![allow(
    missing_docs,
    clippy::pub_underscore_fields,
    clippy::upper_case_acronyms,
    clippy::use_self
)]

use core::ffi::c_void;

/// `NTSTATUS` (ntdef.h): negative for errors.
pub type NTSTATUS = i32;
pub type POOL_TYPE = i32;
/// `ULONG_PTR`-sized, as in the x64 headers (the simulation runs on `x86_64` hosts).
pub type SIZE_T = u64;
pub type HANDLE = *mut c_void;
pub type KEY_VALUE_INFORMATION_CLASS = i32;
pub type PKSTART_ROUTINE = Option<unsafe extern "C" fn(*mut c_void)>;

/// `STATUS_SUCCESS` (ntstatus.h).
pub const STATUS_SUCCESS: NTSTATUS = 0;

/// `NT_SUCCESS` (ntdef.h), as the `wdk` crate exports it.
pub const fn nt_success(status: NTSTATUS) -> bool {
    status >= 0
}
/// `STATUS_DEVICE_CONFIGURATION_ERROR` (ntstatus.h), 0xC0000182.
pub const STATUS_DEVICE_CONFIGURATION_ERROR: NTSTATUS = 0xC000_0182_u32.cast_signed();
/// `STATUS_INSUFFICIENT_RESOURCES` (ntstatus.h), 0xC000009A.
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32.cast_signed();
pub const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32.cast_signed();
pub const STATUS_BUFFER_OVERFLOW: NTSTATUS = 0x8000_0005_u32.cast_signed();
pub const STATUS_INVALID_HANDLE: NTSTATUS = 0xC000_0008_u32.cast_signed();
pub const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32.cast_signed();
pub const NON_PAGED_POOL_NX: POOL_TYPE = 512;
pub const PAGED_POOL: POOL_TYPE = 1;
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;
pub const POOL_FLAG_PAGED: u64 = 0x100;
pub const OBJ_CASE_INSENSITIVE: u32 = 0x40;
pub const OBJ_KERNEL_HANDLE: u32 = 0x200;
pub const KEY_QUERY_VALUE: u32 = 1;
pub const SYNCHRONIZE: u32 = 0x0010_0000;
pub const REG_DWORD: u32 = 4;
pub const KEY_VALUE_PARTIAL_INFORMATION_CLASS: KEY_VALUE_INFORMATION_CLASS = 2;
/// The simulated performance counter's frequency (10 MHz, as on most Windows machines).
pub const PERFORMANCE_FREQUENCY: i64 = 10_000_000;

/// Windows' initial `Depth` of a new list (`ExMinimumLookasideDepth`).
pub const MINIMUM_LOOKASIDE_DEPTH: u16 = 4;
/// `EX_MAXIMUM_LOOKASIDE_DEPTH_BASE`.
pub const MAXIMUM_LOOKASIDE_DEPTH: u16 = 256;

/// `LIST_ENTRY` (ntdef.h): a doubly linked list's links.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LIST_ENTRY {
    /// The next entry (the head, after the last).
    pub Flink: *mut LIST_ENTRY,
    /// The previous entry (the head, before the first).
    pub Blink: *mut LIST_ENTRY,
}

#[repr(C, align(16))]
pub struct SLIST_ENTRY {
    pub Next: *mut SLIST_ENTRY,
}

/// The simulation's own SList header, with the real x64 header's depth field.
///
/// The depth is in the low 16 bits of `Alignment`, as in the real header (the driver's inline
/// `ExQueryDepthSList` reads it); the first entry is in `Region` as a pointer (the real header
/// packs its address into bitfields; only these routines read it, and a pointer keeps its
/// provenance).
#[repr(C, align(16))]
pub struct SLIST_HEADER {
    pub Alignment: u64,
    pub Region: *mut SLIST_ENTRY,
}

#[repr(C)]
pub struct UNICODE_STRING {
    pub Length: u16,
    pub MaximumLength: u16,
    pub Buffer: *mut u16,
}

#[repr(C)]
pub struct OBJECT_ATTRIBUTES {
    pub Length: u32,
    pub RootDirectory: HANDLE,
    pub ObjectName: *mut UNICODE_STRING,
    pub Attributes: u32,
    pub SecurityDescriptor: *mut c_void,
    pub SecurityQualityOfService: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union LARGE_INTEGER {
    pub QuadPart: i64,
}

pub type PALLOCATE_FUNCTION_EX =
    Option<unsafe extern "C" fn(POOL_TYPE, SIZE_T, u32, *mut LOOKASIDE_LIST_EX) -> *mut c_void>;
pub type PFREE_FUNCTION_EX = Option<unsafe extern "C" fn(*mut c_void, *mut LOOKASIDE_LIST_EX)>;

/// `LOOKASIDE_LIST_EX` with the field paths bindgen gives the DDK's anonymous unions.
#[repr(C, align(16))]
pub struct LOOKASIDE_LIST_EX {
    pub L: GENERAL_LOOKASIDE_POOL,
}

#[repr(C, align(16))]
pub struct GENERAL_LOOKASIDE_POOL {
    pub __bindgen_anon_1: ListHeadUnion,
    pub Depth: u16,
    pub MaximumDepth: u16,
    pub TotalAllocates: u32,
    pub __bindgen_anon_2: AllocateMissesUnion,
    pub TotalFrees: u32,
    pub __bindgen_anon_3: FreeMissesUnion,
    pub Type: POOL_TYPE,
    pub Tag: u32,
    pub Size: u32,
    pub __bindgen_anon_4: AllocateExUnion,
    pub __bindgen_anon_5: FreeExUnion,
    pub ListEntry: LIST_ENTRY,
    pub LastTotalAllocates: u32,
    pub __bindgen_anon_6: u32,
    pub Future: [u32; 2],
}
#[repr(C, align(16))]
pub struct ListHeadUnion {
    pub ListHead: SLIST_HEADER,
}
#[repr(C)]
pub struct AllocateMissesUnion {
    pub AllocateMisses: u32,
}
#[repr(C)]
pub struct FreeMissesUnion {
    pub FreeMisses: u32,
}
#[repr(C)]
pub struct AllocateExUnion {
    pub AllocateEx: PALLOCATE_FUNCTION_EX,
}
#[repr(C)]
pub struct FreeExUnion {
    pub FreeEx: PFREE_FUNCTION_EX,
}

/// `ALL_PROCESSOR_GROUPS`.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

#[repr(C)]
pub struct PROCESSOR_NUMBER {
    pub Group: u16,
    pub Number: u8,
    pub Reserved: u8,
}

#[cfg(test)]
mod tests {
    use super::LOOKASIDE_LIST_EX;

    #[test]
    fn the_simulated_lookaside_list_has_the_x64_layout() {
        use core::mem::{align_of, offset_of, size_of};
        type L = LOOKASIDE_LIST_EX;
        assert_eq!((size_of::<L>(), align_of::<L>()), (0x60, 16));
        assert_eq!(offset_of!(L, L.Depth), 0x10);
        assert_eq!(offset_of!(L, L.TotalAllocates), 0x14);
        assert_eq!(offset_of!(L, L.__bindgen_anon_2.AllocateMisses), 0x18);
        assert_eq!(offset_of!(L, L.TotalFrees), 0x1C);
        assert_eq!(offset_of!(L, L.__bindgen_anon_3.FreeMisses), 0x20);
        assert_eq!(offset_of!(L, L.Type), 0x24);
        assert_eq!(offset_of!(L, L.Tag), 0x28);
        assert_eq!(offset_of!(L, L.Size), 0x2C);
        assert_eq!(offset_of!(L, L.__bindgen_anon_4.AllocateEx), 0x30);
        assert_eq!(offset_of!(L, L.__bindgen_anon_5.FreeEx), 0x38);
        assert_eq!(offset_of!(L, L.ListEntry), 0x40);
    }
}

//! Kernel routines that not every supported Windows release exports, looked up at run time.
//!
//! A driver that imported them directly would fail to load where they are missing (the loader
//! refuses an image with an unresolved import), so they are found with
//! `MmGetSystemRoutineAddress` and the caller falls back when one is absent.

use core::ffi::c_void;

use super::ffi;

/// `ExAllocatePool2` (Windows 10 2004 and later).
pub type AllocatePool2 =
    unsafe extern "system" fn(flags: u64, size: usize, tag: u32) -> *mut c_void;
/// `ExAllocateFromLookasideListEx` (exported since Windows 11 22H2; inline before).
pub type AllocateFromLookaside =
    unsafe extern "system" fn(lookaside: *mut ffi::LOOKASIDE_LIST_EX) -> *mut c_void;
/// `ExFreeToLookasideListEx` (exported since Windows 11 22H2; inline before).
pub type FreeToLookaside =
    unsafe extern "system" fn(lookaside: *mut ffi::LOOKASIDE_LIST_EX, entry: *mut c_void);

/// The optional routines, each `None` where this kernel does not export it.
#[derive(Clone, Copy)]
pub struct Routines {
    pub allocate_pool2: Option<AllocatePool2>,
    pub allocate_from_lookaside: Option<AllocateFromLookaside>,
    pub free_to_lookaside: Option<FreeToLookaside>,
}

impl Routines {
    /// Looks every routine up. `MmGetSystemRoutineAddress` must be called at PASSIVE_LEVEL,
    /// which is where DriverEntry runs.
    pub fn resolve() -> Self {
        let allocate_pool2 = lookup(b"ExAllocatePool2");
        let allocate_from_lookaside = lookup(b"ExAllocateFromLookasideListEx");
        let free_to_lookaside = lookup(b"ExFreeToLookasideListEx");
        Self {
            // SAFETY: a non-NULL address returned for this exported name is that routine, whose
            // prototype is `AllocatePool2` (wdm.h); transmuting a code pointer to a matching
            // `extern "system" fn` is sound.
            allocate_pool2: allocate_pool2
                .map(|p| unsafe { core::mem::transmute::<*mut c_void, AllocatePool2>(p) }),
            // Both or neither, so one path serves a list.
            allocate_from_lookaside: allocate_from_lookaside
                .filter(|_| free_to_lookaside.is_some())
                .map(|p| {
                    // SAFETY: as above, prototype `AllocateFromLookaside` (wdm.h, NTDDI_WIN10_NI).
                    unsafe { core::mem::transmute::<*mut c_void, AllocateFromLookaside>(p) }
                }),
            free_to_lookaside: free_to_lookaside
                .filter(|_| allocate_from_lookaside.is_some())
                .map(|p| {
                    // SAFETY: as above, prototype `FreeToLookaside` (wdm.h, NTDDI_WIN10_NI).
                    unsafe { core::mem::transmute::<*mut c_void, FreeToLookaside>(p) }
                }),
        }
    }
}

/// A short ASCII name as the UTF-16 a `UNICODE_STRING` points at; `N` is the buffer size.
pub struct Utf16Name<const N: usize> {
    buffer: [u16; N],
    /// The name's length in bytes, as `UNICODE_STRING` counts it.
    bytes: u16,
}

impl<const N: usize> Utf16Name<N> {
    /// Copies the ASCII `name`, cut at `N` units (names here are constants that fit).
    // Out of line: one copy of the loop serves every name (a smaller driver).
    #[inline(never)]
    pub fn new(name: &[u8]) -> Self {
        debug_assert!(name.len() <= N, "name longer than its buffer");
        let mut buffer = [0_u16; N];
        let len = name.len().min(N);
        let mut i = 0;
        // A plain loop: the names are a few dozen characters, not worth vector code.
        while i < len {
            buffer[i] = u16::from(name[i]);
            i += 1;
        }
        let bytes = u16::try_from(len * 2).unwrap_or(u16::MAX);
        Self { buffer, bytes }
    }

    /// A counted string over the buffer; valid while `self` is.
    pub const fn as_unicode_string(&self) -> ffi::UNICODE_STRING {
        ffi::UNICODE_STRING {
            Length: self.bytes,
            MaximumLength: self.bytes,
            Buffer: self.buffer.as_ptr().cast_mut(),
        }
    }
}

fn lookup(name: &[u8]) -> Option<*mut c_void> {
    let name = Utf16Name::<32>::new(name);
    let mut name = name.as_unicode_string();
    // SAFETY: `name` is a valid counted string over a buffer that outlives the call; the
    // routine only reads it. PASSIVE_LEVEL (DriverEntry).
    let address = unsafe { ffi::MmGetSystemRoutineAddress(&raw mut name) };
    (!address.is_null()).then_some(address)
}

//! Kernel routines that not every supported Windows release exports, looked up at run time.
//!
//! A driver that imported them directly would fail to load where they are missing (the loader
//! refuses an image with an unresolved import), so they are found with
//! `MmGetSystemRoutineAddress` and the caller falls back when one is absent.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

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

/// `ExAllocatePool2`, where this kernel exports it. `MmGetSystemRoutineAddress` must be called
/// at PASSIVE_LEVEL, which is where DriverEntry runs (as for the lookups below).
pub fn allocate_pool2() -> Option<AllocatePool2> {
    let address = lookup(b"ExAllocatePool2")?;
    // SAFETY: a non-NULL address returned for this exported name is that routine, whose
    // prototype is `AllocatePool2` (wdm.h); transmuting a code pointer to a matching
    // `extern "system" fn` is sound.
    Some(unsafe { core::mem::transmute::<*mut c_void, AllocatePool2>(address) })
}

/// `ExAllocateFromLookasideListEx` and `ExFreeToLookasideListEx`, where this kernel exports
/// both (both or neither, so that one path serves a list).
// One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
// smaller driver).
#[allow(clippy::inline_always, reason = "one caller; measured smaller")]
#[inline(always)]
pub fn lookaside_exports() -> Option<(AllocateFromLookaside, FreeToLookaside)> {
    let allocate = lookup(b"ExAllocateFromLookasideListEx")?;
    let free = lookup(b"ExFreeToLookasideListEx")?;
    // SAFETY: as in `allocate_pool2`, prototype `AllocateFromLookaside` (wdm.h, NTDDI_WIN10_NI).
    let allocate = unsafe { core::mem::transmute::<*mut c_void, AllocateFromLookaside>(allocate) };
    // SAFETY: the kernel's address of the routine it exports under this name, whose prototype
    // is `FreeToLookaside` (wdm.h, NTDDI_WIN10_NI): a function pointer of that type.
    let free = unsafe { core::mem::transmute::<*mut c_void, FreeToLookaside>(free) };
    Some((allocate, free))
}

/// The longest name a [`Utf16Buffer`] holds, in characters (the names here are shorter).
const NAME_MAX: usize = 32;

/// Room for a short ASCII name as the UTF-16 a `UNICODE_STRING` points at.
pub struct Utf16Buffer([MaybeUninit<u16>; NAME_MAX]);

impl Utf16Buffer {
    /// An empty buffer, left uninitialised: only the units of a name written are ever read.
    pub const fn new() -> Self {
        Self([const { MaybeUninit::uninit() }; NAME_MAX])
    }

    /// Copies the ASCII `name` into the buffer (cut at `NAME_MAX` characters: names here are
    /// constants that fit) and returns the counted string over it, which borrows the buffer:
    /// it cannot outlive it, nor can the buffer be written while it is in use.
    // Out of line, writing in place: one copy of the loop serves every name (a smaller driver).
    #[inline(never)]
    pub fn name(&mut self, name: &[u8]) -> CountedName<'_> {
        debug_assert!(name.len() <= NAME_MAX, "name longer than its buffer");
        let len = name.len().min(NAME_MAX);
        let mut i = 0;
        // A plain loop: the names are a few dozen characters, not worth vector code.
        while i < len {
            self.0[i].write(u16::from(name[i]));
            i += 1;
        }
        #[allow(
            clippy::cast_possible_truncation,
            reason = "at most 2 * NAME_MAX = 64 bytes"
        )]
        let bytes = (len * 2) as u16;
        CountedName {
            string: ffi::UNICODE_STRING {
                Length: bytes,
                MaximumLength: bytes,
                Buffer: self.0.as_mut_ptr().cast::<u16>(),
            },
            _buffer: PhantomData,
        }
    }
}

/// A `UNICODE_STRING` over a [`Utf16Buffer`], valid as long as the borrow of the buffer.
pub struct CountedName<'a> {
    string: ffi::UNICODE_STRING,
    _buffer: PhantomData<&'a mut Utf16Buffer>,
}

impl CountedName<'_> {
    /// The counted string, for a routine that reads it.
    pub const fn get(&self) -> &ffi::UNICODE_STRING {
        &self.string
    }

    /// The counted string's address, for a routine whose prototype takes a non-const pointer
    /// (it only reads it).
    pub const fn as_mut_ptr(&mut self) -> *mut ffi::UNICODE_STRING {
        &raw mut self.string
    }
}

fn lookup(name: &[u8]) -> Option<*mut c_void> {
    super::paged_code();
    let mut buffer = Utf16Buffer::new();
    let mut name = buffer.name(name);
    // SAFETY: `name` is a valid counted string over a buffer it borrows; the routine only
    // reads it. PASSIVE_LEVEL (DriverEntry).
    let address = unsafe { ffi::MmGetSystemRoutineAddress(name.as_mut_ptr()) };
    (!address.is_null()).then_some(address)
}

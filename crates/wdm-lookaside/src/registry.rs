//! `REG_DWORD` values under the service key's `Parameters` subkey.

use core::ffi::{CStr, c_void};
use core::ptr::{self, NonNull};

use super::ffi::{self, HANDLE, NTSTATUS, UNICODE_STRING};
use super::routines::Utf16Buffer;

/// What a registry value turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryValue {
    /// No such value (or no `Parameters` key): the default applies, silently.
    Missing,
    /// A `REG_DWORD`.
    Dword(u32),
    /// Not a 4-byte `REG_DWORD`: its `REG_*` type (`REG_SZ` = 1, `REG_BINARY` = 3,
    /// `REG_QWORD` = 11, ...; `REG_DWORD` = 4 when its size is not 4 bytes).
    NotDword(u32),
    /// Reading failed with this status.
    Unreadable(NTSTATUS),
}

/// The registry path `DriverEntry` receives (`\Registry\Machine\System\...\Services\<name>`).
#[derive(Clone, Copy)]
pub struct RegistryPath<'a> {
    path: &'a UNICODE_STRING,
}

impl RegistryPath<'_> {
    /// Wraps `DriverEntry`'s `RegistryPath` argument.
    ///
    /// # Safety
    /// `path` is NULL or points to a valid `UNICODE_STRING` that outlives the result.
    #[must_use]
    pub const unsafe fn from_raw<'a>(path: *const UNICODE_STRING) -> Option<RegistryPath<'a>> {
        // SAFETY: the caller guarantees validity for `'a` when non-NULL.
        match unsafe { path.as_ref() } {
            Some(path) => Some(RegistryPath { path }),
            None => None,
        }
    }
}

/// The open `Parameters` key; closed when dropped.
pub struct ParametersKey {
    handle: HANDLE,
}

/// `OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE`: registry names ignore case, and the handle must
/// not be reachable from whatever user process happens to be current.
const ATTRIBUTES: u32 = ffi::OBJ_CASE_INSENSITIVE | ffi::OBJ_KERNEL_HANDLE;

/// `sizeof(OBJECT_ATTRIBUTES)`, its `Length` field.
#[allow(
    clippy::cast_possible_truncation,
    reason = "48 bytes on x64, checked below"
)]
pub const OBJECT_ATTRIBUTES_SIZE: u32 = {
    let size = size_of::<ffi::OBJECT_ATTRIBUTES>();
    assert!(size < 256);
    size as u32
};

/// `ZwOpenKey` of `name` under `root` (NULL: `name` is a full path); `None` when it fails
/// (the caller falls back to the defaults whatever the reason). Kernel handles are never NULL.
// Out of line: opened twice (a smaller driver).
#[inline(never)]
fn open_key(root: HANDLE, name: &UNICODE_STRING) -> Option<NonNull<c_void>> {
    let mut attributes = ffi::OBJECT_ATTRIBUTES {
        Length: OBJECT_ATTRIBUTES_SIZE,
        RootDirectory: root,
        ObjectName: ptr::from_ref(name).cast_mut(),
        Attributes: ATTRIBUTES as _,
        SecurityDescriptor: ptr::null_mut(),
        SecurityQualityOfService: ptr::null_mut(),
    };
    let mut handle: HANDLE = ptr::null_mut();
    // SAFETY: valid out pointer and attributes over a counted string that outlives the call;
    // PASSIVE_LEVEL (DriverEntry).
    let status =
        unsafe { ffi::ZwOpenKey(&raw mut handle, ffi::KEY_QUERY_VALUE, &raw mut attributes) };
    NonNull::new(handle).filter(|_| super::nt_success(status))
}

impl ParametersKey {
    /// Opens `<RegistryPath>\Parameters`; `None` when it does not exist or cannot be opened.
    #[must_use]
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn open(service: RegistryPath<'_>) -> Option<Self> {
        super::paged_code();
        let service_key = open_key(ptr::null_mut(), service.path)?.as_ptr();
        let mut units = Utf16Buffer::new();
        let parameters = open_key(service_key, units.name(b"Parameters").get());
        // SAFETY: a handle ZwOpenKey just returned, closed once.
        let _ = unsafe { ffi::ZwClose(service_key) };
        parameters.map(|handle| Self {
            handle: handle.as_ptr(),
        })
    }

    /// Reads the value `name` (ASCII, at most 32 characters).
    #[must_use]
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn dword(&self, name: &CStr) -> RegistryValue {
        super::paged_code();
        // KEY_VALUE_PARTIAL_INFORMATION: TitleIndex, Type, DataLength, then the data. A DWORD
        // fills it exactly; a larger value reports STATUS_BUFFER_OVERFLOW with its type.
        let mut info: Info = [0; 4];
        let mut length = 0;
        let mut units = Utf16Buffer::new();
        let mut name = units.name(name.to_bytes());
        // SAFETY: a live key handle, a counted name and a buffer whose size is passed with it.
        let status = unsafe {
            ffi::ZwQueryValueKey(
                self.handle,
                name.as_mut_ptr(),
                ffi::KEY_VALUE_PARTIAL_INFORMATION_CLASS,
                info.as_mut_ptr().cast::<c_void>(),
                INFO_SIZE,
                &raw mut length,
            )
        };
        // The kernel writes the structure's ULONGs in the machine's (little-endian) order. On
        // STATUS_BUFFER_OVERFLOW it has written the header, the type among it.
        let [_, reg_type, bytes, data] = info.map(u32::from_le);
        match status {
            ffi::STATUS_OBJECT_NAME_NOT_FOUND => RegistryValue::Missing,
            ffi::STATUS_BUFFER_OVERFLOW => RegistryValue::NotDword(reg_type),
            status if !super::nt_success(status) => RegistryValue::Unreadable(status),
            _ if reg_type != ffi::REG_DWORD || bytes != 4 => RegistryValue::NotDword(reg_type),
            _ => RegistryValue::Dword(data),
        }
    }
}

/// `dword`'s `KEY_VALUE_PARTIAL_INFORMATION` buffer: its 12-byte header and a DWORD.
type Info = [u32; 4];

/// The size of an [`Info`], as `ZwQueryValueKey` takes it.
#[allow(clippy::cast_possible_truncation, reason = "16 bytes")]
const INFO_SIZE: u32 = size_of::<Info>() as u32;

impl Drop for ParametersKey {
    fn drop(&mut self) {
        // SAFETY: the handle ZwOpenKey returned, closed once.
        let _ = unsafe { ffi::ZwClose(self.handle) };
    }
}

//! The registry: a service key under [`SERVICES`] and its `Parameters` subkey, with the
//! values [`Config::parameters`](super::Config::parameters) gives.

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use super::types::{
    HANDLE, KEY_QUERY_VALUE, KEY_VALUE_INFORMATION_CLASS, KEY_VALUE_PARTIAL_INFORMATION_CLASS,
    NTSTATUS, OBJ_KERNEL_HANDLE, OBJECT_ATTRIBUTES, REG_DWORD, STATUS_BUFFER_OVERFLOW,
    STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS, UNICODE_STRING,
};
use super::with_state;
use crate::registry::RegistryPath;

/// A registry value under the service's `Parameters` key.
#[derive(Clone, Copy, Debug)]
pub enum RegValue {
    /// `REG_DWORD`.
    Dword(u32),
    /// Any type (the number of `REG_*`, e.g. `REG_SZ` = 1) with this many bytes of data.
    Other(u32, u32),
}

/// Where the I/O manager keeps service keys: `DriverEntry`'s registry path is this and the
/// service's name.
pub const SERVICES: &str = r"\Registry\Machine\System\CurrentControlSet\Services\";

/// A service's key as the I/O manager passes it to `DriverEntry`: a `UNICODE_STRING` naming
/// `\Registry\Machine\System\CurrentControlSet\Services\<name>`.
///
/// ```
/// use wdm_lookaside::sim;
///
/// sim::reset(sim::Config::default());
/// let key = sim::ServiceKey::new("MyDriver");
/// let _path = key.registry_path(); // what DriverEntry's body takes
/// ```
pub struct ServiceKey {
    /// Counts `units`.
    string: UNICODE_STRING,
    /// From `Box::leak`, freed in `Drop`: a raw pointer, so that moving the `ServiceKey`
    /// does not retag the buffer `string` points into (a `Box` field would, and the kernel's
    /// reads through `Buffer` would then be undefined behaviour).
    units: NonNull<[u16]>,
}

impl ServiceKey {
    /// The key of service `name`.
    ///
    /// # Panics
    /// When the path is longer than a `UNICODE_STRING` can count (32,767 characters).
    #[must_use]
    pub fn new(name: &str) -> Self {
        let units: Box<[u16]> = SERVICES.encode_utf16().chain(name.encode_utf16()).collect();
        let length =
            u16::try_from(units.len() * 2).expect("a UNICODE_STRING counts 65,534 bytes at most");
        let units = NonNull::from(Box::leak(units));
        let string = UNICODE_STRING {
            Length: length,
            MaximumLength: length,
            Buffer: units.as_ptr().cast(),
        };
        Self { string, units }
    }

    /// The path, as `DriverEntry` receives it.
    #[must_use]
    pub const fn registry_path(&self) -> RegistryPath<'_> {
        // SAFETY: `string` counts the units at `units`, a heap buffer this `ServiceKey` owns
        // until it is dropped, so for as long as the result borrows it.
        unsafe { RegistryPath::from_raw(&raw const self.string) }.expect("not NULL")
    }

    /// The path's UTF-16 units.
    #[must_use]
    pub const fn units(&self) -> &[u16] {
        // SAFETY: `units` is the live buffer this `ServiceKey` owns; nothing writes through it.
        unsafe { self.units.as_ref() }
    }
}

impl Drop for ServiceKey {
    fn drop(&mut self) {
        // SAFETY: `units` came from `Box::leak` in `new`, and is freed once, here.
        drop(unsafe { Box::from_raw(self.units.as_ptr()) });
    }
}

/// `\Registry\...\Services\<name>`, one name deep (registry names ignore case).
fn is_service_key(path: &str) -> bool {
    path.get(..SERVICES.len())
        .is_some_and(|root| root.eq_ignore_ascii_case(SERVICES))
        && !path[SERVICES.len()..].is_empty()
        && !path[SERVICES.len()..].contains('\\')
}

fn name_of(name: *const UNICODE_STRING) -> String {
    // SAFETY: the caller passes a valid counted string.
    let name = unsafe { &*name };
    // SAFETY: `Buffer` holds `Length` bytes of UTF-16.
    let units = unsafe { std::slice::from_raw_parts(name.Buffer, usize::from(name.Length) / 2) };
    String::from_utf16(units).expect("UTF-16 name")
}

pub unsafe extern "C-unwind" fn ZwOpenKey(
    KeyHandle: *mut HANDLE,
    DesiredAccess: u32,
    ObjectAttributes: *mut OBJECT_ATTRIBUTES,
) -> NTSTATUS {
    assert_eq!(DesiredAccess, KEY_QUERY_VALUE, "the driver only reads");
    // SAFETY: the caller passes valid attributes.
    let attributes = unsafe { &*ObjectAttributes };
    assert_ne!(
        attributes.Attributes & OBJ_KERNEL_HANDLE,
        0,
        "kernel handles only"
    );
    let name = name_of(attributes.ObjectName);
    let handle = with_state(|state| {
        let handle = match (attributes.RootDirectory.addr(), name.as_str()) {
            (0, service) if is_service_key(service) => 1,
            (1, "Parameters") if state.config.parameters.is_some() => 2,
            _ => return None,
        };
        state.handles.insert(handle, None);
        Some(handle)
    });
    let Some(handle) = handle else {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    };
    // SAFETY: a valid out pointer.
    unsafe { KeyHandle.write(ptr::without_provenance_mut(handle)) };
    STATUS_SUCCESS
}

pub unsafe extern "C-unwind" fn ZwQueryValueKey(
    KeyHandle: HANDLE,
    ValueName: *mut UNICODE_STRING,
    KeyValueInformationClass: KEY_VALUE_INFORMATION_CLASS,
    KeyValueInformation: *mut c_void,
    Length: u32,
    ResultLength: *mut u32,
) -> NTSTATUS {
    assert_eq!(
        KeyHandle.addr(),
        2,
        "values are read from the Parameters key"
    );
    assert_eq!(
        KeyValueInformationClass,
        KEY_VALUE_PARTIAL_INFORMATION_CLASS
    );
    let name = name_of(ValueName);
    let value = with_state(|state| {
        let values = state.config.parameters.as_ref()?;
        values
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| *v)
    });
    let (reg_type, data): (u32, Vec<u8>) = match value {
        None => return STATUS_OBJECT_NAME_NOT_FOUND,
        Some(RegValue::Dword(value)) => (REG_DWORD, value.to_le_bytes().to_vec()),
        // Longer than the caller's buffer (a REG_SZ path), or not: a 2-byte REG_DWORD.
        Some(RegValue::Other(reg_type, bytes)) => (reg_type, vec![b'x'; bytes as usize]),
    };
    let mut info = Vec::new();
    for field in [0, reg_type, u32::try_from(data.len()).expect("small")] {
        info.extend_from_slice(&field.to_le_bytes());
    }
    info.extend_from_slice(&data);
    let total = u32::try_from(info.len()).expect("small");
    // SAFETY: valid out pointers, `Length` bytes at `KeyValueInformation`.
    unsafe { ResultLength.write(total) };
    let fits = total <= Length;
    let copied = if fits {
        info.len()
    } else {
        12.min(Length as usize)
    };
    // SAFETY: the caller's buffer holds `Length` writable bytes at `KeyValueInformation`, and
    // at most `Length` are copied.
    unsafe { ptr::copy_nonoverlapping(info.as_ptr(), KeyValueInformation.cast(), copied) };
    if fits {
        STATUS_SUCCESS
    } else {
        STATUS_BUFFER_OVERFLOW
    }
}

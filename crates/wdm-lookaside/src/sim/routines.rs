//! `MmGetSystemRoutineAddress`: the routines a kernel may or may not export, as
//! [`Config`](super::Config) says.

use core::ffi::c_void;
use core::ptr;

use super::lookaside::{ExAllocateFromLookasideListEx, ExFreeToLookasideListEx};
use super::pool::ExAllocatePool2;
use super::types::UNICODE_STRING;
use super::with_state;

pub unsafe extern "C-unwind" fn MmGetSystemRoutineAddress(
    SystemRoutineName: *mut UNICODE_STRING,
) -> *mut c_void {
    // SAFETY: the caller passes a valid counted string.
    let name = unsafe { &*SystemRoutineName };
    // SAFETY: `Buffer` holds `Length` bytes of UTF-16.
    let name = unsafe { std::slice::from_raw_parts(name.Buffer, usize::from(name.Length) / 2) };
    let name = String::from_utf16(name).expect("routine names are ASCII");
    let config = with_state(|state| state.config.clone());
    match name.as_str() {
        "ExAllocatePool2" if config.pool2 => ExAllocatePool2 as *mut c_void,
        "ExAllocateFromLookasideListEx" if config.lookaside_exports => {
            ExAllocateFromLookasideListEx as *mut c_void
        }
        "ExFreeToLookasideListEx" if config.lookaside_exports => {
            ExFreeToLookasideListEx as *mut c_void
        }
        _ => ptr::null_mut(),
    }
}

//! # LookasideList
//!
//! The KmdKit "LookasideList" sample (Four-F, 2002) as a Windows x64 WDM driver in Rust.
//!
//! `DriverEntry` allocates a `LOOKASIDE_LIST_EX` in nonpaged pool, initialises it with
//! `ExInitializeLookasideListEx`, keeps fixed-size blocks from the list on an intrusive
//! `LIST_ENTRY` chain (five rounds of add, add, remove; then it drains the chain), deletes the
//! list, frees the pool block, logs every step with `DbgPrint` and returns
//! `STATUS_DEVICE_CONFIGURATION_ERROR`, so it never stays loaded.
//!
//! The kernel boundary, the lookaside list, the chain and `dbg_print!` are the `wdm-lookaside`
//! crate's; this crate is its user:
//! - [`scenario`]: the seed's story and its log lines;
//! - [`parameters`]: the registry parameters and their range checks;
//! - [`stress`]: the optional stress run and its timings.

#![cfg_attr(all(target_os = "windows", not(test)), no_std)]
// The crate is named as the driver file (LookasideList.sys), as wdk-build's flow requires.
#![allow(non_snake_case)]

/// What starts each of the driver's own lines, the ones the seed did not have: the seed's
/// prefix and two spaces, so they stand apart in DebugView.
pub const INDENTED: &core::ffi::CStr = lookaside_contract::anchors::INDENTED_C;

/// `dbg_print!` for one of the driver's own lines, after [`INDENTED`] (held once in the image,
/// not in every format).
macro_rules! dbg_print_indented {
    ($format:literal $(, $arg:expr)* $(,)?) => {
        wdm_lookaside::dbg_print!(prefix = $crate::INDENTED; $format $(, $arg)*)
    };
}

pub mod parameters;
pub mod scenario;
pub mod stress;

#[cfg(test)]
mod tests;

// wdk-panic's panic handler, as in Microsoft's samples: a panic bugchecks (no panic site is
// linked into the driver: `cargo xtask test` reads the linker's map).
//
// Unlike the samples, no `#[global_allocator]` (wdk-alloc's `WdkAllocator`): the driver
// allocates only through the kernel API, and that allocator calls ExAllocatePool2, which
// Windows 10 before 2004 lacks, so the loader would refuse the image there.
#[cfg(all(target_os = "windows", not(test)))]
extern crate wdk_panic;

/// The driver's entry point, called by the I/O manager at PASSIVE_LEVEL.
///
/// # Safety
/// Called by the kernel only, with its driver object and registry path.
#[cfg(all(target_os = "windows", not(test)))]
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    _driver: *mut wdm_lookaside::DRIVER_OBJECT,
    registry_path: *const wdm_lookaside::UNICODE_STRING,
) -> wdm_lookaside::NTSTATUS {
    // SAFETY: the I/O manager passes the service key's path, valid for the whole call.
    let registry_path = unsafe { wdm_lookaside::registry::RegistryPath::from_raw(registry_path) };
    scenario::driver_entry(registry_path)
}

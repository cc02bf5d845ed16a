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
//! - [`kernel`]: the only module that calls the kernel (backends: wdk-sys, MinGW DDK bindings,
//!   host simulation);
//! - [`list`]: the intrusive `LIST_ENTRY` chain;
//! - [`scenario`]: the seed's story and its log lines;
//! - [`parameters`]: the registry parameters and their range checks;
//! - [`stress`]: the optional stress run and its timings.

#![cfg_attr(all(target_os = "windows", not(test)), no_std)]
// The crate is named as the driver file (LookasideList.sys), as wdk-build's flow requires.
#![allow(non_snake_case)]

pub mod kernel;
pub mod list;
pub mod parameters;
pub mod scenario;
pub mod stress;

#[cfg(test)]
mod tests;

/// The driver's entry point, called by the I/O manager at PASSIVE_LEVEL.
///
/// # Safety
/// Called by the kernel only, with its driver object and registry path.
#[cfg(all(target_os = "windows", not(test)))]
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    _driver: *mut kernel::DRIVER_OBJECT,
    registry_path: *const kernel::UNICODE_STRING,
) -> kernel::NTSTATUS {
    // SAFETY: the I/O manager passes the service key's path, valid for the whole call.
    let registry_path = unsafe { kernel::registry::RegistryPath::from_raw(registry_path) };
    scenario::driver_entry(registry_path)
}

//! A native `ntoskrnl.exe` for Wine: a test fixture, never shipped with the driver.
//!
//! Wine 8's builtin ntoskrnl.exe lacks the `LOOKASIDE_LIST_EX` routines the driver calls. This DLL
//! takes its place in winedevice.exe (a `DllOverrides` entry for winedevice.exe only): it forwards
//! every export of Wine's builtin, installed beside it unmodified as `wntoskrnl.dll`, and implements
//! `ExInitializeLookasideListEx`, `ExAllocateFromLookasideListEx`, `ExFreeToLookasideListEx`,
//! `ExFlushLookasideListEx` and `ExDeleteLookasideListEx` itself, and answers
//! `KeGetCurrentProcessorNumberEx` without the system call Wine's makes (with `RDPID`, where the
//! processor has it). It also counts the pool blocks allocated and freed through it, and reports
//! them with `DbgPrint` lines that start with `ntoskrnl-fixture: `, so a test can spot leaks.
//!
//! It is built only with the `wine` feature, which `cargo xtask` sets for the Windows target.
//! Without it (host builds, or a Windows host building the workspace) this is an empty library
//! whose unit tests cover the bookkeeping.

#![cfg_attr(all(target_os = "windows", feature = "wine", not(test)), no_std)]

mod accounting;
#[cfg(all(target_os = "windows", feature = "wine", not(test)))]
mod shim;

//! The kernel boundary: the only module that touches the Windows kernel API.
//!
//! Everything above it (the intrusive chain, the scenario) sees a small safe API: nonpaged pool
//! blocks ([`PoolBox`]), a lookaside list with RAII blocks ([`LookasideList`], [`Block`]; one
//! shared `LOOKASIDE_LIST_EX` or one per processor, [`ListMode`]), the `LIST_ENTRY` type, and
//! [`dbg_print!`](crate::dbg_print) for `DbgPrint` ([`format`]).
//!
//! One backend, chosen at compile time, supplies the raw items under the DDK's own names
//! (`LOOKASIDE_LIST_EX`, `ExInitializeLookasideListEx`, ...):
//! - `wdk`: Microsoft's `wdk-sys` and `wdk` crates, for every build of the driver (Windows with
//!   the WDK, and the Linux cross-build);
//! - `sim`: a host simulation with the same names, so `cargo test` runs this module's code and
//!   everything above it unchanged.

#[cfg(any(test, not(target_os = "windows")))]
#[path = "sim.rs"]
pub mod ffi;
#[cfg(all(not(test), target_os = "windows"))]
#[path = "wdk.rs"]
mod ffi;

pub mod clock;
mod control;
pub mod format;
mod list_ex;
mod lookaside;
mod pool;
#[cfg(any(test, not(target_os = "windows")))]
mod printf;
pub mod processor;
pub mod registry;
mod routines;
pub mod slist;
pub mod thread;

pub use control::{ControlBlock, ListMode, LookasideControl, STRIDE as LIST_STRIDE};
#[cfg(all(target_os = "windows", not(test)))]
pub use ffi::{DRIVER_OBJECT, UNICODE_STRING};
pub use ffi::{LIST_ENTRY, NTSTATUS, STATUS_DEVICE_CONFIGURATION_ERROR};
pub use list_ex::LookasideStats;
pub use lookaside::{ApiPath, Block, FromZeros, InitError, ListOptions, LookasideList};
pub use pool::{Pool, PoolBox, PoolKind};

/// A pool tag: four characters as the DDK's multi-character constants write them, so the
/// seed's `'msaW'` shows as `Wasm` in pool-tag tools, exactly as it did for the MASM driver.
#[must_use]
pub const fn pool_tag(tag: [u8; 4]) -> u32 {
    u32::from_be_bytes(tag)
}

/// Whether a kernel debugger is attached now (`KdRefreshDebuggerNotPresent`, which asks the
/// debugger rather than trusting a cached flag).
#[must_use]
pub fn kernel_debugger_attached() -> bool {
    // SAFETY: no arguments; callable at any IRQL.
    unsafe { ffi::KdRefreshDebuggerNotPresent() == 0 }
}

/// `DbgBreakPoint`, as `__debugbreak` (the `wdk` crate's `dbg_break`).
///
/// Without a kernel debugger this is an unhandled breakpoint exception, a bugcheck: call it
/// only when [`kernel_debugger_attached`] said yes.
pub fn break_into_debugger() {
    ffi::dbg_break();
}

/// `NT_SUCCESS(status)` (ntdef.h; the `wdk` crate's `nt_success`): success and informational
/// statuses, 0 to 0x7FFFFFFF.
#[must_use]
pub const fn nt_success(status: NTSTATUS) -> bool {
    ffi::nt_success(status)
}

/// `PAGED_CODE()` (wdm.h), the `wdk` crate's `paged_code!`.
///
/// At the start of the routines that must run at `IRQL <= APC_LEVEL` (registry, thread
/// creation, routine lookup, list initialisation): in a debug build it asserts the IRQL, in a
/// release build it is nothing. The simulation has no IRQL.
#[allow(
    clippy::inline_always,
    reason = "a debug-build assertion, nothing in release"
)]
#[allow(
    clippy::missing_const_for_fn,
    reason = "reads the IRQL in the Windows build"
)]
#[inline(always)]
pub fn paged_code() {
    #[cfg(all(target_os = "windows", not(test)))]
    wdk::paged_code!();
}

/// `DbgPrint(format, args...)`: the kernel formats the line, with the format checked against
/// the arguments' types when the driver is compiled (see [`format`] for the conversions).
///
/// `dbg_print!(indented "text", args...)` prints one of the driver's own lines, the ones
/// indented after the prefix ([`format::INDENTED`]): the format is `"%s" "text"` with the
/// prefix as the first argument, so the driver holds the prefix once rather than in every
/// such line.
///
/// ```
/// # use LookasideList::kernel::ffi as sim;
/// # sim::reset(Default::default());
/// let index = 3_u32;
/// LookasideList::dbg_print!("LookasideList: + Entry #%u added\n", index);
/// LookasideList::dbg_print!(indented "Processor %u's list:\n", index);
/// assert_eq!(
///     sim::transcript(),
///     "LookasideList: + Entry #3 added\nLookasideList:   Processor 3's list:\n"
/// );
/// ```
#[macro_export]
macro_rules! dbg_print {
    (indented $format:literal $(, $arg:expr)* $(,)?) => {
        $crate::dbg_print!(
            @checked (::core::concat!("%s", $format)),
            $crate::kernel::format::INDENTED
            $(, $arg)*
        )
    };
    ($format:literal $(, $arg:expr)* $(,)?) => {
        $crate::dbg_print!(@checked ($format) $(, $arg)*)
    };
    (@checked ($($format:tt)*) $(, $arg:expr)*) => {{
        struct Format;
        impl $crate::kernel::format::Format for Format {
            const TEXT: &'static ::core::ffi::CStr =
                $crate::kernel::format::c_string(::core::concat!($($format)*, "\0"));
        }
        $crate::kernel::format::print::<Format, _>(($($arg,)*))
    }};
}

/// Stops the system the way the WDK's list helpers do when a `LIST_ENTRY` no longer points
/// back at its neighbour: continuing would let a corrupted chain write through wild pointers.
pub fn corrupt_list_entry() -> ! {
    /// `FAST_FAIL_CORRUPT_LIST_ENTRY` (winnt.h).
    const FAST_FAIL_CORRUPT_LIST_ENTRY: u32 = 3;
    fail_fast(FAST_FAIL_CORRUPT_LIST_ENTRY)
}

/// Stops the system when a caller breaks a rule that the types cannot express.
///
/// Such as a block pushed onto the chain of another lookaside list, which would later go back
/// to the wrong list. A plain `__fastfail` rather than a panic: the panic machinery would cost
/// the driver more than this call.
#[cold]
pub fn invalid_argument() -> ! {
    /// `FAST_FAIL_INVALID_ARG` (winnt.h).
    const FAST_FAIL_INVALID_ARG: u32 = 5;
    fail_fast(FAST_FAIL_INVALID_ARG)
}

/// `__fastfail(code)`: in the kernel, bugcheck 0x139 `KERNEL_SECURITY_CHECK_FAILURE`.
#[cfg(all(target_os = "windows", not(test)))]
pub fn fail_fast(code: u32) -> ! {
    // SAFETY: `int 0x29` with the code in ecx is the documented __fastfail sequence on x64; it
    // does not return, touches no Rust-visible memory and needs no stack.
    unsafe { core::arch::asm!("int 0x29", in("ecx") code, options(noreturn, nostack)) }
}

/// The simulation's `__fastfail`: a panic the test sees.
///
/// # Panics
/// Always: that is its purpose.
#[cfg(any(test, not(target_os = "windows")))]
pub fn fail_fast(code: u32) -> ! {
    panic!("__fastfail({code}): the kernel would bugcheck 0x139 KERNEL_SECURITY_CHECK_FAILURE")
}

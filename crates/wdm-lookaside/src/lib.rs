//! # wdm-lookaside
//!
//! Safe Rust for three things every Windows kernel driver that recycles fixed-size blocks
//! needs, on Microsoft's `wdk-sys` and `wdk` crates:
//!
//! - [`LookasideList`]: a typed `LOOKASIDE_LIST_EX` whose blocks ([`Block`]) borrow the list
//!   and go back to it when dropped, so the borrow checker proves every block is back before
//!   `ExDeleteLookasideListEx`. One shared list, or one per processor ([`ListMode`]); the
//!   kernel's `ExAllocateFromLookasideListEx`/`ExFreeToLookasideListEx` where it exports them
//!   (Windows 11 22H2 and later), a port of wdm.h's inline bodies where it does not
//!   ([`ApiPath`]), so one driver loads on Windows 10 1507 through Windows 11. Statistics as
//!   WinDbg's `!lookaside` shows them ([`LookasideStats`]); fault injection for tests
//!   ([`ListOptions::fail_allocation_at`]).
//! - [`Chain`]: an intrusive `LIST_ENTRY` chain of such blocks (`InitializeListHead`,
//!   `InsertHeadList`, `RemoveHeadList`, `CONTAINING_RECORD`), whose records are found from
//!   their entry through the [`Linked`] trait.
//! - [`dbg_print!`]: `DbgPrint` with its format checked against the arguments' types at
//!   compile time, without `core::fmt` (see [`mod@format`]).
//!
//! With them, the small kernel wrappers a driver needs: nonpaged and paged pool
//! ([`PoolBox`]), `REG_DWORD` parameters under the service key ([`registry`]), system threads
//! ([`thread`]), the processor count and number ([`processor`]), the performance counter
//! ([`clock`]).
//!
//! ## Backends
//! On a Windows target the crate calls the kernel through `wdk-sys` and `wdk`, and is
//! `no_std`. On any other target, in the crate's own tests, and wherever the `sim` feature is
//! on (a driver enables it from `[dev-dependencies]`), it runs on [`sim`], a simulated kernel
//! that records the `DbgPrint` transcript and checks every pool block and handle, so a
//! driver's unit tests run with plain `cargo test`, and under Miri.
//!
//! ## Example
//! ```
//! use core::mem::offset_of;
//! use core::pin::pin;
//! use wdm_lookaside::{
//!     Chain, ControlBlock, FromZeros, LIST_ENTRY, Linked, ListMode, ListOptions,
//!     LookasideList, dbg_print, pool_tag,
//! };
//!
//! #[repr(C)]
//! struct Request {
//!     id: u32,
//!     entry: LIST_ENTRY,
//! }
//! // SAFETY: `entry` is a LIST_ENTRY field of `Request`.
//! unsafe impl Linked for Request {
//!     const ENTRY_OFFSET: usize = offset_of!(Self, entry);
//! }
//! // SAFETY: an integer and two raw pointers: all-zero bytes are a valid `Request`.
//! unsafe impl FromZeros for Request {}
//!
//! # wdm_lookaside::sim::reset(Default::default());
//! let tag = pool_tag(*b"qeRM");
//! let control = ControlBlock::allocate(ListMode::Shared, tag).expect("nonpaged pool");
//! let list = LookasideList::<Request>::new(control, ListOptions::new(tag))
//!     .unwrap_or_else(|error| panic!("ExInitializeLookasideListEx: {:#X}", error.status));
//! {
//!     let mut chain = pin!(Chain::new(&list));
//!     for id in 1..=3 {
//!         let mut request = list.allocate().expect("a block");
//!         request.id = id;
//!         chain.as_mut().push_front(request);
//!     }
//!     while let Some(request) = chain.as_mut().pop_front() {
//!         dbg_print!("MyDriver: request %u\n", request.id);
//!     } // each block goes back to the list as it is dropped
//! }
//! list.delete().free();
//! # assert_eq!(wdm_lookaside::sim::transcript(), "MyDriver: request 3\nMyDriver: request 2\nMyDriver: request 1\n");
//! # assert!(wdm_lookaside::sim::outstanding_pool_blocks().is_empty());
//! ```
//!
//! Every `unsafe` block of the crate carries a `// SAFETY:` comment naming the invariant it
//! relies on; the crate's tests run under Miri with Stacked and Tree Borrows.

#![cfg_attr(not(any(test, simulated_kernel)), no_std)]

#[cfg(any(test, simulated_kernel))]
pub mod sim;
#[cfg(any(test, simulated_kernel))]
use sim as ffi;
#[cfg(not(any(test, simulated_kernel)))]
mod wdk;
#[cfg(not(any(test, simulated_kernel)))]
use wdk as ffi;

pub mod chain;
pub mod clock;
mod control;
pub mod format;
mod list_ex;
mod lookaside;
mod pool;
#[cfg(any(test, simulated_kernel))]
mod printf;
pub mod processor;
pub mod registry;
mod routines;
pub mod slist;
pub mod thread;

pub use chain::{Chain, Linked};
pub use control::{ControlBlock, ListMode, LookasideControl, STRIDE as LIST_STRIDE};
#[cfg(not(any(test, simulated_kernel)))]
pub use ffi::{DRIVER_OBJECT, UNICODE_STRING};
pub use ffi::{LIST_ENTRY, NTSTATUS, STATUS_DEVICE_CONFIGURATION_ERROR, STATUS_SUCCESS};
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
    #[cfg(not(any(test, simulated_kernel)))]
    ::wdk::paged_code!();
}

/// `DbgPrint(format, args...)`, with the format checked against the arguments' types.
///
/// The kernel formats the line; the check happens when the driver is compiled (see [`mod@format`]
/// for the conversions and the argument types each takes). A format that does not match its
/// arguments does not build.
///
/// `dbg_print!(prefix = PREFIX; "text", args...)` prints `PREFIX` (a `&'static CStr`) before
/// the text, as the `%s` argument of a `"%s" "text"` format: a driver that starts many lines
/// with the same words keeps them once in its image rather than in every format string.
///
/// Callable at any IRQL `DbgPrint` is (up to `DIRQL`); the kernel truncates a line at 512
/// bytes.
///
/// ```
/// # wdm_lookaside::sim::reset(Default::default());
/// use wdm_lookaside::dbg_print;
/// const INDENT: &core::ffi::CStr = c"MyDriver:   ";
///
/// let index = 3_u32;
/// dbg_print!("MyDriver: + Entry #%u added\n", index);
/// dbg_print!(prefix = INDENT; "Processor %u's list:\n", index);
/// assert_eq!(
///     wdm_lookaside::sim::transcript(),
///     "MyDriver: + Entry #3 added\nMyDriver:   Processor 3's list:\n"
/// );
/// ```
#[macro_export]
macro_rules! dbg_print {
    (prefix = $prefix:expr; $format:literal $(, $arg:expr)* $(,)?) => {
        $crate::dbg_print!(@checked (::core::concat!("%s", $format)), $prefix $(, $arg)*)
    };
    ($format:literal $(, $arg:expr)* $(,)?) => {
        $crate::dbg_print!(@checked ($format) $(, $arg)*)
    };
    (@checked ($($format:tt)*) $(, $arg:expr)*) => {{
        struct Format;
        impl $crate::format::Format for Format {
            const TEXT: &'static ::core::ffi::CStr =
                $crate::format::c_string(::core::concat!($($format)*, "\0"));
        }
        $crate::format::print::<Format, _>(($($arg,)*))
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
#[cfg(not(any(test, simulated_kernel)))]
pub fn fail_fast(code: u32) -> ! {
    // SAFETY: `int 0x29` with the code in ecx is the documented __fastfail sequence on x64; it
    // does not return, touches no Rust-visible memory and needs no stack.
    unsafe { core::arch::asm!("int 0x29", in("ecx") code, options(noreturn, nostack)) }
}

/// The simulation's `__fastfail`: a panic the test sees.
///
/// # Panics
/// Always: that is its purpose.
#[cfg(any(test, simulated_kernel))]
pub fn fail_fast(code: u32) -> ! {
    panic!("__fastfail({code}): the kernel would bugcheck 0x139 KERNEL_SECURITY_CHECK_FAILURE")
}

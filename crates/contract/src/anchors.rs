//! Every piece of a line that a tool or a test parses: out of the driver's `DbgPrint` lines,
//! the Wine fixture's, and Wine's own.
//!
//! The driver's format strings are literals (`dbg_print!` checks them at compile time), so
//! they cannot be built from these constants; instead a host test of the driver runs it on the
//! simulated kernel and proves that each of [`DRIVER`] occurs in what it printed, and a unit
//! test of the fixture does the same for [`FIXTURE_LINES`] and its formats.

use core::ffi::CStr;

/// What starts every line of the driver's (the seed's prefix).
pub const PREFIX: &str = "LookasideList: ";
/// What starts the driver's own lines, the ones the seed did not have: the prefix and two
/// spaces. (A C string: the driver passes it to `DbgPrint` as a `%s` argument.)
pub const INDENTED_C: &CStr = c"LookasideList:   ";
/// [`INDENTED_C`] as text.
pub const INDENTED: &str = match INDENTED_C.to_str() {
    Ok(text) => text,
    Err(_) => panic!("ASCII"),
};
/// What starts a line of the statistics block (indented two spaces more).
pub const STATISTICS: &str = "LookasideList:     ";

/// `DriverEntry` starts.
pub const ENTERING: &str = "LookasideList: Entering DriverEntry";
/// `DriverEntry` ends.
pub const LEAVING: &str = "LookasideList: Leaving DriverEntry";
/// A block handed out by the list: the address follows.
pub const BLOCK_ALLOCATED: &str =
    "LookasideList: + Memory block allocated from lookaside list at address ";
/// A block given back to the list: the address, then [`BLOCK_RETURNED_END`].
pub const BLOCK_RETURNED: &str = "LookasideList: - Memory block at address ";
/// The end of a [`BLOCK_RETURNED`] line.
pub const BLOCK_RETURNED_END: &str = " returned to lookaside list";
/// A block allocation failed (the seed's words).
pub const ALLOCATION_FAILED: &str = "Very bad";
/// An entry taken off the chain: `... Entry #<n>` then this.
pub const ENTRY_REMOVED: &str = " removed";
/// Where the drain starts.
pub const DRAIN: &str = "LookasideList: Free the rest";
/// Fault injection, as the driver announces and reports it.
pub const FAULT_INJECTION: &str = "Fault injection: block allocation #";
/// Fault injection asked for past the run's allocations.
pub const NEVER_HAPPENED: &str = "never happened";
/// The per-processor lists' count follows.
pub const PER_PROCESSOR_LISTS: &str = "Per-processor lists: ";
/// Ends the heading of one processor's statistics block.
pub const PROCESSOR_LIST: &str = "'s list:";
/// The routines the list uses: the exported ones.
pub const EXPORTED_PATH: &str = "through the kernel's exported";
/// The routines the list uses: the driver's port.
pub const INLINE_PATH: &str = "through the driver's port of the WDK's inline";
/// The stress run's first line.
pub const STRESS: &str = "Stress: ";
/// The stress run's floor (a bare SList) line: `<name>: <ns> ns per pair`.
pub const STRESS_FLOOR: &str = "Stress slist-floor";
/// The stress run's lookaside line, the path's name follows.
pub const STRESS_LOOKASIDE: &str = "Stress lookaside-";
/// The stress run's pool line.
pub const STRESS_POOL: &str = "Stress pool";
/// Ends the number of a stress timing.
pub const NS_PER_PAIR: &str = " ns per pair";
/// The stress run's hit rate follows, in percent.
pub const STRESS_HIT_RATE: &str = "Stress hit rate: ";
/// The stress run's exact tallies, balanced.
pub const STRESS_BALANCED: &str = "Stress tallies balance:";

/// The driver's anchors that every run, or some run of the host test's, must print.
pub const DRIVER: &[&str] = &[
    PREFIX,
    INDENTED,
    STATISTICS,
    ENTERING,
    LEAVING,
    BLOCK_ALLOCATED,
    BLOCK_RETURNED,
    BLOCK_RETURNED_END,
    ALLOCATION_FAILED,
    ENTRY_REMOVED,
    DRAIN,
    FAULT_INJECTION,
    NEVER_HAPPENED,
    PER_PROCESSOR_LISTS,
    PROCESSOR_LIST,
    EXPORTED_PATH,
    INLINE_PATH,
    STRESS,
    STRESS_FLOOR,
    STRESS_LOOKASIDE,
    STRESS_POOL,
    NS_PER_PAIR,
    STRESS_HIT_RATE,
    STRESS_BALANCED,
];

/// What starts every line of the Wine fixture's.
pub const FIXTURE: &str = "ntoskrnl-fixture: ";
/// What follows [`FIXTURE`] on the fixture's totals lines: the driver's service name.
///
/// It tells a load's totals from those of Wine's own drivers, which other winedevice.exe
/// processes load at the same time.
#[cfg(feature = "std")]
#[must_use]
pub fn fixture_driver(service: &str) -> String {
    format!("driver {service}: ")
}
/// The fixture's exact count over every lookaside list, when the driver's load returns.
pub const FIXTURE_TOTAL: &str = "every lookaside list: ";
/// The fixture's pool balance, when the driver's load returns.
pub const FIXTURE_BALANCE: &str = "pool balance: ";
/// Ends a fixture line that balances.
pub const NONE_OUTSTANDING: &str = " 0 outstanding";
/// The fixture's lines the tools parse, after [`FIXTURE`].
pub const FIXTURE_LINES: &[&str] = &[FIXTURE_TOTAL, FIXTURE_BALANCE, NONE_OUTSTANDING];

/// Wine's line with `DriverEntry`'s status (an error status: the driver did not stay loaded).
pub const WINE_STATUS: &str = "ZwLoadDriver failed to create driver";
/// Wine's prefix of a `DbgPrint` line.
pub const WINE_DBGPRINT: &str = ":warn:debugstr:vDbgPrintExWithPrefix ";

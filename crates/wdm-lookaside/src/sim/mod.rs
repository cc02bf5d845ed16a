//! A simulated Windows kernel for host tests.
//!
//! It provides the routines this crate calls, under their DDK names, so that `cargo test` (and
//! Miri) run the crate's safe layer, and a driver built on it, unchanged on any host.
//!
//! A driver's own unit tests get it by enabling the crate's `sim` feature from
//! `[dev-dependencies]`; the crate's tests and every non-Windows target always have it.
//!
//! The simulation keeps the bookkeeping a kernel would (pool blocks by address and tag, live
//! lookaside lists, open handles), checks every call against it (double free, wrong tag,
//! deleting a list twice: panics), records the `DbgPrint` transcript, and can be told to fail
//! (the n-th pool allocation, a list's initialisation, thread creation), to lack the exports
//! newer kernels have, to have a debugger attached, and which registry parameters the service
//! has ([`Config`]).
//!
//! The routines are `extern "C-unwind"`, so a failed check fails its test instead of aborting
//! the test binary (only the callbacks stored in a list stay `extern "C"`).
//!
//! Each test gets its own simulated kernel ([`reset`]), shared with the system threads the
//! driver starts, so tests run in parallel without seeing each other. Processors are simulated
//! too: how many, which one each thread runs on, and optionally a move to the next one at every
//! `KeGetCurrentProcessorNumberEx`.
//!
//! The routines themselves are the crate's own (the crate calls them as it calls the real
//! kernel); split by subsystem as the real side is: the DDK's structures and constants, pool,
//! SLists, lookaside lists, routine lookup, registry, threads, processors and the clock, and
//! the debugger.
//!
//! ```
//! use wdm_lookaside::sim;
//!
//! sim::reset(sim::Config { processors: 2, ..sim::Config::default() });
//! wdm_lookaside::dbg_print!("MyDriver: %u processors\n", wdm_lookaside::processor::active_count().get());
//! assert_eq!(sim::transcript(), "MyDriver: 2 processors\n");
//! assert!(sim::outstanding_pool_blocks().is_empty());
//! ```

// The DDK's names and prototypes, documented there.
#![allow(
    non_camel_case_types,
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::missing_panics_doc,
    clippy::must_use_candidate
)]

mod debugger;
mod lookaside;
mod pool;
mod processor;
mod registry;
mod routines;
mod slist;
mod thread;
mod types;

use core::ffi::CStr;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::format::Value;

pub(crate) use debugger::{KdRefreshDebuggerNotPresent, dbg_break};
pub(crate) use lookaside::{
    ExDeleteLookasideListEx, ExFlushLookasideListEx, ExInitializeLookasideListEx,
};
pub(crate) use pool::{ExAllocatePoolWithTag, ExFreePoolWithTag};
pub(crate) use processor::{
    KeGetCurrentProcessorNumberEx, KeQueryActiveProcessorCountEx, KeQueryPerformanceCounter,
};
pub use registry::{RegValue, SERVICES, ServiceKey};
pub(crate) use registry::{ZwOpenKey, ZwQueryValueKey};
pub(crate) use routines::MmGetSystemRoutineAddress;
pub(crate) use slist::{ExpInterlockedPopEntrySList, ExpInterlockedPushEntrySList};
pub(crate) use thread::{PsCreateSystemThread, PsTerminateSystemThread, ZwWaitForSingleObject};
pub(crate) use types::*;
// What the crate root re-exports of the DDK, on every backend.
pub use types::{LIST_ENTRY, NTSTATUS, STATUS_DEVICE_CONFIGURATION_ERROR, STATUS_SUCCESS};
// For tests: what a kernel answers.
pub use types::{MAXIMUM_LOOKASIDE_DEPTH, MINIMUM_LOOKASIDE_DEPTH, STATUS_INSUFFICIENT_RESOURCES};

/// What the simulated kernel has and where it fails.
#[derive(Clone, Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent yes/no properties of a kernel"
)]
pub struct Config {
    /// The kernel exports `ExAllocateFromLookasideListEx`/`ExFreeToLookasideListEx` (11 22H2+).
    pub lookaside_exports: bool,
    /// The kernel exports `ExAllocatePool2` (10 2004+).
    pub pool2: bool,
    /// The n-th pool allocation (1-based, any routine) returns NULL.
    pub fail_pool_allocation: Option<u32>,
    /// `ExInitializeLookasideListEx` fails with this status.
    pub fail_init: Option<NTSTATUS>,
    /// `PsCreateSystemThread` fails from this call on (1-based).
    pub fail_thread_creation: Option<u32>,
    /// The service's `Parameters` key and its values; `None`: no such key. (Any service key
    /// under [`SERVICES`] exists, as `DriverEntry`'s registry path does.)
    pub parameters: Option<Vec<(&'static str, RegValue)>>,
    /// A kernel debugger is attached.
    pub debugger: bool,
    /// Active processors (`KeQueryActiveProcessorCountEx`); 0 counts as 1. The thread that
    /// calls `DriverEntry` runs on processor 0, each system thread on the next one, round robin.
    pub processors: u32,
    /// Every `KeGetCurrentProcessorNumberEx` finds the thread on the next processor, cycling
    /// through one index more than `processors` (a processor added after the count was taken),
    /// so that blocks are freed on other processors than they were allocated on.
    pub migrate_every_call: bool,
}

#[derive(Default)]
struct State {
    config: Config,
    transcript: String,
    /// Live pool blocks: address → (size, tag).
    pool: BTreeMap<usize, (usize, u32)>,
    pool_allocations: u32,
    /// Initialised, not yet deleted lookaside lists.
    live_lists: Vec<usize>,
    /// Open handles: 1 the service key, 2 its Parameters key, 100.. threads.
    handles: BTreeMap<usize, Option<JoinHandle<()>>>,
    next_handle: usize,
    thread_creations: u32,
    breakpoints: u32,
    /// `KeGetCurrentProcessorNumberEx` calls so far (for `migrate_every_call`).
    processor_queries: u32,
}

type Shared = Arc<Mutex<State>>;

thread_local! {
    /// The simulated kernel this thread belongs to (its test's, or its creator's).
    static CURRENT: RefCell<Option<Shared>> = const { RefCell::new(None) };
    /// The processor this thread runs on.
    static PROCESSOR: Cell<u32> = const { Cell::new(0) };
}

fn current() -> Shared {
    CURRENT
        .with(|current| current.borrow().clone())
        .expect("sim::reset() was not called on this thread")
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    f(&mut lock(&current()))
}

/// Starts a fresh simulated kernel for this thread (and the threads the driver starts).
pub fn reset(config: Config) {
    let state = State {
        config,
        next_handle: 100,
        ..State::default()
    };
    CURRENT.with(|current| *current.borrow_mut() = Some(Arc::new(Mutex::new(state))));
}

/// The `DbgPrint` output so far.
#[must_use]
pub fn transcript() -> String {
    with_state(|state| state.transcript.clone())
}

/// Pool blocks allocated and not freed: (address, size, tag).
#[must_use]
pub fn outstanding_pool_blocks() -> Vec<(usize, usize, u32)> {
    with_state(|state| state.pool.iter().map(|(&a, &(s, t))| (a, s, t)).collect())
}

/// Lookaside lists initialised and not deleted.
#[must_use]
pub fn live_lookaside_lists() -> usize {
    with_state(|state| state.live_lists.len())
}

/// Handles opened and not closed.
#[must_use]
pub fn open_handles() -> usize {
    with_state(|state| state.handles.len())
}

/// How often `DbgBreakPoint` was called.
#[must_use]
pub fn breakpoints() -> u32 {
    with_state(|state| state.breakpoints)
}

/// `DbgPrint(format, args...)`, formatted as the kernel formats it (see `printf.rs`), appended
/// to the transcript.
///
/// # Safety
/// Every string argument points at a NUL-terminated string that lives across the call.
pub(crate) unsafe fn dbg_print(format: &CStr, args: &[Value]) {
    // SAFETY: as the caller guarantees.
    let line = unsafe { super::printf::format(format, args) };
    with_state(|state| state.transcript.push_str(&line));
}

/// `ZwClose`: closes a registry key or a thread handle (a thread must have been waited for).
pub(crate) unsafe extern "C-unwind" fn ZwClose(Handle: HANDLE) -> NTSTATUS {
    let closed = with_state(|state| state.handles.remove(&Handle.addr()));
    match closed {
        Some(None) => STATUS_SUCCESS,
        Some(Some(_)) => panic!("ZwClose on a thread handle nobody waited for"),
        None => STATUS_INVALID_HANDLE,
    }
}

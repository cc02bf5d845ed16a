//! A host simulation of the kernel routines the driver calls, under their DDK names.
//!
//! `cargo test` builds the driver against this module instead of a real kernel, so the kernel
//! boundary's safe layer, the chain and the scenario run unchanged. The simulation keeps the
//! bookkeeping a kernel would (pool blocks by address and tag, live lookaside lists), checks
//! every call against it (double free, wrong tag, deleting a list twice: panics), records the
//! `DbgPrint` transcript, and can be told to fail (the n-th pool allocation, the list's
//! initialisation, thread creation), to lack the exports newer kernels have, to have a
//! debugger attached, and which registry parameters the service has.
//!
//! The routines are `extern "C-unwind"`, so a failed check fails its test instead of aborting
//! the test binary (only the callbacks stored in a list stay `extern "C"`).
//!
//! Each test gets its own simulated kernel (`reset`), shared with the system threads the driver
//! starts, so tests run in parallel without seeing each other. The SList routines are
//! serialised by a lock (their header halves are atomics, so the depth can be read without it),
//! and the exported lookaside routines bump the list counters with plain increments, as the
//! kernel does. Processors are simulated too: how many, which one each thread runs on, and
//! optionally a move to the next one at every `KeGetCurrentProcessorNumberEx`.

// The DDK's names and prototypes, documented there.
#![allow(
    non_camel_case_types,
    non_snake_case,
    missing_docs,
    clippy::missing_safety_doc,
    clippy::missing_panics_doc,
    clippy::must_use_candidate,
    clippy::pub_underscore_fields,
    clippy::use_self
)]

use core::ffi::{CStr, c_void};
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use super::format::Value;

pub type NTSTATUS = i32;
pub type POOL_TYPE = i32;
/// `ULONG_PTR`-sized, as in the x64 headers (the simulation runs on `x86_64` hosts).
pub type SIZE_T = u64;
pub type HANDLE = *mut c_void;
pub type KEY_VALUE_INFORMATION_CLASS = i32;
pub type PKSTART_ROUTINE = Option<unsafe extern "C" fn(*mut c_void)>;

pub const STATUS_SUCCESS: NTSTATUS = 0;

/// `NT_SUCCESS` (ntdef.h), as the `wdk` crate exports it.
pub const fn nt_success(status: NTSTATUS) -> bool {
    status >= 0
}
pub const STATUS_DEVICE_CONFIGURATION_ERROR: NTSTATUS = 0xC000_0182_u32.cast_signed();
pub const STATUS_PROCEDURE_NOT_FOUND: NTSTATUS = 0xC000_007A_u32.cast_signed();
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32.cast_signed();
pub const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32.cast_signed();
pub const STATUS_BUFFER_OVERFLOW: NTSTATUS = 0x8000_0005_u32.cast_signed();
pub const STATUS_INVALID_HANDLE: NTSTATUS = 0xC000_0008_u32.cast_signed();
pub const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32.cast_signed();
pub const NON_PAGED_POOL_NX: POOL_TYPE = 512;
pub const PAGED_POOL: POOL_TYPE = 1;
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;
pub const POOL_FLAG_PAGED: u64 = 0x100;
pub const OBJ_CASE_INSENSITIVE: u32 = 0x40;
pub const OBJ_KERNEL_HANDLE: u32 = 0x200;
pub const KEY_QUERY_VALUE: u32 = 1;
pub const SYNCHRONIZE: u32 = 0x0010_0000;
pub const REG_DWORD: u32 = 4;
pub const KEY_VALUE_PARTIAL_INFORMATION_CLASS: KEY_VALUE_INFORMATION_CLASS = 2;
/// The simulated performance counter's frequency (10 MHz, as on most Windows machines).
pub const PERFORMANCE_FREQUENCY: i64 = 10_000_000;

/// Windows' initial `Depth` of a new list (`ExMinimumLookasideDepth`).
pub const MINIMUM_LOOKASIDE_DEPTH: u16 = 4;
/// `EX_MAXIMUM_LOOKASIDE_DEPTH_BASE`.
pub const MAXIMUM_LOOKASIDE_DEPTH: u16 = 256;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct LIST_ENTRY {
    pub Flink: *mut LIST_ENTRY,
    pub Blink: *mut LIST_ENTRY,
}

#[repr(C, align(16))]
pub struct SLIST_ENTRY {
    pub Next: *mut SLIST_ENTRY,
}

/// The simulation's own SList header, with the real x64 header's depth field.
///
/// The depth is in the low 16 bits of `Alignment`, as in the real header (the driver's inline
/// `ExQueryDepthSList` reads it); the first entry is in `Region` as a pointer (the real header
/// packs its address into bitfields; only these routines read it, and a pointer keeps its
/// provenance).
#[repr(C, align(16))]
pub struct SLIST_HEADER {
    pub Alignment: u64,
    pub Region: *mut SLIST_ENTRY,
}

#[repr(C)]
pub struct UNICODE_STRING {
    pub Length: u16,
    pub MaximumLength: u16,
    pub Buffer: *mut u16,
}

#[repr(C)]
pub struct OBJECT_ATTRIBUTES {
    pub Length: u32,
    pub RootDirectory: HANDLE,
    pub ObjectName: *mut UNICODE_STRING,
    pub Attributes: u32,
    pub SecurityDescriptor: *mut c_void,
    pub SecurityQualityOfService: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union LARGE_INTEGER {
    pub QuadPart: i64,
}

pub type PALLOCATE_FUNCTION_EX =
    Option<unsafe extern "C" fn(POOL_TYPE, SIZE_T, u32, *mut LOOKASIDE_LIST_EX) -> *mut c_void>;
pub type PFREE_FUNCTION_EX = Option<unsafe extern "C" fn(*mut c_void, *mut LOOKASIDE_LIST_EX)>;

/// `LOOKASIDE_LIST_EX` with the field paths bindgen gives the DDK's anonymous unions.
#[repr(C, align(16))]
pub struct LOOKASIDE_LIST_EX {
    pub L: GENERAL_LOOKASIDE_POOL,
}

#[repr(C, align(16))]
pub struct GENERAL_LOOKASIDE_POOL {
    pub __bindgen_anon_1: ListHeadUnion,
    pub Depth: u16,
    pub MaximumDepth: u16,
    pub TotalAllocates: u32,
    pub __bindgen_anon_2: AllocateMissesUnion,
    pub TotalFrees: u32,
    pub __bindgen_anon_3: FreeMissesUnion,
    pub Type: POOL_TYPE,
    pub Tag: u32,
    pub Size: u32,
    pub __bindgen_anon_4: AllocateExUnion,
    pub __bindgen_anon_5: FreeExUnion,
    pub ListEntry: LIST_ENTRY,
    pub LastTotalAllocates: u32,
    pub __bindgen_anon_6: u32,
    pub Future: [u32; 2],
}
#[repr(C, align(16))]
pub struct ListHeadUnion {
    pub ListHead: SLIST_HEADER,
}
#[repr(C)]
pub struct AllocateMissesUnion {
    pub AllocateMisses: u32,
}
#[repr(C)]
pub struct FreeMissesUnion {
    pub FreeMisses: u32,
}
#[repr(C)]
pub struct AllocateExUnion {
    pub AllocateEx: PALLOCATE_FUNCTION_EX,
}
#[repr(C)]
pub struct FreeExUnion {
    pub FreeEx: PFREE_FUNCTION_EX,
}

/// A registry value under the service's `Parameters` key.
#[derive(Clone, Copy, Debug)]
pub enum RegValue {
    /// `REG_DWORD`.
    Dword(u32),
    /// Any type (the number of `REG_*`, e.g. `REG_SZ` = 1) with this many bytes of data.
    Other(u32, u32),
}

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
    /// The service's `Parameters` key and its values; `None`: no such key.
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

/// Serialises the SList routines across threads, as the real ones are interlocked.
static SLIST_LOCK: Mutex<()> = Mutex::new(());

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

/// `DbgPrint(format, args...)`, formatted as the kernel formats it (see `printf.rs`).
///
/// # Safety
/// Every string argument points at a NUL-terminated string that lives across the call.
pub unsafe fn dbg_print(format: &CStr, args: &[Value]) {
    // SAFETY: as the caller guarantees.
    let line = unsafe { super::printf::format(format, args) };
    with_state(|state| state.transcript.push_str(&line));
}

fn pool_allocate(size: usize, tag: u32, zeroed: bool) -> *mut c_void {
    let fail = with_state(|state| {
        state.pool_allocations += 1;
        state.config.fail_pool_allocation == Some(state.pool_allocations)
    });
    if fail || size == 0 {
        return ptr::null_mut();
    }
    let layout = Layout::from_size_align(size, 16).expect("pool block layout");
    // SAFETY: `layout` has a non-zero size.
    let block = unsafe { std::alloc::alloc(layout) };
    assert!(!block.is_null(), "host out of memory");
    // Uninitialised pool is garbage in the kernel; make reliance on zeroing visible.
    // SAFETY: `block` is `size` writable bytes just allocated.
    unsafe { block.write_bytes(if zeroed { 0 } else { 0xCD }, size) };
    with_state(|state| state.pool.insert(block.addr(), (size, tag)));
    block.cast()
}

pub unsafe extern "C-unwind" fn ExAllocatePoolWithTag(
    PoolType: POOL_TYPE,
    NumberOfBytes: SIZE_T,
    Tag: u32,
) -> *mut c_void {
    assert!(
        PoolType == NON_PAGED_POOL_NX || PoolType == PAGED_POOL,
        "the driver uses NonPagedPoolNx and PagedPool only"
    );
    pool_allocate(usize::try_from(NumberOfBytes).expect("size"), Tag, false)
}

unsafe extern "C" fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void {
    assert!(
        Flags == POOL_FLAG_NON_PAGED || Flags == POOL_FLAG_PAGED,
        "the driver uses POOL_FLAG_NON_PAGED and POOL_FLAG_PAGED only"
    );
    pool_allocate(NumberOfBytes, Tag, true)
}

pub unsafe extern "C-unwind" fn ExFreePoolWithTag(P: *mut c_void, Tag: u32) {
    let (size, tag) = with_state(|state| state.pool.remove(&P.addr()))
        .unwrap_or_else(|| panic!("BAD_POOL_CALLER: {P:p} is not an allocated pool block"));
    assert_eq!(
        tag, Tag,
        "BAD_POOL_CALLER: block {P:p} freed with another tag"
    );
    let layout = Layout::from_size_align(size, 16).expect("pool block layout");
    // SAFETY: the block was allocated by `pool_allocate` with this layout and is freed once.
    unsafe { std::alloc::dealloc(P.cast(), layout) };
}

/// The header's two halves as atomics: drivers may read the depth (the first quadword, as
/// wdm.h's inline `ExQueryDepthSList` does) while another thread pushes.
const fn halves<'a>(head: *mut SLIST_HEADER) -> (&'a AtomicU64, &'a AtomicPtr<SLIST_ENTRY>) {
    let depth = head.wrapping_byte_add(offset_of!(SLIST_HEADER, Alignment));
    let first = head.wrapping_byte_add(offset_of!(SLIST_HEADER, Region));
    // SAFETY: the caller's live, aligned header; both fields are only accessed atomically.
    let depth = unsafe { AtomicU64::from_ptr(depth.cast()) };
    // SAFETY: as above.
    let first = unsafe { AtomicPtr::from_ptr(first.cast()) };
    (depth, first)
}

pub unsafe extern "C-unwind" fn ExpInterlockedPopEntrySList(
    ListHead: *mut SLIST_HEADER,
) -> *mut SLIST_ENTRY {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    // The lock serialises every change of the header.
    let (depth, region) = halves(ListHead);
    let first = region.load(Ordering::Relaxed);
    if !first.is_null() {
        // SAFETY: `first` is an entry pushed onto this list and not popped since.
        region.store(unsafe { (*first).Next }, Ordering::Relaxed);
        depth.fetch_sub(1, Ordering::Relaxed);
    }
    first
}

pub unsafe extern "C-unwind" fn ExpInterlockedPushEntrySList(
    ListHead: *mut SLIST_HEADER,
    ListEntry: *mut SLIST_ENTRY,
) -> *mut SLIST_ENTRY {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    assert!(
        ListEntry.is_aligned(),
        "SList entries must be 16-byte aligned"
    );
    // The lock serialises every change of the header.
    let (depth, region) = halves(ListHead);
    let first = region.load(Ordering::Relaxed);
    // SAFETY: the caller hands over `ListEntry`, an unused block of at least an SLIST_ENTRY.
    unsafe { (*ListEntry).Next = first };
    region.store(ListEntry, Ordering::Relaxed);
    depth.fetch_add(1, Ordering::Relaxed);
    first
}

pub unsafe extern "C-unwind" fn ExQueryDepthSList(ListHead: *mut SLIST_HEADER) -> u16 {
    let (depth, _) = halves(ListHead);
    u16::try_from(depth.load(Ordering::Relaxed) & 0xFFFF).expect("the low 16 bits")
}

unsafe extern "C" fn default_allocate(
    PoolType: POOL_TYPE,
    NumberOfBytes: SIZE_T,
    Tag: u32,
    _Lookaside: *mut LOOKASIDE_LIST_EX,
) -> *mut c_void {
    // SAFETY: forwarding the list's own arguments to the simulated pool.
    unsafe { ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag) }
}

unsafe extern "C" fn default_free(Buffer: *mut c_void, Lookaside: *mut LOOKASIDE_LIST_EX) {
    // SAFETY: the list is live while its blocks are freed.
    let tag = unsafe { (*Lookaside).L.Tag };
    // SAFETY: `Buffer` is a block of this live list, allocated with its tag.
    unsafe { ExFreePoolWithTag(Buffer, tag) };
}

pub unsafe extern "C-unwind" fn ExInitializeLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
    Allocate: PALLOCATE_FUNCTION_EX,
    Free: PFREE_FUNCTION_EX,
    PoolType: POOL_TYPE,
    Flags: u32,
    Size: SIZE_T,
    Tag: u32,
    Depth: u16,
) -> NTSTATUS {
    assert!(
        Lookaside.is_aligned(),
        "LOOKASIDE_LIST_EX must be 16-byte aligned"
    );
    assert_eq!((Flags, Depth), (0, 0), "Flags and Depth are reserved");
    let status = with_state(|state| state.config.fail_init);
    if let Some(status) = status {
        return status;
    }
    let list = LOOKASIDE_LIST_EX {
        L: GENERAL_LOOKASIDE_POOL {
            __bindgen_anon_1: ListHeadUnion {
                ListHead: SLIST_HEADER {
                    Alignment: 0,
                    Region: ptr::null_mut(),
                },
            },
            Depth: MINIMUM_LOOKASIDE_DEPTH,
            MaximumDepth: MAXIMUM_LOOKASIDE_DEPTH,
            TotalAllocates: 0,
            __bindgen_anon_2: AllocateMissesUnion { AllocateMisses: 0 },
            TotalFrees: 0,
            __bindgen_anon_3: FreeMissesUnion { FreeMisses: 0 },
            Type: PoolType,
            Tag,
            Size: u32::try_from(Size.max(size_of::<SLIST_ENTRY>() as SIZE_T)).expect("block size"),
            __bindgen_anon_4: AllocateExUnion {
                AllocateEx: Allocate.or(Some(default_allocate)),
            },
            __bindgen_anon_5: FreeExUnion {
                FreeEx: Free.or(Some(default_free)),
            },
            ListEntry: LIST_ENTRY {
                Flink: ptr::null_mut(),
                Blink: ptr::null_mut(),
            },
            LastTotalAllocates: 0,
            __bindgen_anon_6: 0,
            Future: [0; 2],
        },
    };
    // SAFETY: the caller passes a writable, aligned LOOKASIDE_LIST_EX.
    unsafe { Lookaside.write(list) };
    with_state(|state| state.live_lists.push(Lookaside.addr()));
    STATUS_SUCCESS
}

pub unsafe extern "C-unwind" fn ExDeleteLookasideListEx(Lookaside: *mut LOOKASIDE_LIST_EX) {
    // SAFETY: as the caller's.
    unsafe { ExFlushLookasideListEx(Lookaside) };
    with_state(|state| {
        let index = state.live_lists.iter().position(|&l| l == Lookaside.addr());
        let index = index.expect("ExDeleteLookasideListEx on a list that is not live");
        state.live_lists.swap_remove(index);
    });
}

pub unsafe extern "C-unwind" fn ExFlushLookasideListEx(Lookaside: *mut LOOKASIDE_LIST_EX) {
    let live = with_state(|state| state.live_lists.contains(&Lookaside.addr()));
    assert!(live, "ExFlushLookasideListEx on a list that is not live");
    // No reference to the list: other threads may be using it (its counters, its SList).
    // SAFETY: the list is live, so its header is in place.
    let head = unsafe { &raw mut (*Lookaside).L.__bindgen_anon_1.ListHead };
    // SAFETY: the live list's field, addressed in place.
    let free = unsafe { &raw const (*Lookaside).L.__bindgen_anon_5.FreeEx };
    // SAFETY: FreeEx is written by ExInitializeLookasideListEx only, before the list is shared.
    let free = unsafe { free.read() };
    let free = free.expect("FreeEx");
    loop {
        // SAFETY: the list's own header.
        let entry = unsafe { ExpInterlockedPopEntrySList(head) };
        if entry.is_null() {
            break;
        }
        // SAFETY: each popped entry is a block of this list.
        unsafe { free(entry.cast(), Lookaside) };
    }
}

/// A plain `+= 1` on a counter of a live list, as the kernel does it: approximate when
/// processors race. Every access to the counters while the list lives is atomic (the driver's
/// are too), so it is a relaxed load and store.
///
/// # Safety
/// `counter` is a `ULONG` field of a live list.
unsafe fn plain_increment(counter: *mut u32) {
    // SAFETY: as the caller guarantees; aligned, and only accessed atomically.
    let counter = unsafe { AtomicU32::from_ptr(counter) };
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

// The kernel's exported allocate/free pair, written from their documentation (Microsoft
// Learn, "ExAllocateFromLookasideListEx", "ExFreeToLookasideListEx", "Using Lookaside Lists")
// rather than from the driver's port of wdm.h's inline bodies, so that the tests comparing
// the two paths compare two implementations. Fields are reached by name through the list
// pointer, never through a reference to the list (other threads update it), and never by the
// offsets the port uses.

/// `ExAllocateFromLookasideListEx`: an entry the list holds, or, when it holds none, a new
/// one from the list's `AllocateEx` routine; counts the allocation (and the miss).
unsafe extern "C" fn ExAllocateFromLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
) -> *mut c_void {
    // Every field below is the live list's own, initialised by ExInitializeLookasideListEx,
    // and addressed in place.
    // SAFETY: see above.
    let list = unsafe { &raw mut (*Lookaside).L };
    // SAFETY: see above.
    let total_allocates = unsafe { &raw mut (*list).TotalAllocates };
    // SAFETY: a counter of the live list.
    unsafe { plain_increment(total_allocates) };
    // SAFETY: see above.
    let head = unsafe { &raw mut (*list).__bindgen_anon_1.ListHead };
    // SAFETY: the header of the list's SList.
    let entry = unsafe { ExpInterlockedPopEntrySList(head) };
    if !entry.is_null() {
        return entry.cast();
    }
    // SAFETY: see above.
    let misses = unsafe { &raw mut (*list).__bindgen_anon_2.AllocateMisses };
    // SAFETY: a counter of the live list.
    unsafe { plain_increment(misses) };
    // The four fields below are written by ExInitializeLookasideListEx only, before the list
    // was shared.
    // SAFETY: see above.
    let allocate = unsafe { (*list).__bindgen_anon_4.AllocateEx };
    // SAFETY: see above.
    let pool_type = unsafe { (*list).Type };
    // SAFETY: see above.
    let size = unsafe { (*list).Size };
    // SAFETY: see above.
    let tag = unsafe { (*list).Tag };
    let allocate = allocate.expect("ExInitializeLookasideListEx stores an AllocateEx");
    // SAFETY: the list's allocate routine, with its own pool type, size and tag.
    unsafe { allocate(pool_type, SIZE_T::from(size), tag, Lookaside) }
}

/// `ExFreeToLookasideListEx`: the entry goes onto the list, or, when the list already holds
/// `Depth` entries, to the list's `FreeEx` routine; counts the free (and the miss).
unsafe extern "C" fn ExFreeToLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
    Entry: *mut c_void,
) {
    // As in ExAllocateFromLookasideListEx: the live list's own fields, in place.
    // SAFETY: see above.
    let list = unsafe { &raw mut (*Lookaside).L };
    // SAFETY: see above.
    let total_frees = unsafe { &raw mut (*list).TotalFrees };
    // SAFETY: a counter of the live list.
    unsafe { plain_increment(total_frees) };
    // SAFETY: see above.
    let head = unsafe { &raw mut (*list).__bindgen_anon_1.ListHead };
    // SAFETY: the list's own header.
    let entries = unsafe { ExQueryDepthSList(head) };
    // The simulation never retunes Depth after initialisation.
    // SAFETY: see above.
    let depth = unsafe { (*list).Depth };
    if entries < depth {
        // SAFETY: `Entry` is a block of this list that its caller no longer uses.
        unsafe { ExpInterlockedPushEntrySList(head, Entry.cast()) };
        return;
    }
    // SAFETY: see above.
    let misses = unsafe { &raw mut (*list).__bindgen_anon_3.FreeMisses };
    // SAFETY: a counter of the live list.
    unsafe { plain_increment(misses) };
    // SAFETY: see above; written by ExInitializeLookasideListEx only.
    let free = unsafe { (*list).__bindgen_anon_5.FreeEx };
    let free = free.expect("ExInitializeLookasideListEx stores a FreeEx");
    // SAFETY: the list's free routine, with one of its blocks.
    unsafe { free(Entry, Lookaside) };
}

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
            (0, SERVICE_KEY) => 1,
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

/// The service key the simulated kernel has (what `DriverEntry`'s `RegistryPath` names).
pub const SERVICE_KEY: &str = r"\Registry\Machine\System\CurrentControlSet\Services\LookasideList";

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
    // SAFETY: as above; at most `Length` bytes.
    unsafe { ptr::copy_nonoverlapping(info.as_ptr(), KeyValueInformation.cast(), copied) };
    if fits {
        STATUS_SUCCESS
    } else {
        STATUS_BUFFER_OVERFLOW
    }
}

pub unsafe extern "C-unwind" fn ZwClose(Handle: HANDLE) -> NTSTATUS {
    let closed = with_state(|state| state.handles.remove(&Handle.addr()));
    match closed {
        Some(None) => STATUS_SUCCESS,
        Some(Some(_)) => panic!("ZwClose on a thread handle nobody waited for"),
        None => STATUS_INVALID_HANDLE,
    }
}

struct SendPtr(*mut c_void);
// SAFETY: the driver's thread context, used by the one thread it is for.
unsafe impl Send for SendPtr {}

pub unsafe extern "C-unwind" fn PsCreateSystemThread(
    ThreadHandle: *mut HANDLE,
    DesiredAccess: u32,
    ObjectAttributes: *mut OBJECT_ATTRIBUTES,
    ProcessHandle: HANDLE,
    ClientId: *mut c_void,
    StartRoutine: PKSTART_ROUTINE,
    StartContext: *mut c_void,
) -> NTSTATUS {
    assert_eq!(DesiredAccess, SYNCHRONIZE);
    assert!(ProcessHandle.is_null() && ClientId.is_null());
    // SAFETY: the caller passes valid attributes.
    let attributes = unsafe { (*ObjectAttributes).Attributes };
    assert_ne!(attributes & OBJ_KERNEL_HANDLE, 0, "kernel handles only");
    let shared = current();
    let fail = {
        let mut state = lock(&shared);
        state.thread_creations += 1;
        state
            .config
            .fail_thread_creation
            .is_some_and(|n| state.thread_creations >= n)
    };
    if fail {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let routine = StartRoutine.expect("StartRoutine");
    let context = SendPtr(StartContext);
    let for_thread = Arc::clone(&shared);
    let processor = {
        let state = lock(&shared);
        state.thread_creations % state.config.processors.max(1)
    };
    let thread = std::thread::spawn(move || {
        let context = context;
        CURRENT.with(|current| *current.borrow_mut() = Some(for_thread));
        PROCESSOR.set(processor);
        // SAFETY: the driver's routine with the driver's context.
        unsafe { routine(context.0) };
    });
    let mut state = lock(&shared);
    let handle = state.next_handle;
    state.next_handle += 1;
    state.handles.insert(handle, Some(thread));
    drop(state);
    // SAFETY: a valid out pointer.
    unsafe { ThreadHandle.write(ptr::without_provenance_mut(handle)) };
    STATUS_SUCCESS
}

pub const unsafe extern "C-unwind" fn PsTerminateSystemThread(_ExitStatus: NTSTATUS) -> NTSTATUS {
    // A real system thread ends here; the simulated one returns from its routine next.
    STATUS_SUCCESS
}

pub unsafe extern "C-unwind" fn ZwWaitForSingleObject(
    Handle: HANDLE,
    Alertable: u8,
    Timeout: *mut LARGE_INTEGER,
) -> NTSTATUS {
    assert_eq!(Alertable, 0);
    assert!(Timeout.is_null());
    let thread = with_state(|state| state.handles.get_mut(&Handle.addr()).and_then(Option::take));
    let thread = thread.expect("waiting on a thread handle that is not open or already waited for");
    thread.join().expect("a driver thread panicked");
    // The handle stays open until ZwClose, as in the kernel.
    with_state(|state| state.handles.insert(Handle.addr(), None));
    STATUS_SUCCESS
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub unsafe extern "C-unwind" fn KeQueryPerformanceCounter(
    PerformanceFrequency: *mut LARGE_INTEGER,
) -> LARGE_INTEGER {
    if !PerformanceFrequency.is_null() {
        let frequency = LARGE_INTEGER {
            QuadPart: PERFORMANCE_FREQUENCY,
        };
        // SAFETY: a valid out pointer.
        unsafe { PerformanceFrequency.write(frequency) };
    }
    let ns = EPOCH.get_or_init(Instant::now).elapsed().as_nanos();
    LARGE_INTEGER {
        QuadPart: i64::try_from(ns / 100).expect("ticks fit"),
    }
}

/// `ALL_PROCESSOR_GROUPS`.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

#[repr(C)]
pub struct PROCESSOR_NUMBER {
    pub Group: u16,
    pub Number: u8,
    pub Reserved: u8,
}

pub unsafe extern "C-unwind" fn KeQueryActiveProcessorCountEx(GroupNumber: u16) -> u32 {
    assert_eq!(
        GroupNumber, ALL_PROCESSOR_GROUPS,
        "the driver counts every group"
    );
    with_state(|state| state.config.processors.max(1))
}

pub unsafe extern "C-unwind" fn KeGetCurrentProcessorNumberEx(
    ProcNumber: *mut PROCESSOR_NUMBER,
) -> u32 {
    assert!(ProcNumber.is_null(), "the driver asks for the index only");
    let migrated = with_state(|state| {
        if !state.config.migrate_every_call {
            return None;
        }
        state.processor_queries = state.processor_queries.wrapping_add(1);
        Some(state.processor_queries % (state.config.processors.max(1) + 1))
    });
    migrated.unwrap_or_else(|| PROCESSOR.get())
}

pub unsafe extern "C-unwind" fn KdRefreshDebuggerNotPresent() -> u8 {
    u8::from(!with_state(|state| state.config.debugger))
}

/// The `wdk` crate's `dbg_break` (`__debugbreak`): counted, and without a debugger a failure.
pub fn dbg_break() {
    let attached = with_state(|state| {
        state.breakpoints += 1;
        state.config.debugger
    });
    assert!(
        attached,
        "DbgBreakPoint without a kernel debugger: KMODE_EXCEPTION_NOT_HANDLED"
    );
}

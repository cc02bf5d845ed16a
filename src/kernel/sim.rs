//! A host simulation of the kernel routines the driver calls, under their DDK names.
//!
//! `cargo test` builds the driver against this module instead of a real kernel, so the kernel
//! boundary's safe layer, the chain and the scenario run unchanged. The simulation keeps the
//! bookkeeping a kernel would (pool blocks by address and tag, live lookaside lists), checks
//! every call against it (double free, wrong tag, deleting a list twice: panics), records the
//! `DbgPrint` transcript, and can be told to fail: the n-th pool allocation, the k-th lookaside
//! allocation, the list's initialisation, or to lack the exports newer kernels have.
//!
//! State is per test thread, so tests run in parallel without seeing each other; the SList
//! operations are also serialised by a lock, as the real ones are interlocked.

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

use core::ffi::c_void;
use core::fmt;
use core::ptr;
use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

pub type NTSTATUS = i32;
pub type POOL_TYPE = i32;

pub const STATUS_SUCCESS: NTSTATUS = 0;
pub const STATUS_DEVICE_CONFIGURATION_ERROR: NTSTATUS = 0xC000_0182_u32.cast_signed();
pub const STATUS_PROCEDURE_NOT_FOUND: NTSTATUS = 0xC000_007A_u32.cast_signed();
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32.cast_signed();
pub const NON_PAGED_POOL_NX: POOL_TYPE = 512;
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;

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

/// The simulation's own SList header: the depth in `Alignment`, the first entry in `Region`
/// (the real x64 header packs both into bitfields; only these routines read it).
#[repr(C, align(16))]
pub struct SLIST_HEADER {
    pub Alignment: u64,
    pub Region: u64,
}

#[repr(C)]
pub struct UNICODE_STRING {
    pub Length: u16,
    pub MaximumLength: u16,
    pub Buffer: *mut u16,
}

pub type PALLOCATE_FUNCTION_EX =
    Option<unsafe extern "C" fn(POOL_TYPE, usize, u32, *mut LOOKASIDE_LIST_EX) -> *mut c_void>;
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

/// What the simulated kernel has and where it fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    /// The kernel exports `ExAllocateFromLookasideListEx`/`ExFreeToLookasideListEx` (11 22H2+).
    pub lookaside_exports: bool,
    /// The kernel exports `ExAllocatePool2` (10 2004+).
    pub pool2: bool,
    /// The n-th pool allocation (1-based, any routine) returns NULL.
    pub fail_pool_allocation: Option<u32>,
    /// The k-th `ExAllocateFromLookasideListEx` (1-based) finds the list and the pool empty.
    pub fail_lookaside_allocation: Option<u32>,
    /// `ExInitializeLookasideListEx` fails with this status.
    pub fail_init: Option<NTSTATUS>,
}

#[derive(Default)]
struct State {
    config: Config,
    transcript: String,
    /// Live pool blocks: address → (size, tag).
    pool: BTreeMap<usize, (usize, u32)>,
    pool_allocations: u32,
    lookaside_allocations: u32,
    /// Initialised, not yet deleted lookaside lists.
    live_lists: Vec<usize>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Serialises the SList routines across threads, as the real ones are interlocked.
static SLIST_LOCK: Mutex<()> = Mutex::new(());

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|state| f(&mut state.borrow_mut()))
}

/// Starts a fresh simulated kernel on this thread.
///
/// # Panics
/// If the previous run left pool blocks or lookaside lists behind (a leak the test missed).
pub fn reset(config: Config) {
    with_state(|state| {
        *state = State {
            config,
            ..State::default()
        };
    });
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

/// `DbgPrint("%s", text)`.
pub fn debug_print(args: fmt::Arguments<'_>) {
    with_state(|state| {
        state
            .transcript
            .write_fmt(args)
            .expect("String never fails");
    });
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
    with_state(|state| state.pool.insert(block as usize, (size, tag)));
    block.cast()
}

pub unsafe extern "C" fn ExAllocatePoolWithTag(
    PoolType: POOL_TYPE,
    NumberOfBytes: usize,
    Tag: u32,
) -> *mut c_void {
    assert_eq!(
        PoolType, NON_PAGED_POOL_NX,
        "the driver only uses NonPagedPoolNx"
    );
    pool_allocate(NumberOfBytes, Tag, false)
}

unsafe extern "C" fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void {
    assert_eq!(
        Flags, POOL_FLAG_NON_PAGED,
        "the driver only uses POOL_FLAG_NON_PAGED"
    );
    pool_allocate(NumberOfBytes, Tag, true)
}

pub unsafe extern "C" fn ExFreePoolWithTag(P: *mut c_void, Tag: u32) {
    let (size, tag) = with_state(|state| state.pool.remove(&(P as usize)))
        .unwrap_or_else(|| panic!("BAD_POOL_CALLER: {P:p} is not an allocated pool block"));
    assert_eq!(
        tag, Tag,
        "BAD_POOL_CALLER: block {P:p} freed with another tag"
    );
    let layout = Layout::from_size_align(size, 16).expect("pool block layout");
    // SAFETY: the block was allocated by `pool_allocate` with this layout and is freed once.
    unsafe { std::alloc::dealloc(P.cast(), layout) };
}

pub unsafe extern "C" fn ExpInterlockedPopEntrySList(
    ListHead: *mut SLIST_HEADER,
) -> *mut SLIST_ENTRY {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    // SAFETY: the caller passes a live header; the lock serialises access to it.
    let head = unsafe { &mut *ListHead };
    let first = head.Region as *mut SLIST_ENTRY;
    if !first.is_null() {
        // SAFETY: `first` is an entry pushed onto this list and not popped since.
        head.Region = unsafe { (*first).Next } as u64;
        head.Alignment -= 1;
    }
    first
}

pub unsafe extern "C" fn ExpInterlockedPushEntrySList(
    ListHead: *mut SLIST_HEADER,
    ListEntry: *mut SLIST_ENTRY,
) -> *mut SLIST_ENTRY {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    assert!(
        ListEntry.is_aligned(),
        "SList entries must be 16-byte aligned"
    );
    // SAFETY: the caller passes a live header; the lock serialises access to it.
    let head = unsafe { &mut *ListHead };
    let first = head.Region as *mut SLIST_ENTRY;
    // SAFETY: the caller hands over `ListEntry`, an unused block of at least an SLIST_ENTRY.
    unsafe { (*ListEntry).Next = first };
    head.Region = ListEntry as u64;
    head.Alignment += 1;
    first
}

pub unsafe extern "C" fn ExQueryDepthSList(ListHead: *mut SLIST_HEADER) -> u16 {
    let _guard = SLIST_LOCK.lock().expect("SList lock");
    // SAFETY: the caller passes a live header.
    u16::try_from(unsafe { (*ListHead).Alignment }).expect("depth fits a USHORT")
}

unsafe extern "C" fn default_allocate(
    PoolType: POOL_TYPE,
    NumberOfBytes: usize,
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

pub unsafe extern "C" fn ExInitializeLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
    Allocate: PALLOCATE_FUNCTION_EX,
    Free: PFREE_FUNCTION_EX,
    PoolType: POOL_TYPE,
    Flags: u32,
    Size: usize,
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
                    Region: 0,
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
            Size: u32::try_from(Size.max(size_of::<SLIST_ENTRY>())).expect("block size"),
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
    with_state(|state| state.live_lists.push(Lookaside as usize));
    STATUS_SUCCESS
}

pub unsafe extern "C" fn ExDeleteLookasideListEx(Lookaside: *mut LOOKASIDE_LIST_EX) {
    with_state(|state| {
        let index = state
            .live_lists
            .iter()
            .position(|&l| l == Lookaside as usize);
        let index = index.expect("ExDeleteLookasideListEx on a list that is not live");
        state.live_lists.swap_remove(index);
    });
    // SAFETY: the list is live, so its fields are initialised.
    let list = unsafe { &mut (*Lookaside).L };
    let head = &raw mut list.__bindgen_anon_1.ListHead;
    let free = list.__bindgen_anon_5.FreeEx.expect("FreeEx");
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

/// The kernel's exported `ExAllocateFromLookasideListEx` (Windows 11 22H2 and later).
unsafe extern "C" fn ExAllocateFromLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
) -> *mut c_void {
    let fail = with_state(|state| {
        state.lookaside_allocations += 1;
        state.config.fail_lookaside_allocation == Some(state.lookaside_allocations)
    });
    // SAFETY: the caller passes a live, initialised list; the simulation is single-threaded
    // per list outside the SList routines.
    let list = unsafe { &mut (*Lookaside).L };
    list.TotalAllocates += 1;
    if fail {
        list.__bindgen_anon_2.AllocateMisses += 1;
        return ptr::null_mut();
    }
    // SAFETY: the list's own header.
    let entry = unsafe { ExpInterlockedPopEntrySList(&raw mut list.__bindgen_anon_1.ListHead) };
    if !entry.is_null() {
        return entry.cast();
    }
    list.__bindgen_anon_2.AllocateMisses += 1;
    let allocate = list.__bindgen_anon_4.AllocateEx.expect("AllocateEx");
    // SAFETY: the list's own allocate routine with its own parameters.
    unsafe { allocate(list.Type, list.Size as usize, list.Tag, Lookaside) }
}

/// The kernel's exported `ExFreeToLookasideListEx` (Windows 11 22H2 and later).
unsafe extern "C" fn ExFreeToLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
    Entry: *mut c_void,
) {
    // SAFETY: as in `ExAllocateFromLookasideListEx`.
    let list = unsafe { &mut (*Lookaside).L };
    list.TotalFrees += 1;
    let head = &raw mut list.__bindgen_anon_1.ListHead;
    // SAFETY: the list's own header.
    if unsafe { ExQueryDepthSList(head) } >= list.Depth {
        list.__bindgen_anon_3.FreeMisses += 1;
        let free = list.__bindgen_anon_5.FreeEx.expect("FreeEx");
        // SAFETY: the list's own free routine with one of its blocks.
        unsafe { free(Entry, Lookaside) };
    } else {
        // SAFETY: `Entry` is an unused block of this list.
        unsafe { ExpInterlockedPushEntrySList(head, Entry.cast()) };
    }
}

pub unsafe extern "C" fn MmGetSystemRoutineAddress(
    SystemRoutineName: *mut UNICODE_STRING,
) -> *mut c_void {
    // SAFETY: the caller passes a valid counted string.
    let name = unsafe { &*SystemRoutineName };
    // SAFETY: `Buffer` holds `Length` bytes of UTF-16.
    let name = unsafe { std::slice::from_raw_parts(name.Buffer, usize::from(name.Length) / 2) };
    let name = String::from_utf16(name).expect("routine names are ASCII");
    let config = with_state(|state| state.config);
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

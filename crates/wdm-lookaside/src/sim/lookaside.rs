//! `LOOKASIDE_LIST_EX`: initialisation, flush and delete (exported by every kernel since
//! Vista), and the allocate/free pair that only Windows 11 22H2 and later export.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::pool::{ExAllocatePoolWithTag, ExFreePoolWithTag};
use super::slist::{ExQueryDepthSList, ExpInterlockedPopEntrySList, ExpInterlockedPushEntrySList};
use super::types::{
    AllocateExUnion, AllocateMissesUnion, FreeExUnion, FreeMissesUnion, GENERAL_LOOKASIDE_POOL,
    LIST_ENTRY, LOOKASIDE_LIST_EX, ListHeadUnion, MAXIMUM_LOOKASIDE_DEPTH, MINIMUM_LOOKASIDE_DEPTH,
    NTSTATUS, PALLOCATE_FUNCTION_EX, PFREE_FUNCTION_EX, POOL_TYPE, SIZE_T, SLIST_ENTRY,
    SLIST_HEADER, STATUS_SUCCESS,
};
use super::with_state;

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
///
/// # Safety
/// `Lookaside` is live: initialised by `ExInitializeLookasideListEx` and not yet deleted.
pub(super) unsafe extern "C" fn ExAllocateFromLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
) -> *mut c_void {
    // SAFETY: `Lookaside` is live (the precondition), so its `L` is in place; `&raw` makes no
    // reference to memory other threads update.
    let list = unsafe { &raw mut (*Lookaside).L };
    // SAFETY: `list` is the live list's `L`; a field addressed in place.
    let total_allocates = unsafe { &raw mut (*list).TotalAllocates };
    // SAFETY: a `ULONG` counter of the live list.
    unsafe { plain_increment(total_allocates) };
    // SAFETY: `list` is the live list's `L`; a field addressed in place.
    let head = unsafe { &raw mut (*list).__bindgen_anon_1.ListHead };
    // SAFETY: the header of the live list's SList.
    let entry = unsafe { ExpInterlockedPopEntrySList(head) };
    if !entry.is_null() {
        return entry.cast();
    }
    // SAFETY: `list` is the live list's `L`; a field addressed in place.
    let misses = unsafe { &raw mut (*list).__bindgen_anon_2.AllocateMisses };
    // SAFETY: a `ULONG` counter of the live list.
    unsafe { plain_increment(misses) };
    let (allocate, pool_type, size, tag) = (
        // SAFETY: a field of the live list's `L` that only ExInitializeLookasideListEx
        // writes, before the list was shared: no write races this read.
        unsafe { (*list).__bindgen_anon_4.AllocateEx },
        // SAFETY: written by ExInitializeLookasideListEx only, as `AllocateEx`.
        unsafe { (*list).Type },
        // SAFETY: written by ExInitializeLookasideListEx only, as `AllocateEx`.
        unsafe { (*list).Size },
        // SAFETY: written by ExInitializeLookasideListEx only, as `AllocateEx`.
        unsafe { (*list).Tag },
    );
    let allocate = allocate.expect("ExInitializeLookasideListEx stores an AllocateEx");
    // SAFETY: the live list's allocate routine, with its own pool type, size and tag.
    unsafe { allocate(pool_type, SIZE_T::from(size), tag, Lookaside) }
}

/// `ExFreeToLookasideListEx`: the entry goes onto the list, or, when the list already holds
/// `Depth` entries, to the list's `FreeEx` routine; counts the free (and the miss).
///
/// # Safety
/// `Lookaside` is live (as for `ExAllocateFromLookasideListEx`), and `Entry` is a block of it
/// that its caller no longer uses.
pub(super) unsafe extern "C" fn ExFreeToLookasideListEx(
    Lookaside: *mut LOOKASIDE_LIST_EX,
    Entry: *mut c_void,
) {
    // SAFETY: `Lookaside` is live (the precondition), so its `L` is in place; `&raw` makes no
    // reference to memory other threads update.
    let list = unsafe { &raw mut (*Lookaside).L };
    // SAFETY: `list` is the live list's `L`; a field addressed in place.
    let total_frees = unsafe { &raw mut (*list).TotalFrees };
    // SAFETY: a `ULONG` counter of the live list.
    unsafe { plain_increment(total_frees) };
    // SAFETY: `list` is the live list's `L`; a field addressed in place.
    let head = unsafe { &raw mut (*list).__bindgen_anon_1.ListHead };
    // SAFETY: the header of the live list's SList.
    let entries = unsafe { ExQueryDepthSList(head) };
    // SAFETY: a field of the live list's `L` that only ExInitializeLookasideListEx writes (the
    // simulation never retunes `Depth`): no write races this read.
    let depth = unsafe { (*list).Depth };
    if entries < depth {
        // SAFETY: `Entry` is a block of this list that its caller no longer uses (the
        // precondition), pushed onto the list's own header.
        unsafe { ExpInterlockedPushEntrySList(head, Entry.cast()) };
        return;
    }
    // SAFETY: `list` is the live list's `L`; a field addressed in place.
    let misses = unsafe { &raw mut (*list).__bindgen_anon_3.FreeMisses };
    // SAFETY: a `ULONG` counter of the live list.
    unsafe { plain_increment(misses) };
    // SAFETY: written by ExInitializeLookasideListEx only, before the list was shared.
    let free = unsafe { (*list).__bindgen_anon_5.FreeEx };
    let free = free.expect("ExInitializeLookasideListEx stores a FreeEx");
    // SAFETY: the live list's free routine, with one of its blocks (the precondition).
    unsafe { free(Entry, Lookaside) };
}

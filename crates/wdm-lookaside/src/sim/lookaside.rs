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
pub(super) unsafe extern "C" fn ExAllocateFromLookasideListEx(
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
pub(super) unsafe extern "C" fn ExFreeToLookasideListEx(
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

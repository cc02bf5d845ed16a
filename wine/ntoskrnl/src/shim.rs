//! The DLL itself: the added lookaside routines, the counting pool wrappers, the processor
//! number without a system call, the entry point.
//!
//! build.rs exports these functions and forwards every other ntoskrnl name to `wntoskrnl.dll`.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_void};
use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::accounting::{self, PoolBalance};

mod processor;

type NtStatus = i32;
/// `POOL_TYPE`, a C enum.
type PoolType = i32;

const STATUS_SUCCESS: NtStatus = 0;
const STATUS_INVALID_PARAMETER: NtStatus = 0xC000_000D_u32.cast_signed();
const DLL_PROCESS_ATTACH: u32 = 1;
/// `ExMinimumLookasideDepth`: the depth Windows gives every new list.
const MINIMUM_LOOKASIDE_DEPTH: u16 = 4;
/// `EX_MAXIMUM_LOOKASIDE_DEPTH_BASE`.
const MAXIMUM_LOOKASIDE_DEPTH: u16 = 256;
/// The bug-check code of a panic, as wdk-panic's ("RPNC").
const PANIC_BUG_CHECK: u32 = 0x5250_4E43;

/// `SLIST_HEADER` on x64; only Wine's `SList` routines read or change it.
#[repr(C, align(16))]
struct SlistHeader {
    alignment: u64,
    region: u64,
}

/// `PROCESSOR_NUMBER`.
/// `UNICODE_STRING`: a counted UTF-16 string.
#[repr(C)]
pub struct UnicodeString {
    length: u16,
    maximum_length: u16,
    buffer: *const u16,
}

#[repr(C)]
pub struct ProcessorNumber {
    group: u16,
    number: u8,
    reserved: u8,
}

/// `LIST_ENTRY`.
#[repr(C)]
struct ListEntry {
    flink: *mut Self,
    blink: *mut Self,
}

/// `PALLOCATE_FUNCTION_EX`.
type AllocateFunctionEx =
    unsafe extern "system" fn(PoolType, usize, u32, *mut LookasideListEx) -> *mut c_void;
/// `PFREE_FUNCTION_EX`.
type FreeFunctionEx = unsafe extern "system" fn(*mut c_void, *mut LookasideListEx);

/// `LOOKASIDE_LIST_EX` (`GENERAL_LOOKASIDE_POOL`) on x64. The fields that change after
/// initialization are atomics or in an `UnsafeCell`, so a shared reference to a live list is sound
/// while other threads use it.
#[repr(C)]
pub struct LookasideListEx {
    list_head: UnsafeCell<SlistHeader>,
    depth: u16,
    maximum_depth: u16,
    total_allocates: AtomicU32,
    allocate_misses: AtomicU32,
    total_frees: AtomicU32,
    free_misses: AtomicU32,
    pool_type: PoolType,
    tag: u32,
    size: u32,
    allocate_ex: AllocateFunctionEx,
    free_ex: FreeFunctionEx,
    list_entry: ListEntry,
    last_total_allocates: u32,
    last_allocate_misses: u32,
    /// wdm.h's `Future[2]`, reserved for the kernel, which the fixture is: its exact count of
    /// the blocks its `ExAllocateFromLookasideListEx` handed out and its
    /// `ExFreeToLookasideListEx` took back (interlocked, unlike the list's own counters;
    /// modulo 2^32, so their difference is exact).
    handed_out: AtomicU32,
    taken_back: AtomicU32,
}

// wdm.h's GENERAL_LOOKASIDE_LAYOUT on x64.
const _: () = {
    assert!(size_of::<LookasideListEx>() == 0x60);
    assert!(align_of::<LookasideListEx>() == 16);
    assert!(offset_of!(LookasideListEx, depth) == 0x10);
    assert!(offset_of!(LookasideListEx, maximum_depth) == 0x12);
    assert!(offset_of!(LookasideListEx, total_allocates) == 0x14);
    assert!(offset_of!(LookasideListEx, allocate_misses) == 0x18);
    assert!(offset_of!(LookasideListEx, total_frees) == 0x1C);
    assert!(offset_of!(LookasideListEx, free_misses) == 0x20);
    assert!(offset_of!(LookasideListEx, pool_type) == 0x24);
    assert!(offset_of!(LookasideListEx, tag) == 0x28);
    assert!(offset_of!(LookasideListEx, size) == 0x2C);
    assert!(offset_of!(LookasideListEx, allocate_ex) == 0x30);
    assert!(offset_of!(LookasideListEx, free_ex) == 0x38);
    assert!(offset_of!(LookasideListEx, list_entry) == 0x40);
    assert!(offset_of!(LookasideListEx, last_total_allocates) == 0x50);
    assert!(offset_of!(LookasideListEx, last_allocate_misses) == 0x54);
    assert!(offset_of!(LookasideListEx, handed_out) == 0x58);
};

// Wine's routines, imported from wntoskrnl.dll (build.rs makes the import library).
unsafe extern "system" {
    fn ExAllocatePool(pool_type: PoolType, size: usize) -> *mut c_void;
    fn ExAllocatePoolWithTag(pool_type: PoolType, size: usize, tag: u32) -> *mut c_void;
    fn ExFreePool(block: *mut c_void);
    fn ExFreePoolWithTag(block: *mut c_void, tag: u32);
    fn ExpInterlockedPopEntrySList(head: *mut SlistHeader) -> *mut c_void;
    fn ExpInterlockedPushEntrySList(head: *mut SlistHeader, entry: *mut c_void) -> *mut c_void;
    fn KeGetCurrentProcessorNumberEx(number: *mut ProcessorNumber) -> u32;
    fn ZwLoadDriver(service_name: *const UnicodeString) -> NtStatus;
    fn KeBugCheckEx(
        code: u32,
        parameter1: usize,
        parameter2: usize,
        parameter3: usize,
        parameter4: usize,
    );
}

unsafe extern "C" {
    fn DbgPrint(format: *const c_char, ...) -> u32;
}

/// The pool blocks of this process that went through the wrappers below.
static POOL: PoolBalance = PoolBalance::new();

/// The blocks every deleted list handed out and took back through the exported routines,
/// summed at each deletion. Per list the two need not match (with per-processor lists a block
/// handed out by one list may be freed to another); over every list they must.
static LISTS_HANDED_OUT: AtomicU64 = AtomicU64::new(0);
static LISTS_TAKEN_BACK: AtomicU64 = AtomicU64::new(0);

/// `ExInitializeLookasideListEx`, as Windows: depth 4, no dynamic depth adjustment.
///
/// # Safety
/// `lookaside` is NULL or points to 0x60 writable bytes that hold no list in use. `allocate` and
/// `free`, if given, are routines with the `PALLOCATE_FUNCTION_EX` / `PFREE_FUNCTION_EX` contract.
#[unsafe(export_name = "ExInitializeLookasideListEx")]
pub unsafe extern "system" fn initialize_lookaside_list_ex(
    lookaside: *mut LookasideListEx,
    allocate: Option<AllocateFunctionEx>,
    free: Option<FreeFunctionEx>,
    pool_type: PoolType,
    flags: u32,
    size: usize,
    tag: u32,
    _depth: u16,
) -> NtStatus {
    if lookaside.is_null() || !lookaside.is_aligned() || !accounting::flags_are_valid(flags) {
        return STATUS_INVALID_PARAMETER;
    }
    let Some(size) = accounting::entry_size(size) else {
        return STATUS_INVALID_PARAMETER;
    };
    // Windows links ListEntry into its global list of lookaside lists; an empty, self-linked entry
    // keeps it a valid list entry.
    let list_entry = lookaside
        .wrapping_byte_add(offset_of!(LookasideListEx, list_entry))
        .cast::<ListEntry>();
    let list = LookasideListEx {
        // InitializeSListHead: both halves zero.
        list_head: UnsafeCell::new(SlistHeader {
            alignment: 0,
            region: 0,
        }),
        depth: MINIMUM_LOOKASIDE_DEPTH,
        maximum_depth: MAXIMUM_LOOKASIDE_DEPTH,
        total_allocates: AtomicU32::new(0),
        allocate_misses: AtomicU32::new(0),
        total_frees: AtomicU32::new(0),
        free_misses: AtomicU32::new(0),
        pool_type,
        tag,
        size,
        // As Windows, the defaults are stored, so the inline list routines in drivers find them.
        allocate_ex: allocate.unwrap_or(default_allocate),
        free_ex: free.unwrap_or(default_free),
        list_entry: ListEntry {
            flink: list_entry,
            blink: list_entry,
        },
        last_total_allocates: 0,
        last_allocate_misses: 0,
        handed_out: AtomicU32::new(0),
        taken_back: AtomicU32::new(0),
    };
    // SAFETY: the caller hands over 0x60 writable bytes at `lookaside`, checked non-NULL and
    // aligned above.
    unsafe { lookaside.write(list) };
    STATUS_SUCCESS
}

/// The entries an SList holds, as the kernel reads them (and wdm.h's inline
/// `ExQueryDepthSList`): the header's first quadword masked with `0xFFFF`, without a call,
/// read at the width of the header's own accesses (a 2-byte atomic read of it would be a
/// mixed-size access).
fn depth(head: &UnsafeCell<SlistHeader>) -> u16 {
    // SAFETY: the first quadword of the initialized, 16-byte aligned header; Wine's pushes and
    // pops change the header only with interlocked (atomic) 16-byte exchanges.
    let alignment =
        unsafe { AtomicU64::from_ptr(head.get().cast::<u64>()) }.load(Ordering::Relaxed);
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the low 16 bits: the depth"
    )]
    let depth = (alignment & 0xFFFF) as u16;
    depth
}

/// A counter's plain increment, as Windows does it (`+= 1`, no interlocked instruction): when
/// processors race on one list an increment may be lost, so the counters are approximate under
/// concurrency, as on Windows. The fixture's exact accounting is the pool balance.
fn bump(counter: &AtomicU32) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// `ExAllocateFromLookasideListEx`: the body of wdm.h's inline version.
///
/// # Safety
/// `lookaside` is a list initialized by `ExInitializeLookasideListEx` and not yet deleted.
#[unsafe(export_name = "ExAllocateFromLookasideListEx")]
pub unsafe extern "system" fn allocate_from_lookaside_list_ex(
    lookaside: *mut LookasideListEx,
) -> *mut c_void {
    // SAFETY: the caller passes an initialized, live list; its mutable fields are atomics or
    // behind an UnsafeCell, so sharing it with other threads is sound.
    let list = unsafe { &*lookaside };
    bump(&list.total_allocates);
    // SAFETY: `list_head` is the list's initialized SLIST_HEADER; Wine pops atomically.
    let mut entry = unsafe { ExpInterlockedPopEntrySList(list.list_head.get()) };
    if entry.is_null() {
        bump(&list.allocate_misses);
        // SAFETY: `allocate_ex` is the driver's PALLOCATE_FUNCTION_EX or `default_allocate`,
        // called with the list's own parameters as wdm.h does.
        entry =
            unsafe { (list.allocate_ex)(list.pool_type, list.size as usize, list.tag, lookaside) };
    }
    if !entry.is_null() {
        list.handed_out.fetch_add(1, Ordering::Relaxed);
    }
    entry
}

/// `ExFreeToLookasideListEx`: the body of wdm.h's inline version.
///
/// # Safety
/// `lookaside` is a list initialized by `ExInitializeLookasideListEx` and not yet deleted, and
/// `entry` a block of at least its entry size that the caller no longer uses.
#[unsafe(export_name = "ExFreeToLookasideListEx")]
pub unsafe extern "system" fn free_to_lookaside_list_ex(
    lookaside: *mut LookasideListEx,
    entry: *mut c_void,
) {
    // SAFETY: as in `allocate_from_lookaside_list_ex`.
    let list = unsafe { &*lookaside };
    bump(&list.total_frees);
    list.taken_back.fetch_add(1, Ordering::Relaxed);
    let held = depth(&list.list_head);
    if accounting::frees_to_routine(held, list.depth) {
        bump(&list.free_misses);
        // SAFETY: `free_ex` is the driver's PFREE_FUNCTION_EX or `default_free`, given an entry
        // the list handed out.
        unsafe { (list.free_ex)(entry, lookaside) };
    } else {
        // SAFETY: the caller gives up `entry`, which is large enough for the SList link.
        unsafe { ExpInterlockedPushEntrySList(list.list_head.get(), entry) };
    }
}

/// `ExFlushLookasideListEx`: frees every held entry with the list's `FreeEx` routine.
///
/// # Safety
/// As `ExAllocateFromLookasideListEx`.
#[unsafe(export_name = "ExFlushLookasideListEx")]
pub unsafe extern "system" fn flush_lookaside_list_ex(lookaside: *mut LookasideListEx) {
    // SAFETY: the caller's contract is this function's.
    unsafe { flush(lookaside) };
}

/// `ExDeleteLookasideListEx`: flushes the list and reports what it flushed and the fixture's
/// exact count of the blocks its routines handed out and took back (the list's own counters
/// are approximate when threads race, so no block count is derived from them).
///
/// # Safety
/// As `ExAllocateFromLookasideListEx`; the list is not used afterwards.
#[unsafe(export_name = "ExDeleteLookasideListEx")]
pub unsafe extern "system" fn delete_lookaside_list_ex(lookaside: *mut LookasideListEx) {
    // SAFETY: the caller's contract is this function's.
    let flushed = unsafe { flush(lookaside) };
    // SAFETY: as in `allocate_from_lookaside_list_ex`; the list is still initialized.
    let list = unsafe { &*lookaside };
    let handed_out = list.handed_out.load(Ordering::Relaxed);
    let taken_back = list.taken_back.load(Ordering::Relaxed);
    // SAFETY: a NUL-terminated format whose conversions match the arguments' types.
    unsafe {
        DbgPrint(
            c"ntoskrnl-fixture: lookaside list %p deleted: %u pool blocks flushed; %u blocks handed out and %u taken back through ExAllocateFromLookasideListEx/ExFreeToLookasideListEx\n"
                .as_ptr(),
            lookaside,
            flushed,
            handed_out,
            taken_back,
        )
    };
    LISTS_HANDED_OUT.fetch_add(u64::from(handed_out), Ordering::Relaxed);
    LISTS_TAKEN_BACK.fetch_add(u64::from(taken_back), Ordering::Relaxed);
}

/// Pops every entry of the list and gives it to `FreeEx`; returns how many there were.
///
/// # Safety
/// As `ExAllocateFromLookasideListEx`.
unsafe fn flush(lookaside: *mut LookasideListEx) -> u32 {
    // SAFETY: as in `allocate_from_lookaside_list_ex`.
    let list = unsafe { &*lookaside };
    let mut flushed = 0_u32;
    loop {
        // SAFETY: `list_head` is the list's initialized SLIST_HEADER.
        let entry = unsafe { ExpInterlockedPopEntrySList(list.list_head.get()) };
        if entry.is_null() {
            return flushed;
        }
        // SAFETY: `entry` came off the list, so the list's FreeEx routine owns freeing it.
        unsafe { (list.free_ex)(entry, lookaside) };
        flushed = flushed.wrapping_add(1);
    }
}

/// The `AllocateEx` routine of a list initialized without one: pool, as Windows.
unsafe extern "system" fn default_allocate(
    pool_type: PoolType,
    size: usize,
    tag: u32,
    _lookaside: *mut LookasideListEx,
) -> *mut c_void {
    // SAFETY: the pool allocator has no preconditions beyond its arguments.
    unsafe { allocate_pool_with_tag(pool_type, size, tag) }
}

/// The `FreeEx` routine of a list initialized without one: pool, as Windows.
unsafe extern "system" fn default_free(entry: *mut c_void, _lookaside: *mut LookasideListEx) {
    // SAFETY: the list's entries come from `default_allocate`, i.e. from pool.
    unsafe { free_pool(entry) };
}

/// `ExAllocatePoolWithTag`, counted.
///
/// # Safety
/// Wine's `ExAllocatePoolWithTag` contract.
#[unsafe(export_name = "fixture_ExAllocatePoolWithTag")]
pub unsafe extern "system" fn allocate_pool_with_tag(
    pool_type: PoolType,
    size: usize,
    tag: u32,
) -> *mut c_void {
    // SAFETY: the caller's arguments, passed on unchanged.
    let block = unsafe { ExAllocatePoolWithTag(pool_type, size, tag) };
    POOL.record_allocation(block.cast_const().cast());
    block
}

/// `ExAllocatePool`, counted.
///
/// # Safety
/// Wine's `ExAllocatePool` contract.
#[unsafe(export_name = "fixture_ExAllocatePool")]
pub unsafe extern "system" fn allocate_pool(pool_type: PoolType, size: usize) -> *mut c_void {
    // SAFETY: the caller's arguments, passed on unchanged.
    let block = unsafe { ExAllocatePool(pool_type, size) };
    POOL.record_allocation(block.cast_const().cast());
    block
}

/// `ExFreePool`, counted.
///
/// # Safety
/// Wine's `ExFreePool` contract: `block` is a pool block the caller no longer uses.
#[unsafe(export_name = "fixture_ExFreePool")]
pub unsafe extern "system" fn free_pool(block: *mut c_void) {
    POOL.record_free(block.cast_const().cast());
    // SAFETY: the caller's argument, passed on unchanged.
    unsafe { ExFreePool(block) };
}

/// `ExFreePoolWithTag`, counted.
///
/// # Safety
/// Wine's `ExFreePoolWithTag` contract: `block` is a pool block the caller no longer uses.
#[unsafe(export_name = "fixture_ExFreePoolWithTag")]
pub unsafe extern "system" fn free_pool_with_tag(block: *mut c_void, tag: u32) {
    POOL.record_free(block.cast_const().cast());
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { ExFreePoolWithTag(block, tag) };
}

/// `ZwLoadDriver`, which winedevice.exe calls to load a driver: Wine's, then this process's
/// totals, in the loading thread, as soon as the driver's `DriverEntry` has returned (Wine
/// unloads a driver whose `DriverEntry` failed before `ZwLoadDriver` returns).
///
/// The totals are reported here rather than when the process ends: how and when winedevice.exe
/// ends is up to services.exe, and an exit that runs no `DLL_PROCESS_DETACH` (a process
/// terminated from outside), or no exit at all (a STOP control that never came), left a load
/// without its totals (docs/linux.md, "When a load ends").
///
/// # Safety
/// As Wine's: `service_name` points to a valid `UNICODE_STRING`.
#[unsafe(export_name = "fixture_ZwLoadDriver")]
pub unsafe extern "system" fn load_driver(service_name: *const UnicodeString) -> NtStatus {
    // SAFETY: the caller's argument, passed on unchanged.
    let status = unsafe { ZwLoadDriver(service_name) };
    // SAFETY: the caller's valid UNICODE_STRING (Wine's ZwLoadDriver read it too).
    let name = unsafe { &*service_name };
    let units = if name.buffer.is_null() {
        &[][..]
    } else {
        // SAFETY: `buffer` holds `length` bytes of UTF-16, valid for the call.
        unsafe { core::slice::from_raw_parts(name.buffer, usize::from(name.length) / 2) }
    };
    print_totals(units);
    status
}

/// Prints this process's totals, the lookaside lists' and the pool's, naming the driver whose
/// load just returned by its service (the last component of `key`).
fn print_totals(key: &[u16]) {
    let (start, length) = accounting::service_name(key);
    let service = key[start..].as_ptr();
    let length = i32::try_from(length).unwrap_or(0);
    let handed_out = LISTS_HANDED_OUT.load(Ordering::Relaxed);
    let taken_back = LISTS_TAKEN_BACK.load(Ordering::Relaxed);
    // SAFETY: a NUL-terminated format whose conversions match the arguments: a character count
    // and that many UTF-16 units for `%.*ws`, then three 64-bit numbers.
    unsafe {
        DbgPrint(
            accounting::TOTAL_FORMAT.as_ptr(),
            length,
            service,
            handed_out,
            taken_back,
            accounting::outstanding(handed_out, taken_back),
        )
    };
    let (allocated, freed, outstanding) = POOL.snapshot();
    // SAFETY: a NUL-terminated format whose conversions match the arguments: a character count
    // and that many UTF-16 units for `%.*ws`, then three 64-bit numbers.
    unsafe {
        DbgPrint(
            accounting::BALANCE_FORMAT.as_ptr(),
            length,
            service,
            allocated,
            freed,
            outstanding,
        )
    };
}

/// The DLL entry point: picks how to read the processor number when the process starts. (The
/// totals are reported when a driver's load returns: [`load_driver`].)
#[unsafe(no_mangle)]
pub extern "system" fn fixture_dll_main(
    _module: *mut c_void,
    reason: u32,
    _reserved: *mut c_void,
) -> i32 {
    if reason == DLL_PROCESS_ATTACH {
        processor::choose_processor_number_source();
    }
    1
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: plain integer arguments; Wine's KeBugCheckEx reports the code and ends the process.
    unsafe { KeBugCheckEx(PANIC_BUG_CHECK, 0, 0, 0, 0) };
    loop {
        core::hint::spin_loop();
    }
}

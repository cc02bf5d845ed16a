//! One `LOOKASIDE_LIST_EX`, by address: the fields the driver reads, the counters, and the
//! port of wdm.h's inline `ExAllocateFromLookasideListEx` / `ExFreeToLookasideListEx`.
//!
//! The kernel bumps the four counters with plain `+= 1`, not interlocked instructions: they
//! are statistics, and when processors race on one list an increment can be lost, so on
//! Windows they are approximate under concurrency. The port does the same. In Rust a racing
//! plain write is undefined behaviour, so each is a relaxed atomic load and store: the same two
//! `mov`s, no locked instruction. What must be exact (the stress run's balance, leak accounting)
//! is counted where it is exact, not here.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::offset_of;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

use super::ffi::{self, LOOKASIDE_LIST_EX};

/// Byte offsets of the `GENERAL_LOOKASIDE_POOL` fields the driver touches, taken from the
/// bindings so that both real backends and the simulation agree with the headers' layout.
mod field {
    use super::{LOOKASIDE_LIST_EX, offset_of};
    pub const LIST_HEAD: usize = offset_of!(LOOKASIDE_LIST_EX, L.__bindgen_anon_1.ListHead);
    pub const DEPTH: usize = offset_of!(LOOKASIDE_LIST_EX, L.Depth);
    pub const MAXIMUM_DEPTH: usize = offset_of!(LOOKASIDE_LIST_EX, L.MaximumDepth);
    pub const TOTAL_ALLOCATES: usize = offset_of!(LOOKASIDE_LIST_EX, L.TotalAllocates);
    pub const ALLOCATE_MISSES: usize =
        offset_of!(LOOKASIDE_LIST_EX, L.__bindgen_anon_2.AllocateMisses);
    pub const TOTAL_FREES: usize = offset_of!(LOOKASIDE_LIST_EX, L.TotalFrees);
    pub const FREE_MISSES: usize = offset_of!(LOOKASIDE_LIST_EX, L.__bindgen_anon_3.FreeMisses);
    pub const TYPE: usize = offset_of!(LOOKASIDE_LIST_EX, L.Type);
    pub const TAG: usize = offset_of!(LOOKASIDE_LIST_EX, L.Tag);
    pub const SIZE: usize = offset_of!(LOOKASIDE_LIST_EX, L.Size);
    pub const ALLOCATE_EX: usize = offset_of!(LOOKASIDE_LIST_EX, L.__bindgen_anon_4.AllocateEx);
    pub const FREE_EX: usize = offset_of!(LOOKASIDE_LIST_EX, L.__bindgen_anon_5.FreeEx);
}

/// The counters WinDbg's `!lookaside` shows, read from a `LOOKASIDE_LIST_EX` (or, for a set of
/// per-processor lists, summed over them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookasideStats {
    /// Blocks kept on the list now (`ExQueryDepthSList` of its `ListHead`).
    pub current_depth: u32,
    /// `L.Depth`: how many blocks the list may keep (tuned by the kernel once a second).
    pub depth: u32,
    /// `L.MaximumDepth`.
    pub maximum_depth: u32,
    /// `L.TotalAllocates`.
    pub total_allocates: u32,
    /// `L.AllocateMisses`: allocations the list could not serve, passed on to `AllocateEx`.
    pub allocate_misses: u32,
    /// `L.TotalFrees`.
    pub total_frees: u32,
    /// `L.FreeMisses`: frees that found the list full and went to `FreeEx`.
    pub free_misses: u32,
    /// `L.Type`, the `POOL_TYPE` of the blocks.
    pub pool_type: u32,
    /// `L.Tag`.
    pub tag: u32,
    /// `L.Size`, the block size in bytes.
    pub size: u32,
}

/// An initialised, live `LOOKASIDE_LIST_EX` for `'a`.
#[derive(Clone, Copy)]
pub struct ListEx<'a> {
    list: NonNull<LOOKASIDE_LIST_EX>,
    _live: PhantomData<&'a LOOKASIDE_LIST_EX>,
}

impl ListEx<'_> {
    /// # Safety
    /// `list` was initialised by `ExInitializeLookasideListEx` and is not deleted while the
    /// result is used.
    pub const unsafe fn new(list: NonNull<LOOKASIDE_LIST_EX>) -> Self {
        Self {
            list,
            _live: PhantomData,
        }
    }

    /// The list's address (what the kernel's routines and `!lookaside` take).
    pub const fn as_ptr(self) -> *mut LOOKASIDE_LIST_EX {
        self.list.as_ptr()
    }

    /// Port of wdm.h's inline `ExAllocateFromLookasideListEx`.
    #[inline]
    pub fn allocate_inline(self) -> *mut c_void {
        self.bump(field::TOTAL_ALLOCATES);
        let entry = self.pop();
        if !entry.is_null() {
            return entry;
        }
        self.bump(field::ALLOCATE_MISSES);
        self.allocate_ex()
    }

    /// The miss path: the list's `AllocateEx` with its own `Type`, `Size` and `Tag`, as the
    /// header calls it.
    #[cold]
    fn allocate_ex(self) -> *mut c_void {
        // ExInitializeLookasideListEx stores the system's routine where it is given NULL, so a
        // NULL here is not an initialised list: stop, as the header's unconditional call would.
        let Some(allocate_ex) = self.read::<ffi::PALLOCATE_FUNCTION_EX>(field::ALLOCATE_EX) else {
            super::invalid_argument()
        };
        let pool_type = self.read::<ffi::POOL_TYPE>(field::TYPE);
        let size = self.read::<u32>(field::SIZE);
        let tag = self.read::<u32>(field::TAG);
        // SAFETY: AllocateEx is the routine ExInitializeLookasideListEx stored (the system's
        // default or the driver's); it is called with the list's own Type, Size and Tag.
        unsafe { allocate_ex(pool_type, ffi::SIZE_T::from(size), tag, self.as_ptr()) }
    }

    /// Port of wdm.h's inline `ExFreeToLookasideListEx`.
    #[inline]
    pub fn free_inline(self, entry: *mut c_void) {
        self.bump(field::TOTAL_FREES);
        if self.current_depth() >= self.depth() {
            self.bump(field::FREE_MISSES);
            self.free_ex(entry);
        } else {
            // SAFETY: `entry` is a block of this list, at least SLIST_ENTRY-sized and 16-byte
            // aligned (pool block), no longer used by anyone; the push is interlocked.
            unsafe { ffi::ExpInterlockedPushEntrySList(self.list_head(), entry.cast()) };
        }
    }

    #[cold]
    fn free_ex(self, entry: *mut c_void) {
        // As for AllocateEx: never NULL in an initialised list.
        let Some(free_ex) = self.read::<ffi::PFREE_FUNCTION_EX>(field::FREE_EX) else {
            super::invalid_argument()
        };
        // SAFETY: FreeEx is the list's own free routine and `entry` one of its blocks.
        unsafe { free_ex(entry, self.as_ptr()) };
    }

    /// Takes one block off the list's SList, or NULL when it holds none.
    pub fn pop(self) -> *mut c_void {
        // SAFETY: ListHead of a live, initialised list; the pop is interlocked.
        unsafe { ffi::ExpInterlockedPopEntrySList(self.list_head()) }.cast()
    }

    /// `ExFlushLookasideListEx`: every block the list keeps goes to its `FreeEx`.
    pub fn flush(self) {
        // SAFETY: the list is initialised and live; flushing is allowed at any time.
        unsafe { ffi::ExFlushLookasideListEx(self.as_ptr()) };
    }

    /// The list's counters, for a `!lookaside`-style report.
    pub fn stats(self) -> LookasideStats {
        let mut stats = LookasideStats::default();
        self.add_stats_to(&mut stats);
        stats
    }

    /// Adds the list's counters to `sum` (wrapping, as the counters do) and sets its kind (pool
    /// type, tag, size): `sum` over a set of lists of the same kind is what the set counts.
    // Out of line, accumulating in place: one small copy serves a list's report and the sum
    // over a set (a smaller driver).
    #[inline(never)]
    pub fn add_stats_to(self, sum: &mut LookasideStats) {
        let add = |total: &mut u32, value: u32| *total = total.wrapping_add(value);
        add(&mut sum.current_depth, self.current_depth().into());
        add(&mut sum.depth, self.depth().into());
        add(
            &mut sum.maximum_depth,
            self.half(field::MAXIMUM_DEPTH)
                .load(Ordering::Relaxed)
                .into(),
        );
        add(&mut sum.total_allocates, self.word(field::TOTAL_ALLOCATES));
        add(&mut sum.allocate_misses, self.word(field::ALLOCATE_MISSES));
        add(&mut sum.total_frees, self.word(field::TOTAL_FREES));
        add(&mut sum.free_misses, self.word(field::FREE_MISSES));
        sum.pool_type = self.read::<u32>(field::TYPE);
        sum.tag = self.read::<u32>(field::TAG);
        sum.size = self.read::<u32>(field::SIZE);
    }

    /// wdm.h's inline `ExQueryDepthSList` (x64, outside `_NTDDK_`): the header's first
    /// quadword (`Alignment`) masked with `0xFFFF`, read without a call (nor an import: the
    /// statistics read it this way too). The pushes and pops change the header with interlocked
    /// exchanges of both quadwords, so a relaxed 8-byte atomic read of the first sees a value it
    /// had; read at that width, as the header's other accesses are (a 2-byte read of an 8-byte
    /// atomic would be a mixed-size access, which Rust's memory model does not define).
    fn current_depth(self) -> u16 {
        let alignment = self.list_head().cast::<u64>();
        // SAFETY: the first quadword of the live list's 16-byte aligned SLIST_HEADER, only
        // changed by the kernel's interlocked (atomic) updates while the list exists.
        let alignment = unsafe { AtomicU64::from_ptr(alignment) }.load(Ordering::Relaxed);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the low 16 bits: the depth"
        )]
        let depth = (alignment & 0xFFFF) as u16;
        depth
    }

    fn depth(self) -> u16 {
        // The kernel retunes Depth once a second from another thread: read it atomically.
        self.half(field::DEPTH).load(Ordering::Relaxed)
    }

    const fn list_head(self) -> *mut ffi::SLIST_HEADER {
        self.as_ptr().wrapping_byte_add(field::LIST_HEAD).cast()
    }

    /// A counter's value now.
    fn word(self, offset: usize) -> u32 {
        self.counter(offset).load(Ordering::Relaxed)
    }

    /// A plain increment, as the kernel's (see the module's note).
    fn bump(self, offset: usize) {
        let counter = self.counter(offset);
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    const fn counter<'c>(self, offset: usize) -> &'c AtomicU32 {
        let field = self.as_ptr().wrapping_byte_add(offset).cast::<u32>();
        // SAFETY: a 4-byte aligned ULONG field inside the live control block; every access to
        // it while the list exists is atomic (ours here; the kernel's are plain word accesses,
        // which x64 performs atomically) and the reference does not outlive the list's use.
        unsafe { AtomicU32::from_ptr(field) }
    }

    const fn half<'c>(self, offset: usize) -> &'c AtomicU16 {
        let field = self.as_ptr().wrapping_byte_add(offset).cast::<u16>();
        // SAFETY: a 2-byte aligned USHORT field inside the live control block, as `counter`.
        unsafe { AtomicU16::from_ptr(field) }
    }

    /// Reads a field the kernel writes only in `ExInitializeLookasideListEx`.
    const fn read<F: Copy>(self, offset: usize) -> F {
        let field = self.as_ptr().wrapping_byte_add(offset).cast::<F>();
        // SAFETY: `offset` is that of an `F` field of the live, initialised control block.
        unsafe { field.read() }
    }
}

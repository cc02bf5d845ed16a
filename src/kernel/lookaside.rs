//! `LOOKASIDE_LIST_EX` behind a safe type whose blocks return themselves when dropped.
//!
//! `ExAllocateFromLookasideListEx` and `ExFreeToLookasideListEx` are inline functions in every
//! WDK header before 10.0.22621 and kernel exports only since Windows 11 22H2. The list uses the
//! exports where the running kernel has them and otherwise this module's port of the header's
//! inline body, so the same driver loads from Windows 10 1507 to the newest Windows 11.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::offset_of;
use core::num::NonZeroU32;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};

use super::ffi::{self, LOOKASIDE_LIST_EX, NTSTATUS};
use super::pool::{PoolBox, PoolKind};
use super::routines::{AllocateFromLookaside, FreeToLookaside, Routines};

/// Which implementation of the allocate/free pair the list uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiPath {
    /// The kernel's exports where it has them, the inline port otherwise.
    Auto,
    /// The kernel's exports (where they are missing, the inline port: see
    /// [`LookasideList::uses_exports`]).
    Exported,
    /// The driver's port of the WDK header's inline functions.
    Inline,
}

/// The counters WinDbg's `!lookaside` shows, read from the `LOOKASIDE_LIST_EX` itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookasideStats {
    /// Blocks kept on the list now (`ExQueryDepthSList` of its `ListHead`).
    pub current_depth: u16,
    /// `L.Depth`: how many blocks the list may keep (tuned by the kernel once a second).
    pub depth: u16,
    /// `L.MaximumDepth`.
    pub maximum_depth: u16,
    /// `L.TotalAllocates`.
    pub total_allocates: u32,
    /// `L.AllocateMisses`: allocations the list could not serve, passed on to the pool.
    pub allocate_misses: u32,
    /// `L.TotalFrees`.
    pub total_frees: u32,
    /// `L.FreeMisses`: frees that found the list full and went back to the pool.
    pub free_misses: u32,
    /// `L.Type`, the `POOL_TYPE` of the blocks.
    pub pool_type: u32,
    /// `L.Tag`.
    pub tag: u32,
    /// `L.Size`, the block size in bytes.
    pub size: u32,
}

/// Byte offsets of the `GENERAL_LOOKASIDE_POOL` fields the inline port touches, taken from the
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

/// The lookaside control block: the kernel's `LOOKASIDE_LIST_EX`, then the driver's context.
///
/// The allocate callback finds the context from the list pointer it receives
/// (`CONTAINING_RECORD`, the pattern the `ExInitializeLookasideListEx` documentation shows).
/// Allocated from nonpaged pool whatever the blocks' pool, as Microsoft requires.
#[repr(C)]
pub struct LookasideControl {
    list: LOOKASIDE_LIST_EX,
    /// Set just before the allocation that fault injection makes fail.
    fail_next: AtomicBool,
}

/// How a [`LookasideList`] is set up.
#[derive(Clone, Copy, Debug)]
pub struct ListOptions {
    /// The blocks' pool.
    pub pool: PoolKind,
    /// The blocks' pool tag.
    pub tag: u32,
    /// Exported routines or the inline port.
    pub path: ApiPath,
    /// Fault injection: make this allocation (1-based) fail. Only then does the list get an
    /// allocate callback; otherwise it has the system's (NULL callbacks, the fast path).
    pub fail_allocation_at: Option<NonZeroU32>,
}

/// A lookaside list of `T`-sized blocks.
///
/// The control structure lives in a [`PoolBox`] and never moves, because the kernel links it
/// into its own list of lookaside lists. Blocks borrow the list, so the borrow checker proves
/// that every block is back before [`LookasideList::delete`] runs.
pub struct LookasideList<T> {
    control: PoolBox<LookasideControl>,
    allocate_export: Option<AllocateFromLookaside>,
    free_export: Option<FreeToLookaside>,
    fail_allocation_at: Option<NonZeroU32>,
    allocations: AtomicU32,
    failed_allocations: AtomicU32,
    _blocks: PhantomData<T>,
}

// SAFETY: the list is built for concurrent use: the kernel's routines and the inline port are
// interlocked, and the wrapper's own state is atomic.
unsafe impl<T: Send> Sync for LookasideList<T> {}

/// Why a list could not be created; the control block comes back for the caller to free.
pub struct InitError {
    /// What `ExInitializeLookasideListEx` returned.
    pub status: NTSTATUS,
    /// The untouched control block.
    pub control: PoolBox<LookasideControl>,
}

impl<T> LookasideList<T> {
    /// `ExInitializeLookasideListEx` over `control`: blocks of `size_of::<T>()` bytes, with
    /// the system's own allocate and free routines (NULL callbacks, the fast path Microsoft
    /// recommends) unless fault injection is asked for.
    ///
    /// # Errors
    /// The status of a failed initialisation, with the control block returned unchanged.
    pub fn new(
        control: PoolBox<LookasideControl>,
        options: ListOptions,
    ) -> Result<Self, InitError> {
        const {
            // A free block holds an SLIST_ENTRY while it waits on the list.
            assert!(size_of::<T>() >= size_of::<ffi::SLIST_ENTRY>());
            // Blocks come from the pool, 16-byte aligned on x64.
            assert!(align_of::<T>() <= 16);
        }
        let routines = Routines::resolve();
        let (allocate_export, free_export) = match options.path {
            ApiPath::Inline => (None, None),
            ApiPath::Auto | ApiPath::Exported => {
                (routines.allocate_from_lookaside, routines.free_to_lookaside)
            }
        };
        let allocate: ffi::PALLOCATE_FUNCTION_EX = match options.fail_allocation_at {
            Some(_) => Some(fault_injecting_allocate),
            None => None,
        };
        let context = control.as_ptr();
        let flag = context.wrapping_byte_add(offset_of!(LookasideControl, fail_next));
        // SAFETY: the block is ours alone; the flag is written before the list exists.
        unsafe { flag.cast::<AtomicBool>().write(AtomicBool::new(false)) };
        // SAFETY: `control` is a nonpaged, 16-byte aligned block holding a LOOKASIDE_LIST_EX
        // that nothing else uses; the callbacks are NULL (the pool) or ours, whose prototype
        // matches; Flags and Depth are the documented zeros.
        let status = unsafe {
            ffi::ExInitializeLookasideListEx(
                context.cast(),
                allocate,
                None,
                options.pool.pool_type(),
                0,
                size_of::<T>() as _,
                options.tag,
                0,
            )
        };
        if status < 0 {
            return Err(InitError { status, control });
        }
        Ok(Self {
            control,
            allocate_export,
            free_export,
            fail_allocation_at: options.fail_allocation_at,
            allocations: AtomicU32::new(0),
            failed_allocations: AtomicU32::new(0),
            _blocks: PhantomData,
        })
    }

    /// The control structure's address (what `!lookaside` takes).
    #[must_use]
    pub const fn address(&self) -> *mut LOOKASIDE_LIST_EX {
        self.control.as_ptr().cast()
    }

    /// Whether blocks go through the kernel's exported routines (`false`: the inline port).
    #[must_use]
    pub const fn uses_exports(&self) -> bool {
        self.allocate_export.is_some()
    }

    /// Takes a block from the list (or, when it is empty, from the pool), zeroed as the seed
    /// zeroes it; `None` when both are exhausted.
    #[must_use]
    pub fn allocate(&self) -> Option<Block<'_, T>> {
        let list = self.address();
        let count = self
            .allocations
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if self.fail_allocation_at.is_some_and(|k| k.get() == count) {
            // A block waiting on the list would be handed out without asking the callback:
            // empty the list first, so this allocation reaches the pool through the callback.
            // SAFETY: the list is initialised and live; flushing is allowed at any time.
            unsafe { ffi::ExFlushLookasideListEx(list) };
            self.fail_next().store(true, Ordering::Relaxed);
        }
        let raw = match self.allocate_export {
            // SAFETY: `list` was initialised by ExInitializeLookasideListEx and is live.
            Some(allocate) => unsafe { allocate(list) },
            None => self.allocate_inline(),
        };
        let Some(block) = NonNull::new(raw.cast::<T>()) else {
            self.failed_allocations.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        // SAFETY: the block is `size_of::<T>()` writable bytes that only this caller owns now.
        unsafe { block.cast::<u8>().write_bytes(0, size_of::<T>()) };
        Some(Block { block, list: self })
    }

    /// How many allocations returned `None`: they count in `TotalAllocates` but never come
    /// back as frees.
    #[must_use]
    pub fn failed_allocations(&self) -> u32 {
        self.failed_allocations.load(Ordering::Relaxed)
    }

    /// Returns a block to the list (or, when it is full, to the pool); the same as dropping it.
    pub fn free(&self, block: Block<'_, T>) {
        drop(block);
    }

    fn free_raw(&self, entry: *mut c_void) {
        let list = self.address();
        match self.free_export {
            // SAFETY: `entry` came from this live list and is returned exactly once.
            Some(free) => unsafe { free(list, entry) },
            None => self.free_inline(entry),
        }
    }

    /// Port of wdm.h's inline `ExAllocateFromLookasideListEx`.
    ///
    /// The header bumps the counters with plain `+= 1`; here they are interlocked, because in
    /// Rust a racing plain write is undefined behaviour and because the stress run checks that
    /// `TotalAllocates` and `TotalFrees` balance exactly.
    fn allocate_inline(&self) -> *mut c_void {
        self.counter(field::TOTAL_ALLOCATES)
            .fetch_add(1, Ordering::Relaxed);
        // SAFETY: ListHead of a live, initialised list; the pop is interlocked.
        let entry = unsafe { ffi::ExpInterlockedPopEntrySList(self.list_head()) };
        if !entry.is_null() {
            return entry.cast();
        }
        self.counter(field::ALLOCATE_MISSES)
            .fetch_add(1, Ordering::Relaxed);
        let Some(allocate_ex) = self.read::<ffi::PALLOCATE_FUNCTION_EX>(field::ALLOCATE_EX) else {
            return core::ptr::null_mut();
        };
        let pool_type = self.read::<ffi::POOL_TYPE>(field::TYPE);
        let size = self.read::<u32>(field::SIZE);
        let tag = self.read::<u32>(field::TAG);
        // SAFETY: AllocateEx is the routine ExInitializeLookasideListEx stored (the system's
        // default); it is called with the list's own Type, Size and Tag, as the header does.
        unsafe { allocate_ex(pool_type, ffi::SIZE_T::from(size), tag, self.address()) }
    }

    /// Port of wdm.h's inline `ExFreeToLookasideListEx`.
    fn free_inline(&self, entry: *mut c_void) {
        self.counter(field::TOTAL_FREES)
            .fetch_add(1, Ordering::Relaxed);
        if self.current_depth() >= self.depth() {
            self.counter(field::FREE_MISSES)
                .fetch_add(1, Ordering::Relaxed);
            if let Some(free_ex) = self.read::<ffi::PFREE_FUNCTION_EX>(field::FREE_EX) {
                // SAFETY: FreeEx is the list's own free routine and `entry` one of its blocks.
                unsafe { free_ex(entry, self.address()) };
            }
        } else {
            // SAFETY: `entry` is a block of this list, at least SLIST_ENTRY-sized and 16-byte
            // aligned (pool block), no longer used by anyone; the push is interlocked.
            unsafe { ffi::ExpInterlockedPushEntrySList(self.list_head(), entry.cast()) };
        }
    }

    /// The list's counters, for a `!lookaside`-style report.
    #[must_use]
    pub fn stats(&self) -> LookasideStats {
        LookasideStats {
            current_depth: self.current_depth(),
            depth: self.depth(),
            maximum_depth: self.half(field::MAXIMUM_DEPTH).load(Ordering::Relaxed),
            total_allocates: self.counter(field::TOTAL_ALLOCATES).load(Ordering::Relaxed),
            allocate_misses: self.counter(field::ALLOCATE_MISSES).load(Ordering::Relaxed),
            total_frees: self.counter(field::TOTAL_FREES).load(Ordering::Relaxed),
            free_misses: self.counter(field::FREE_MISSES).load(Ordering::Relaxed),
            pool_type: self.read::<u32>(field::TYPE),
            tag: self.read::<u32>(field::TAG),
            size: self.read::<u32>(field::SIZE),
        }
    }

    /// `ExDeleteLookasideListEx`: frees the blocks still kept on the list and unlinks it from
    /// the kernel's list of lookaside lists. Hands the control block back for the caller to free.
    #[must_use = "the control block is freed when dropped; keep it to log its release"]
    pub fn delete(self) -> PoolBox<LookasideControl> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: the list is initialised and no block is outstanding (`self` is consumed, so
        // no `Block` borrows it); it is deleted once.
        unsafe { ffi::ExDeleteLookasideListEx(this.address()) };
        // SAFETY: `this` is never used or dropped again, so the control block moves out once.
        unsafe { core::ptr::read(&raw const this.control) }
    }

    fn fail_next(&self) -> &AtomicBool {
        let flag = self
            .control
            .as_ptr()
            .wrapping_byte_add(offset_of!(LookasideControl, fail_next));
        // SAFETY: the flag of the live control block, initialised in `new`, only used atomically.
        unsafe { &*flag.cast::<AtomicBool>() }
    }

    fn current_depth(&self) -> u16 {
        // SAFETY: ListHead of a live, initialised list.
        unsafe { ffi::ExQueryDepthSList(self.list_head()) }
    }

    fn depth(&self) -> u16 {
        // The kernel retunes Depth once a second from another thread: read it atomically.
        self.half(field::DEPTH).load(Ordering::Relaxed)
    }

    const fn list_head(&self) -> *mut ffi::SLIST_HEADER {
        self.address().wrapping_byte_add(field::LIST_HEAD).cast()
    }

    const fn counter(&self, offset: usize) -> &AtomicU32 {
        let field = self.address().wrapping_byte_add(offset).cast::<u32>();
        // SAFETY: a 4-byte aligned ULONG field inside the live control block; every access to
        // it while the list exists is atomic (ours here, the kernel's interlocked or its own).
        unsafe { AtomicU32::from_ptr(field) }
    }

    const fn half(&self, offset: usize) -> &AtomicU16 {
        let field = self.address().wrapping_byte_add(offset).cast::<u16>();
        // SAFETY: a 2-byte aligned USHORT field inside the live control block, as `counter`.
        unsafe { AtomicU16::from_ptr(field) }
    }

    /// Reads a field the kernel writes only in `ExInitializeLookasideListEx`.
    const fn read<F: Copy>(&self, offset: usize) -> F {
        let field = self.address().wrapping_byte_add(offset).cast::<F>();
        // SAFETY: `offset` is that of an `F` field of the live, initialised control block.
        unsafe { field.read() }
    }
}

impl<T> Drop for LookasideList<T> {
    /// A list dropped without [`LookasideList::delete`] is still deleted: the kernel would
    /// otherwise walk a freed control block at its next depth adjustment and bugcheck.
    fn drop(&mut self) {
        // SAFETY: as in `delete`; `delete` forgets the list, so this runs only when it was not.
        unsafe { ffi::ExDeleteLookasideListEx(self.address()) };
    }
}

/// One block of a [`LookasideList`], holding a `T` (zeroed when handed out). Dropping it returns
/// it to its list.
pub struct Block<'list, T> {
    block: NonNull<T>,
    list: &'list LookasideList<T>,
}

impl<'list, T> Block<'list, T> {
    /// The block's address, for the log.
    #[must_use]
    pub const fn address(&self) -> *mut T {
        self.block.as_ptr()
    }

    /// Gives up ownership as a raw pointer, for an intrusive list to hold.
    #[must_use]
    pub fn into_raw(self) -> NonNull<T> {
        let block = core::mem::ManuallyDrop::new(self);
        block.block
    }

    /// Takes back ownership of a pointer from [`Block::into_raw`].
    ///
    /// # Safety
    /// `block` came from `into_raw` of a block of `list`, and is taken back once.
    #[must_use]
    pub const unsafe fn from_raw(block: NonNull<T>, list: &'list LookasideList<T>) -> Self {
        Self { block, list }
    }

    /// The list the block belongs to.
    ///
    /// Blocks move between threads only with their list shared (`LookasideList` is `Sync`).
    #[must_use]
    pub const fn list(&self) -> &'list LookasideList<T> {
        self.list
    }
}

impl<T: FromZeros> core::ops::Deref for Block<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the block is zeroed on allocation and all-zero bytes are a valid `T`
        // (`FromZeros`); the block is exclusively owned by `self`.
        unsafe { self.block.as_ref() }
    }
}

impl<T: FromZeros> core::ops::DerefMut for Block<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes the access unique.
        unsafe { self.block.as_mut() }
    }
}

impl<T> Drop for Block<'_, T> {
    fn drop(&mut self) {
        self.list.free_raw(self.block.as_ptr().cast());
    }
}

/// The allocate callback fault injection installs: the pool, except once when armed.
///
/// # Safety
/// Called by the kernel (or the inline port) with the arguments of a list initialised by
/// [`LookasideList::new`], whose control block is a [`LookasideControl`].
unsafe extern "C" fn fault_injecting_allocate(
    pool_type: ffi::POOL_TYPE,
    size: ffi::SIZE_T,
    tag: u32,
    lookaside: *mut LOOKASIDE_LIST_EX,
) -> *mut c_void {
    let control = lookaside.cast::<LookasideControl>();
    // SAFETY: the list is the first field of a live LookasideControl (repr(C)).
    if unsafe { (*control).fail_next.swap(false, Ordering::Relaxed) } {
        return core::ptr::null_mut();
    }
    // SAFETY: the list's own pool type, size and tag, as the default routine would pass them.
    unsafe { ffi::ExAllocatePoolWithTag(pool_type, size, tag) }
}

/// Types for which all-zero bytes are a valid value, so a zeroed block may be used as one.
///
/// # Safety
/// Every field of the implementing type must accept all-zero bytes (integers, raw pointers,
/// `LIST_ENTRY`).
pub unsafe trait FromZeros {}

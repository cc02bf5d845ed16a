//! `LOOKASIDE_LIST_EX` behind a safe type whose blocks return themselves when dropped: one
//! shared list, or one list per processor behind the same API.
//!
//! `ExAllocateFromLookasideListEx` and `ExFreeToLookasideListEx` are inline functions in every
//! WDK header before 10.0.22621 and kernel exports only since Windows 11 22H2. The list uses the
//! exports where the running kernel has them and otherwise the port of the header's inline body
//! (`list_ex`), so the same driver loads from Windows 10 1507 to the newest Windows 11.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::offset_of;
use core::num::NonZeroU32;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::control::{self, ControlBlock, LookasideControl, SetInfo};
use super::ffi::{self, LOOKASIDE_LIST_EX, NTSTATUS};
use super::list_ex::{ListEx, LookasideStats};
use super::pool::PoolKind;
use super::processor;
use super::routines::{self, AllocateFromLookaside, FreeToLookaside};

/// Which implementation of the allocate/free pair the list uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiPath {
    /// The kernel's exports where it has them, the inline port otherwise.
    Auto,
    /// The kernel's exports. Where the kernel lacks them there is nothing to call, so the list
    /// uses the inline port as `Auto` does, and says so: [`LookasideList::uses_exports`] is
    /// false, and the scenario logs that `ApiPath 1` asked for what this kernel lacks.
    Exported,
    /// The driver's port of the WDK header's inline functions.
    Inline,
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
    /// Fault injection: make this allocation (1-based) fail. Only then, or with per-processor
    /// lists, does a list get the driver's allocate callback; otherwise it has the system's
    /// (NULL callbacks, the fast path).
    ///
    /// Allocations are counted over every thread, and the k-th arms the failure of the next
    /// allocation that reaches the pool through the callback: with one thread (the seed's
    /// scenario) that is the k-th itself; with several, another thread's allocation may reach
    /// the callback first and fail instead. A test switch for the seed's story, not a way to
    /// pick one thread's allocation.
    pub fail_allocation_at: Option<NonZeroU32>,
}

impl ListOptions {
    /// Blocks from nonpaged pool with `tag`, through the kernel's exports where it has them
    /// ([`ApiPath::Auto`]), no fault injection: what most drivers want.
    #[must_use]
    pub const fn new(tag: u32) -> Self {
        Self {
            pool: PoolKind::NonPaged,
            tag,
            path: ApiPath::Auto,
            fail_allocation_at: None,
        }
    }
}

/// A lookaside list of `T`-sized blocks: one `LOOKASIDE_LIST_EX`, or one per processor.
///
/// With several lists, a block comes from the list of the processor the caller runs on and
/// goes back to the list of the processor that frees it, which may be another one. A list that
/// runs empty takes a block another processor's list keeps (in its allocate callback) before it
/// asks the pool, so blocks are reused whichever processor freed them.
///
/// The control blocks live in a [`ControlBlock`] and never move, because the kernel links them
/// into its own list of lookaside lists. Blocks borrow the list, so the borrow checker proves
/// that every block is back before [`LookasideList::delete`] deletes any list.
pub struct LookasideList<T> {
    first: NonNull<LookasideControl>,
    lists: NonZeroU32,
    allocate_export: Option<AllocateFromLookaside>,
    free_export: Option<FreeToLookaside>,
    fail_allocation_at: Option<NonZeroU32>,
    /// Allocations so far, counted only for fault injection.
    allocations: AtomicU32,
    control: ControlBlock,
    _blocks: PhantomData<T>,
}

// SAFETY: the list is built for concurrent use: the SList pops and pushes are interlocked, the
// counters are updated as the kernel updates them (approximate, never unsound), and the
// wrapper's own state is read-only or atomic.
unsafe impl<T: Send> Sync for LookasideList<T> {}

/// Why a list could not be created; the control block comes back for the caller to free.
pub struct InitError {
    /// What `ExInitializeLookasideListEx` returned.
    pub status: NTSTATUS,
    /// The control block, no list initialised in it.
    pub control: ControlBlock,
}

impl<T> LookasideList<T> {
    /// `ExInitializeLookasideListEx` over each control block of `control`: blocks of
    /// `size_of::<T>()` bytes, with the system's own allocate and free routines (NULL
    /// callbacks, the fast path Microsoft recommends) unless fault injection or a set of
    /// per-processor lists needs the driver's allocate callback.
    ///
    /// # Errors
    /// The status of a failed initialisation, with the control block returned (every list
    /// initialised before the failure is deleted again).
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn new(control: ControlBlock, options: ListOptions) -> Result<Self, InitError> {
        super::paged_code();
        const {
            // A free block holds an SLIST_ENTRY while it waits on the list.
            assert!(size_of::<T>() >= size_of::<ffi::SLIST_ENTRY>());
            // Blocks come from the pool, 16-byte aligned on x64.
            assert!(align_of::<T>() <= 16);
        }
        let exports = match options.path {
            ApiPath::Inline => None,
            ApiPath::Auto | ApiPath::Exported => routines::lookaside_exports(),
        };
        let (allocate_export, free_export) = exports.unzip();
        let first = control.first();
        let count = control.count();
        let allocate: ffi::PALLOCATE_FUNCTION_EX =
            if options.fail_allocation_at.is_some() || count.get() > 1 {
                Some(allocate_for_set)
            } else {
                None
            };
        for index in 0..count.get() {
            let block = control::nth(first, index).as_ptr();
            let set = SetInfo {
                first,
                count,
                index,
                fail_next: AtomicBool::new(false),
            };
            let field = block.wrapping_byte_add(offset_of!(LookasideControl, set));
            // SAFETY: the control block is ours alone (the list is not initialised yet); the
            // field is written before the list exists.
            unsafe { field.cast::<SetInfo>().write(set) };
            // SAFETY: `block` is a nonpaged, 16-byte aligned LOOKASIDE_LIST_EX that nothing
            // else uses; the callbacks are NULL (the pool) or ours, whose prototype matches;
            // Flags and Depth are the documented zeros.
            let status = unsafe {
                ffi::ExInitializeLookasideListEx(
                    block.cast(),
                    allocate,
                    None,
                    options.pool.pool_type(),
                    0,
                    size_of::<T>() as _,
                    options.tag,
                    0,
                )
            };
            if !super::nt_success(status) {
                for initialised in 0..index {
                    // SAFETY: initialised above, never used for a block, deleted once.
                    unsafe {
                        ffi::ExDeleteLookasideListEx(
                            control::nth(first, initialised).cast().as_ptr(),
                        );
                    }
                }
                return Err(InitError { status, control });
            }
        }
        Ok(Self {
            first,
            lists: count,
            allocate_export,
            free_export,
            fail_allocation_at: options.fail_allocation_at,
            allocations: AtomicU32::new(0),
            control,
            _blocks: PhantomData,
        })
    }

    /// The first list's address (what `!lookaside` takes; the only list in shared mode).
    #[must_use]
    pub const fn address(&self) -> *mut LOOKASIDE_LIST_EX {
        self.first.as_ptr().cast()
    }

    /// How many lists: 1, or one per active processor.
    #[must_use]
    pub const fn lists(&self) -> u32 {
        self.lists.get()
    }

    /// Whether blocks go through the kernel's exported routines (`false`: the inline port).
    #[must_use]
    pub const fn uses_exports(&self) -> bool {
        self.allocate_export.is_some()
    }

    /// List `index` (< `lists()`), valid while `self` is.
    const fn list(&self, index: u32) -> ListEx<'_> {
        let control = control::nth(self.first, index);
        // SAFETY: every list of the set was initialised in `new` and is deleted only when
        // `self` is consumed or dropped, after this borrow.
        unsafe { ListEx::new(control.cast()) }
    }

    /// The list of the processor the caller runs on (the only one in shared mode).
    #[inline]
    fn current(&self) -> ListEx<'_> {
        if self.lists == NonZeroU32::MIN {
            return self.list(0);
        }
        let processor = processor::current_index();
        // A processor added after the count was taken has a higher index: it shares a list.
        let index = if processor < self.lists.get() {
            processor
        } else {
            processor % self.lists
        };
        self.list(index)
    }

    /// Takes a block from the list (or, when it is empty, from the pool), zeroed as the seed
    /// zeroes it; `None` when both are exhausted.
    #[must_use]
    // The hot path of the stress run: the release profile optimizes for size, which would
    // otherwise keep this a call (measured: about 2 ns of a 15 ns pair under Wine).
    #[allow(clippy::inline_always, reason = "measured on the hot path, see above")]
    #[inline(always)]
    pub fn allocate(&self) -> Option<Block<'_, T>> {
        if let Some(k) = self.fail_allocation_at {
            self.count_for_fault_injection(k);
        }
        let list = self.current();
        let raw = match self.allocate_export {
            // SAFETY: `list` was initialised by ExInitializeLookasideListEx and is live.
            Some(allocate) => unsafe { allocate(list.as_ptr()) },
            None => list.allocate_inline(),
        };
        let block = NonNull::new(raw.cast::<T>())?;
        // SAFETY: the block is `size_of::<T>()` writable bytes that only this caller owns now.
        unsafe { block.cast::<u8>().write_bytes(0, size_of::<T>()) };
        Some(Block { block, list: self })
    }

    /// Fault injection that never fired: the allocation asked to fail and how many block
    /// allocations the list made, when it made fewer.
    #[must_use]
    pub fn fault_injection_missed(&self) -> Option<(NonZeroU32, u32)> {
        let k = self.fail_allocation_at?;
        let made = self.allocations.load(Ordering::Relaxed);
        (made < k.get()).then_some((k, made))
    }

    /// Arms the allocate callback's failure when this is allocation `k`.
    #[cold]
    fn count_for_fault_injection(&self, k: NonZeroU32) {
        let count = self
            .allocations
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if count == k.get() {
            // A block waiting on a list would be handed out without asking the callback:
            // empty every list first, so this allocation reaches the pool through it.
            for index in 0..self.lists() {
                self.list(index).flush();
            }
            self.fail_next().store(true, Ordering::Relaxed);
        }
    }

    /// Returns a block of this list to it (or, when it is full, to the pool); the same as
    /// dropping it. A block of another list stops the system ([`super::invalid_argument`]):
    /// freeing it here would put it on the wrong list.
    // Out of line: dropping a block inlines the path, which the stress loop wants and the
    // scenario does not (a smaller driver).
    #[inline(never)]
    pub fn free(&self, block: Block<'_, T>) {
        if !core::ptr::eq(block.list, self) {
            super::invalid_argument();
        }
        drop(block);
    }

    #[inline]
    fn free_raw(&self, entry: *mut c_void) {
        let list = self.current();
        match self.free_export {
            // SAFETY: `entry` came from this live set of lists, whose blocks all have the same
            // size, pool and tag, and is returned exactly once.
            Some(free) => unsafe { free(list.as_ptr(), entry) },
            None => list.free_inline(entry),
        }
    }

    /// The counters of list `index` (< [`LookasideList::lists`]), for a `!lookaside`-style
    /// report, and that list's address.
    #[must_use]
    pub fn stats_of(&self, index: u32) -> (*mut LOOKASIDE_LIST_EX, LookasideStats) {
        let list = self.list(index.min(self.lists() - 1));
        (list.as_ptr(), list.stats())
    }

    /// The counters of every list together (of the only list, in shared mode).
    #[must_use]
    // Out of line: the log and the stress run read it four times (a smaller driver).
    #[inline(never)]
    pub fn stats(&self) -> LookasideStats {
        let mut sum = LookasideStats::default();
        for index in 0..self.lists() {
            self.list(index).add_stats_to(&mut sum);
        }
        sum
    }

    /// `ExDeleteLookasideListEx` on every list: frees the blocks still kept on them and
    /// unlinks them from the kernel's list of lookaside lists. Hands the control block back
    /// for the caller to free.
    #[must_use = "the control block is freed when dropped; keep it to log its release"]
    pub fn delete(self) -> ControlBlock {
        let this = core::mem::ManuallyDrop::new(self);
        this.delete_lists();
        // SAFETY: `this` is never used or dropped again, so the control block moves out once.
        unsafe { core::ptr::read(&raw const this.control) }
    }

    fn delete_lists(&self) {
        for index in 0..self.lists() {
            // SAFETY: the list is initialised, and no `Block` borrows it any more (`self` is
            // being consumed or dropped); each list is deleted once. A block given up with
            // `mem::forget`, or `into_raw` and never taken back, is not on the list: it stays
            // allocated, a pool leak the kernel never touches again, not undefined behaviour.
            unsafe { ffi::ExDeleteLookasideListEx(self.list(index).as_ptr()) };
        }
    }

    fn fail_next(&self) -> &AtomicBool {
        let first = self.first.as_ptr();
        // SAFETY: the flag of the live first control block, initialised in `new`, only used
        // atomically.
        unsafe { &(*first).set.fail_next }
    }
}

impl<T> Drop for LookasideList<T> {
    /// A list dropped without [`LookasideList::delete`] is still deleted: the kernel would
    /// otherwise walk a freed control block at its next depth adjustment and bugcheck.
    fn drop(&mut self) {
        self.delete_lists();
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
    #[inline]
    fn drop(&mut self) {
        self.list.free_raw(self.block.as_ptr().cast());
    }
}

/// The allocate callback of a list that is one of several, or that fault injection arms: a
/// block another list of the set keeps, else the pool, except once when armed.
///
/// # Safety
/// Called by the kernel (or the inline port) with the arguments of a list initialised by
/// [`LookasideList::new`], whose control block is a [`LookasideControl`] of a live set.
unsafe extern "C" fn allocate_for_set(
    pool_type: ffi::POOL_TYPE,
    size: ffi::SIZE_T,
    tag: u32,
    lookaside: *mut LOOKASIDE_LIST_EX,
) -> *mut c_void {
    let control = lookaside.cast::<LookasideControl>();
    // SAFETY: the list is the first field of a live LookasideControl (repr(C)), whose set
    // information `new` wrote before initialising the list.
    let set = unsafe { &(*control).set };
    let first = set.first.as_ptr();
    // SAFETY: the set's first control block is live as long as any of its lists is.
    if unsafe { (*first).set.fail_next.swap(false, Ordering::Relaxed) } {
        return core::ptr::null_mut();
    }
    // The other lists, from the next one round to the previous one.
    let mut index = set.index;
    for _ in 1..set.count.get() {
        index += 1;
        if index == set.count.get() {
            index = 0;
        }
        let other = control::nth(set.first, index);
        // SAFETY: every list of the set is initialised before any block is allocated and
        // deleted only after every block is back.
        let other = unsafe { ListEx::new(other.cast()) };
        let entry = other.pop();
        if !entry.is_null() {
            return entry;
        }
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

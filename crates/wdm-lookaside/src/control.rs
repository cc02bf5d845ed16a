//! Where a lookaside list's control blocks live: one `LOOKASIDE_LIST_EX` for the shared list,
//! or one per active processor, each on cache lines of its own.

use core::num::NonZeroU32;
use core::ptr::NonNull;
use core::sync::atomic::AtomicBool;

use super::ffi::LOOKASIDE_LIST_EX;
use super::pool::{Pool, PoolBox, PoolKind};
use super::processor;

/// How many lists hold the blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMode {
    /// One list that every processor uses (the seed's).
    Shared,
    /// One list per active processor: each processor pops and pushes its own SList header
    /// and counters, so processors do not fight over one cache line.
    PerProcessor,
}

/// The most lists a per-processor set has; processors beyond it share lists (index modulo).
pub const MAX_LISTS: NonZeroU32 = NonZeroU32::new(256).unwrap();

/// The distance between per-processor control blocks: two cache lines, so no block shares a
/// line, nor the pair of lines the adjacent-line prefetcher fetches together, with another.
pub const STRIDE: usize = 128;

/// The pool's alignment on x64.
const POOL_ALIGNMENT: usize = 16;

/// One control block: the kernel's `LOOKASIDE_LIST_EX`, then what the driver's allocate
/// callback needs to find the other lists of its set and the fault-injection flag.
///
/// The callback finds this from the list pointer it receives (`CONTAINING_RECORD`, the pattern
/// the `ExInitializeLookasideListEx` documentation shows). Allocated from nonpaged pool whatever
/// the blocks' pool, as Microsoft requires.
#[repr(C)]
pub struct LookasideControl {
    pub(super) list: LOOKASIDE_LIST_EX,
    pub(super) set: SetInfo,
}

const _: () = assert!(size_of::<LookasideControl>() <= STRIDE);

/// A control block's place in its set.
#[repr(C)]
pub struct SetInfo {
    /// The set's first control block.
    pub first: NonNull<LookasideControl>,
    /// How many control blocks the set has.
    pub count: NonZeroU32,
    /// This block's index in the set.
    pub index: u32,
    /// Set just before the allocation that fault injection makes fail. The set has one such
    /// flag, the first control block's: every block has the field (one type for all of them),
    /// and only the first's is read or written.
    pub fail_next: AtomicBool,
}

/// The pool block that holds a set of control blocks; freed when dropped.
pub struct ControlBlock {
    block: PoolBox<LookasideControl>,
    first: NonNull<LookasideControl>,
    count: NonZeroU32,
}

impl ControlBlock {
    /// A nonpaged pool block for one list (`Shared`) or one per active processor, each
    /// `STRIDE`-aligned; `None` when the pool is exhausted.
    #[must_use]
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn allocate(mode: ListMode, tag: u32) -> Option<Self> {
        let pool = Pool::new(PoolKind::NonPaged, tag);
        // How many blocks, how many bytes, and the low address bits the first block must have
        // clear (rounded up to them).
        let (count, bytes, round_up) = match mode {
            ListMode::Shared => (NonZeroU32::MIN, size_of::<LookasideControl>(), 0),
            ListMode::PerProcessor => {
                let count = processor::active_count().min(MAX_LISTS);
                // Room to move the first block up to the next STRIDE boundary.
                let bytes = count.get() as usize * STRIDE + (STRIDE - POOL_ALIGNMENT);
                (count, bytes, STRIDE - 1)
            }
        };
        let block = pool.allocate_bytes::<LookasideControl>(bytes)?;
        // The pool never hands out the top of the address space, so the add does not
        // overflow (if it did, the block would stay unaligned).
        let first = block.as_non_null().map_addr(|start| {
            start
                .checked_add(start.get().wrapping_neg() & round_up)
                .unwrap_or(start)
        });
        Some(Self {
            block,
            first,
            count,
        })
    }

    /// The pool block's address, for the log.
    #[must_use]
    pub const fn address(&self) -> *mut LookasideControl {
        self.block.as_ptr()
    }

    /// How many control blocks (lists) the block holds.
    #[must_use]
    pub const fn count(&self) -> NonZeroU32 {
        self.count
    }

    /// The first control block.
    pub(super) const fn first(&self) -> NonNull<LookasideControl> {
        self.first
    }

    /// Returns the block to the pool; the same as dropping it, but visible at the call site as
    /// the seed's `ExFreePool` is.
    pub fn free(self) {
        drop(self);
    }
}

/// The control block `index` of the set that starts at `first` (for a set of one: `first`).
pub const fn nth(first: NonNull<LookasideControl>, index: u32) -> NonNull<LookasideControl> {
    // STRIDE * index stays inside the set's pool block for index < count.
    let control = first.as_ptr().wrapping_byte_add(index as usize * STRIDE);
    // SAFETY: an address inside the non-NULL pool block that holds the set.
    unsafe { NonNull::new_unchecked(control) }
}

//! Nonpaged pool blocks owned by Rust values.

use core::marker::PhantomData;
use core::ptr::NonNull;

use super::ffi;
use super::routines::Routines;

/// One nonpaged, no-execute pool block holding a `T`, freed with its tag when dropped.
///
/// The block is never initialised as a `T` by this type: it hands out a raw pointer for the
/// kernel to fill (the lookaside control structure is initialised by
/// `ExInitializeLookasideListEx`, not by Rust).
pub struct PoolBox<T> {
    block: NonNull<T>,
    tag: u32,
    _owns: PhantomData<T>,
}

impl<T> PoolBox<T> {
    /// Allocates `size_of::<T>()` bytes of nonpaged pool with `tag`, or `None` when the pool
    /// is exhausted.
    ///
    /// `ExAllocatePool2` (Windows 10 2004 and later, zeroes the block) is used where the kernel
    /// exports it, `ExAllocatePoolWithTag(NonPagedPoolNx)` elsewhere, so one binary loads on
    /// every Windows 10 and 11 release.
    #[must_use]
    pub fn allocate_nonpaged(tag: u32) -> Option<Self> {
        const {
            // Pool blocks are 16-byte aligned on x64; a stricter `T` would need more.
            assert!(align_of::<T>() <= 16);
        }
        let size = size_of::<T>();
        let routines = Routines::resolve();
        let raw = match routines.allocate_pool2 {
            Some(allocate_pool2) => {
                // SAFETY: `allocate_pool2` is the kernel's ExAllocatePool2 (resolved by name);
                // these are its documented arguments and DriverEntry runs at PASSIVE_LEVEL.
                unsafe { allocate_pool2(ffi::POOL_FLAG_NON_PAGED, size, tag) }
            }
            None => {
                // SAFETY: plain pool allocation at PASSIVE_LEVEL; a NULL result is handled.
                unsafe { ffi::ExAllocatePoolWithTag(ffi::NON_PAGED_POOL_NX, size as _, tag) }
            }
        };
        NonNull::new(raw.cast::<T>()).map(|block| Self {
            block,
            tag,
            _owns: PhantomData,
        })
    }

    /// The block's address, for the kernel calls that fill it and for the log.
    #[must_use]
    pub const fn as_ptr(&self) -> *mut T {
        self.block.as_ptr()
    }

    /// Returns the block to the pool (`ExFreePoolWithTag`); the same as dropping it, but
    /// visible at the call site as the seed's `ExFreePool` is.
    pub fn free(self) {
        drop(self);
    }
}

impl<T> Drop for PoolBox<T> {
    fn drop(&mut self) {
        // SAFETY: the block came from the pool with this tag and is freed exactly once, here;
        // nothing borrows it any more (borrows of `self` have ended).
        unsafe { ffi::ExFreePoolWithTag(self.block.as_ptr().cast(), self.tag) };
    }
}

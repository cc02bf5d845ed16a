//! Pool blocks owned by Rust values.

use core::ffi::{CStr, c_void};
use core::marker::PhantomData;
use core::ptr::NonNull;

use super::ffi;
use super::routines::{self, AllocatePool2};

/// Which pool a block comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// `NonPagedPoolNx` / `POOL_FLAG_NON_PAGED`: usable at any IRQL.
    NonPaged,
    /// `PagedPool` / `POOL_FLAG_PAGED`: usable at IRQL <= `APC_LEVEL` only.
    Paged,
}

impl PoolKind {
    /// The `POOL_TYPE` the older routines and `LOOKASIDE_LIST_EX` take.
    #[must_use]
    pub const fn pool_type(self) -> ffi::POOL_TYPE {
        match self {
            Self::NonPaged => ffi::NON_PAGED_POOL_NX,
            Self::Paged => ffi::PAGED_POOL,
        }
    }

    const fn pool_flags(self) -> u64 {
        match self {
            Self::NonPaged => ffi::POOL_FLAG_NON_PAGED,
            Self::Paged => ffi::POOL_FLAG_PAGED,
        }
    }

    /// The name WinDbg shows for a `POOL_TYPE` value.
    // Out of line: the log names the pool twice (a smaller driver).
    #[inline(never)]
    #[must_use]
    pub const fn type_name(pool_type: u32) -> &'static CStr {
        match pool_type {
            0 => c"NonPagedPool",
            1 => c"PagedPool",
            512 => c"NonPagedPoolNx",
            _ => c"?",
        }
    }
}

/// A pool allocator for one pool and tag, with the allocation routine looked up once.
///
/// `ExAllocatePool2` (Windows 10 2004 and later) is used where the kernel exports it,
/// `ExAllocatePoolWithTag` elsewhere, so one binary loads on every Windows 10 and 11 release.
#[derive(Clone, Copy)]
pub struct Pool {
    kind: PoolKind,
    tag: u32,
    allocate_pool2: Option<AllocatePool2>,
}

impl Pool {
    /// Looks the routines up: call at `PASSIVE_LEVEL` (`DriverEntry`).
    #[must_use]
    pub fn new(kind: PoolKind, tag: u32) -> Self {
        Self {
            kind,
            tag,
            allocate_pool2: routines::allocate_pool2(),
        }
    }

    /// Allocates `size_of::<T>()` bytes, or `None` when the pool is exhausted.
    #[must_use]
    pub fn allocate<T>(&self) -> Option<PoolBox<T>> {
        self.allocate_bytes(size_of::<T>())
    }

    /// Allocates `size` bytes (at least `size_of::<T>()`) that start with room for a `T`, or
    /// `None` when the pool is exhausted.
    #[must_use]
    #[inline]
    pub fn allocate_bytes<T>(&self, size: usize) -> Option<PoolBox<T>> {
        const {
            // Pool blocks are 16-byte aligned on x64; a stricter `T` would need more.
            assert!(align_of::<T>() <= 16);
        }
        self.allocate_raw(size.max(size_of::<T>()))
            .map(PoolBox::cast)
    }

    /// `size` bytes from the pool, or `None` when it is exhausted.
    // Out of line and not generic: one copy serves every type (a smaller driver).
    #[inline(never)]
    fn allocate_raw(&self, size: usize) -> Option<PoolBox<c_void>> {
        let raw = match self.allocate_pool2 {
            Some(allocate_pool2) => {
                // SAFETY: the kernel's ExAllocatePool2 (resolved by name) with its documented
                // arguments, at IRQL <= DISPATCH_LEVEL (PASSIVE_LEVEL here).
                unsafe { allocate_pool2(self.kind.pool_flags(), size, self.tag) }
            }
            None => {
                // SAFETY: plain pool allocation at PASSIVE_LEVEL; a NULL result is handled.
                unsafe { ffi::ExAllocatePoolWithTag(self.kind.pool_type(), size as _, self.tag) }
            }
        };
        NonNull::new(raw).map(|block| PoolBox {
            block,
            tag: self.tag,
            _owns: PhantomData,
        })
    }
}

/// One pool block with room for a `T` (or more), freed with its tag when dropped.
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
    /// The block's address, for the kernel calls that fill it and for the log.
    #[must_use]
    pub const fn as_ptr(&self) -> *mut T {
        self.block.as_ptr()
    }

    /// The block's address, never NULL.
    #[must_use]
    pub const fn as_non_null(&self) -> NonNull<T> {
        self.block
    }

    /// The same block, typed as room for a `U` (the caller checks that it is large enough).
    fn cast<U>(self) -> PoolBox<U> {
        let this = core::mem::ManuallyDrop::new(self);
        PoolBox {
            block: this.block.cast(),
            tag: this.tag,
            _owns: PhantomData,
        }
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

// SAFETY: a pool block may be freed from any thread; `T`'s own thread rules still apply.
unsafe impl<T: Send> Send for PoolBox<T> {}
// SAFETY: `&PoolBox` only exposes the address.
unsafe impl<T: Sync> Sync for PoolBox<T> {}

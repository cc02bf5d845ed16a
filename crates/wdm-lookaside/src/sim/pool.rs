//! Pool: `ExAllocatePoolWithTag`, `ExAllocatePool2` (found through
//! `MmGetSystemRoutineAddress`) and `ExFreePoolWithTag`, with every live block recorded by
//! address, size and tag.

use core::ffi::c_void;
use core::ptr;
use std::alloc::Layout;

use super::types::{
    NON_PAGED_POOL_NX, PAGED_POOL, POOL_FLAG_NON_PAGED, POOL_FLAG_PAGED, POOL_TYPE, SIZE_T,
};
use super::with_state;

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
    with_state(|state| state.pool.insert(block.addr(), (size, tag)));
    block.cast()
}

pub unsafe extern "C-unwind" fn ExAllocatePoolWithTag(
    PoolType: POOL_TYPE,
    NumberOfBytes: SIZE_T,
    Tag: u32,
) -> *mut c_void {
    assert!(
        PoolType == NON_PAGED_POOL_NX || PoolType == PAGED_POOL,
        "the driver uses NonPagedPoolNx and PagedPool only"
    );
    pool_allocate(usize::try_from(NumberOfBytes).expect("size"), Tag, false)
}

pub(super) unsafe extern "C" fn ExAllocatePool2(
    Flags: u64,
    NumberOfBytes: usize,
    Tag: u32,
) -> *mut c_void {
    assert!(
        Flags == POOL_FLAG_NON_PAGED || Flags == POOL_FLAG_PAGED,
        "the driver uses POOL_FLAG_NON_PAGED and POOL_FLAG_PAGED only"
    );
    pool_allocate(NumberOfBytes, Tag, true)
}

pub unsafe extern "C-unwind" fn ExFreePoolWithTag(P: *mut c_void, Tag: u32) {
    let (size, tag) = with_state(|state| state.pool.remove(&P.addr()))
        .unwrap_or_else(|| panic!("BAD_POOL_CALLER: {P:p} is not an allocated pool block"));
    assert_eq!(
        tag, Tag,
        "BAD_POOL_CALLER: block {P:p} freed with another tag"
    );
    let layout = Layout::from_size_align(size, 16).expect("pool block layout");
    // SAFETY: the block was allocated by `pool_allocate` with this layout and is freed once.
    unsafe { std::alloc::dealloc(P.cast(), layout) };
}

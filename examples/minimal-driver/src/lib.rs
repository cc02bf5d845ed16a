//! A minimal WDM driver on `wdm-lookaside`, and nothing else: the crate README's example as a
//! driver that loads.
//!
//! `DriverEntry` keeps a lookaside list of its own record type, `Request`, puts three blocks on
//! a `LIST_ENTRY` chain, takes them off again (last in, first out), logs each step with
//! `DbgPrint` and returns `STATUS_DEVICE_CONFIGURATION_ERROR`, so it does not stay loaded: the
//! way KmdKit's samples show a piece of the kernel API without an unload routine.

#![cfg_attr(all(target_os = "windows", not(test)), no_std)]

use core::mem::offset_of;
use core::pin::pin;

use wdm_lookaside::{
    Chain, ControlBlock, FromZeros, LIST_ENTRY, Linked, ListMode, ListOptions, LookasideList,
    NTSTATUS, STATUS_DEVICE_CONFIGURATION_ERROR, dbg_print, pool_tag,
};

/// The pool tag of the list's blocks and control block, `'qeRM'` (shown as `MReq`).
pub const TAG: u32 = pool_tag(*b"qeRM");

/// A record of the driver's own, with its link in the middle.
#[repr(C)]
pub struct Request {
    /// Counted from 1.
    pub id: u32,
    /// The link in the chain.
    pub entry: LIST_ENTRY,
    /// What the request asks for.
    pub length: u32,
}

// SAFETY: `entry` is a LIST_ENTRY field of `Request`, and `ENTRY_OFFSET` is its offset.
unsafe impl Linked for Request {
    const ENTRY_OFFSET: usize = offset_of!(Self, entry);
}

// SAFETY: two integers and a LIST_ENTRY of two raw pointers: all-zero bytes are a valid value.
unsafe impl FromZeros for Request {}

/// `DriverEntry`'s body.
#[must_use]
pub fn run() -> NTSTATUS {
    dbg_print!("MinimalDriver: DriverEntry\n");
    let Some(control) = ControlBlock::allocate(ListMode::Shared, TAG) else {
        dbg_print!("MinimalDriver: no nonpaged pool for the list\n");
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    };
    let list = match LookasideList::<Request>::new(control, ListOptions::new(TAG)) {
        Ok(list) => list,
        Err(error) => {
            dbg_print!(
                "MinimalDriver: ExInitializeLookasideListEx failed, %08X\n",
                error.status
            );
            error.control.free();
            return STATUS_DEVICE_CONFIGURATION_ERROR;
        }
    };
    {
        let mut chain = pin!(Chain::new(&list));
        for id in 1..=3_u32 {
            let Some(mut request) = list.allocate() else {
                dbg_print!("MinimalDriver: no block for request %u\n", id);
                break;
            };
            request.id = id;
            request.length = id * 512;
            dbg_print!(
                "MinimalDriver: request %u queued, %u bytes\n",
                id,
                request.length
            );
            chain.as_mut().push_front(request);
        }
        while let Some(request) = chain.as_mut().pop_front() {
            dbg_print!("MinimalDriver: request %u done\n", request.id);
        }
    }
    let stats = list.stats();
    dbg_print!(
        "MinimalDriver: %u allocations, %u frees\n",
        stats.total_allocates,
        stats.total_frees
    );
    list.delete().free();
    dbg_print!("MinimalDriver: list deleted\n");
    STATUS_DEVICE_CONFIGURATION_ERROR
}

#[cfg(all(target_os = "windows", not(test)))]
extern crate wdk_panic;

/// The driver's entry point, called by the I/O manager at `PASSIVE_LEVEL`.
///
/// # Safety
/// Called by the kernel only.
#[cfg(all(target_os = "windows", not(test)))]
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    _driver: *mut wdm_lookaside::DRIVER_OBJECT,
    _registry_path: *const wdm_lookaside::UNICODE_STRING,
) -> NTSTATUS {
    run()
}

#[cfg(test)]
mod tests {
    use wdm_lookaside::sim;

    /// The driver's lines, on the simulated kernel, with every pool block given back.
    #[test]
    fn queues_and_completes_three_requests() {
        sim::reset(sim::Config::default());
        assert_eq!(
            super::run(),
            wdm_lookaside::STATUS_DEVICE_CONFIGURATION_ERROR
        );
        assert_eq!(sim::transcript(), EXPECTED);
        assert!(sim::outstanding_pool_blocks().is_empty());
        assert_eq!(sim::live_lookaside_lists(), 0);
    }

    /// Without nonpaged pool, one line and nothing left behind.
    #[test]
    fn no_pool_unwinds_cleanly() {
        sim::reset(sim::Config {
            fail_pool_allocation: Some(1),
            ..sim::Config::default()
        });
        assert_eq!(
            super::run(),
            wdm_lookaside::STATUS_DEVICE_CONFIGURATION_ERROR
        );
        assert_eq!(
            sim::transcript(),
            "MinimalDriver: DriverEntry\nMinimalDriver: no nonpaged pool for the list\n"
        );
        assert!(sim::outstanding_pool_blocks().is_empty());
    }

    /// What the driver prints, line for line; `cargo xtask test` holds its load in Wine to the
    /// same file.
    const EXPECTED: &str = include_str!("../expected.txt");
}

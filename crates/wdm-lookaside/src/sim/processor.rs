//! Processors and the clock: `KeQueryActiveProcessorCountEx`, `KeGetCurrentProcessorNumberEx`
//! (with [`Config::migrate_every_call`](super::Config::migrate_every_call)) and
//! `KeQueryPerformanceCounter` at [`PERFORMANCE_FREQUENCY`].

use std::time::Instant;

use super::types::{ALL_PROCESSOR_GROUPS, LARGE_INTEGER, PERFORMANCE_FREQUENCY, PROCESSOR_NUMBER};
use super::{PROCESSOR, with_state};

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub unsafe extern "C-unwind" fn KeQueryPerformanceCounter(
    PerformanceFrequency: *mut LARGE_INTEGER,
) -> LARGE_INTEGER {
    if !PerformanceFrequency.is_null() {
        let frequency = LARGE_INTEGER {
            QuadPart: PERFORMANCE_FREQUENCY,
        };
        // SAFETY: a valid out pointer.
        unsafe { PerformanceFrequency.write(frequency) };
    }
    let ns = EPOCH.get_or_init(Instant::now).elapsed().as_nanos();
    LARGE_INTEGER {
        QuadPart: i64::try_from(ns / 100).expect("ticks fit"),
    }
}

pub unsafe extern "C-unwind" fn KeQueryActiveProcessorCountEx(GroupNumber: u16) -> u32 {
    assert_eq!(
        GroupNumber, ALL_PROCESSOR_GROUPS,
        "the driver counts every group"
    );
    with_state(|state| state.config.processors.max(1))
}

pub unsafe extern "C-unwind" fn KeGetCurrentProcessorNumberEx(
    ProcNumber: *mut PROCESSOR_NUMBER,
) -> u32 {
    assert!(ProcNumber.is_null(), "the driver asks for the index only");
    let migrated = with_state(|state| {
        if !state.config.migrate_every_call {
            return None;
        }
        state.processor_queries = state.processor_queries.wrapping_add(1);
        Some(state.processor_queries % (state.config.processors.max(1) + 1))
    });
    migrated.unwrap_or_else(|| PROCESSOR.get())
}

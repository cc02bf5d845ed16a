//! `KeQueryPerformanceCounter`, for the stress run's timings.

use super::ffi;

/// A point in time, in performance-counter ticks.
#[derive(Clone, Copy, Debug)]
pub struct Instant {
    ticks: u64,
    frequency: u64,
}

impl Instant {
    /// Now.
    #[must_use]
    pub fn now() -> Self {
        let mut frequency = ffi::LARGE_INTEGER { QuadPart: 0 };
        // SAFETY: a valid out pointer; callable at any IRQL.
        let ticks = unsafe { ffi::KeQueryPerformanceCounter(&raw mut frequency) };
        // SAFETY: a plain 64-bit integer in the union.
        let ticks = unsafe { ticks.QuadPart };
        // SAFETY: as above.
        let frequency = unsafe { frequency.QuadPart };
        Self {
            ticks: ticks.unsigned_abs(),
            frequency: frequency.unsigned_abs().max(1),
        }
    }

    /// Nanoseconds from `self` to now.
    #[must_use]
    pub fn elapsed_ns(&self) -> u64 {
        let ticks = Self::now().ticks.saturating_sub(self.ticks);
        let ns = u128::from(ticks) * 1_000_000_000 / u128::from(self.frequency);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

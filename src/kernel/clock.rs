//! `KeQueryPerformanceCounter`, for the stress run's timings.

use core::num::NonZeroU64;

use super::ffi;

/// A point in time, in performance-counter ticks.
#[derive(Clone, Copy, Debug)]
pub struct Instant {
    ticks: u64,
    frequency: NonZeroU64,
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
            frequency: NonZeroU64::new(frequency.unsigned_abs()).unwrap_or(NonZeroU64::MIN),
        }
    }

    /// Nanoseconds from `self` to now.
    #[must_use]
    pub fn elapsed_ns(&self) -> u64 {
        const NS_PER_SECOND: u64 = 1_000_000_000;
        let ticks = Self::now().ticks.saturating_sub(self.ticks);
        // Whole seconds, then the remainder: 64-bit arithmetic throughout (no 128-bit division
        // routine in the driver), exact for counter frequencies up to 18 GHz (10 MHz is usual).
        let seconds = ticks / self.frequency;
        let rest = ticks % self.frequency;
        seconds
            .saturating_mul(NS_PER_SECOND)
            .saturating_add(rest.saturating_mul(NS_PER_SECOND) / self.frequency)
    }
}

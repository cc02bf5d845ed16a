//! `KeQueryPerformanceCounter`, for the stress run's timings.
//!
//! The threads read bare ticks ([`ticks`]); only the results are converted to nanoseconds
//! ([`ticks_to_ns`]), once each.

use super::ffi;

/// The performance counter now, in ticks.
#[must_use]
pub fn ticks() -> u64 {
    // SAFETY: the frequency is optional (null); callable at any IRQL.
    let ticks = unsafe { ffi::KeQueryPerformanceCounter(core::ptr::null_mut()) };
    // SAFETY: a plain 64-bit integer in the union (never negative: the bits as they are).
    unsafe { ticks.QuadPart }.cast_unsigned()
}

/// Nanoseconds in `ticks` ticks of the performance counter.
#[must_use]
pub fn ticks_to_ns(ticks: u64) -> u64 {
    const NS_PER_SECOND: u64 = 1_000_000_000;
    let mut frequency = ffi::LARGE_INTEGER { QuadPart: 0 };
    // SAFETY: a valid out pointer; callable at any IRQL.
    unsafe { ffi::KeQueryPerformanceCounter(&raw mut frequency) };
    // SAFETY: a plain 64-bit integer in the union (positive: the bits as they are).
    let frequency = unsafe { frequency.QuadPart }.cast_unsigned().max(1);
    // Whole seconds, then the remainder: 64-bit arithmetic throughout (no 128-bit division
    // routine in the driver), exact for counter frequencies up to 18 GHz (10 MHz is usual) and
    // times up to 584 years.
    ticks / frequency * NS_PER_SECOND + ticks % frequency * NS_PER_SECOND / frequency
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_nanoseconds_exactly() {
        let frequency = ffi::PERFORMANCE_FREQUENCY.unsigned_abs();
        let ns_per_tick = 1_000_000_000 / frequency;
        assert_eq!(ticks_to_ns(0), 0);
        assert_eq!(ticks_to_ns(7), 7 * ns_per_tick);
        assert_eq!(
            ticks_to_ns(3 * frequency + 5),
            3_000_000_000 + 5 * ns_per_tick
        );
        // A day of ticks, far past what 64-bit ticks * 10^9 could hold.
        assert_eq!(ticks_to_ns(86_400 * frequency), 86_400_000_000_000);
    }

    #[test]
    fn the_counter_moves_forward() {
        let before = ticks();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(ticks() > before);
    }
}

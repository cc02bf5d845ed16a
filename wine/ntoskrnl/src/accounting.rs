//! The shim's bookkeeping, free of Windows calls so that host tests cover it.

// Without the shim (a host library build) only the tests use this module.
#![cfg_attr(
    not(any(all(target_os = "windows", feature = "wine"), test)),
    expect(dead_code, reason = "used by the Windows shim and the host tests only")
)]

use core::ffi::CStr;
use core::sync::atomic::{AtomicU64, Ordering};

/// The line with the exact count over every lookaside list, printed when a driver's load
/// returns: the driver's service name (`%.*ws`: its length in characters, then its UTF-16
/// text), then three 64-bit numbers: handed out, taken back, outstanding. The tools parse it by
/// the contract's anchors (a test below checks that they occur in it).
pub const TOTAL_FORMAT: &CStr = c"ntoskrnl-fixture: driver %.*ws: every lookaside list: %I64u blocks handed out, %I64u taken back, %I64d outstanding\n";

/// The pool balance line, printed with [`TOTAL_FORMAT`] (the service name, then allocated,
/// freed, outstanding).
pub const BALANCE_FORMAT: &CStr = c"ntoskrnl-fixture: driver %.*ws: pool balance: %I64u allocated, %I64u freed, %I64d outstanding\n";

/// The service's name in a service key's path (`\Registry\...\Services\<name>`): where in
/// `units` it starts, and how many UTF-16 units it has.
pub fn service_name(units: &[u16]) -> (usize, usize) {
    let start = units
        .iter()
        .rposition(|&unit| unit == u16::from(b'\\'))
        .map_or(0, |at| at + 1);
    (start, units.len() - start)
}

/// `sizeof(SLIST_ENTRY)` on x64: the smallest lookaside entry, since a free entry holds the link.
pub const SLIST_ENTRY_SIZE: usize = 16;

/// `EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL`.
pub const FLAGS_RAISE_ON_FAIL: u32 = 1;
/// `EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE`.
pub const FLAGS_FAIL_NO_RAISE: u32 = 2;

/// Whether `ExInitializeLookasideListEx` accepts `flags`: at most one of the two defined flags.
pub const fn flags_are_valid(flags: u32) -> bool {
    flags == 0 || flags == FLAGS_RAISE_ON_FAIL || flags == FLAGS_FAIL_NO_RAISE
}

/// The entry size a list stores for a requested `size`: at least an `SLIST_ENTRY`, and it must fit
/// the list's 32-bit `Size` field.
pub fn entry_size(size: usize) -> Option<u32> {
    u32::try_from(size.max(SLIST_ENTRY_SIZE)).ok()
}

/// The free path of `ExFreeToLookasideListEx`: a full list (`depth` entries already held) sends the
/// entry to the list's `FreeEx` routine instead.
pub const fn frees_to_routine(entries_held: u16, depth: u16) -> bool {
    entries_held >= depth
}

/// The blocks handed out and not taken back, from counts that wrap at 2^64.
pub const fn outstanding(handed_out: u64, taken_back: u64) -> i64 {
    handed_out.wrapping_sub(taken_back).cast_signed()
}

/// Pool blocks allocated and freed through the shim in this process.
pub struct PoolBalance {
    allocated: AtomicU64,
    freed: AtomicU64,
}

impl PoolBalance {
    /// No blocks yet.
    pub const fn new() -> Self {
        Self {
            allocated: AtomicU64::new(0),
            freed: AtomicU64::new(0),
        }
    }

    /// Counts a pool allocation; a failed one (NULL) gave out nothing.
    pub fn record_allocation(&self, block: *const u8) {
        if !block.is_null() {
            self.allocated.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a pool free; freeing NULL returns nothing.
    pub fn record_free(&self, block: *const u8) {
        if !block.is_null() {
            self.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(allocated, freed, allocated - freed)`. The difference is negative when blocks that did not
    /// come through the shim were freed through it.
    pub fn snapshot(&self) -> (u64, u64, i64) {
        let allocated = self.allocated.load(Ordering::Relaxed);
        let freed = self.freed.load(Ordering::Relaxed);
        (
            allocated,
            freed,
            allocated.wrapping_sub(freed).cast_signed(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tools find the fixture's lines by the contract's anchors.
    #[test]
    fn the_lines_carry_the_anchors_the_tools_parse() {
        use lookaside_contract::anchors;
        let (total, balance) = (
            TOTAL_FORMAT.to_str().unwrap(),
            BALANCE_FORMAT.to_str().unwrap(),
        );
        let named = |line: &str| line.replace("%.*ws", "LookasideList");
        let prefix = format!(
            "{}{}",
            anchors::FIXTURE,
            anchors::fixture_driver("LookasideList")
        );
        let fixture_total = format!("{prefix}{}", anchors::FIXTURE_TOTAL);
        let fixture_balance = format!("{prefix}{}", anchors::FIXTURE_BALANCE);
        assert!(named(total).starts_with(&fixture_total), "{total}");
        assert!(named(balance).starts_with(&fixture_balance), "{balance}");
        for line in [total, balance] {
            // The outstanding count is the last number: " %I64d outstanding", 0 when balanced.
            assert!(
                line.replace("%I64d", "0")
                    .contains(anchors::NONE_OUTSTANDING),
                "{line}"
            );
        }
    }

    #[test]
    fn the_service_name_is_the_keys_last_component() {
        let key: Vec<u16> = r"\Registry\Machine\System\CurrentControlSet\Services\LookasideList"
            .encode_utf16()
            .collect();
        let (start, length) = service_name(&key);
        assert_eq!(
            String::from_utf16(&key[start..start + length]).unwrap(),
            "LookasideList"
        );
        let bare: Vec<u16> = "Name".encode_utf16().collect();
        assert_eq!(service_name(&bare), (0, 4));
        assert_eq!(service_name(&[]), (0, 0));
    }

    #[test]
    fn flags() {
        assert!(flags_are_valid(0));
        assert!(flags_are_valid(FLAGS_RAISE_ON_FAIL));
        assert!(flags_are_valid(FLAGS_FAIL_NO_RAISE));
        assert!(!flags_are_valid(FLAGS_RAISE_ON_FAIL | FLAGS_FAIL_NO_RAISE));
        assert!(!flags_are_valid(4));
    }

    #[test]
    fn sizes_round_up_to_an_slist_entry() {
        assert_eq!(entry_size(0), Some(16));
        assert_eq!(entry_size(8), Some(16));
        assert_eq!(entry_size(32), Some(32));
        assert_eq!(entry_size(u32::MAX as usize), Some(u32::MAX));
        assert_eq!(entry_size(u32::MAX as usize + 1), None);
    }

    #[test]
    fn free_path() {
        assert!(!frees_to_routine(0, 4));
        assert!(!frees_to_routine(3, 4));
        assert!(frees_to_routine(4, 4));
        assert!(frees_to_routine(5, 4));
    }

    #[test]
    fn outstanding_survives_wrapping_counters() {
        assert_eq!(outstanding(5, 3), 2);
        assert_eq!(outstanding(3, 3), 0);
        assert_eq!(outstanding(1, u64::MAX), 2);
        assert_eq!(outstanding(3, 4), -1);
    }

    #[test]
    fn pool_balance() {
        let balance = PoolBalance::new();
        let block = core::ptr::without_provenance::<u8>(0x1000);
        balance.record_allocation(block);
        balance.record_allocation(block);
        balance.record_allocation(core::ptr::null());
        balance.record_free(block);
        balance.record_free(core::ptr::null());
        assert_eq!(balance.snapshot(), (2, 1, 1));
        balance.record_free(block);
        balance.record_free(block);
        assert_eq!(balance.snapshot(), (2, 3, -1));
    }
}

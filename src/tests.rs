//! The scenario against the simulated kernel: the exact transcript, the LIFO order, block
//! reuse, the status, and every failure path ending with nothing leaked.

use crate::kernel::ffi::{self as sim, Config};
use crate::kernel::{ApiPath, STATUS_DEVICE_CONFIGURATION_ERROR};
use crate::scenario::{TAG, driver_entry};

#[path = "../expected/transcript.rs"]
mod expected;
use expected::name_addresses;

/// Runs `DriverEntry` on a fresh simulated kernel; checks the status and that nothing leaked.
fn run(config: Config, path: ApiPath) -> String {
    sim::reset(config);
    let status = driver_entry(path);
    assert_eq!(
        status, STATUS_DEVICE_CONFIGURATION_ERROR,
        "DriverEntry's status"
    );
    assert_eq!(sim::outstanding_pool_blocks(), [], "pool blocks leaked");
    assert_eq!(sim::live_lookaside_lists(), 0, "lookaside list not deleted");
    sim::transcript()
}

fn every_kernel() -> [(Config, ApiPath); 4] {
    let old = Config::default();
    let new = Config {
        lookaside_exports: true,
        pool2: true,
        ..Config::default()
    };
    [
        (old, ApiPath::Auto),
        (new, ApiPath::Auto),
        (new, ApiPath::Inline),
        (new, ApiPath::Exported),
    ]
}

#[test]
fn transcript_is_the_seeds_line_for_line_on_every_kernel_and_path() {
    for (config, path) in every_kernel() {
        let (transcript, addresses) = name_addresses(&run(config, path));
        assert_eq!(transcript, expected::SEED, "{config:?} {path:?}");
        assert_eq!(
            addresses.len(),
            7,
            "one control block and six distinct lookaside blocks"
        );
    }
}

#[test]
fn addresses_are_full_width_x64_pointers() {
    let transcript = run(Config::default(), ApiPath::Auto);
    let first = transcript.lines().nth(2).expect("allocation line");
    let address = first.rsplit(' ').next().expect("address");
    assert_eq!(address.len(), 16);
    let value = usize::from_str_radix(address, 16).expect("hex address");
    assert_ne!(value, 0);
    assert_eq!(value % 16, 0, "pool blocks are 16-byte aligned");
}

#[test]
fn a_returned_block_is_handed_out_by_the_next_allocation() {
    let transcript = run(Config::default(), ApiPath::Auto);
    let lines: Vec<&str> = transcript.lines().collect();
    let mut checked = 0;
    for pair in lines.windows(2) {
        let freed = pair[0].strip_suffix(" returned to lookaside list");
        let next = pair[1].strip_prefix(
            "LookasideList: + Memory block allocated from lookaside list at address ",
        );
        if let (Some(freed), Some(next)) = (freed, next) {
            assert_eq!(freed.rsplit(' ').next(), Some(next));
            checked += 1;
        }
    }
    assert_eq!(
        checked, 4,
        "rounds 2 to 5 each start by reusing the block just freed"
    );
}

#[test]
fn control_block_allocation_failure_takes_the_seeds_path() {
    for pool2 in [false, true] {
        let config = Config {
            pool2,
            fail_pool_allocation: Some(1),
            ..Config::default()
        };
        assert_eq!(
            run(config, ApiPath::Auto),
            "\nLookasideList: Entering DriverEntry\n\
             LookasideList: Couldn't allocate nonpaged memory for lookaside list control structure\n\
             LookasideList: Leaving DriverEntry\n"
        );
    }
}

#[test]
fn initialization_failure_frees_the_control_block() {
    let config = Config {
        fail_init: Some(sim::STATUS_INSUFFICIENT_RESOURCES),
        ..Config::default()
    };
    let (transcript, _) = name_addresses(&run(config, ApiPath::Auto));
    assert_eq!(
        transcript,
        "\nLookasideList: Entering DriverEntry\n\
         LookasideList: Nonpaged memory for lookaside list allocated at address A0\n\
         LookasideList: Couldn't initialize lookaside list, status C000009A\n\
         LookasideList: Nonpaged memory for lookaside list at address A0 released\n\
         LookasideList: Leaving DriverEntry\n"
    );
}

#[test]
fn exported_path_on_a_kernel_without_the_exports_is_refused_cleanly() {
    let transcript = run(Config::default(), ApiPath::Exported);
    assert!(transcript.contains("Couldn't initialize lookaside list, status C000007A\n"));
}

/// The entries left on the chain when the drain starts, first to last, and the entries the
/// rounds removed, given which allocations (1-based) fail: the seed's logic, stated directly.
fn expected_order(failing: u32) -> (Vec<u32>, Vec<u32>) {
    let (mut chain, mut removed, mut allocation, mut index) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..5 {
        for _ in 0..2 {
            allocation += 1;
            if allocation != failing {
                index += 1;
                chain.insert(0, index);
            }
        }
        if !chain.is_empty() {
            removed.push(chain.remove(0));
        }
    }
    (chain, removed)
}

fn entry_numbers(transcript: &str, suffix: &str) -> Vec<u32> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix("LookasideList: ")?.strip_suffix(suffix))
        .filter_map(|rest| rest.rsplit('#').next()?.parse().ok())
        .collect()
}

#[test]
fn kth_block_allocation_failure_for_every_k_unwinds_cleanly() {
    for k in 1..=10 {
        let config = Config {
            lookaside_exports: true,
            fail_lookaside_allocation: Some(k),
            ..Config::default()
        };
        let transcript = run(config, ApiPath::Auto);
        let failures = transcript
            .matches("LookasideList: Very bad. Couldn't allocate from lookaside list\n")
            .count();
        assert_eq!(failures, 1, "k = {k}");
        let (rest, _) = transcript
            .split_once("\nLookasideList: Free the rest")
            .expect("drain");
        let (left, removed_in_rounds) = expected_order(k);
        assert_eq!(
            entry_numbers(rest, " removed"),
            removed_in_rounds,
            "k = {k}"
        );
        let drained = transcript.split_once("Free the rest").expect("drain").1;
        assert_eq!(
            entry_numbers(drained, " removed"),
            left,
            "k = {k}: LIFO drain"
        );
        assert_eq!(entry_numbers(&transcript, " added").len(), 9, "k = {k}");
        assert!(transcript.contains(
            "LookasideList: Doubly linked list is empty\n\n\
             LookasideList: Lookaside list deleted\n"
        ));
        assert!(transcript.ends_with("LookasideList: Leaving DriverEntry\n"));
    }
}

#[test]
fn first_two_allocations_failing_reach_the_empty_chain_message() {
    // Pool allocation 1 is the control block; 2 and 3 are the first two blocks (list empty).
    let config = Config {
        fail_pool_allocation: Some(2),
        ..Config::default()
    };
    let transcript = run(config, ApiPath::Inline);
    assert!(transcript.contains(
        "LookasideList: Start to allocate/free from/to lookaside list\n\
         LookasideList: Very bad. Couldn't allocate from lookaside list\n\
         LookasideList: + Memory block allocated"
    ));
}

#[test]
fn every_pool_failure_on_the_inline_path_unwinds_cleanly() {
    // Pool allocations: 1 the control block, then one per lookaside miss (six in the scenario).
    for n in 1..=8 {
        let config = Config {
            fail_pool_allocation: Some(n),
            ..Config::default()
        };
        let transcript = run(config, ApiPath::Inline);
        assert!(
            transcript.ends_with("LookasideList: Leaving DriverEntry\n"),
            "n = {n}"
        );
    }
}

#[test]
fn the_record_keeps_the_seeds_layout() {
    use crate::scenario::SomeStructure;
    use core::mem::{offset_of, size_of};
    assert_eq!(offset_of!(SomeStructure, some_field1), 0);
    assert_eq!(offset_of!(SomeStructure, some_field2), 4);
    assert_eq!(offset_of!(SomeStructure, list_entry), 8);
    assert_eq!(offset_of!(SomeStructure, some_field_x), 24);
    assert_eq!(size_of::<SomeStructure>(), 32);
    assert_eq!(
        TAG.to_le_bytes(),
        *b"Wasm",
        "'msaW' reads Wasm in memory, as in the seed"
    );
}

//! What the tools rely on: the record's layout, the shared checks, and every anchor the tools
//! parse occurring in the driver's output.

#[allow(
    clippy::wildcard_imports,
    reason = "the tests' shared helpers and imports"
)]
use super::*;

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

#[test]
fn the_shared_checks_reject_a_wrong_transcript() {
    let transcript = run(Config::default());
    let second = lines_with(&transcript, "allocated from lookaside list at address")[1];
    let address = second.rsplit(' ').next().unwrap();
    let moved = transcript.replacen(address, "00000000DEADBEE0", 2);
    assert!(
        expected::check_block_reuse(&moved).is_err(),
        "a different block handed out"
    );
    let seed = seed_lines(&run(with_parameters(&[(
        "FailAllocationAt",
        RegValue::Dword(3),
    )])));
    assert_eq!(expected::check_fault_injection(&seed, 3), Ok(()));
    assert!(
        expected::check_fault_injection(&seed, 4).is_err(),
        "the failure was #3"
    );
    assert!(
        expected::check_fault_injection(&seed_lines(&transcript), 3).is_err(),
        "no failure"
    );
}

/// Every anchor the tools parse out of the driver's output occurs in it: a format string
/// changed without its parser (or the other way round) fails here, naming the anchor.
#[test]
fn every_anchor_the_tools_parse_occurs_in_the_drivers_output() {
    let mut printed = String::new();
    for parameters in [
        &[][..],
        &[("ApiPath", RegValue::Dword(2))],
        &[("FailAllocationAt", RegValue::Dword(seed::ALLOCATIONS + 1))],
        &[("FailAllocationAt", RegValue::Dword(1))],
        &[
            (
                "StressIterations",
                RegValue::Dword(if cfg!(miri) { 20 } else { 2000 }),
            ),
            ("StressThreads", RegValue::Dword(2)),
        ],
    ] {
        printed.push_str(&run(Config {
            lookaside_exports: true,
            ..with_parameters(parameters)
        }));
    }
    printed.push_str(&run(per_processor(&Config::default(), 2, false)));
    let missing: Vec<&str> = anchors::DRIVER
        .iter()
        .copied()
        .filter(|anchor| !printed.contains(anchor))
        .collect();
    assert!(
        missing.is_empty(),
        "the driver printed none of these anchors of crates/contract/src/anchors.rs: {missing:?}"
    );
}

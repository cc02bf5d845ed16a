//! The registry parameters: bad values named with their range and default, a missing key,
//! `BreakBeforeDelete`.

#[allow(
    clippy::wildcard_imports,
    reason = "the tests' shared helpers and imports"
)]
use super::*;

#[test]
fn bad_registry_values_are_named_with_their_range_and_default() {
    let transcript = run(with_parameters(&[
        ("ListType", RegValue::Dword(2)),
        ("BreakBeforeDelete", RegValue::Other(1, 200)),
        ("StressIterations", RegValue::Dword(100_000_001)),
        ("ApiPath", RegValue::Other(11, 8)),
        ("StressThreads", RegValue::Dword(0)),
        ("FailAllocationAt", RegValue::Other(4, 2)),
        ("ListMode", RegValue::Dword(2)),
    ]));
    let complaints = lines_with(&transcript, "using the default");
    let expected: Vec<String> = [
        (table::LIST_TYPE, Complaint::OutOfRange(2)),
        (table::BREAK_BEFORE_DELETE, Complaint::NotDword(1)),
        (table::STRESS_ITERATIONS, Complaint::OutOfRange(100_000_001)),
        (table::API_PATH, Complaint::NotDword(11)),
        (table::STRESS_THREADS, Complaint::OutOfRange(0)),
        (table::FAIL_ALLOCATION_AT, Complaint::NotDword(4)),
        (table::LIST_MODE, Complaint::OutOfRange(2)),
    ]
    .iter()
    .map(|(parameter, complaint)| {
        format!("{INDENTED}{}", expected::complaint(parameter, *complaint))
    })
    .collect();
    assert_eq!(complaints, expected);
    let (seed, _) = name_addresses(&seed_lines(&transcript));
    assert_eq!(
        expected::check_seed(&seed),
        Ok(()),
        "bad values fall back to the seed's behaviour"
    );
}

#[test]
fn missing_parameters_key_means_defaults_silently() {
    let transcript = run(Config::default());
    assert!(lines_with(&transcript, "using the default").is_empty());
    assert!(transcript.contains(
        "Parameters: ListType 0 (nonpaged), ApiPath 0 (auto), StressIterations 0, StressThreads 1, \
         FailAllocationAt 0, BreakBeforeDelete 0, ListMode 0 (shared)\n"
    ));
}

#[test]
fn break_before_delete_breaks_only_with_a_debugger() {
    let parameters = Some(vec![("BreakBeforeDelete", RegValue::Dword(1))]);
    let transcript = run(Config {
        parameters: parameters.clone(),
        ..Config::default()
    });
    assert_eq!(sim::breakpoints(), 0);
    assert!(
        transcript.contains(
            "BreakBeforeDelete is set, but no kernel debugger is attached: not breaking\n"
        )
    );
    let transcript = run(Config {
        parameters,
        debugger: true,
        ..Config::default()
    });
    assert_eq!(sim::breakpoints(), 1);
    let control = lines_with(&transcript, "allocated at address")[0]
        .rsplit(' ')
        .next()
        .unwrap();
    let break_at = transcript
        .find(&format!(
            "Breaking into the debugger: type !lookaside {control}\n"
        ))
        .unwrap();
    assert!(break_at < transcript.find("Lookaside list deleted").unwrap());
}

//! The stress run: its timings and exact tallies, in both list modes, and fewer threads than
//! asked for.

#[allow(
    clippy::wildcard_imports,
    reason = "the tests' shared helpers and imports"
)]
use super::*;

/// Pairs per thread in the stress tests: under Miri, which interprets every instruction and
/// checks every access, fewer (the assertions are the same).
const STRESS_PAIRS: u32 = if cfg!(miri) { 20 } else { 2000 };

#[test]
fn stress_run_reports_timings_and_balanced_tallies_in_both_list_modes() {
    let cases = [(0, 1), (0, 4), (1, 1), (1, 4)];
    for (index, kernel) in every_kernel().into_iter().enumerate() {
        for (case, &(list_mode, threads)) in cases.iter().enumerate() {
            if !runs_here(index, case) {
                continue;
            }
            let config = Config {
                parameters: Some(vec![
                    ("StressIterations", RegValue::Dword(STRESS_PAIRS)),
                    ("StressThreads", RegValue::Dword(threads)),
                    ("ListMode", RegValue::Dword(list_mode)),
                ]),
                processors: 2,
                ..kernel.clone()
            };
            let transcript = run(config);
            let (seed, _) = name_addresses(&seed_lines(&transcript));
            assert_eq!(expected::check_seed(&seed), Ok(()));
            assert!(transcript.contains(&format!(
                "Stress: {STRESS_PAIRS} alloc+free pairs per thread, {threads} thread(s), fastest of 5 runs whose threads overlapped\n"
            )));
            for name in ["slist-floor", "pool"] {
                assert_eq!(
                    lines_with(&transcript, &format!("Stress {name}: ")).len(),
                    1,
                    "{name}"
                );
            }
            let path = if kernel.lookaside_exports {
                "exported"
            } else {
                "inline"
            };
            let line = lines_with(&transcript, &format!("Stress lookaside-{path}: "));
            assert!(
                line[0].contains(&format!("{threads} thread(s)")),
                "{line:?}"
            );
            let pairs = STRESS_PAIRS * threads * crate::stress::RUNS;
            assert!(transcript.contains(&format!(
                "Stress tallies balance: {pairs} blocks allocated and {pairs} freed, 0 allocations failed\n"
            )));
            assert!(transcript.contains("Stress hit rate: "));
            // The counters are the kernel's plain increments: exact for one thread, and never
            // more than the allocations when threads race.
            let total = seed::ALLOCATIONS + pairs;
            let (allocates, frees) = (
                statistic(&transcript, "TotalAllocates"),
                statistic(&transcript, "TotalFrees"),
            );
            if threads == 1 {
                assert_eq!((allocates, frees), (total, total));
            } else {
                assert!(allocates <= total && frees <= total, "{allocates} {frees}");
            }
        }
    }
}

#[test]
fn stress_run_with_fewer_threads_than_asked_still_joins_and_balances() {
    let config = Config {
        parameters: Some(vec![
            ("StressIterations", RegValue::Dword(STRESS_PAIRS / 4)),
            ("StressThreads", RegValue::Dword(4)),
        ]),
        fail_thread_creation: Some(3),
        ..Config::default()
    };
    let transcript = run(config);
    assert!(
        transcript.contains("Stress: only 3 of 4 threads could be created (status C000009A)\n")
    );
    assert_eq!(lines_with(&transcript, "threads could be created").len(), 1);
    // Creations fail from the third on: the list's runs are on the caller alone.
    let pairs = STRESS_PAIRS / 4 * crate::stress::RUNS;
    assert!(transcript.contains(&format!(
        "Stress tallies balance: {pairs} blocks allocated and {pairs} freed, 0 allocations failed\n"
    )));
    assert!(transcript.contains("Stress lookaside-inline: "));
}

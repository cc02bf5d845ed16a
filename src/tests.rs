//! The driver against the simulated kernel: the exact seed transcript, the LIFO order, block
//! reuse, the status, the parameters, the statistics, the stress run, and every failure path
//! ending with nothing leaked.

use crate::scenario::{TAG, driver_entry};
use wdm_lookaside::STATUS_DEVICE_CONFIGURATION_ERROR;
use wdm_lookaside::sim::{self, Config, RegValue};

use lookaside_contract::anchors::{self, INDENTED};
use lookaside_contract::checks::{
    self as expected, Complaint, entry_numbers, expected_counters, name_addresses, seed_lines,
    statistic,
};
use lookaside_contract::parameters as table;
use lookaside_contract::seed;

/// Runs `DriverEntry` on a fresh simulated kernel with the service's registry path; checks the
/// status and that nothing leaked (pool blocks, lookaside lists, handles).
fn run(config: Config) -> String {
    sim::reset(config);
    let service = sim::ServiceKey::new("LookasideList");
    let status = driver_entry(Some(service.registry_path()));
    assert_eq!(
        status, STATUS_DEVICE_CONFIGURATION_ERROR,
        "DriverEntry's status"
    );
    assert_eq!(sim::outstanding_pool_blocks(), [], "pool blocks leaked");
    assert_eq!(sim::live_lookaside_lists(), 0, "lookaside list not deleted");
    assert_eq!(sim::open_handles(), 0, "handles left open");
    sim::transcript()
}

fn with_parameters(parameters: &[(&'static str, RegValue)]) -> Config {
    Config {
        parameters: Some(parameters.to_vec()),
        ..Config::default()
    }
}

/// Windows 10 before 2004, Windows 10 2004+ / 11 21H2, and Windows 11 22H2+.
fn every_kernel() -> [Config; 3] {
    [
        Config::default(),
        Config {
            pool2: true,
            ..Config::default()
        },
        Config {
            lookaside_exports: true,
            pool2: true,
            ..Config::default()
        },
    ]
}

/// Whether case `case` of a test's matrix runs on kernel `kernel` (of `every_kernel`'s three).
///
/// Natively, every case on every kernel. Under Miri, which interprets every instruction and
/// checks every access (a run of the scenario takes seconds), each case runs on one kernel,
/// the cases spread over the kernels round robin: every case and every kernel still runs,
/// with the same assertions, in a third of the time.
const fn runs_here(kernel: usize, case: usize) -> bool {
    !cfg!(miri) || case % 3 == kernel
}

fn lines_with<'t>(transcript: &'t str, text: &str) -> Vec<&'t str> {
    transcript
        .lines()
        .filter(|line| line.contains(text))
        .collect()
}

#[test]
fn transcript_is_the_seeds_line_for_line_on_every_kernel_and_api_path() {
    for kernel in every_kernel() {
        for api_path in 0..=2 {
            let config = Config {
                parameters: Some(vec![("ApiPath", RegValue::Dword(api_path))]),
                ..kernel.clone()
            };
            let transcript = run(config.clone());
            let (seed, addresses) = name_addresses(&seed_lines(&transcript));
            assert_eq!(seed, expected::SEED, "{config:?}");
            assert_eq!(
                addresses.len(),
                seed::ADDRESSES,
                "one control block and the distinct blocks"
            );
            let exported = api_path != 2 && kernel.lookaside_exports;
            let routines = if exported {
                "the kernel's exported"
            } else {
                "the driver's port"
            };
            assert_eq!(lines_with(&transcript, routines).len(), 1, "{config:?}");
        }
    }
}

#[test]
fn extra_lines_are_indented_and_the_seed_lines_untouched() {
    let transcript = run(Config::default());
    for line in transcript.lines().filter(|line| !line.is_empty()) {
        let text = line
            .strip_prefix("LookasideList: ")
            .expect("every line has the prefix");
        assert!(!text.starts_with(' ') || text.starts_with("  "), "{line:?}");
    }
    let extras: Vec<&str> = transcript
        .lines()
        .filter(|l| l.starts_with("LookasideList:   "))
        .collect();
    assert!(
        extras[0]
            .starts_with("LookasideList:   Parameters: ListType 0 (nonpaged), ApiPath 0 (auto)")
    );
    assert!(extras.iter().any(|l| l.contains("Chain head at address")));
    assert!(
        extras
            .iter()
            .any(|l| l.contains("Statistics, as !lookaside "))
    );
}

#[test]
fn addresses_are_full_width_x64_pointers() {
    let transcript = run(Config::default());
    let line = lines_with(&transcript, "allocated at address")[0];
    let address = line.rsplit(' ').next().expect("address");
    assert_eq!(address.len(), 16);
    let value = usize::from_str_radix(address, 16).expect("hex address");
    assert_ne!(value, 0);
    assert_eq!(value % 16, 0, "pool blocks are 16-byte aligned");
}

#[test]
fn a_returned_block_is_handed_out_by_the_next_allocation() {
    for kernel in every_kernel() {
        assert_eq!(expected::check_block_reuse(&run(kernel)), Ok(()));
    }
}

#[test]
fn statistics_match_the_scenario_and_the_lists_depth() {
    for kernel in every_kernel() {
        let transcript = run(kernel);
        let depth = statistic(&transcript, "Max Depth");
        assert_eq!(depth, u32::from(sim::MINIMUM_LOOKASIDE_DEPTH));
        for (name, value) in expected_counters(depth) {
            assert_eq!(statistic(&transcript, name), value, "{name}");
        }
        assert_eq!(statistic(&transcript, "Size"), 32);
        assert_eq!(statistic(&transcript, "Max Alloc"), 32 * depth);
        assert_eq!(statistic(&transcript, "MaximumDepth"), 256);
        let control = lines_with(&transcript, "allocated at address")[0]
            .rsplit(' ')
            .next()
            .unwrap();
        assert!(transcript.contains(&format!(
            "Statistics, as !lookaside {control} shows them:\n"
        )));
        assert!(transcript.contains(&format!("Lookaside \"\" @ {control} \"Wasm\"\n")));
        assert!(transcript.contains("Type           =     0200 NonPagedPoolNx\n"));
        assert!(transcript.contains("Hit Rate       =      40%   Hit Rate   =      80%\n"));
        // The statistics come after the chain is drained and before the list is deleted.
        let stats_at = transcript.find("Statistics").unwrap();
        assert!(transcript.find("Doubly linked list is empty").unwrap() < stats_at);
        assert!(stats_at < transcript.find("Lookaside list deleted").unwrap());
    }
}

#[test]
fn paged_list_type_gives_paged_blocks_and_the_same_story() {
    let transcript = run(with_parameters(&[("ListType", RegValue::Dword(1))]));
    let (seed, _) = name_addresses(&seed_lines(&transcript));
    assert_eq!(seed, expected::SEED);
    assert!(transcript.contains("32-byte blocks from PagedPool, through"));
    assert!(transcript.contains("Type           =     0001 PagedPool\n"));
    assert!(transcript.contains("Parameters: ListType 1 (paged)"));
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
            seed_lines(&run(config)),
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
    let (transcript, _) = name_addresses(&seed_lines(&run(config)));
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
fn exported_path_on_a_kernel_without_the_exports_says_so_and_uses_the_port() {
    let transcript = run(with_parameters(&[("ApiPath", RegValue::Dword(1))]));
    assert!(
        transcript.contains("ApiPath 1 asks for the exported routines, which this kernel lacks\n")
    );
    assert!(transcript.contains("through the driver's port of the WDK's inline"));
}

#[test]
fn kth_block_allocation_failure_for_every_k_unwinds_cleanly_on_every_kernel() {
    for (index, kernel) in every_kernel().into_iter().enumerate() {
        for k in (1..=seed::ALLOCATIONS).filter(|&k| runs_here(index, k as usize)) {
            let config = Config {
                parameters: Some(vec![("FailAllocationAt", RegValue::Dword(k))]),
                ..kernel.clone()
            };
            let transcript = run(config);
            let seed = seed_lines(&transcript);
            assert_eq!(expected::check_fault_injection(&seed, k), Ok(()), "k = {k}");
            assert_eq!(entry_numbers(&seed, " added").len(), 9, "k = {k}");
            assert!(seed.contains(
                "LookasideList: Doubly linked list is empty\n\n\
                 LookasideList: Lookaside list deleted\n"
            ));
            assert!(transcript.contains(&format!("Fault injection: block allocation #{k} fails")));
            assert_eq!(
                statistic(&transcript, "TotalAllocates"),
                seed::ALLOCATIONS,
                "k = {k}"
            );
            assert_eq!(statistic(&transcript, "TotalFrees"), 9, "k = {k}");
        }
    }
}

#[test]
fn fault_injection_past_the_runs_allocations_says_it_never_happened() {
    let past = seed::ALLOCATIONS + 1;
    let transcript = run(with_parameters(&[(
        "FailAllocationAt",
        RegValue::Dword(past),
    )]));
    assert!(
        transcript.contains(&format!(
            "LookasideList:   Fault injection: block allocation #{past} never happened (the run made {})\n",
            seed::ALLOCATIONS
        )),
        "{transcript}"
    );
    let (seed, _) = name_addresses(&seed_lines(&transcript));
    assert_eq!(seed, expected::SEED, "the story itself is the seed's");
    let reached = run(with_parameters(&[(
        "FailAllocationAt",
        RegValue::Dword(seed::ALLOCATIONS),
    )]));
    assert!(!reached.contains("never happened"));
}

#[test]
fn first_allocations_failing_reach_the_empty_chain_message() {
    // Pool allocation 1 is the control block; 2 is the first block (the list is empty).
    let config = Config {
        fail_pool_allocation: Some(2),
        ..Config::default()
    };
    let transcript = run(config);
    assert!(transcript.contains(
        "LookasideList: Start to allocate/free from/to lookaside list\n\
         LookasideList: Very bad. Couldn't allocate from lookaside list\n\
         LookasideList: + Memory block allocated"
    ));
    // Allocation 1 finds the pool exhausted, allocation 2 is the injected failure.
    let config = Config {
        fail_pool_allocation: Some(2),
        parameters: Some(vec![("FailAllocationAt", RegValue::Dword(2))]),
        ..Config::default()
    };
    let transcript = seed_lines(&run(config));
    assert!(transcript.contains(
        "LookasideList: Very bad. Couldn't allocate from lookaside list\n\
         LookasideList: Very bad. Couldn't allocate from lookaside list\n\
         LookasideList: An attempt was made to remove entry from empty lookaside list\n"
    ));
}

#[test]
fn every_pool_failure_unwinds_cleanly() {
    // Pool allocations: 1 the control block, then one per lookaside miss (six in the scenario).
    for kernel in every_kernel() {
        for n in 1..=8 {
            let config = Config {
                fail_pool_allocation: Some(n),
                ..kernel.clone()
            };
            let transcript = run(config);
            assert!(
                transcript.ends_with("LookasideList: Leaving DriverEntry\n"),
                "n = {n}"
            );
        }
    }
}

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
        seed,
        expected::SEED,
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
            assert_eq!(seed, expected::SEED);
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

/// Per-processor lists on a kernel with `processors` processors.
fn per_processor(kernel: &Config, processors: u32, migrate: bool) -> Config {
    let mut parameters = kernel.parameters.clone().unwrap_or_default();
    parameters.push(("ListMode", RegValue::Dword(1)));
    Config {
        parameters: Some(parameters),
        processors,
        migrate_every_call: migrate,
        ..kernel.clone()
    }
}

#[test]
fn per_processor_lists_keep_the_seeds_transcript_even_when_every_call_moves() {
    let cases = [(1, false), (4, false), (4, true), (3, true)];
    for (index, kernel) in every_kernel().into_iter().enumerate() {
        for api_path in 0..=2 {
            for (case, &(processors, migrate)) in cases.iter().enumerate() {
                if !runs_here(index, api_path as usize * cases.len() + case) {
                    continue;
                }
                let kernel = Config {
                    parameters: Some(vec![("ApiPath", RegValue::Dword(api_path))]),
                    ..kernel.clone()
                };
                let config = per_processor(&kernel, processors, migrate);
                let transcript = run(config.clone());
                let (seed, addresses) = name_addresses(&seed_lines(&transcript));
                assert_eq!(seed, expected::SEED, "{config:?}");
                assert_eq!(addresses.len(), seed::ADDRESSES, "{config:?}");
                assert_eq!(expected::check_block_reuse(&transcript), Ok(()));
                assert!(transcript.contains("ListMode 1 (per-processor)\n"));
                let lists = lines_with(&transcript, "'s list:").len();
                if processors == 1 {
                    assert_eq!(lists, 0, "one processor, one list: as the shared list");
                } else {
                    assert_eq!(lists, processors as usize, "{config:?}");
                    assert!(transcript.contains(&format!(
                        "Per-processor lists: {processors}, one per active processor"
                    )));
                }
            }
        }
    }
}

#[test]
fn per_processor_statistics_per_list_and_in_total() {
    for kernel in every_kernel() {
        for migrate in [false, true] {
            let transcript = run(per_processor(&kernel, 3, migrate));
            assert!(transcript.contains("LookasideList:   All 3 per-processor lists together:\n"));
            // The total comes last: `statistic` reads it.
            assert_eq!(statistic(&transcript, "TotalAllocates"), seed::ALLOCATIONS);
            assert_eq!(statistic(&transcript, "TotalFrees"), seed::FREES);
            assert_eq!(statistic(&transcript, "Max Depth"), 12);
            assert_eq!(statistic(&transcript, "Size"), 32);
            // Each list is 128-byte aligned, 128 bytes after the previous one.
            let lists: Vec<usize> = lines_with(&transcript, "Statistics, as !lookaside ")
                .iter()
                .map(|line| {
                    let address = line.split("!lookaside ").nth(1).unwrap();
                    usize::from_str_radix(&address[..16], 16).unwrap()
                })
                .collect();
            assert_eq!(lists.len(), 3);
            assert_eq!(lists[0] % 128, 0);
            for pair in lists.windows(2) {
                assert_eq!(pair[1] - pair[0], 128);
            }
            let per_list = |name: &str| -> Vec<u32> {
                transcript
                    .lines()
                    .filter(|line| line.starts_with("LookasideList:     ") && line.contains(name))
                    .map(|line| {
                        let after = line.split(name).nth(1).unwrap();
                        after
                            .trim_start_matches([' ', '='])
                            .split_whitespace()
                            .next()
                            .unwrap()
                            .parse()
                            .unwrap()
                    })
                    .collect()
            };
            let allocates = per_list("TotalAllocates ");
            let frees = per_list("TotalFrees ");
            assert_eq!(allocates.len(), 4, "three lists and the total");
            if migrate {
                // Blocks were freed on other processors than they came from.
                assert!(allocates.iter().zip(&frees).take(3).any(|(a, f)| a != f));
            } else {
                // One thread on processor 0: the other lists are untouched.
                assert_eq!(allocates[..3], [10, 0, 0]);
                assert_eq!(frees[..3], [10, 0, 0]);
            }
        }
    }
}

#[test]
fn per_processor_fault_injection_for_every_k_unwinds_cleanly() {
    for (index, kernel) in every_kernel().into_iter().enumerate() {
        for k in (1..=seed::ALLOCATIONS).filter(|&k| runs_here(index, k as usize)) {
            let kernel = Config {
                parameters: Some(vec![("FailAllocationAt", RegValue::Dword(k))]),
                ..kernel.clone()
            };
            let transcript = run(per_processor(&kernel, 3, true));
            let seed = seed_lines(&transcript);
            assert_eq!(expected::check_fault_injection(&seed, k), Ok(()), "k = {k}");
            assert_eq!(
                statistic(&transcript, "TotalAllocates"),
                seed::ALLOCATIONS,
                "k = {k}"
            );
            assert_eq!(statistic(&transcript, "TotalFrees"), 9, "k = {k}");
        }
    }
}

#[test]
fn per_processor_failures_unwind_cleanly() {
    let kernel = Config {
        fail_pool_allocation: Some(1),
        ..Config::default()
    };
    assert_eq!(
        seed_lines(&run(per_processor(&kernel, 4, false))),
        "\nLookasideList: Entering DriverEntry\n\
         LookasideList: Couldn't allocate nonpaged memory for lookaside list control structure\n\
         LookasideList: Leaving DriverEntry\n"
    );
    let kernel = Config {
        fail_init: Some(sim::STATUS_INSUFFICIENT_RESOURCES),
        ..Config::default()
    };
    let transcript = run(per_processor(&kernel, 4, false));
    assert!(transcript.contains("Couldn't initialize lookaside list, status C000009A\n"));
    for n in 2..=8 {
        let kernel = Config {
            fail_pool_allocation: Some(n),
            ..Config::default()
        };
        let transcript = run(per_processor(&kernel, 2, true));
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

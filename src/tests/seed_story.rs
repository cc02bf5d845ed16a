//! The seed's story: its transcript line for line, block reuse, statistics, and every failure
//! path of the seed's own (allocation, initialisation, fault injection).

#[allow(
    clippy::wildcard_imports,
    reason = "the tests' shared helpers and imports"
)]
use super::*;

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
            assert_eq!(expected::check_seed(&seed), Ok(()), "{config:?}");
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
    assert_eq!(expected::check_seed(&seed), Ok(()));
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
            fault_injection_unwound(&transcript, k);
            assert_eq!(
                entry_numbers(&seed, " added").len(),
                seed::ALLOCATIONS as usize - 1,
                "k = {k}"
            );
            assert!(seed.contains(
                "LookasideList: Doubly linked list is empty\n\n\
                 LookasideList: Lookaside list deleted\n"
            ));
            assert!(transcript.contains(&format!("Fault injection: block allocation #{k} fails")));
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
    assert_eq!(
        expected::check_seed(&seed),
        Ok(()),
        "the story itself is the seed's"
    );
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

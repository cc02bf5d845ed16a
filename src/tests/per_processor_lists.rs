//! `ListMode 1`: one list per processor, the seed's story unchanged, statistics per list and
//! in total, and every failure path.

#[allow(
    clippy::wildcard_imports,
    reason = "the tests' shared helpers and imports"
)]
use super::*;

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
                assert_eq!(expected::check_seed(&seed), Ok(()), "{config:?}");
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
            fault_injection_unwound(&transcript, k);
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

//! The driver against the simulated kernel: the exact seed transcript, the LIFO order, block
//! reuse, the status, the parameters, the statistics, the stress run, and every failure path
//! ending with nothing leaked. The helpers are here; the tests by topic in the modules below.

mod contract;
mod parameters;
mod per_processor_lists;
mod seed_story;
mod stress;

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

/// Per-processor lists on a kernel with `processors` processors.
/// A run whose `k`-th block allocation failed: the seed's story unwound from there
/// ([`expected::check_fault_injection`]), and the list's counters: every allocation counted,
/// the failed one's block never handed out, so never freed.
fn fault_injection_unwound(transcript: &str, k: u32) {
    let seed = seed_lines(transcript);
    assert_eq!(expected::check_fault_injection(&seed, k), Ok(()), "k = {k}");
    assert_eq!(
        statistic(transcript, "TotalAllocates"),
        seed::ALLOCATIONS,
        "k = {k}"
    );
    assert_eq!(
        statistic(transcript, "TotalFrees"),
        seed::FREES - 1,
        "k = {k}"
    );
}

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

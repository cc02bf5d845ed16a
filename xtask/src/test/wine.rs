//! The Wine end-to-end checks: LookasideList.sys loaded with `sc.exe` (the seed's run, every
//! registry parameter, the per-processor lists), from its INF, signed, and the library's
//! example driver in its place.

use anyhow::{Context as _, Result, bail};
use lookaside_contract::checks::{self as expected, Complaint};
use lookaside_contract::parameters as table;
use lookaside_contract::{anchors, seed};

use super::{Check, Context, Needs};
use crate::options::Value;
use crate::wine::{Load, inf_install};
use crate::workspace;

/// Sets the driver's parameters (exactly these) and loads it once.
fn load(context: &Context<'_>, parameters: &[(&str, Value)]) -> Result<Load> {
    let parameters: Vec<(String, Value)> = parameters
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    context.session()?.load(&parameters)
}

/// A check of one load with `parameters`: the run's verdict, then `judge`.
fn load_check(
    name: impl Into<String>,
    parameters: Vec<(&'static str, Value)>,
    judge: impl Fn(&Load) -> Result<()> + 'static,
) -> Check {
    Check::new(name, Needs::Wine, move |context| {
        let load = load(context, &parameters)?;
        judge(&load)?;
        load.verdict()
    })
}

/// A check of the seed's run (one load without parameters, shared by these checks).
fn seed_check(name: &str, judge: impl Fn(&Load) -> Result<()> + 'static) -> Check {
    Check::new(name, Needs::Wine, move |context| {
        judge(context.seed_load()?)
    })
}

pub fn checks() -> Vec<Check> {
    let mut checks = seed_checks();
    checks.extend(parameter_checks());
    checks.extend(stress_checks());
    checks.extend(per_processor_checks());
    checks.extend(install_checks());
    checks
}

/// The seed's run, read several ways.
fn seed_checks() -> Vec<Check> {
    vec![
        seed_check("Wine: every seed line, in order", seed_exact),
        seed_check(
            "Wine: the drain takes the entries last in, first out",
            |load| {
                let named = named_seed(load);
                let drained = named
                    .split_once(anchors::DRAIN)
                    .map_or("", |(_, rest)| rest);
                let order = expected::entry_numbers(drained, anchors::ENTRY_REMOVED);
                let (left, _) = expected::expected_order(0);
                if order == left {
                    Ok(())
                } else {
                    bail!("drained {order:?}, expected {left:?}")
                }
            },
        ),
        seed_check(
            "Wine: a freed block is handed out by the next allocation",
            |load| expected::check_block_reuse(&named_seed(load)).map_err(anyhow::Error::msg),
        ),
        seed_check(
            "Wine: distinct addresses: the control block and the blocks",
            |load| {
                let (_, addresses) = expected::name_addresses(&expected::seed_lines(&joined(load)));
                if addresses.len() == seed::ADDRESSES {
                    Ok(())
                } else {
                    bail!(
                        "{} addresses, expected {}: {addresses:?}",
                        addresses.len(),
                        seed::ADDRESSES
                    )
                }
            },
        ),
        seed_check(
            "Wine: !lookaside statistics match the scenario and the list's Depth",
            statistics,
        ),
        seed_check(
            "Wine: status 0xC0000182, no crash, every block and pool block back",
            Load::verdict,
        ),
    ]
}

/// One load per registry parameter case: the API path, the pool, fault injection, bad values.
fn parameter_checks() -> Vec<Check> {
    vec![
        load_check(
            "Wine: ApiPath 2 runs the seed on the driver's inline port",
            vec![("ApiPath", Value::Dword(2))],
            |load| {
                seed_exact(load)?;
                must_contain(load, anchors::INLINE_PATH)
            },
        ),
        load_check(
            "Wine: ListType 1 gives paged blocks and the same story",
            vec![("ListType", Value::Dword(1))],
            |load| {
                seed_exact(load)?;
                must_contain(load, "32-byte blocks from PagedPool")?;
                must_contain(load, "Type           =     0001 PagedPool")
            },
        ),
        Check::new(
            format!(
                "Wine: FailAllocationAt k, for every k from 1 to {}",
                seed::ALLOCATIONS
            ),
            Needs::Wine,
            |context| {
                (1..=seed::ALLOCATIONS).try_for_each(|k| {
                    let load = load(context, &[("FailAllocationAt", Value::Dword(k))])?;
                    fault_injection(&load, k).with_context(|| format!("k = {k}"))
                })
            },
        ),
        Check::new(
            "Wine: bad registry values (a REG_SZ with a quote and a backslash among them) are named, defaults used",
            Needs::Wine,
            |context| {
                let load = load(
                    context,
                    &[
                        // Quotes and backslashes must reach the registry as they are (.reg
                        // escaping).
                        ("ListType", Value::String(r#"pa"ged\"#.into())),
                        ("StressThreads", Value::Dword(100)),
                        ("ApiPath", Value::Dword(7)),
                    ],
                )?;
                for (parameter, complaint) in [
                    (table::LIST_TYPE, Complaint::NotDword(1)),
                    (table::STRESS_THREADS, Complaint::OutOfRange(100)),
                    (table::API_PATH, Complaint::OutOfRange(7)),
                ] {
                    must_contain(&load, &expected::complaint(&parameter, complaint))?;
                }
                seed_exact(&load)?;
                load.verdict()
            },
        ),
        load_check(
            "Wine: BreakBeforeDelete without a debugger does not break",
            vec![("BreakBeforeDelete", Value::Dword(1))],
            |load| {
                must_contain(
                    load,
                    "BreakBeforeDelete is set, but no kernel debugger is attached: not breaking",
                )
            },
        ),
    ]
}

/// Stress runs: several threads on each list mode, and one longer than Wine's service limit.
fn stress_checks() -> Vec<Check> {
    let mut checks = Vec::new();
    for (list_mode, name) in [(0, "shared list"), (1, "per-processor lists")] {
        checks.push(Check::new(
            format!("Wine: a 4-thread stress run on the {name} completes, its tallies balance"),
            Needs::Wine,
            move |context| {
                let (pairs, threads) = (20_000, 4);
                let load = load(
                    context,
                    &[
                        ("StressIterations", Value::Dword(pairs)),
                        ("StressThreads", Value::Dword(threads)),
                        ("ListMode", Value::Dword(list_mode)),
                    ],
                )?;
                seed_exact(&load)?;
                must_contain(
                    &load,
                    &format!(
                        "{}{pairs} alloc+free pairs per thread, {threads} thread(s), fastest of {} runs whose threads overlapped",
                        anchors::STRESS,
                        seed::STRESS_RUNS
                    ),
                )?;
                let total = pairs * threads * seed::STRESS_RUNS;
                must_contain(
                    &load,
                    &format!(
                        "{} {total} blocks allocated and {total} freed, 0 allocations failed",
                        anchors::STRESS_BALANCED
                    ),
                )?;
                load.verdict()
            },
        ));
    }
    checks.push(Check::new(
        "Wine: a run longer than Wine's 10 s service start limit (4,000,000 pairs or more, 2 threads) completes",
        Needs::Wine,
        |context| {
            // A fast machine finishes 4,000,000 pairs within the limit, which would prove
            // nothing: the work doubles until the load outlasts it (three tries at most).
            let threads = 2;
            let mut pairs = 4_000_000;
            for _ in 0..3 {
                let load = load(
                    context,
                    &[
                        ("StressIterations", Value::Dword(pairs)),
                        ("StressThreads", Value::Dword(threads)),
                    ],
                )?;
                let took = load.start_took.as_secs_f64();
                if took > 11.0 {
                    let total = pairs * threads * seed::STRESS_RUNS;
                    must_contain(
                        &load,
                        &format!("{} {total} blocks allocated", anchors::STRESS_BALANCED),
                    )?;
                    return load.verdict();
                }
                println!("    sc start took only {took:.1} s with {pairs} pairs: doubling them");
                pairs *= 2;
            }
            bail!("three runs, the last of {} pairs, all had sc start return within 11 s: none proves anything about the 10 s limit", pairs / 2)
        },
    ));
    checks
}

/// `ListMode 1`: the seed's story and its failure paths on one list per processor.
fn per_processor_checks() -> Vec<Check> {
    let mut checks = Vec::new();
    for (api_path, routines) in [(1, anchors::EXPORTED_PATH), (2, anchors::INLINE_PATH)] {
        checks.push(Check::new(
            format!(
                "Wine: ListMode 1 runs the seed exactly on per-processor lists (ApiPath {api_path})"
            ),
            Needs::Wine,
            move |context| {
                let load = load(
                    context,
                    &[
                        ("ListMode", Value::Dword(1)),
                        ("ApiPath", Value::Dword(api_path)),
                    ],
                )?;
                seed_exact(&load)?;
                must_contain(&load, "ListMode 1 (per-processor)")?;
                must_contain(&load, routines)?;
                let transcript = joined(&load);
                expected::check_block_reuse(&transcript).map_err(anyhow::Error::msg)?;
                expected::check_per_processor_statistics(&transcript)
                    .map_err(anyhow::Error::msg)?;
                load.verdict()
            },
        ));
    }
    checks.push(Check::new(
        "Wine: ListMode 1 with FailAllocationAt 1, 4 and 10",
        Needs::Wine,
        |context| {
            [1, 4, 10].into_iter().try_for_each(|k| {
                let load = load(
                    context,
                    &[
                        ("ListMode", Value::Dword(1)),
                        ("FailAllocationAt", Value::Dword(k)),
                    ],
                )?;
                fault_injection(&load, k).with_context(|| format!("k = {k}"))
            })
        },
    ));
    checks
}

/// Other ways in: the INF, the library's example driver, the signed package.
fn install_checks() -> Vec<Check> {
    vec![
        Check::new(
            "Wine: LookasideList.inx, stamped, installs the service; it starts from it",
            Needs::Wine,
            inf_check,
        ),
        Check::new(
            "Wine: the example driver (minimal_driver.sys) prints its lines, every block back",
            Needs::Wine,
            example_load,
        ),
        Check::new(
            "package: the signed LookasideList.sys prints the seed's transcript in Wine",
            Needs::Wine,
            |context| {
                let package = context.package()?;
                let session = context.session()?;
                session.prefix().install_driver(&package.sys)?;
                let load = session.load(&[]);
                // The unsigned driver goes back in its place, whatever the signed one did.
                session
                    .prefix()
                    .install_driver(&context.artifacts()?.driver)?;
                let load = load?;
                seed_exact(&load)?;
                load.verdict()
            },
        ),
    ]
}

/// The INF path: stamp LookasideList.inx, install it with setupapi, start the service it made.
fn inf_check(context: &Context<'_>) -> Result<()> {
    let artifacts = context.artifacts()?;
    let session = context.session()?;
    let install =
        inf_install::install(session.prefix(), &artifacts.driver, context.options.verbose)?;
    eprintln!(
        "    {} (DriverVer {}, DIRID {}): ImagePath {} ({}), Type {}, Start {}, ErrorControl {}",
        install.inf.display(),
        install.driver_ver,
        install.dirid,
        install.image_path,
        install.installed.display(),
        install.service_type,
        install.start,
        install.error_control
    );
    let load = session.load(&[])?;
    seed_exact(&load)?;
    load.verdict()
}

/// The library's example driver in the LookasideList service's place: exactly the lines its
/// unit test expects on the simulated kernel, and the fixture's exact balances.
fn example_load(context: &Context<'_>) -> Result<()> {
    let expected_path = workspace::root().join("examples/minimal-driver/expected.txt");
    let expected = std::fs::read_to_string(&expected_path)
        .with_context(|| format!("reading {}", expected_path.display()))?;
    let artifacts = context.artifacts()?;
    let session = context.session()?;
    session.prefix().install_driver(&artifacts.example)?;
    let load = session.load(&[]);
    // LookasideList.sys goes back in its place, whatever the example did.
    session.prefix().install_driver(&artifacts.driver)?;
    let load = load?;
    expected::compare_lines(
        &joined(&load),
        &expected,
        "examples/minimal-driver/expected.txt",
    )
    .map_err(anyhow::Error::msg)?;
    load.verdict()
}

/// The transcript as one string, as the host tests see theirs.
fn joined(load: &Load) -> String {
    load.transcript
        .iter()
        .flat_map(|line| [line.as_str(), "\n"])
        .collect()
}

/// The seed's lines of the run, the addresses named.
fn named_seed(load: &Load) -> String {
    expected::name_addresses(&expected::seed_lines(&joined(load))).0
}

fn seed_exact(load: &Load) -> Result<()> {
    expected::check_seed(&named_seed(load)).map_err(anyhow::Error::msg)
}

fn must_contain(load: &Load, text: &str) -> Result<()> {
    if load.transcript.iter().any(|line| line.contains(text)) {
        Ok(())
    } else {
        bail!("no line contains {text:?}")
    }
}

fn fault_injection(load: &Load, k: u32) -> Result<()> {
    let seed = expected::seed_lines(&joined(load));
    expected::check_fault_injection(&seed, k).map_err(anyhow::Error::msg)?;
    load.verdict()
}

fn statistics(load: &Load) -> Result<()> {
    let transcript = joined(load);
    let depth = expected::statistic(&transcript, "Max Depth");
    for (name, value) in expected::expected_counters(depth) {
        let got = expected::statistic(&transcript, name);
        if got != value {
            bail!("{name} = {got}, expected {value} for Depth {depth}");
        }
    }
    let control = load
        .transcript
        .iter()
        .find_map(|line| {
            line.strip_prefix(
                "LookasideList: Nonpaged memory for lookaside list allocated at address ",
            )
        })
        .context("no control block address")?;
    must_contain(
        load,
        &format!("Statistics, as !lookaside {control} shows them:"),
    )
}

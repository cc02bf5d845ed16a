//! `cargo xtask test`: every check the project has, ending with one `N passed, N failed` line.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::build::{self, Artifacts};
use crate::cli::Options;
use crate::cli::Value;
use crate::driver_package::{self, Package};
use crate::wine::{Load, Prefix, Session};
use crate::workspace;
use crate::{debian, inf, linkmap, miri, pe, process, usage};
use lookaside_contract::checks::{self as expected, Complaint};
use lookaside_contract::parameters as table;
use lookaside_contract::{anchors, seed};

/// Named checks and their outcomes.
#[derive(Default)]
struct Tally {
    passed: Vec<String>,
    failed: Vec<(String, String)>,
}

impl Tally {
    fn record(&mut self, name: &str, outcome: Result<()>) {
        match outcome {
            Ok(()) => {
                eprintln!("    ok: {name}");
                self.passed.push(name.to_owned());
            }
            Err(error) => {
                eprintln!("    FAILED: {name}: {error:#}");
                self.failed.push((name.to_owned(), format!("{error:#}")));
            }
        }
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace::root());
    command
}

/// Runs a cargo subcommand with its output shown (test runners' summaries must reach the log).
fn cargo_shown(what: &str, args: &[&str]) -> Result<()> {
    process::progress(what);
    let status = cargo().args(args).status()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

pub fn all(options: &Options) -> Result<()> {
    debian::ensure(
        &[debian::BUILD, debian::WINE, debian::PACKAGE],
        options.verbose,
    )?;
    let mut tally = Tally::default();
    tally.record(
        "cargo fmt --check",
        process::run(
            "cargo fmt --all --check",
            cargo().args(["fmt", "--all", "--check"]),
            options.verbose,
        )
        .map(drop),
    );
    tally.record(
        "cargo clippy",
        cargo_shown(
            "cargo clippy --workspace --all-targets -- -D warnings",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
    tally.record(
        "host unit tests",
        cargo_shown(
            "cargo test --workspace (host unit tests, simulated kernel)",
            &["test", "--workspace"],
        ),
    );
    library_checks(&mut tally);
    tally.record(
        "a Git-for-Windows checkout (core.autocrlf=true) passes the host tests",
        crlf_checkout(),
    );
    if miri::ensure(options.verbose)? {
        for model in miri::Model::ALL {
            tally.record(
                &format!("host unit tests under Miri ({})", model.name()),
                miri::run(model),
            );
        }
    }
    match build::all(options) {
        Ok(artifacts) => {
            tally.record("cross-build", Ok(()));
            tally.record(
                "cross-build: the driver's rustc line carries the release profile's -C lto, and no -Z flag",
                lto_in_effect(options),
            );
            tally.record("clippy on the cross-build", build::clippy(options));
            pe_checks(&artifacts, &mut tally);
            let package = package_checks(options, &artifacts, &mut tally);
            wine_checks(options, &artifacts, package.as_ref(), &mut tally);
            usage_checks(options, &mut tally);
        }
        Err(error) => tally.record("cross-build", Err(error)),
    }
    eprintln!();
    for (name, error) in &tally.failed {
        eprintln!("failed: {name}: {error}");
    }
    println!(
        "xtask: {} passed, {} failed",
        tally.passed.len(),
        tally.failed.len()
    );
    if tally.failed.is_empty() {
        Ok(())
    } else {
        bail!("{} check(s) failed", tally.failed.len())
    }
}

fn pe_checks(artifacts: &Artifacts, tally: &mut Tally) {
    for (sys, map, expected) in [
        (
            &artifacts.driver,
            &artifacts.driver_map,
            &pe::LOOKASIDE_LIST,
        ),
        (
            &artifacts.example,
            &artifacts.example_map,
            &pe::MINIMAL_DRIVER,
        ),
    ] {
        driver_pe_checks(sys, map, expected, tally);
    }
}

/// The PE checks of one driver, and the checks of its linker map.
fn driver_pe_checks(sys: &Path, map: &Path, expected: &pe::Expected, tally: &mut Tally) {
    let name = expected.name;
    process::progress(&format!(
        "checking {name} (PE32+ AMD64, native, DriverEntry, imports, size)"
    ));
    let report = pe::check(sys, expected);
    if let Ok(report) = &report {
        eprintln!(
            "    {} bytes (budget {}); imports from ntoskrnl.exe: {}",
            report.size,
            expected.size_budget,
            report.imports.join(", ")
        );
        for (name, virtual_size, raw_size) in &report.sections {
            eprintln!("    section {name:<8} {virtual_size:>6} bytes ({raw_size} in the file)");
        }
    }
    tally.record(
        &format!("PE: {name}: AMD64, native subsystem, entry DriverEntry, imports exactly the list (nothing a supported Windows lacks), no W+X section, unwind data read-only, size budget"),
        report.map(drop),
    );
    match read_map(map) {
        Ok(chunks) => {
            tally.record(
                &format!("PE: {name}: no core::fmt (linker map)"),
                linkmap::check_no_core_fmt(&chunks),
            );
            tally.record(
                &format!("PE: {name}: no panic site (linker map)"),
                linkmap::check_no_panic_site(&chunks),
            );
            tally.record(
                &format!("PE: {name}: no writable global data, merged into .rdata (linker map)"),
                linkmap::check_no_writable_data(&chunks),
            );
        }
        Err(error) => tally.record(&format!("PE: {name}: the linker map"), Err(error)),
    }
}

/// Reads lld-link's map of the driver, showing its largest functions.
fn read_map(map: &std::path::Path) -> Result<Vec<linkmap::Chunk>> {
    let text = std::fs::read_to_string(map)
        .map_err(|error| anyhow::anyhow!("reading {}: {error}", map.display()))?;
    let chunks = linkmap::parse(&text)?;
    for (size, name) in linkmap::largest_functions(&chunks, 5) {
        eprintln!("    function {size:>6} bytes  {name}");
    }
    Ok(chunks)
}

/// Sets the driver's parameters (exactly these) and loads it once.
fn load(session: &Session, parameters: &[(&str, Value)]) -> Result<Load> {
    let parameters: Vec<(String, Value)> = parameters
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    session.load(&parameters)
}

/// `cargo xtask run` as people use it, run as child processes (the Wine checks' session, and
/// with it the prefix's lock, has ended).
fn usage_checks(options: &Options, tally: &mut Tally) {
    tally.record(
        "run: two runs at once in one prefix, one waits for the other, both pass with their own parameters",
        usage::two_runs_at_once(),
    );
    tally.record(
        "run: Ctrl-C ends the run (exit 130) and every Wine process of the prefix; the next run passes",
        Prefix::locate(options).and_then(|prefix| usage::ctrl_c_ends_what_the_run_started(&prefix)),
    );
}

/// `cargo xtask package`: the signature verifies against its certificate, with page hashes;
/// the signed image still passes the PE checks; a byte changed after signing fails
/// verification. (No catalog is made, so there is none to check.)
fn package_checks(options: &Options, artifacts: &Artifacts, tally: &mut Tally) -> Option<Package> {
    let package = match driver_package::make(artifacts, options.verbose) {
        Ok(package) => package,
        Err(error) => {
            tally.record("package: the signed driver package", Err(error));
            return None;
        }
    };
    tally.record(
        "package: the signature verifies against the certificate (osslsigncode), with page hashes",
        driver_package::verify(&package.sys, &package.cert).and_then(|report| {
            if report.contains("Page hash") {
                Ok(())
            } else {
                bail!("osslsigncode verify shows no page hashes")
            }
        }),
    );
    tally.record(
        "package: the signed LookasideList.sys passes the PE checks",
        pe::check(&package.sys, &pe::LOOKASIDE_LIST).map(drop),
    );
    tally.record(
        "package: a LookasideList.sys changed after signing fails verification",
        tampered(&package),
    );
    Some(package)
}

/// A copy of the signed `.sys` with one byte of its code changed must not verify.
fn tampered(package: &Package) -> Result<()> {
    let mut bytes = std::fs::read(&package.sys)?;
    // Inside .text: its section starts at the first 512-byte boundary after the headers.
    let at = 0x400 + 0x20;
    bytes[at] ^= 0xFF;
    let copy = package.dir.with_file_name("tampered-LookasideList.sys");
    std::fs::write(&copy, bytes)?;
    let outcome = driver_package::verify(&copy, &package.cert);
    let _ = std::fs::remove_file(&copy);
    match outcome {
        Ok(_) => bail!("a changed image still verifies"),
        Err(_) => Ok(()),
    }
}

fn wine_checks(
    options: &Options,
    artifacts: &Artifacts,
    package: Option<&Package>,
    tally: &mut Tally,
) {
    let session = match Session::open(options, artifacts) {
        Ok(session) => session,
        Err(error) => return tally.record("Wine: prefix, fixture and service", Err(error)),
    };
    match load(&session, &[]) {
        Ok(load) => check_seed_run(&load, tally),
        Err(error) => tally.record("Wine: load the driver with sc.exe", Err(error)),
    }
    parameter_checks(&session, tally);
    inf_check(options, &session, artifacts, tally);
    tally.record(
        "Wine: the example driver (minimal_driver.sys) prints its lines, every block back",
        example_load(&session, artifacts),
    );
    if let Some(package) = package {
        tally.record(
            "package: the signed LookasideList.sys prints the seed's transcript in Wine",
            session
                .prefix()
                .install_driver(&package.sys)
                .and_then(|()| load(&session, &[]))
                .and_then(|load| {
                    seed_exact(&load)?;
                    clean(&load)
                }),
        );
    }
}

/// One load per registry parameter case (issue: parameters, fault injection, stress).
fn parameter_checks(session: &Session, tally: &mut Tally) {
    let load = |parameters: &[(&str, Value)]| load(session, parameters);
    tally.record(
        "Wine: ApiPath 2 runs the seed on the driver's inline port",
        {
            load(&[("ApiPath", Value::Dword(2))]).and_then(|load| {
                seed_exact(&load)?;
                must_contain(&load, anchors::INLINE_PATH)?;
                clean(&load)
            })
        },
    );
    tally.record("Wine: ListType 1 gives paged blocks and the same story", {
        load(&[("ListType", Value::Dword(1))]).and_then(|load| {
            seed_exact(&load)?;
            must_contain(&load, "32-byte blocks from PagedPool")?;
            must_contain(&load, "Type           =     0001 PagedPool")?;
            clean(&load)
        })
    });
    tally.record(
        &format!(
            "Wine: FailAllocationAt k, for every k from 1 to {}",
            seed::ALLOCATIONS
        ),
        {
            (1..=seed::ALLOCATIONS).try_for_each(|k| {
                let load = load(&[("FailAllocationAt", Value::Dword(k))])?;
                fault_injection(&load, k).map_err(|error| error.context(format!("k = {k}")))
            })
        },
    );
    tally.record("Wine: bad registry values (a REG_SZ with a quote and a backslash among them) are named, defaults used", {
        load(&[
            // Quotes and backslashes must reach the registry as they are (.reg escaping).
            ("ListType", Value::String(r#"pa"ged\"#.into())),
            ("StressThreads", Value::Dword(100)),
            ("ApiPath", Value::Dword(7)),
        ])
        .and_then(|load| {
            for (parameter, complaint) in [
                (table::LIST_TYPE, Complaint::NotDword(1)),
                (table::STRESS_THREADS, Complaint::OutOfRange(100)),
                (table::API_PATH, Complaint::OutOfRange(7)),
            ] {
                must_contain(&load, &expected::complaint(&parameter, complaint))?;
            }
            seed_exact(&load)?;
            clean(&load)
        })
    });
    for (list_mode, name) in [(0, "shared list"), (1, "per-processor lists")] {
        tally.record(
            &format!("Wine: a 4-thread stress run on the {name} completes, its tallies balance"),
            {
                load(&[
                    ("StressIterations", Value::Dword(20_000)),
                    ("StressThreads", Value::Dword(4)),
                    ("ListMode", Value::Dword(list_mode)),
                ])
                .and_then(|load| {
                    seed_exact(&load)?;
                    must_contain(
                        &load,
                        &format!("{}20000 alloc+free pairs per thread, 4 thread(s), fastest of {} runs whose threads overlapped", anchors::STRESS, seed::STRESS_RUNS),
                    )?;
                    let pairs = 20_000 * 4 * seed::STRESS_RUNS;
                    must_contain(
                        &load,
                        &format!("{} {pairs} blocks allocated and {pairs} freed, 0 allocations failed", anchors::STRESS_BALANCED),
                    )?;
                    clean(&load)
                })
            },
        );
    }
    tally.record(
        "Wine: a run longer than Wine's 10 s service start limit (4,000,000 pairs, 2 threads) completes",
        {
            let started = std::time::Instant::now();
            load(&[
                ("StressIterations", Value::Dword(4_000_000)),
                ("StressThreads", Value::Dword(2)),
            ])
            .and_then(|load| {
                let took = started.elapsed().as_secs();
                if took <= 10 {
                    bail!("the run took only {took} s: it proves nothing about the 10 s limit");
                }
                let pairs = 4_000_000 * 2 * seed::STRESS_RUNS;
                must_contain(&load, &format!("{} {pairs} blocks allocated", anchors::STRESS_BALANCED))?;
                clean(&load)
            })
        },
    );
    per_processor_checks(session, tally);
    tally.record(
        "Wine: BreakBeforeDelete without a debugger does not break",
        {
            load(&[("BreakBeforeDelete", Value::Dword(1))]).and_then(|load| {
                must_contain(
                    &load,
                    "BreakBeforeDelete is set, but no kernel debugger is attached: not breaking",
                )?;
                clean(&load)
            })
        },
    );
}

/// `ListMode 1`: the seed's story and its failure paths on one list per processor.
fn per_processor_checks(session: &Session, tally: &mut Tally) {
    let load = |parameters: &[(&str, Value)]| load(session, parameters);
    for (api_path, routines) in [(1, anchors::EXPORTED_PATH), (2, anchors::INLINE_PATH)] {
        tally.record(
            &format!(
                "Wine: ListMode 1 runs the seed exactly on per-processor lists (ApiPath {api_path})"
            ),
            {
                load(&[
                    ("ListMode", Value::Dword(1)),
                    ("ApiPath", Value::Dword(api_path)),
                ])
                .and_then(|load| {
                    seed_exact(&load)?;
                    must_contain(&load, "ListMode 1 (per-processor)")?;
                    must_contain(&load, routines)?;
                    expected::check_block_reuse(&joined(&load)).map_err(anyhow::Error::msg)?;
                    expected::check_per_processor_statistics(&joined(&load))
                        .map_err(anyhow::Error::msg)?;
                    clean(&load)
                })
            },
        );
    }
    tally.record(
        "Wine: ListMode 1 with FailAllocationAt 1, 4 and 10",
        [1, 4, 10].into_iter().try_for_each(|k| {
            let load = load(&[
                ("ListMode", Value::Dword(1)),
                ("FailAllocationAt", Value::Dword(k)),
            ])?;
            fault_injection(&load, k).map_err(|error| error.context(format!("k = {k}")))
        }),
    );
}

/// The library's example driver in the LookasideList service's place: exactly the lines its
/// unit test expects on the simulated kernel, and the fixture's exact balances.
fn example_load(session: &Session, artifacts: &Artifacts) -> Result<()> {
    let expected_path = workspace::root().join("examples/minimal-driver/expected.txt");
    let expected = std::fs::read_to_string(&expected_path)
        .with_context(|| format!("reading {}", expected_path.display()))?;
    session.prefix().install_driver(&artifacts.example)?;
    let load = load(session, &[]);
    // LookasideList.sys goes back in its place, whatever the example did.
    session.prefix().install_driver(&artifacts.driver)?;
    let load = load?;
    compare(&joined(&load), &expected)?;
    clean(&load)
}

/// `-C lto` on the driver's release rustc line (a `cdylib` alone, so Cargo applies the
/// profile's `lto = true`), and no `-Z` flag: the stable toolchain as Windows users have it.
fn lto_in_effect(options: &Options) -> Result<()> {
    let line = build::driver_rustc_line(options)?;
    if !line.contains("-C lto") {
        bail!("no `-C lto` on the driver's rustc line: {line}");
    }
    if let Some(flag) = line.split_whitespace().find(|word| word.starts_with("-Z")) {
        bail!("{flag} reaches the driver's rustc: {line}");
    }
    Ok(())
}

/// The library's own checks: its docs build with warnings as errors, its package holds only what
/// belongs in it, and it would publish. (Its doc tests, the `compile_fail` ones among them, run
/// with the host tests.)
fn library_checks(tally: &mut Tally) {
    tally.record(
        "wdm-lookaside: cargo doc, warnings as errors",
        process::run(
            "cargo doc -p wdm-lookaside --no-deps (RUSTDOCFLAGS=-D warnings)",
            cargo()
                .args(["doc", "-p", "wdm-lookaside", "--no-deps", "--quiet"])
                .env("RUSTDOCFLAGS", "-D warnings"),
            false,
        )
        .map(drop),
    );
    tally.record(
        "wdm-lookaside: cargo package --list holds its sources, build script, README and manifest only",
        package_list(),
    );
    tally.record(
        "wdm-lookaside: its README's example, as a crate of its own outside the workspace, passes cargo test",
        readme_example(),
    );
    tally.record(
        "wdm-lookaside: cargo publish --dry-run",
        process::run(
            "cargo publish --dry-run -p wdm-lookaside",
            cargo().args([
                "publish",
                "--dry-run",
                "--allow-dirty",
                "--quiet",
                "-p",
                "wdm-lookaside",
            ]),
            false,
        )
        .map(drop),
    );
}

/// The crate README's `Cargo.toml`, `build.rs` and `src/lib.rs`, written out as they are (the
/// dependency pointed at this checkout by path, as the README says to), then `cargo test`: what
/// a driver author who follows the README gets.
fn readme_example() -> Result<()> {
    let library = workspace::root().join("crates/wdm-lookaside");
    let readme = std::fs::read_to_string(library.join("README.md"))?;
    let mut blocks = readme
        .split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|block| block.split_once('\n'));
    let mut next = |language: &str| {
        blocks
            .find(|(info, _)| *info == language)
            .map(|(_, code)| code.to_owned())
            .with_context(|| format!("the README has no more ```{language} blocks"))
    };
    let (manifest, build_script, lib) = (next("toml")?, next("rust")?, next("rust")?);
    let path = format!("{{ path = {:?}", library.display().to_string());
    let mut replaced = 0;
    let manifest: String = manifest
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("wdm-lookaside = ") else {
                return format!("{line}\n");
            };
            replaced += 1;
            if rest.contains("features") {
                format!("wdm-lookaside = {path}, features = [\"sim\"] }}\n")
            } else {
                format!("wdm-lookaside = {path} }}\n")
            }
        })
        .collect();
    if replaced != 2 {
        bail!(
            "the README's Cargo.toml names wdm-lookaside {replaced} times, not twice (dependency, dev-dependency)"
        );
    }
    let dir = workspace::root().join("target/readme-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src"))?;
    // A workspace of its own: the crate is outside this one, as a driver author's is.
    std::fs::write(dir.join("Cargo.toml"), manifest + "\n[workspace]\n")?;
    std::fs::write(dir.join("build.rs"), build_script)?;
    std::fs::write(dir.join("src/lib.rs"), lib)?;
    let outcome = process::run(
        "cargo test, in the README example's own crate",
        cargo().current_dir(&dir).args(["test", "--quiet"]).env(
            "CARGO_TARGET_DIR",
            workspace::root().join("target/readme-example-target"),
        ),
        false,
    )
    .map(drop);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn package_list() -> Result<()> {
    let output = process::run(
        "cargo package --list -p wdm-lookaside",
        cargo().args(["package", "--list", "--allow-dirty", "-p", "wdm-lookaside"]),
        false,
    )?;
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    let stray: Vec<&str> = listed
        .lines()
        .filter(|file| {
            !(file.starts_with("src/")
                && std::path::Path::new(file)
                    .extension()
                    .is_some_and(|extension| extension == "rs")
                || [
                    "build.rs",
                    "README.md",
                    "Cargo.toml",
                    "Cargo.toml.orig",
                    "Cargo.lock",
                    ".cargo_vcs_info.json",
                ]
                .contains(file))
        })
        .collect();
    if !stray.is_empty() {
        bail!("the package would also hold {stray:?}");
    }
    for needed in ["src/lib.rs", "src/sim/mod.rs", "README.md", "build.rs"] {
        if !listed.lines().any(|file| file == needed) {
            bail!("the package lacks {needed}");
        }
    }
    Ok(())
}

/// Git for Windows checks text out with CRLF (`core.autocrlf=true`, its installer's default):
/// a clone made that way, of what is committed, must pass the host tests as well.
fn crlf_checkout() -> Result<()> {
    let clone = workspace::root().join("target/crlf-checkout");
    let _ = std::fs::remove_dir_all(&clone);
    process::run(
        "git -c core.autocrlf=true clone (as Git for Windows checks out)",
        Command::new("git")
            .args(["-c", "core.autocrlf=true", "clone", "--quiet", "--no-local"])
            .arg(workspace::root())
            .arg(&clone),
        false,
    )?;
    let outcome = process::run(
        "cargo test --workspace in the CRLF checkout",
        cargo()
            .current_dir(&clone)
            .args(["test", "--workspace", "--quiet"])
            // Its own target folder would build everything again; the shared one rebuilds
            // only what its sources change.
            .env("CARGO_TARGET_DIR", workspace::root().join("target")),
        false,
    )
    .map(drop);
    let _ = std::fs::remove_dir_all(&clone);
    outcome
}

/// The INF path: stamp LookasideList.inx, install it with setupapi, start the service it made.
fn inf_check(options: &Options, session: &Session, artifacts: &Artifacts, tally: &mut Tally) {
    let prefix = session.prefix();
    let outcome = inf::install_from_inf(prefix, prefix.dir(), &artifacts.driver, options.verbose)
        .and_then(|install| {
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
            let load = load(session, &[])?;
            seed_exact(&load)?;
            clean(&load)
        });
    tally.record(
        "Wine: LookasideList.inx, stamped, installs the service; it starts from it",
        outcome,
    );
}

/// The transcript as one string, as the host tests see theirs.
fn joined(load: &Load) -> String {
    load.transcript
        .iter()
        .flat_map(|line| [line.as_str(), "\n"])
        .collect()
}

fn seed_exact(load: &Load) -> Result<()> {
    let (named, _) = expected::name_addresses(&expected::seed_lines(&joined(load)));
    compare(&named, expected::SEED)
}

fn must_contain(load: &Load, text: &str) -> Result<()> {
    if load.transcript.iter().any(|line| line.contains(text)) {
        Ok(())
    } else {
        bail!("no line contains {text:?}")
    }
}

/// The driver returned its status, Wine saw no trouble, and the fixture's pool accounting
/// (exact, unlike the lists' counters) found no leak.
fn clean(load: &Load) -> Result<()> {
    load.verdict()
}

fn fault_injection(load: &Load, k: u32) -> Result<()> {
    let seed = expected::seed_lines(&joined(load));
    expected::check_fault_injection(&seed, k).map_err(anyhow::Error::msg)?;
    clean(load)
}

fn check_seed_run(load: &Load, tally: &mut Tally) {
    let (named, addresses) = expected::name_addresses(&expected::seed_lines(&joined(load)));
    tally.record(
        "Wine: every seed line, in order",
        compare(&named, expected::SEED),
    );
    tally.record("Wine: LIFO drain (9, 7, 5, 3, 1)", {
        let drained = named
            .split_once("Free the rest")
            .map_or("", |(_, rest)| rest);
        let order = expected::entry_numbers(drained, " removed");
        if order == [9, 7, 5, 3, 1] {
            Ok(())
        } else {
            Err(anyhow::anyhow!("drained {order:?}"))
        }
    });
    tally.record(
        "Wine: a freed block is handed out by the next allocation",
        expected::check_block_reuse(&named).map_err(anyhow::Error::msg),
    );
    tally.record(
        "Wine: seven distinct addresses (control block + six blocks)",
        {
            if addresses.len() == 7 {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "{} addresses: {addresses:?}",
                    addresses.len()
                ))
            }
        },
    );
    tally.record(
        "Wine: !lookaside statistics match the scenario and the list's Depth",
        statistics(load),
    );
    tally.record(
        "Wine: status 0xC0000182, no crash, nothing leaked",
        clean(load),
    );
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
        .ok_or_else(|| anyhow::anyhow!("no control block address"))?;
    must_contain(
        load,
        &format!("Statistics, as !lookaside {control} shows them:"),
    )
}
fn compare(actual: &str, expected: &str) -> Result<()> {
    if actual == expected {
        return Ok(());
    }
    let first_difference = actual
        .lines()
        .zip(expected.lines())
        .enumerate()
        .find(|(_, (a, e))| a != e)
        .map_or_else(
            || {
                format!(
                    "{} lines, expected {}",
                    actual.lines().count(),
                    expected.lines().count()
                )
            },
            |(i, (a, e))| format!("line {}: got {a:?}, expected {e:?}", i + 1),
        );
    bail!("{first_difference}")
}

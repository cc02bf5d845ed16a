//! `cargo xtask test`: every check the project has, ending with one `N passed, N failed` line.

use std::process::Command;

use anyhow::{Result, bail};

use crate::build::{self, Artifacts};
use crate::cli::Options;
use crate::expected;
use crate::wine::{self, Load};
use crate::{packages, pe, step};

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
    command.current_dir(build::root());
    command
}

/// Runs a cargo subcommand with its output shown (test runners' summaries must reach the log).
fn cargo_shown(what: &str, args: &[&str]) -> Result<()> {
    step::progress(what);
    let status = cargo().args(args).status()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

pub fn all(options: &Options) -> Result<()> {
    packages::ensure(&[packages::BUILD, packages::WINE], options.verbose)?;
    let mut tally = Tally::default();
    tally.record(
        "cargo fmt --check",
        step::run(
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
    match build::all(options) {
        Ok(artifacts) => {
            tally.record("cross-build", Ok(()));
            pe_checks(&artifacts, &mut tally);
            wine_checks(options, &artifacts, &mut tally);
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
    step::progress("checking LookasideList.sys (PE32+ AMD64, native, DriverEntry, imports)");
    let def = build::root().join("ddk/ntoskrnl.def");
    let report = pe::check(&artifacts.driver, &def);
    if let Ok(report) = &report {
        eprintln!(
            "    {} bytes; imports from ntoskrnl.exe: {}",
            report.size,
            report.imports.join(", ")
        );
    }
    tally.record(
        "PE: AMD64, native subsystem, entry DriverEntry, imports = ntoskrnl.def, size",
        report.map(drop),
    );
}

fn wine_checks(options: &Options, artifacts: &Artifacts, tally: &mut Tally) {
    match wine::load_once(options, artifacts) {
        Ok(load) => check_seed_run(&load, tally),
        Err(error) => tally.record("Wine: load the driver with sc.exe", Err(error)),
    }
}

/// The transcript as one string, as the host tests see theirs.
fn joined(load: &Load) -> String {
    load.transcript
        .iter()
        .flat_map(|line| {
            [
                line.as_str(),
                "
",
            ]
        })
        .collect()
}

fn check_seed_run(load: &Load, tally: &mut Tally) {
    let (named, addresses) = expected::name_addresses(&joined(load));
    tally.record(
        "Wine: every seed line, in order",
        compare(&named, expected::SEED),
    );
    tally.record("Wine: LIFO drain (9, 7, 5, 3, 1)", {
        let drained = named
            .split_once("Free the rest")
            .map_or("", |(_, rest)| rest);
        let order: Vec<&str> = drained
            .lines()
            .filter_map(|line| {
                line.strip_prefix("LookasideList: - Entry #")?
                    .strip_suffix(" removed")
            })
            .collect();
        if order == ["9", "7", "5", "3", "1"] {
            Ok(())
        } else {
            Err(anyhow::anyhow!("drained {order:?}"))
        }
    });
    tally.record(
        "Wine: a freed block is handed out by the next allocation",
        block_reuse(&named),
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
        "Wine: DriverEntry returned STATUS_DEVICE_CONFIGURATION_ERROR",
        {
            match (load.status, load.started) {
                (Some(wine::STATUS_DEVICE_CONFIGURATION_ERROR), false) => Ok(()),
                (status, started) => Err(anyhow::anyhow!(
                    "status {}, sc start succeeded: {started}",
                    status.map_or_else(|| "not reported".into(), wine::describe)
                )),
            }
        },
    );
    tally.record("Wine: no unimplemented function, no crash", {
        if load.problems.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!("{:?}", load.problems))
        }
    });
    tally.record("Wine fixture: nothing leaked", no_leak(load));
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

fn block_reuse(named: &str) -> Result<()> {
    let lines: Vec<&str> = named.lines().collect();
    let mut reused = 0;
    for pair in lines.windows(2) {
        let freed = pair[0]
            .strip_prefix("LookasideList: - Memory block at address ")
            .and_then(|rest| rest.strip_suffix(" returned to lookaside list"));
        let next = pair[1].strip_prefix(
            "LookasideList: + Memory block allocated from lookaside list at address ",
        );
        if let (Some(freed), Some(next)) = (freed, next) {
            if freed != next {
                bail!("freed {freed}, then allocated {next}");
            }
            reused += 1;
        }
    }
    if reused == 4 {
        Ok(())
    } else {
        bail!("{reused} reuses, expected 4 (rounds 2 to 5)")
    }
}

fn no_leak(load: &Load) -> Result<()> {
    let deleted = load
        .fixture
        .iter()
        .find(|line| line.starts_with("lookaside list "))
        .ok_or_else(|| anyhow::anyhow!("the fixture reported no lookaside list deletion"))?;
    if !deleted.contains(" 0 outstanding") {
        bail!("at deletion: {deleted}");
    }
    let balance = load
        .fixture
        .iter()
        .rev()
        .find(|line| line.starts_with("pool balance: "))
        .ok_or_else(|| anyhow::anyhow!("the fixture reported no pool balance"))?;
    if !balance.ends_with(" 0 outstanding") {
        bail!("{balance}");
    }
    Ok(())
}

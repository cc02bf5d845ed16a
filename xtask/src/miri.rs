//! The host tests under Miri, in both of its aliasing models: the unsafe code of the kernel
//! boundary, the chain and the simulation, checked for undefined behaviour on every test run.
//!
//! Miri needs a nightly toolchain. These machines have one through rustup, without Miri:
//! `rustup component add --toolchain nightly miri rust-src` adds it (one timed step, as the
//! Debian packages are). Only where no nightly toolchain can be had is Miri skipped, and the
//! run says so in one line.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::process;
use crate::workspace;

/// One of Miri's aliasing models, with the flags of its run.
#[derive(Clone, Copy)]
pub enum Model {
    StackedBorrows,
    TreeBorrows,
}

impl Model {
    pub const ALL: [Self; 2] = [Self::StackedBorrows, Self::TreeBorrows];

    pub const fn name(self) -> &'static str {
        match self {
            Self::StackedBorrows => "Stacked Borrows",
            Self::TreeBorrows => "Tree Borrows",
        }
    }

    /// `MIRIFLAGS`: strict provenance in both (no integer-to-pointer casts); no leak is ignored.
    const fn flags(self) -> &'static str {
        match self {
            Self::StackedBorrows => "-Zmiri-strict-provenance",
            Self::TreeBorrows => "-Zmiri-strict-provenance -Zmiri-tree-borrows",
        }
    }
}

/// Makes sure of the nightly toolchain's Miri and `rust-src`; `Ok(false)` (with the reason,
/// printed once) when there is no nightly toolchain to add them to.
pub fn ensure(verbose: bool) -> Result<bool> {
    let listed = match workspace::toolchain_command("rustup")
        .args(["toolchain", "list"])
        .output()
    {
        Ok(output) if output.status.success() => output.stdout,
        _ => {
            println!("miri: skipped: no rustup here, so no nightly toolchain for Miri");
            return Ok(false);
        }
    };
    let has_nightly = String::from_utf8_lossy(&listed)
        .lines()
        .any(|line| line.starts_with("nightly"));
    let started = Instant::now();
    if has_nightly {
        process::run(
            "installing Miri (rustup component add --toolchain nightly miri rust-src)",
            workspace::toolchain_command("rustup").args([
                "component",
                "add",
                "--toolchain",
                "nightly",
                "miri",
                "rust-src",
            ]),
            verbose,
        )?;
    } else {
        let installed = process::run(
            "installing a nightly toolchain for Miri (rustup toolchain install nightly --profile minimal --component miri,rust-src)",
            workspace::toolchain_command("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
                "--component",
                "miri,rust-src",
            ]),
            verbose,
        );
        if let Err(error) = installed {
            println!("miri: skipped: no nightly toolchain can be had ({error:#})");
            return Ok(false);
        }
    }
    process::progress(&format!(
        "Miri installed in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(true)
}

/// The host unit tests of the library, the two drivers and the fixture's bookkeeping under Miri in `model`,
/// each test in a process of its own (`cargo nextest`, both cores) where nextest is installed.
/// The doc tests are not run under Miri (the native run has them).
pub fn run(model: Model) -> Result<()> {
    let nextest = Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .is_ok();
    let mut command = workspace::toolchain_command("rustup");
    command.args(["run", "nightly", "cargo", "miri"]);
    if nextest {
        command.args(["nextest", "run", "--no-fail-fast"]);
    } else {
        command.arg("test");
    }
    command
        .args([
            "-p",
            "wdm-lookaside",
            "-p",
            "LookasideList",
            "-p",
            "minimal-driver",
            "-p",
            "ntoskrnl-fixture",
            "--lib",
        ])
        .env("MIRIFLAGS", model.flags());
    process::progress(&format!(
        "host unit tests under Miri, {} (MIRIFLAGS=\"{}\")",
        model.name(),
        model.flags()
    ));
    let started = Instant::now();
    let status = command.status()?;
    if !status.success() {
        bail!("Miri ({}) failed ({status})", model.name());
    }
    process::progress(&format!(
        "Miri, {}: every test passed in {:.0} s",
        model.name(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

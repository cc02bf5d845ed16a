//! The Linux cross-build: Debian's rustc builds `core` for `x86_64-pc-windows-msvc` and
//! lld-link links a native driver (`LookasideList.sys`) and the Wine fixture DLL.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cli::Options;
use crate::step;

pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// What the cross-build produces.
pub struct Artifacts {
    /// `LookasideList.sys`.
    pub driver: PathBuf,
    /// The Wine `ntoskrnl.exe` fixture (a DLL).
    pub fixture: PathBuf,
    /// lld-link's map of the driver (`/LLDMAP`, asked for by build.rs).
    pub driver_map: PathBuf,
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    root().join("target/windows")
}

/// Builds the driver and the fixture. The caller has made sure of the tools
/// ([`crate::packages::BUILD`]), together with whatever else its command needs, in one install step.
pub fn all(options: &Options) -> Result<Artifacts> {
    cross_build(
        "cross-building LookasideList.sys (Debian rustc, -Zbuild-std=core, lld-link)",
        &[
            "-p",
            "LookasideList",
            "--no-default-features",
            "--features",
            "ddk",
        ],
        options,
    )?;
    cross_build(
        "cross-building the Wine ntoskrnl fixture",
        &["-p", "ntoskrnl-fixture", "--features", "wine"],
        options,
    )?;
    let out = target_dir().join(TARGET).join("release");
    let driver = out.join("LookasideList.sys");
    std::fs::copy(out.join("LookasideList.dll"), &driver)
        .with_context(|| format!("copying the driver to {}", driver.display()))?;
    Ok(Artifacts {
        driver,
        fixture: out.join("ntoskrnl_fixture.dll"),
        driver_map: out.join("deps/LookasideList.map"),
    })
}

/// Clippy over the driver and the Wine fixture as the cross-build compiles them (the `ddk`
/// backend, `DriverEntry`, the fixture's DLL: code only a Windows target has), with warnings as
/// errors. Debian's `cargo-clippy` runs cargo with its own `clippy-driver`, which matches
/// Debian's rustc.
pub fn clippy(options: &Options) -> Result<()> {
    let mut command = Command::new("/usr/bin/cargo-clippy");
    command.arg("clippy");
    cross_command(
        &mut command,
        &[
            "-p",
            "LookasideList",
            "--no-default-features",
            "--features",
            "ddk",
        ],
    );
    command
        .arg("--target-dir")
        .arg(root().join("target/windows-clippy"))
        .args(["--", "-D", "warnings"]);
    step::run(
        "clippy on the cross-build (ddk backend, DriverEntry, Wine fixture), -D warnings",
        &mut command,
        options.verbose,
    )?;
    Ok(())
}

/// The cross-build's flags and environment, on `command` (a `cargo build` or `cargo clippy`).
fn cross_command(command: &mut Command, args: &[&str]) {
    command
        .current_dir(root())
        .args(["--release", "--target", TARGET])
        .args([
            "-Zbuild-std=core,compiler_builtins",
            "-Zbuild-std-features=compiler-builtins-mem",
        ])
        .args(args)
        // Debian's rustc ships the std sources that -Zbuild-std needs; RUSTC_BOOTSTRAP lets
        // the stable tools accept -Z flags for this one build.
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER", "lld-link")
        .env_remove("RUSTC_WRAPPER");
}

fn cross_build(what: &str, args: &[&str], options: &Options) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.arg("build");
    cross_command(&mut command, args);
    command.arg("--target-dir").arg(target_dir());
    if !options.verbose {
        command.arg("--quiet");
    }
    step::run(what, &mut command, options.verbose)?;
    Ok(())
}

//! The Linux cross-build: the driver exactly as Windows users build it (wdk-sys, wdk, wdk-panic,
//! wdk-build's link configuration), with Debian's rustc building `core` for
//! `x86_64-pc-windows-msvc` and lld-link linking a native driver (`LookasideList.sys`) and the
//! Wine fixture DLL. What only Linux needs is made here: the kit ([`crate::kit`]), wdk-build's
//! edits ([`crate::wdk_build_linux`]), the linker and its extra options.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cli::Options;
use crate::kit::Kit;
use crate::{step, wdk_build_linux};

pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// What the cross-build produces.
pub struct Artifacts {
    /// `LookasideList.sys`.
    pub driver: PathBuf,
    /// The Wine `ntoskrnl.exe` fixture (a DLL).
    pub fixture: PathBuf,
    /// lld-link's map of the driver (`/LLDMAP`).
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

/// The folder of the cross-build's inputs made here: the kit, the edited wdk-build, the lock
/// file copy. (Not an ancestor of the target folder: wdk-build finds the workspace by walking up
/// from its `OUT_DIR` to the first `Cargo.lock`.)
fn inputs_dir() -> PathBuf {
    root().join("target/cross")
}

/// The linker: lld 19 accepts every option wdk-build passes (`/KERNEL`, `/MAPINFO:EXPORTS`
/// included, which lld 14 takes for file names).
pub const LINKER: &str = "lld-link-19";

/// Link options of the cross-build's own, given to the driver's link only (`cargo rustc`): no
/// dependency is rebuilt for them, and the Windows build (MSVC's linker) does not get them.
///
/// - `/LLDMAP` (given with its path by [`all`]): lld's map of every function and its size,
///   which `cargo xtask test` reads to keep `core::fmt` out of the driver.
/// - `/MERGE`: two sections, code and read-only data, instead of three. Each section is padded
///   to the 512-byte file alignment, and `.pdata`'s few hundred bytes share `.rdata`'s padding
///   (512 bytes less). The loader finds the unwind table through the exception directory,
///   wherever it lies. The driver has no writable global (`cargo xtask test` fails if the map
///   shows one: merged into `.rdata` it would be read-only).
const DRIVER_LINK_ARGS: &[&str] = &[
    "/MERGE:.pdata=.rdata",
    "/MERGE:.data=.rdata",
    "/MERGE:.bss=.rdata",
];

/// Everything the cross-build's cargo needs besides its arguments.
pub struct Cross {
    kit: Kit,
    patched: wdk_build_linux::Patched,
}

impl Cross {
    /// Assembles (or finds) the kit and makes wdk-build Linux-capable.
    pub fn prepare() -> Result<Self> {
        let dir = inputs_dir();
        let kit = Kit::prepare(&dir.join("kit"))?;
        let patched = wdk_build_linux::prepare(&dir)?;
        Ok(Self { kit, patched })
    }

    /// The cross-build's flags and environment, on `command` (a `cargo rustc`, `build` or
    /// `clippy`), for the packages in `args`.
    fn apply(&self, command: &mut Command, args: &[&str]) {
        command
            .current_dir(root())
            .args(["--release", "--target", TARGET])
            .args([
                "-Zbuild-std=core,compiler_builtins",
                "-Zbuild-std-features=compiler-builtins-mem",
            ])
            .args(args)
            .arg("--target-dir")
            .arg(target_dir())
            // Debian's rustc ships the std sources that -Zbuild-std needs; RUSTC_BOOTSTRAP lets
            // the stable tools accept -Z flags for this one build.
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER", LINKER)
            .env_remove("RUSTC_WRAPPER");
        self.patched.apply(command);
        self.kit.apply(command);
    }
}

/// The driver package's arguments: the same wdk-build call as on Windows (`cross-build`).
const DRIVER: &[&str] = &[
    "-p",
    "LookasideList",
    "--features",
    "LookasideList/cross-build",
];

/// Builds the driver and the fixture. The caller has made sure of the tools
/// ([`crate::packages::BUILD`]), together with whatever else its command needs, in one install step.
pub fn all(options: &Options) -> Result<Artifacts> {
    let cross = Cross::prepare()?;
    let out = target_dir().join(TARGET).join("release");
    let driver_map = out.join("deps/LookasideList.lld.map");
    let mut driver = cargo("rustc");
    cross.apply(&mut driver, DRIVER);
    quiet(&mut driver, options);
    driver.args(["--lib", "--"]);
    driver.arg(format!("-Clink-arg=/LLDMAP:{}", driver_map.display()));
    for arg in DRIVER_LINK_ARGS {
        driver.arg(format!("-Clink-arg={arg}"));
    }
    step::run(
        &format!(
            "cross-building LookasideList.sys (wdk-sys, wdk, wdk-panic; -Zbuild-std=core; {LINKER}) against {}",
            cross.kit.description
        ),
        &mut driver,
        options.verbose,
    )?;
    let mut fixture = cargo("build");
    cross.apply(
        &mut fixture,
        &["-p", "ntoskrnl-fixture", "--features", "wine"],
    );
    quiet(&mut fixture, options);
    step::run(
        "cross-building the Wine ntoskrnl fixture",
        &mut fixture,
        options.verbose,
    )?;
    let driver = out.join("LookasideList.sys");
    std::fs::copy(out.join("LookasideList.dll"), &driver)
        .with_context(|| format!("copying the driver to {}", driver.display()))?;
    Ok(Artifacts {
        driver,
        fixture: out.join("ntoskrnl_fixture.dll"),
        driver_map,
    })
}

/// Clippy over the driver and the Wine fixture as the cross-build compiles them (the wdk
/// backend, `DriverEntry`, the fixture's DLL: code only a Windows target has), with warnings as
/// errors. Debian's `cargo-clippy` runs cargo with its own `clippy-driver`, which matches
/// Debian's rustc. It shares the cross-build's target folder, so wdk-sys's bindings are
/// generated once.
pub fn clippy(options: &Options) -> Result<()> {
    let cross = Cross::prepare()?;
    let mut command = Command::new("/usr/bin/cargo-clippy");
    command.arg("clippy");
    cross.apply(&mut command, DRIVER);
    command.args([
        "-p",
        "ntoskrnl-fixture",
        "--features",
        "ntoskrnl-fixture/wine",
    ]);
    command.args(["--", "-D", "warnings"]);
    step::run(
        "clippy on the cross-build (wdk backend, DriverEntry, Wine fixture), -D warnings",
        &mut command,
        options.verbose,
    )?;
    Ok(())
}

fn cargo(subcommand: &str) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.arg(subcommand);
    command
}

fn quiet(command: &mut Command, options: &Options) {
    if !options.verbose {
        command.arg("--quiet");
    }
}

//! The Linux cross-build: the drivers as Windows users build them (the same crates, the same
//! wdk-build configuration of the link, the toolchain `rust-toolchain.toml` selects with
//! rustup's prebuilt `x86_64-pc-windows-msvc` std, the release profile as shipped, so LTO), linked
//! by rustup's `rust-lld` as `lld-link`: `LookasideList.sys`, the example driver
//! `minimal_driver.sys`, and the Wine fixture DLL. What only Linux needs is made here: the kit
//! ([`crate::kit`]), wdk-build's edits ([`crate::wdk_build_linux`]), the linker link
//! ([`crate::toolchain`]) and the map and section options.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::kit::Kit;
use crate::options::Options;
use crate::toolchain::{self, TARGET, Toolchain};
use crate::workspace::root;
use crate::{process, wdk_build_linux};

/// What the cross-build produces.
pub struct Artifacts {
    /// `LookasideList.sys`.
    pub driver: PathBuf,
    /// lld-link's map of the driver (`/LLDMAP`).
    pub driver_map: PathBuf,
    /// `minimal_driver.sys`, the library's example driver.
    pub example: PathBuf,
    /// lld-link's map of the example driver.
    pub example_map: PathBuf,
    /// The Wine `ntoskrnl.exe` fixture (a DLL).
    pub fixture: PathBuf,
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
    toolchain: Toolchain,
}

impl Cross {
    /// Assembles (or finds) the kit, makes wdk-build Linux-capable, and makes sure of the
    /// toolchain's Windows target and linker.
    pub fn prepare(verbose: bool) -> Result<Self> {
        let dir = inputs_dir();
        let toolchain = toolchain::prepare(&dir, verbose)?;
        let kit = Kit::prepare(&dir.join("kit"))?;
        let patched = wdk_build_linux::prepare(&dir)?;
        Ok(Self {
            kit,
            patched,
            toolchain,
        })
    }

    /// The cross-build's flags and environment, on `command` (a `cargo rustc`, `build` or
    /// `clippy`), for the packages in `args`.
    fn apply(&self, command: &mut Command, args: &[&str]) {
        command
            .current_dir(root())
            .args(["--release", "--target", TARGET])
            .args(args)
            .arg("--target-dir")
            .arg(target_dir())
            // Cargo's `-Zlockfile-path` (see `wdk_build_linux`) is unstable: RUSTC_BOOTSTRAP lets
            // this stable cargo take it. It only moves the lock file cargo writes; no `-Z` flag
            // reaches rustc and no crate of the build turns on an unstable feature, so the
            // binary is the stable toolchain's (`cargo xtask test` checks the driver's rustc
            // line).
            .env("RUSTC_BOOTSTRAP", "1")
            .env(
                "CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER",
                &self.toolchain.linker,
            )
            .env_remove("RUSTC")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC_WRAPPER");
        self.patched.apply(command);
        self.kit.apply(command);
    }
}

/// A driver package of the workspace, built with the same wdk-build call as on Windows (its
/// `cross-build` feature).
struct Driver {
    package: &'static str,
    /// The file name cargo gives the cdylib (the package name, `-` as `_`).
    crate_name: &'static str,
}

const LOOKASIDE_LIST: Driver = Driver {
    package: "LookasideList",
    crate_name: "LookasideList",
};

const MINIMAL_DRIVER: Driver = Driver {
    package: "minimal-driver",
    crate_name: "minimal_driver",
};

impl Driver {
    fn args(&self) -> [String; 4] {
        [
            "-p".into(),
            self.package.into(),
            "--features".into(),
            format!("{}/cross-build", self.package),
        ]
    }

    /// `cargo rustc` of the driver's library, with the cross-build's own link options.
    fn command(&self, cross: &Cross, options: &Options, extra: &[&str]) -> (Command, PathBuf) {
        let map = out_dir().join(format!("deps/{}.lld.map", self.crate_name));
        let mut command = cargo("rustc");
        let args = self.args();
        cross.apply(
            &mut command,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        quiet(&mut command, options);
        command.args(extra);
        command.args(["--lib", "--"]);
        command.arg(format!("-Clink-arg=/LLDMAP:{}", map.display()));
        for arg in DRIVER_LINK_ARGS {
            command.arg(format!("-Clink-arg={arg}"));
        }
        (command, map)
    }

    /// Builds the driver; its `.sys` (a copy of cargo's `.dll`, the name wdk-build's flow
    /// gives it on Windows) and its linker map.
    fn build(&self, cross: &Cross, options: &Options) -> Result<(PathBuf, PathBuf)> {
        let (mut command, map) = self.command(cross, options, &[]);
        process::run(
            &format!(
                "cross-building {}.sys (stable toolchain, prebuilt std, LTO; rust-lld) against {}",
                self.crate_name, cross.kit.description
            ),
            &mut command,
            options.verbose,
        )?;
        let sys = out_dir().join(format!("{}.sys", self.crate_name));
        std::fs::copy(out_dir().join(format!("{}.dll", self.crate_name)), &sys)
            .with_context(|| format!("copying the driver to {}", sys.display()))?;
        Ok((sys, map))
    }
}

fn out_dir() -> PathBuf {
    target_dir().join(TARGET).join("release")
}

/// Builds the drivers and the fixture. The caller has made sure of the Debian packages
/// ([`crate::debian::BUILD`]), together with whatever else its command needs, in one install
/// step.
pub fn all(options: &Options) -> Result<Artifacts> {
    let cross = Cross::prepare(options.verbose)?;
    let (driver, driver_map) = LOOKASIDE_LIST.build(&cross, options)?;
    let (example, example_map) = MINIMAL_DRIVER.build(&cross, options)?;
    let mut fixture = cargo("build");
    cross.apply(
        &mut fixture,
        &["-p", "ntoskrnl-fixture", "--features", "wine"],
    );
    quiet(&mut fixture, options);
    process::run(
        "cross-building the Wine ntoskrnl fixture",
        &mut fixture,
        options.verbose,
    )?;
    Ok(Artifacts {
        driver,
        driver_map,
        example,
        example_map,
        fixture: out_dir().join("ntoskrnl_fixture.dll"),
    })
}

/// The rustc command line cargo runs for LookasideList.sys, rebuilt for it (after touching its
/// `src/lib.rs`, so only the driver compiles again): what proves the shipped profile's flags,
/// LTO among them, and that no `-Z` flag reaches rustc.
pub fn driver_rustc_line(options: &Options) -> Result<String> {
    let cross = Cross::prepare(options.verbose)?;
    let lib = root().join("src/lib.rs");
    std::fs::File::options()
        .append(true)
        .open(&lib)
        .and_then(|file| file.set_modified(std::time::SystemTime::now()))
        .with_context(|| format!("touching {}", lib.display()))?;
    let verbose = Options {
        verbose: true,
        ..options.clone()
    };
    let (mut command, _) = LOOKASIDE_LIST.command(&cross, &verbose, &["-v"]);
    let output = process::capture(&mut command)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        anyhow::bail!("the driver's rebuild failed: {stderr}");
    }
    stderr
        .lines()
        .find(|line| line.contains("Running `") && line.contains("--crate-name LookasideList"))
        .map(str::to_owned)
        .context("cargo -v showed no rustc line for LookasideList")
}

/// Clippy over the drivers, the library and the Wine fixture as the cross-build compiles them
/// (the wdk backend, `DriverEntry`, the fixture's DLL: code only a Windows target has), with
/// warnings as errors: the toolchain's own clippy, with `--target`. It shares the cross-build's
/// target folder, so wdk-sys's bindings are generated once.
pub fn clippy(options: &Options) -> Result<()> {
    let cross = Cross::prepare(options.verbose)?;
    let mut command = cargo("clippy");
    let mut args: Vec<String> = LOOKASIDE_LIST.args().into();
    args.extend(MINIMAL_DRIVER.args());
    cross.apply(
        &mut command,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    command.args([
        "-p",
        "wdm-lookaside",
        "-p",
        "ntoskrnl-fixture",
        "--features",
        "ntoskrnl-fixture/wine",
    ]);
    command.args(["--", "-D", "warnings"]);
    process::run(
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

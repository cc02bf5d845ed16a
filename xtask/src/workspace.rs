//! Where things are: the workspace root and the folders under `target/` the commands use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the driver package's folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// A command of the toolchain `rust-toolchain.toml` selects, as a user's shell would run it:
/// from the workspace root, without the variables `cargo xtask` itself runs under (they name
/// its toolchain's tools, or a wrapper).
pub fn toolchain_command(program: &str) -> Command {
    let mut command = Command::new(program);
    for name in [
        "CARGO",
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_WRAPPER",
        "RUSTC_BOOTSTRAP",
    ] {
        command.env_remove(name);
    }
    command.current_dir(root());
    command
}

/// `cargo metadata --locked` of the workspace (`--no-deps` unless `dependencies`, which also
/// makes Cargo download the locked crates' sources), parsed.
pub fn cargo_metadata(dependencies: bool) -> Result<serde_json::Value> {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--locked"]);
    if !dependencies {
        command.arg("--no-deps");
    }
    let output = command.output().context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")
}

//! The Rust toolchain of the cross-build: the one `rust-toolchain.toml` selects (rustup's
//! stable, the toolchain Windows users build with), with rustup's prebuilt
//! `x86_64-pc-windows-msvc` standard library and its `rust-lld` as the linker.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::process;
use crate::workspace;

/// The cross-build's target, the Windows build's own: rustup installs its prebuilt std.
pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// The toolchain's pieces the cross-build uses.
pub struct Toolchain {
    /// A link named `lld-link` to the toolchain's `rust-lld`: LLD picks its flavor from the
    /// name it is called by, and rustc picks the MSVC-style arguments from the linker's name.
    pub linker: PathBuf,
}

fn rustc_print(what: &str) -> Result<String> {
    let output = workspace::toolchain_command("rustc")
        .args(["--print", what])
        .output()
        .context("running rustc (a Rust toolchain through rustup is a prerequisite)")?;
    if !output.status.success() {
        bail!(
            "rustc --print {what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Makes sure the toolchain has the Windows target (`rustup target add`, one timed step, the
/// first time) and links `lld-link` to its `rust-lld` under `dir`.
pub fn prepare(dir: &Path, verbose: bool) -> Result<Toolchain> {
    let sysroot = PathBuf::from(rustc_print("sysroot")?);
    let target_lib = sysroot.join("lib/rustlib").join(TARGET).join("lib");
    if !target_lib.is_dir() {
        let started = Instant::now();
        process::run(
            &format!("installing the Windows target's prebuilt std (rustup target add {TARGET})"),
            workspace::toolchain_command("rustup").args(["target", "add", TARGET]),
            verbose,
        )
        .context("the cross-build needs rustup's prebuilt std for the Windows target")?;
        process::progress(&format!(
            "{TARGET} installed in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        if !target_lib.is_dir() {
            bail!(
                "rustup target add {TARGET} left no {}",
                target_lib.display()
            );
        }
    }
    let host = rustc_print("host-tuple")?;
    let rust_lld = sysroot.join("lib/rustlib").join(&host).join("bin/rust-lld");
    if !rust_lld.is_file() {
        bail!(
            "the toolchain has no {} (rustup's toolchains ship it; is this one from rustup?)",
            rust_lld.display()
        );
    }
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let linker = bin.join("lld-link");
    if std::fs::read_link(&linker).ok().as_deref() != Some(rust_lld.as_path()) {
        // The toolchain (and so the path) changed, or there is no link yet: a new link,
        // renamed into place, so that another run reading it never finds none.
        let fresh = bin.join(format!("lld-link.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        std::os::unix::fs::symlink(&rust_lld, &fresh)
            .and_then(|()| std::fs::rename(&fresh, &linker))
            .with_context(|| format!("linking {} to {}", linker.display(), rust_lld.display()))?;
    }
    Ok(Toolchain { linker })
}

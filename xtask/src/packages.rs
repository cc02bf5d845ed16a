//! The Debian packages the commands need: checked with dpkg, installed with apt-get as root.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::step;

/// A package and what it is for.
pub struct Need {
    pub package: &'static str,
    pub why: &'static str,
}

/// For the cross-build of LookasideList.sys and the Wine fixture.
pub const BUILD: &[Need] = &[
    Need {
        package: "rustc-web",
        why: "a rustc (/usr/bin/rustc) that can build `core` from source",
    },
    Need {
        package: "rust-web-src",
        why: "the sources of `core` for -Zbuild-std",
    },
    Need {
        package: "lld",
        why: "lld-link, the PE/COFF linker",
    },
    Need {
        package: "llvm",
        why: "llvm-dlltool, which makes the import libraries",
    },
    Need {
        package: "mingw-w64-x86-64-dev",
        why: "the DDK headers bindgen reads",
    },
    Need {
        package: "libclang-dev",
        why: "libclang, which bindgen drives",
    },
];

/// For linting the cross-build: Debian's clippy, which matches Debian's rustc.
pub const LINT: &[Need] = &[Need {
    package: "rust-web-clippy",
    why: "clippy for the Windows-target code (the ddk backend, DriverEntry)",
}];

/// For loading the driver.
pub const WINE: &[Need] = &[
    Need {
        package: "wine",
        why: "the wine launcher",
    },
    Need {
        package: "wine64",
        why: "64-bit Wine, whose winedevice.exe hosts kernel drivers",
    },
];

fn installed(package: &str) -> Result<bool> {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .output()
        .context("dpkg-query is missing: these commands need a Debian (or Debian-based) system")?;
    Ok(output.status.success() && output.stdout == b"installed")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Installs whatever of `needs` is missing (as root), or stops with the line to run.
pub fn ensure(needs: &[&[Need]], verbose: bool) -> Result<()> {
    let mut missing = Vec::new();
    for need in needs.iter().copied().flatten() {
        if !installed(need.package)? {
            missing.push(need);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|need| need.package).collect();
    let line = format!(
        "apt-get install --no-install-recommends {}",
        names.join(" ")
    );
    let reasons: String = missing
        .iter()
        .flat_map(|need| ["\n  ", need.package, ": ", need.why])
        .collect();
    if !is_root() {
        bail!(
            "missing Debian packages:{reasons}\ninstall them as root with:\n  apt-get update && {line}"
        );
    }
    step::progress(&format!("installing missing Debian packages:{reasons}"));
    step::run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
        verbose,
    )?;
    step::run(
        &format!("{line} (this takes a few minutes)"),
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&names)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        verbose,
    )?;
    Ok(())
}

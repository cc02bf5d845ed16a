//! The WDK-shaped folder wdk-build reads (`WDKContentRoot`): the user's kit when they name one,
//! else one assembled under `target/` from Debian's MinGW-w64 DDK headers.
//!
//! wdk-build wants `Include/<10.0.x.0>/{km,km/crt,shared}` and `Lib/<10.0.x.0>/km/x64` (the
//! version is the largest `10.*` folder under `Lib/`). wdk-sys's build script runs bindgen over
//! the headers; the driver links against the kit's `ntoskrnl.lib`, `hal.lib`, `wmilib.lib` and
//! `BufferOverflowFastFailK.lib`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fsutil::{symlink_fresh, write_if_changed};

/// Where Debian's `mingw-w64-x86-64-dev` puts the headers.
pub const MINGW_INCLUDE: &str = "/usr/x86_64-w64-mingw32/include";

/// The version the assembled kit claims: the WDK whose wdm.h the MinGW headers are closest to
/// (it only names the folders).
const MINGW_KIT_VERSION: &str = "10.0.22621.0";

/// The kernel routines the assembled kit's `ntoskrnl.lib` offers (as a real kit's does, only
/// fewer): what the driver and the wdk crates may call.
const NTOSKRNL_DEF: &str = include_str!("../kit/ntoskrnl.def");

/// What MinGW-w64 10's headers lack and wdk-sys refers to, declared as the WDK's wdm.h does.
/// Included before wdk-sys's own headers (`-include`), it includes them first itself, so that
/// the declarations can use their types; their include guards make wdk-sys's includes no-ops.
const MINGW_ADDITIONS: &str = r"/* The MinGW kit's additions (cargo xtask): what the WDK's wdm.h declares and MinGW-w64 lacks. */
#pragma once
/* MinGW gives KeGetCurrentIrql a FORCEINLINE body on x64, which bindgen skips; wdk-sys's
   PAGED_CODE!() names the routine. */
#define KeGetCurrentIrql KeGetCurrentIrql_mingw_inline
#include <ntifs.h>
#include <ntddk.h>
#undef KeGetCurrentIrql
NTHALAPI KIRQL NTAPI KeGetCurrentIrql(VOID);
typedef ULONG64 POOL_FLAGS;
NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
";

/// A kit ready for wdk-build.
pub struct Kit {
    /// What `WDKContentRoot` is set to.
    pub root: PathBuf,
    /// Extra clang arguments for bindgen (the MinGW headers need their GNU code paths).
    pub bindgen_args: Option<String>,
    /// For the progress line.
    pub description: String,
}

impl Kit {
    /// The user's kit (`WDKContentRoot`), or the MinGW kit assembled under `dir`.
    pub fn prepare(dir: &Path) -> Result<Self> {
        match std::env::var_os("WDKContentRoot") {
            Some(root) if !root.is_empty() => user_kit(Path::new(&root), dir),
            _ => mingw_kit(&dir.join("mingw")),
        }
    }

    /// Sets the kit's variables on a cargo command.
    pub fn apply(&self, command: &mut Command) {
        command.env("WDKContentRoot", &self.root);
        match &self.bindgen_args {
            Some(args) => command.env("BINDGEN_EXTRA_CLANG_ARGS", args),
            None => command.env_remove("BINDGEN_EXTRA_CLANG_ARGS"),
        };
    }
}

/// The newest `10.*` folder under `dir`, as wdk-build picks it.
fn newest_version(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with("10."))
        .max()
}

/// A kit of the user's: used as it is when it has the import libraries; otherwise its headers
/// with import libraries made here, in a folder of links under `dir`.
fn user_kit(root: &Path, dir: &Path) -> Result<Kit> {
    let root =
        std::path::absolute(root).with_context(|| format!("WDKContentRoot={}", root.display()))?;
    let include = root.join("Include");
    let Some(version) = newest_version(&include) else {
        bail!(
            "WDKContentRoot={} has no Include/10.x folder: it should name a WDK (the folder with Include/ and Lib/)",
            root.display()
        );
    };
    for sub in ["km", "shared"] {
        let path = include.join(&version).join(sub);
        if !path.is_dir() {
            bail!(
                "WDKContentRoot={}: {} is missing",
                root.display(),
                path.display()
            );
        }
    }
    let lib_version = newest_version(&root.join("Lib"));
    let libraries = lib_version
        .as_ref()
        .map(|v| root.join("Lib").join(v).join("km/x64"));
    if lib_version.as_deref() == Some(version.as_str())
        && libraries.is_some_and(|dir| dir.join("ntoskrnl.lib").is_file())
    {
        return Ok(Kit {
            description: format!("the WDK at {} ({version})", root.display()),
            root,
            bindgen_args: None,
        });
    }
    // Headers only (a NuGet header package, say): link to them, add the libraries.
    let overlay = dir.join("user");
    let overlay_include = overlay.join("Include").join(&version);
    std::fs::create_dir_all(&overlay_include)?;
    for sub in ["km", "shared"] {
        symlink_fresh(
            &include.join(&version).join(sub),
            &overlay_include.join(sub),
        )?;
    }
    import_libraries(&overlay.join("Lib").join(&version).join("km/x64"))?;
    Ok(Kit {
        description: format!(
            "the WDK headers at {} ({version}), with import libraries made here",
            root.display()
        ),
        root: overlay,
        bindgen_args: None,
    })
}

/// The kit made from Debian's MinGW-w64 headers: `km` = their `ddk` folder, `shared` = the
/// include folder, `km/crt` empty; import libraries from `.def` files.
fn mingw_kit(root: &Path) -> Result<Kit> {
    let include = root.join("Include").join(MINGW_KIT_VERSION);
    std::fs::create_dir_all(include.join("km/crt"))?;
    // km holds crt/ of its own, so it is a folder of links to the ddk headers.
    let ddk = Path::new(MINGW_INCLUDE).join("ddk");
    let entries = std::fs::read_dir(&ddk).with_context(|| format!("reading {}", ddk.display()))?;
    for entry in entries {
        let entry = entry?;
        symlink_fresh(&entry.path(), &include.join("km").join(entry.file_name()))?;
    }
    symlink_fresh(Path::new(MINGW_INCLUDE), &include.join("shared"))?;
    import_libraries(&root.join("Lib").join(MINGW_KIT_VERSION).join("km/x64"))?;
    // The file's name carries its content's hash: bindgen re-runs when the variable changes,
    // not when a file it names does.
    let additions = root.join(format!(
        "mingw-additions-{:016x}.h",
        crate::fsutil::content_hash(MINGW_ADDITIONS.as_bytes())
    ));
    write_if_changed(&additions, MINGW_ADDITIONS.as_bytes())?;
    let resource_dir = clang_resource_dir()?;
    Ok(Kit {
        root: root.to_path_buf(),
        bindgen_args: Some(format!(
            "-fno-ms-compatibility -isystem {resource_dir}/include -include {}",
            additions.display()
        )),
        description: format!("the MinGW-w64 DDK headers in {MINGW_INCLUDE}"),
    })
}

/// clang's own headers (`stddef.h`, the intrinsics): wdk-build turns bindgen's include-path
/// detection off, and the MinGW headers include them.
fn clang_resource_dir() -> Result<String> {
    let output = Command::new("clang")
        .arg("-print-resource-dir")
        .output()
        .context("running `clang -print-resource-dir` (package clang)")?;
    if !output.status.success() {
        bail!("`clang -print-resource-dir` failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The import libraries wdk-build links (`ntoskrnl.lib hal.lib wmilib.lib
/// BufferOverflowFastFailK.lib`), made with `llvm-dlltool`: ntoskrnl's from
/// `xtask/kit/ntoskrnl.def`, the others empty (the driver calls nothing of them).
fn import_libraries(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let defs = [
        ("ntoskrnl", NTOSKRNL_DEF.to_owned()),
        ("hal", "LIBRARY hal.dll\nEXPORTS\n".to_owned()),
        ("wmilib", "LIBRARY wmilib.sys\nEXPORTS\n".to_owned()),
        (
            "BufferOverflowFastFailK",
            "LIBRARY BufferOverflowFastFailK.dll\nEXPORTS\n".to_owned(),
        ),
    ];
    for (name, def) in defs {
        let def_path = dir.join(format!("{name}.def"));
        let lib = dir.join(format!("{name}.lib"));
        if write_if_changed(&def_path, def.as_bytes())? || !lib.is_file() {
            let status = Command::new("llvm-dlltool")
                .args(["-m", "i386:x86-64", "-d"])
                .arg(&def_path)
                .arg("-l")
                .arg(&lib)
                .status()
                .context("running llvm-dlltool (package llvm)")?;
            if !status.success() {
                bail!("llvm-dlltool failed on {} ({status})", def_path.display());
            }
        }
    }
    Ok(())
}

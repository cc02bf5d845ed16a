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

/// A kit of the user's: its headers, and its import libraries where it has them (else, in a
/// folder of links under `dir`, its headers with import libraries made here). Linux's file names
/// are case-sensitive and the WDK's `#include`s do not always match the files' case
/// (`DriverSpecs.h` for `driverspecs.h`): links under `dir` with the names the headers use are
/// added to bindgen's include path, after the kit's own folders.
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
    let headers = include.join(&version);
    for sub in ["km", "km/crt", "shared"] {
        if !headers.join(sub).is_dir() {
            bail!(
                "WDKContentRoot={}: {} is missing",
                root.display(),
                headers.join(sub).display()
            );
        }
    }
    let case_links = dir.join("case-links");
    let linked = case_links_for(
        &[
            headers.join("km/crt"),
            headers.join("km"),
            headers.join("shared"),
        ],
        &case_links,
    )?;
    let bindgen_args = (linked > 0).then(|| format!("-idirafter {}", case_links.display()));
    let has_libraries = newest_version(&root.join("Lib")).as_deref() == Some(version.as_str())
        && root
            .join("Lib")
            .join(&version)
            .join("km/x64/ntoskrnl.lib")
            .is_file();
    if has_libraries {
        return Ok(Kit {
            description: format!("the WDK at {} ({version})", root.display()),
            root,
            bindgen_args,
        });
    }
    // Headers only (a NuGet header package, say): link to them, add the libraries. Made anew
    // each time: a version folder left from another kit would be the one wdk-build picks.
    let overlay = dir.join("user");
    if overlay.exists() {
        std::fs::remove_dir_all(&overlay)
            .with_context(|| format!("removing {}", overlay.display()))?;
    }
    std::fs::create_dir_all(overlay.join("Include"))?;
    symlink_fresh(&headers, &overlay.join("Include").join(&version))?;
    import_libraries(&overlay.join("Lib").join(&version).join("km/x64"))?;
    Ok(Kit {
        description: format!(
            "the WDK headers at {} ({version}), with import libraries made here",
            root.display()
        ),
        root: overlay,
        bindgen_args,
    })
}

/// Makes `links` a folder of links, one for each header that an `#include` in `dirs` names in
/// another case than the file has; how many.
fn case_links_for(dirs: &[PathBuf], links: &Path) -> Result<usize> {
    let mut files = std::collections::BTreeMap::new();
    for dir in dirs {
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            files
                .entry(name.to_lowercase())
                .or_insert_with(|| entry.path());
        }
    }
    let exists = |name: &str| dirs.iter().any(|dir| dir.join(name).exists());
    let mut wanted = std::collections::BTreeMap::new();
    for path in files.values().filter(|path| path.is_file()) {
        let text = String::from_utf8_lossy(&std::fs::read(path)?).into_owned();
        for name in included_names(&text) {
            if !name.contains('/')
                && !exists(name)
                && let Some(target) = files.get(&name.to_lowercase())
            {
                wanted.insert(name.to_owned(), target.clone());
            }
        }
    }
    std::fs::create_dir_all(links)?;
    for (name, target) in &wanted {
        symlink_fresh(target, &links.join(name))?;
    }
    Ok(wanted.len())
}

/// The file names of a header's `#include <...>` and `#include "..."` lines.
fn included_names(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let rest = line.trim_start().strip_prefix('#')?.trim_start();
        let rest = rest.strip_prefix("include")?.trim_start();
        let close = match rest.chars().next()? {
            '<' => '>',
            '"' => '"',
            _ => return None,
        };
        rest[1..].split(close).next()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-kit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A kit with `km`, `km/crt` and `shared`, and `ntoskrnl.lib` if `libraries`.
    fn kit(name: &str, libraries: bool) -> PathBuf {
        let root = scratch(name);
        let headers = root.join("Include/10.0.22000.0");
        for sub in ["km/crt", "shared"] {
            std::fs::create_dir_all(headers.join(sub)).unwrap();
        }
        std::fs::write(
            headers.join("km/wdm.h"),
            "#include <DriverSpecs.h>\n# include \"ntdef.h\"\n",
        )
        .unwrap();
        std::fs::write(headers.join("shared/driverspecs.h"), "").unwrap();
        std::fs::write(headers.join("shared/ntdef.h"), "").unwrap();
        if libraries {
            let lib = root.join("Lib/10.0.22000.0/km/x64");
            std::fs::create_dir_all(&lib).unwrap();
            std::fs::write(lib.join("ntoskrnl.lib"), "").unwrap();
        }
        root
    }

    #[test]
    fn a_full_kit_is_used_as_it_is_with_links_for_includes_in_another_case() {
        let root = kit("full", true);
        let work = scratch("full-work");
        let found = user_kit(&root, &work).unwrap();
        assert_eq!(found.root, root);
        let links = work.join("case-links");
        assert_eq!(
            found.bindgen_args,
            Some(format!("-idirafter {}", links.display()))
        );
        assert_eq!(
            std::fs::read_link(links.join("DriverSpecs.h")).unwrap(),
            root.join("Include/10.0.22000.0/shared/driverspecs.h")
        );
        assert!(!links.join("ntdef.h").exists(), "its case matches");
    }

    #[test]
    fn a_kit_of_headers_only_gets_import_libraries_of_ours_and_a_bad_one_is_named() {
        if Command::new("llvm-dlltool")
            .arg("--version")
            .output()
            .is_err()
        {
            return; // The install step provides it; the probes name it when missing.
        }
        let root = kit("headers", false);
        let work = scratch("headers-work");
        let found = user_kit(&root, &work).unwrap();
        assert_eq!(found.root, work.join("user"));
        assert!(
            found
                .root
                .join("Lib/10.0.22000.0/km/x64/ntoskrnl.lib")
                .is_file()
        );
        assert!(found.root.join("Include/10.0.22000.0/km/wdm.h").is_file());
        let error = user_kit(&scratch("empty"), &work)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("has no Include/10.x folder"), "{error}");
    }
}

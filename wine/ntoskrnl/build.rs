//! Links the fixture as a native `ntoskrnl.exe` for Wine (Windows targets only).
//!
//! Writes into `OUT_DIR`:
//! - `ntoskrnl.def`, the shim's export table: every export of Wine's builtin ntoskrnl.exe is
//!   forwarded to the renamed copy `wntoskrnl.dll`, except the names the shim implements.
//! - `wntoskrnl.lib`, made by `llvm-dlltool`: the imports of the shim's own calls into Wine. They
//!   must not come from `ntoskrnl.exe`, which is the shim itself.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{self, Command},
};

/// Routines Wine 8 lacks, exported under their own names (src/shim.rs defines them).
const ADDED: &[&str] = &[
    "ExAllocateFromLookasideListEx",
    "ExDeleteLookasideListEx",
    "ExFlushLookasideListEx",
    "ExFreeToLookasideListEx",
    "ExInitializeLookasideListEx",
];

/// Routines the x64 Windows kernel exports but Wine keeps in its `hal.dll` only: forwarded
/// there, so a driver importing them from ntoskrnl.exe loads as it does on Windows.
const FROM_HAL: &[&str] = &["KeQueryPerformanceCounter"];

/// Wine routines the shim wraps, to count pool blocks, to answer without a system call, or to
/// report the totals when a driver's load returns: `Name`
/// exports the shim's `fixture_Name`, so that the symbol `Name` stays free for the import of
/// Wine's routine.
const WRAPPED: &[&str] = &[
    "ZwLoadDriver",
    "ExAllocatePool",
    "ExAllocatePoolWithTag",
    "ExFreePool",
    "ExFreePoolWithTag",
    "KeGetCurrentProcessorNumberEx",
];

/// Every Wine routine src/shim.rs declares in its `extern` blocks.
const IMPORTED: &[&str] = &[
    "DbgPrint",
    "ExAllocatePool",
    "ExAllocatePoolWithTag",
    "ExFreePool",
    "ExFreePoolWithTag",
    "ExpInterlockedPopEntrySList",
    "ExpInterlockedPushEntrySList",
    "KeBugCheckEx",
    "KeGetCurrentProcessorNumberEx",
    "ZwLoadDriver",
];

/// The DLL entry point in src/shim.rs.
const ENTRY: &str = "fixture_dll_main";

const DEFAULT_WINE_NTOSKRNL: &str = "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/ntoskrnl.exe";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows")
        || env::var_os("CARGO_FEATURE_WINE").is_none()
    {
        // Without the `wine` feature the crate is the plain library with the unit tests.
        return;
    }
    let target = env::var("TARGET").unwrap_or_default();
    if target != "x86_64-pc-windows-msvc" {
        fail(&format!(
            "the ntoskrnl fixture builds for x86_64-pc-windows-msvc only, not {target}"
        ));
    }
    println!("cargo:rerun-if-env-changed=WINE_NTOSKRNL");
    println!("cargo:rerun-if-env-changed=LLVM_DLLTOOL");
    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set")));

    let wine_exports = wine_exports();
    for name in WRAPPED.iter().chain(IMPORTED) {
        if !wine_exports.iter().any(|export| export == name) {
            fail(&format!(
                "Wine's ntoskrnl.exe does not export {name}, which the shim calls"
            ));
        }
    }

    let shim_def = out_dir.join("ntoskrnl.def");
    write(&shim_def, &shim_def_text(&wine_exports));
    let import_def = out_dir.join("wntoskrnl.def");
    write(&import_def, &import_def_text());
    make_import_lib(&import_def, &out_dir.join("wntoskrnl.lib"));

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=dylib=wntoskrnl");
    for arg in [
        "/NODEFAULTLIB".to_owned(),
        format!("/ENTRY:{ENTRY}"),
        // As Wine's builtin ntoskrnl.exe, which winedevice.exe loads like any DLL.
        "/SUBSYSTEM:CONSOLE".to_owned(),
        // Comes after rustc's own /DEF on the link line; lld-link uses the last one.
        format!("/DEF:{}", shim_def.display()),
    ] {
        println!("cargo:rustc-link-arg-cdylib={arg}");
    }
}

/// The export names of Wine's builtin ntoskrnl.exe.
fn wine_exports() -> Vec<String> {
    let path = env::var_os("WINE_NTOSKRNL")
        .map_or_else(|| PathBuf::from(DEFAULT_WINE_NTOSKRNL), PathBuf::from);
    println!("cargo:rerun-if-changed={}", path.display());
    let data = fs::read(&path).unwrap_or_else(|error| {
        fail(&format!(
            "cannot read Wine's builtin ntoskrnl.exe at {} ({error}); install the Debian packages \
             wine64 and libwine (libwine ships the file), or set WINE_NTOSKRNL to its path",
            path.display()
        ))
    });
    let exports = object::read::pe::PeFile64::parse(&*data)
        .and_then(|file| file.export_table())
        .and_then(|table| table.map_or_else(|| Ok(Vec::new()), |table| table.exports()))
        .unwrap_or_else(|error| {
            fail(&format!(
                "cannot read the exports of {}: {error}",
                path.display()
            ))
        });
    let mut names: Vec<String> = exports
        .iter()
        .filter_map(|export| export.name)
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    if names.is_empty() {
        fail(&format!("{} exports no names", path.display()));
    }
    if let Some(bad) = names
        .iter()
        .find(|name| !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        // A .def line could not carry it unquoted; Wine 8 has none such.
        fail(&format!(
            "unexpected export name {bad:?} in {}",
            path.display()
        ));
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// The module-definition file of the shim's export table.
fn shim_def_text(wine_exports: &[String]) -> String {
    let mut def = String::from("LIBRARY ntoskrnl.exe\nEXPORTS\n");
    for name in wine_exports {
        if !ADDED.contains(&name.as_str()) && !WRAPPED.contains(&name.as_str()) {
            let _ = writeln!(def, "    {name}=wntoskrnl.{name}");
        }
    }
    for name in ADDED {
        let _ = writeln!(def, "    {name}");
    }
    for name in WRAPPED {
        let _ = writeln!(def, "    {name}=fixture_{name}");
    }
    for name in FROM_HAL {
        if !wine_exports.iter().any(|export| export == name) {
            let _ = writeln!(def, "    {name}=hal.{name}");
        }
    }
    def
}

/// The module-definition file of the import library for `wntoskrnl.dll`.
fn import_def_text() -> String {
    let mut def = String::from("LIBRARY wntoskrnl.dll\nEXPORTS\n");
    for name in IMPORTED {
        let _ = writeln!(def, "    {name}");
    }
    def
}

fn make_import_lib(def: &Path, lib: &Path) {
    let tool = env::var_os("LLVM_DLLTOOL").unwrap_or_else(|| "llvm-dlltool".into());
    let status = Command::new(&tool)
        .args(["-m", "i386:x86-64", "-d"])
        .arg(def)
        .arg("-l")
        .arg(lib)
        .status()
        .unwrap_or_else(|error| {
            fail(&format!(
                "cannot run {} ({error}); install the Debian package llvm, or set LLVM_DLLTOOL",
                tool.to_string_lossy()
            ))
        });
    if !status.success() {
        fail(&format!(
            "{} failed ({status}) on {}",
            tool.to_string_lossy(),
            def.display()
        ));
    }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text)
        .unwrap_or_else(|error| fail(&format!("cannot write {}: {error}", path.display())));
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    process::exit(1);
}

//! Build script: the link setup of whichever kernel backend is selected.
//!
//! - Windows build (feature `wdk`, the default, on a Windows host): `wdk-build` configures the
//!   WDM driver link, exactly as in Microsoft's samples.
//! - Linux cross-build (feature `ddk`): bindgen generates the kernel bindings from the MinGW-w64
//!   DDK headers, llvm-dlltool makes `ntoskrnl.lib` from `ddk/ntoskrnl.def`, and lld-link gets
//!   the native-driver flags.
//! - Anything else (host tests, clippy on Linux): nothing to do.

use std::env;
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = env::var("CARGO_CFG_TARGET_OS")?;
    if env::var_os("CARGO_FEATURE_DDK").is_some() && target_os == "windows" {
        #[cfg(feature = "ddk")]
        return ddk::configure();
    }
    #[cfg(all(windows, feature = "wdk"))]
    if target_os == "windows" && env::var_os("CARGO_FEATURE_DDK").is_none() {
        return Ok(wdk_build::configure_wdk_binary_build()?);
    }
    Ok(())
}

#[cfg(feature = "ddk")]
mod ddk {
    use std::env;
    use std::error::Error;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Where Debian's `mingw-w64-x86-64-dev` puts the headers.
    const DEFAULT_MINGW_INCLUDE: &str = "/usr/x86_64-w64-mingw32/include";

    /// The kernel API the driver uses; bindgen pulls in the types they need.
    const FUNCTIONS: &[&str] = &[
        "DbgBreakPoint",
        "DbgPrint",
        "ExAllocatePoolWithTag",
        "ExDeleteLookasideListEx",
        "ExFlushLookasideListEx",
        "ExFreePoolWithTag",
        "ExInitializeLookasideListEx",
        "ExpInterlockedPopEntrySList",
        "ExpInterlockedPushEntrySList",
        "KdRefreshDebuggerNotPresent",
        "KeGetCurrentProcessorNumberEx",
        "KeQueryActiveProcessorCountEx",
        "KeQueryPerformanceCounter",
        "MmGetSystemRoutineAddress",
        "PsCreateSystemThread",
        "PsTerminateSystemThread",
        "ZwClose",
        "ZwOpenKey",
        "ZwQueryValueKey",
        "ZwWaitForSingleObject",
    ];
    const TYPES: &[&str] = &[
        "DRIVER_OBJECT",
        "KEY_VALUE_INFORMATION_CLASS",
        "LIST_ENTRY",
        "OBJECT_ATTRIBUTES",
        "LOOKASIDE_LIST_EX",
        "SLIST_ENTRY",
        "SLIST_HEADER",
        "UNICODE_STRING",
    ];
    /// Plain `#define`s bindgen evaluates.
    const CONSTANTS: &[&str] = &[
        "KEY_QUERY_VALUE",
        "OBJ_CASE_INSENSITIVE",
        "OBJ_KERNEL_HANDLE",
        "REG_DWORD",
        "SYNCHRONIZE",
    ];

    pub fn configure() -> Result<(), Box<dyn Error>> {
        let out = PathBuf::from(env::var("OUT_DIR")?);
        let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
        generate_bindings(&root.join("ddk/wrapper.h"), &out)?;
        import_library(&root.join("ddk/ntoskrnl.def"), &out)?;
        println!("cargo::rustc-link-search=native={}", out.display());
        println!("cargo::rustc-link-lib=dylib=ntoskrnl");
        // `/LLDMAP`: a map of every function and its size beside the image (deps/*.map), which
        // `cargo xtask test` reads to keep `core::fmt` out of the driver.
        //
        // `/MERGE`: two sections, code and read-only data, instead of four. Each section is padded
        // to the 512-byte file alignment, and lld-link sizes the headers before it drops empty
        // sections, counting the objects' empty `.data` and `.bss`: merged, the headers fit 512
        // bytes and `.pdata`'s 216 bytes share `.rdata`'s padding (1,024 bytes less). The loader
        // finds the unwind table through the exception directory, wherever it lies. The driver
        // has no writable global (`cargo xtask test` fails if the map shows one: in `.rdata` it
        // would be read-only).
        for arg in [
            "/DRIVER",
            "/SUBSYSTEM:NATIVE",
            "/ENTRY:DriverEntry",
            "/NODEFAULTLIB",
            "/LLDMAP",
            "/MERGE:.pdata=.rdata",
            "/MERGE:.data=.rdata",
            "/MERGE:.bss=.rdata",
        ] {
            println!("cargo::rustc-link-arg-cdylib={arg}");
        }
        Ok(())
    }

    fn generate_bindings(wrapper: &Path, out: &Path) -> Result<(), Box<dyn Error>> {
        println!("cargo::rerun-if-changed={}", wrapper.display());
        println!("cargo::rerun-if-env-changed=MINGW_INCLUDE");
        let include = env::var("MINGW_INCLUDE").unwrap_or_else(|_| DEFAULT_MINGW_INCLUDE.into());
        let ddk = Path::new(&include).join("ddk");
        if !ddk.join("ntifs.h").is_file() {
            return Err(format!(
                "the MinGW-w64 DDK headers are missing ({}/ntifs.h): \
                 apt-get install mingw-w64-x86-64-dev (or set MINGW_INCLUDE)",
                ddk.display()
            )
            .into());
        }
        let mut builder = bindgen::Builder::default()
            .header(wrapper.to_string_lossy())
            .clang_args(["--target=x86_64-w64-mingw32", "-Wno-pragma-pack"])
            .clang_arg(format!("-I{}", ddk.display()))
            .clang_arg(format!("-I{include}"))
            .use_core()
            .ctypes_prefix("core::ffi")
            .default_enum_style(bindgen::EnumVariation::ModuleConsts)
            // Only its address is passed around; its fields are not the driver's business.
            .opaque_type("_DRIVER_OBJECT")
            // Only passed by address to the SList routines; opaque, it needs no bitfield code.
            .opaque_type("_SLIST_HEADER.*")
            .layout_tests(true)
            .derive_debug(false);
        for function in FUNCTIONS {
            builder = builder.allowlist_function(function);
        }
        for ty in TYPES {
            builder = builder.allowlist_type(ty);
        }
        for constant in CONSTANTS {
            builder = builder.allowlist_var(constant);
        }
        let bindings = builder.generate().map_err(|e| {
            // libclang finds its own headers (stddef.h, mm_malloc.h) only where bindgen
            // tells it, which bindgen learns from the `clang` executable.
            let hint = if e.to_string().contains(".h' file not found") {
                " (clang's resource headers were not found: apt-get install clang)"
            } else {
                ""
            };
            format!("bindgen over the MinGW-w64 DDK headers failed{hint}: {e}")
        })?;
        // The routines come from ntoskrnl.exe: declared so, the compiler calls each through its
        // import address table entry (`call [__imp_X]`) instead of through a jump thunk the
        // linker would add per routine.
        let text = bindings.to_string().replace(
            "\nunsafe extern \"C\" {",
            "\n#[link(name = \"ntoskrnl\", kind = \"dylib\")]\nunsafe extern \"C\" {",
        );
        std::fs::write(out.join("ddk_bindings.rs"), text)?;
        Ok(())
    }

    fn import_library(def: &Path, out: &Path) -> Result<(), Box<dyn Error>> {
        println!("cargo::rerun-if-changed={}", def.display());
        let lib = out.join("ntoskrnl.lib");
        let status = Command::new("llvm-dlltool")
            .args(["-m", "i386:x86-64", "-d"])
            .arg(def)
            .arg("-l")
            .arg(&lib)
            .status()
            .map_err(|e| format!("llvm-dlltool could not run ({e}): apt-get install llvm"))?;
        if !status.success() {
            return Err(format!("llvm-dlltool failed on {}: {status}", def.display()).into());
        }
        Ok(())
    }
}

//! The Debian packages the commands need: checked with dpkg, installed with apt-get as root,
//! then probed: each tool must actually work before the build relies on it, so that a
//! half-installed or broken package is named here in one line, not as a bindgen or linker error
//! ten screens later.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::process;

/// A package, what it is for, and how to tell that what it provides works.
pub struct Need {
    pub package: &'static str,
    pub why: &'static str,
    pub probes: &'static [Probe],
}

/// One thing a package must provide, checked for real.
pub enum Probe {
    /// `program args...` runs and exits 0 (a bare name is looked up on `PATH`).
    Answers {
        program: &'static str,
        args: &'static [&'static str],
    },
    /// `program` is on `PATH` and executable (for tools that have no harmless way to answer).
    OnPath(&'static str),
    /// A file that must exist.
    File(&'static str),
    /// A check of its own: what it looked for, and the answer.
    Check {
        what: &'static str,
        check: fn(&Tools) -> Result<(), String>,
    },
}

/// For the cross-build of LookasideList.sys and the Wine fixture.
pub const BUILD: &[Need] = &[
    Need {
        package: "llvm",
        why: "llvm-dlltool, which makes the import libraries",
        probes: &[Probe::Check {
            what: "llvm-dlltool making an import library",
            check: dlltool_makes_a_library,
        }],
    },
    Need {
        package: "mingw-w64-x86-64-dev",
        why: "the DDK headers of the kit wdk-sys's bindgen reads (when no WDKContentRoot is given)",
        probes: &[
            Probe::File("/usr/x86_64-w64-mingw32/include/ddk/ntifs.h"),
            Probe::File("/usr/x86_64-w64-mingw32/include/ddk/wdm.h"),
        ],
    },
    Need {
        package: "libclang-dev",
        why: "libclang, which bindgen drives",
        probes: &[Probe::Check {
            what: "a libclang shared library",
            check: libclang,
        }],
    },
    Need {
        package: "clang",
        why: "clang, which tells bindgen where clang's own headers (stddef.h, mm_malloc.h) are",
        probes: &[Probe::Check {
            what: "clang's resource headers (clang -print-resource-dir)",
            check: clang_resource_headers,
        }],
    },
];

/// For `cargo xtask package`: signing, and the test certificate.
pub const PACKAGE: &[Need] = &[
    Need {
        package: "osslsigncode",
        why: "Authenticode signing of LookasideList.sys",
        probes: &[Probe::Answers {
            program: "osslsigncode",
            args: &["--version"],
        }],
    },
    Need {
        package: "openssl",
        why: "the test certificate",
        probes: &[Probe::Answers {
            program: "openssl",
            args: &["version"],
        }],
    },
];

/// For loading the driver.
pub const WINE: &[Need] = &[
    Need {
        package: "wine",
        why: "the wine launcher",
        probes: &[
            Probe::Answers {
                program: "wine",
                args: &["--version"],
            },
            Probe::OnPath("wineboot"),
            Probe::OnPath("wineserver"),
        ],
    },
    Need {
        package: "wine64",
        why: "64-bit Wine, whose winedevice.exe hosts kernel drivers",
        probes: &[
            Probe::Answers {
                program: "/usr/lib/wine/wine64",
                args: &["--version"],
            },
            Probe::File(WINE_NTOSKRNL),
        ],
    },
];

/// Wine's own kernel, which the fixture forwards to (package wine64).
pub const WINE_NTOSKRNL: &str = "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/ntoskrnl.exe";

/// Where the probes look: the machine itself, or (in tests) another `PATH` and file-system root,
/// to show what a missing tool looks like without uninstalling anything.
pub struct Tools {
    /// The `PATH` that bare program names are looked up on.
    path: OsString,
    /// Absolute paths in the probes are taken under this directory.
    root: PathBuf,
}

impl Tools {
    /// This machine, as the build will see it.
    pub fn here() -> Self {
        Self {
            path: std::env::var_os("PATH").unwrap_or_default(),
            root: PathBuf::from("/"),
        }
    }

    /// `path` under the probes' root.
    fn file(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// A bare name found on `PATH`, or an absolute path under the root.
    fn program(&self, program: &str) -> Option<PathBuf> {
        if program.starts_with('/') {
            let file = self.file(program);
            return is_executable(&file).then_some(file);
        }
        std::env::split_paths(&self.path)
            .map(|dir| dir.join(program))
            .find(|file| is_executable(file))
    }

    /// Runs `program args...`; its stdout, or why it did not answer.
    fn answer(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let file = self.program(program).ok_or_else(|| not_found(program))?;
        // Wine's own variables are the user's business: a probe of the package must not fail
        // for them (a relative WINEPREFIX makes `wine64 --version` fail).
        let output = Command::new(&file)
            .args(args)
            .env("PATH", &self.path)
            .env_remove("WINEPREFIX")
            .output()
            .map_err(|error| format!("{program} does not run ({error})"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            return Err(format!(
                "`{program} {}` failed ({}){}",
                args.join(" "),
                output.status,
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                }
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

fn not_found(program: &str) -> String {
    if program.starts_with('/') {
        format!("{program} is missing")
    } else {
        format!("{program} is not on PATH")
    }
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(file)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

impl Probe {
    /// Whether what this probe looks for works; if not, why.
    fn run(&self, tools: &Tools) -> Result<(), String> {
        match self {
            Self::Answers { program, args } => tools.answer(program, args).map(drop),
            Self::OnPath(program) => tools
                .program(program)
                .map(drop)
                .ok_or_else(|| not_found(program)),
            Self::File(path) => {
                if tools.file(path).is_file() {
                    Ok(())
                } else {
                    Err(format!("{path} is missing"))
                }
            }
            Self::Check { what, check } => check(tools).map_err(|why| format!("{what}: {why}")),
        }
    }
}

/// The build runs `llvm-dlltool -m i386:x86-64 -d x.def -l x.lib`: do exactly that, on a
/// one-routine `.def`.
fn dlltool_makes_a_library(tools: &Tools) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("xtask-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let (def, lib) = (dir.join("probe.def"), dir.join("probe.lib"));
    let outcome = std::fs::write(&def, "LIBRARY probe.dll\nEXPORTS\nProbe\n")
        .map_err(|error| format!("{}: {error}", def.display()))
        .and_then(|()| {
            tools.answer(
                "llvm-dlltool",
                &[
                    "-m",
                    "i386:x86-64",
                    "-d",
                    &def.to_string_lossy(),
                    "-l",
                    &lib.to_string_lossy(),
                ],
            )
        })
        .and_then(|_| {
            if lib.is_file() {
                Ok(())
            } else {
                Err("it wrote no library".to_owned())
            }
        });
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// bindgen (through clang-sys) loads libclang from `llvm-config --libdir` or the usual library
/// directories: one of those must hold a libclang that is a real shared object, not a dangling
/// link.
fn libclang(tools: &Tools) -> Result<(), String> {
    let mut dirs: Vec<PathBuf> = tools
        .answer("llvm-config", &["--libdir"])
        .map(|dir| vec![tools.file(&dir)])
        .unwrap_or_default();
    dirs.push(tools.file("/usr/lib/x86_64-linux-gnu"));
    let found = dirs.iter().find_map(|dir| {
        let entries = std::fs::read_dir(dir).ok()?;
        entries.flatten().map(|entry| entry.path()).find(|file| {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("libclang")
                && name.contains(".so")
                && !name.starts_with("libclang-cpp")
                && std::fs::read(file).is_ok_and(|bytes| bytes.starts_with(b"\x7fELF"))
        })
    });
    found.map(drop).ok_or_else(|| {
        let looked: Vec<String> = dirs.iter().map(|dir| dir.display().to_string()).collect();
        format!("no loadable libclang*.so in {}", looked.join(", "))
    })
}

/// bindgen asks `clang` for clang's resource directory; the MinGW headers include
/// `mm_malloc.h` from there.
fn clang_resource_headers(tools: &Tools) -> Result<(), String> {
    let dir = tools.answer("clang", &["-print-resource-dir"])?;
    let include = tools.file(&dir).join("include");
    for header in ["stddef.h", "mm_malloc.h"] {
        if !include.join(header).is_file() {
            return Err(format!("{} is missing", include.join(header).display()));
        }
    }
    Ok(())
}

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

/// Installs whatever of `needs` is missing (as root), or stops with the line to run; then
/// probes every tool and stops, naming the package, at the first that does not work.
pub fn ensure(needs: &[&[Need]], verbose: bool) -> Result<()> {
    let needs: Vec<&Need> = needs.iter().copied().flatten().collect();
    let mut missing = Vec::new();
    for need in &needs {
        if !installed(need.package)? {
            missing.push(*need);
        }
    }
    if !missing.is_empty() {
        install(&missing, verbose)?;
    }
    let broken = probe(&needs, &Tools::here());
    if broken.is_empty() {
        Ok(())
    } else {
        bail!("{}", broken.join("\n"))
    }
}

/// One line per tool that does not work: what failed, the package, the command that fixes it.
pub fn probe(needs: &[&Need], tools: &Tools) -> Vec<String> {
    let mut broken = Vec::new();
    for need in needs {
        for probe in need.probes {
            if let Err(why) = probe.run(tools) {
                let fix = if installed(need.package).unwrap_or(false) {
                    format!("apt-get install --reinstall {}", need.package)
                } else {
                    format!("apt-get install --no-install-recommends {}", need.package)
                };
                broken.push(format!(
                    "{why}; it comes from the Debian package {}: run `{fix}` as root",
                    need.package
                ));
            }
        }
    }
    broken
}

/// `apt-get update` and `apt-get install` as one step, alive while it runs, timed at its end.
fn install(missing: &[&Need], verbose: bool) -> Result<()> {
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
    process::progress(&format!(
        "installing {} missing Debian packages (and their dependencies):{reasons}",
        names.len()
    ));
    let started = Instant::now();
    process::run_long(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
        verbose,
    )?;
    process::run_long(
        &line,
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&names)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        verbose,
    )?;
    process::progress(&format!(
        "Debian packages installed in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<&'static Need> {
        [BUILD, WINE, PACKAGE].into_iter().flatten().collect()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-packages-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The line for `package`, exactly one.
    fn line_for<'a>(broken: &'a [String], package: &str) -> &'a str {
        let lines: Vec<&String> = broken
            .iter()
            .filter(|line| line.contains(&format!("the Debian package {package}:")))
            .collect();
        assert!(!lines.is_empty(), "{package} not reported in {broken:#?}");
        lines[0]
    }

    #[test]
    fn a_tool_missing_from_path_is_reported_with_its_package() {
        let empty = scratch("path");
        let tools = Tools {
            path: empty.clone().into_os_string(),
            root: PathBuf::from("/"),
        };
        let broken = probe(&all(), &tools);
        let clang = line_for(&broken, "clang");
        assert!(clang.contains("clang is not on PATH"), "{clang}");
        assert!(clang.contains("apt-get install"), "{clang}");
        assert!(line_for(&broken, "llvm").contains("llvm-dlltool is not on PATH"));
        // One line per broken probe, nothing else.
        assert!(broken.iter().all(|line| !line.contains('\n')));
        let _ = std::fs::remove_dir_all(empty);
    }

    #[test]
    fn a_missing_file_under_another_root_is_reported_with_its_package() {
        let root = scratch("root");
        let tools = Tools {
            path: OsString::new(),
            root: root.clone(),
        };
        let broken = probe(&all(), &tools);
        assert!(
            line_for(&broken, "mingw-w64-x86-64-dev")
                .starts_with("/usr/x86_64-w64-mingw32/include/ddk/ntifs.h is missing")
        );
        assert!(line_for(&broken, "wine64").contains("wine64"));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn this_machine_has_what_the_commands_installed() {
        // After `cargo xtask` has installed the packages, every probe passes here; on a machine
        // without them this names each one, which is the point of the probes.
        if all()
            .iter()
            .all(|need| installed(need.package).unwrap_or(false))
        {
            assert_eq!(probe(&all(), &Tools::here()), Vec::<String>::new());
        }
    }
}

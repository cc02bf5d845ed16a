//! wdk-build made Linux-capable, for the cross-build only.
//!
//! wdk-build 0.6.0 does not compile on Linux: it depends on the `windows` crate unconditionally,
//! and its non-Windows `set_var`/`remove_var` are `compile_error!`s. The cross-build uses a copy
//! of the crate that Cargo downloaded, under `target/`, with the four small edits below applied
//! (docs/wdk-build-on-linux.md describes them as the change upstream would need). Cargo is
//! pointed at the copy with a `[patch]` given on its command line, and at a copy of
//! `Cargo.lock` (the patch rewrites wdk-build's entry in the lock it uses): the repository's
//! files stay as they are, and `cargo make` on Windows uses crates.io's wdk-build unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fsutil::write_if_changed;
use crate::workspace;

/// One edit: in `file`, `find` occurs `count` times and each becomes `replace`.
struct Edit {
    file: &'static str,
    why: &'static str,
    find: &'static str,
    replace: &'static str,
    count: usize,
}

const EDITS: &[Edit] = &[
    Edit {
        file: "Cargo.toml",
        why: "the `windows` crate (registry look-ups) only for Windows hosts",
        find: "[dependencies.windows]",
        replace: "[target.'cfg(windows)'.dependencies.windows]",
        count: 1,
    },
    Edit {
        file: "src/utils.rs",
        why: "the registry imports only on Windows",
        find: "use windows::{",
        replace: "#[cfg(windows)]\nuse windows::{",
        count: 1,
    },
    Edit {
        file: "src/utils.rs",
        why: "the two registry look-ups of the kit's root only on Windows (WDKContentRoot names it elsewhere)",
        find: "    if let Some(path) = read_registry_key_string_value(",
        replace: "    #[cfg(windows)]\n    if let Some(path) = read_registry_key_string_value(",
        count: 2,
    },
    Edit {
        file: "src/utils.rs",
        why: "the registry reader only on Windows",
        find: "fn read_registry_key_string_value(",
        replace: "#[cfg(windows)]\nfn read_registry_key_string_value(",
        count: 1,
    },
    Edit {
        file: "src/utils.rs",
        why: "set_var off Windows: std's, not a compile_error!",
        find: "pub fn set_var<K, V>(_key: K, _value: V)
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    compile_error!(
        \"windows-drivers-rs is designed to be run on a Windows host machine in a WDK environment. \\
         Please build using a Windows target.\"
    );
}",
        replace: "pub fn set_var<K, V>(key: K, value: V)
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    // SAFETY: build scripts and cargo-make scripts set variables before starting any thread.
    unsafe { env::set_var(key, value) }
}",
        count: 1,
    },
    Edit {
        file: "src/utils.rs",
        why: "remove_var off Windows: std's, not a compile_error!",
        find: "pub fn remove_var<K>(_key: K)
where
    K: AsRef<OsStr>,
{
    compile_error!(
        \"windows-drivers-rs is designed to be run on a Windows host machine in a WDK environment. \\
         Please build using a Windows target.\"
    );
}",
        replace: "pub fn remove_var<K>(key: K)
where
    K: AsRef<OsStr>,
{
    // SAFETY: as for set_var.
    unsafe { env::remove_var(key) }
}",
        count: 1,
    },
    Edit {
        file: "src/cargo_make.rs",
        why: "the makefile link made with the Unix call",
        find: "std::os::windows::fs::symlink_file(",
        replace: "std::os::unix::fs::symlink(",
        count: 2,
    },
];

/// What the cross-build's cargo needs: the edited crate and the lock file copy.
pub struct Patched {
    /// The edited copy of wdk-build.
    pub crate_dir: PathBuf,
    /// The copy of `Cargo.lock` cargo may rewrite.
    pub lockfile: PathBuf,
}

impl Patched {
    /// The `[patch]` and the lock file, on a cargo command (with `RUSTC_BOOTSTRAP=1`, which
    /// `-Zlockfile-path` needs).
    pub fn apply(&self, command: &mut Command) {
        command
            .arg("-Zlockfile-path")
            .arg("--config")
            .arg(format!(
                "resolver.lockfile-path={}",
                toml_string(&self.lockfile)
            ))
            .arg("--config")
            .arg(format!(
                "patch.crates-io.wdk-build.path={}",
                toml_string(&self.crate_dir)
            ));
    }
}

fn toml_string(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Makes (or refreshes) the edited copy under `dir` and the lock file copy beside it.
pub fn prepare(dir: &Path) -> Result<Patched> {
    let source = downloaded_source()?;
    let name = source
        .file_name()
        .context("wdk-build's source folder has no name")?;
    let crate_dir = dir.join(name);
    copy_edited(&source, &crate_dir)?;
    // The lock file is copied again only when the repository's changes: cargo has rewritten
    // wdk-build's entry in the copy, and a fresh copy each time would re-resolve each time.
    let root_lock =
        std::fs::read(workspace::root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let lockfile = dir.join("lock/Cargo.lock");
    if write_if_changed(&dir.join("lock/Cargo.lock.orig"), &root_lock)? || !lockfile.is_file() {
        std::fs::write(&lockfile, &root_lock)?;
    }
    Ok(Patched {
        crate_dir,
        lockfile,
    })
}

/// Where Cargo unpacked the wdk-build of `Cargo.lock` (`cargo metadata` downloads it first).
fn downloaded_source() -> Result<PathBuf> {
    let metadata = workspace::cargo_metadata(true)?;
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "wdk-build")
        .and_then(|package| package["manifest_path"].as_str())
        .context("wdk-build is not in Cargo.lock")?;
    Ok(Path::new(manifest)
        .parent()
        .context("wdk-build's manifest path")?
        .to_path_buf())
}

/// Copies `source` to `dest` with [`EDITS`] applied, leaving files whose content is the same
/// untouched.
fn copy_edited(source: &Path, dest: &Path) -> Result<()> {
    for file in files(source)? {
        let relative = file.strip_prefix(source)?;
        let mut contents = std::fs::read(&file)?;
        let name = relative.to_string_lossy();
        let edits: Vec<&Edit> = EDITS.iter().filter(|edit| edit.file == name).collect();
        if !edits.is_empty() {
            let mut text = String::from_utf8(contents)
                .with_context(|| format!("{} is not UTF-8", file.display()))?;
            for edit in edits {
                text = apply(&text, edit)
                    .with_context(|| format!("editing {} of {}", edit.file, source.display()))?;
            }
            contents = text.into_bytes();
        }
        write_if_changed(&dest.join(relative), &contents)?;
    }
    Ok(())
}

/// Applies `edit` to `text`, in the text's own line endings (the crate's sources are CRLF).
fn apply(text: &str, edit: &Edit) -> Result<String> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let (find, replace) = (
        edit.find.replace('\n', newline),
        edit.replace.replace('\n', newline),
    );
    let found = text.matches(&find).count();
    if found != edit.count {
        bail!(
            "the edit \"{}\" expects {} occurrence(s) of {:?} and found {found}: \
             this wdk-build version differs from the one the edits were written for",
            edit.why,
            edit.count,
            edit.find.lines().next().unwrap_or_default()
        );
    }
    Ok(text.replace(&find, &replace))
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_applies_only_where_it_expects_to() {
        let edit = Edit {
            file: "x",
            why: "test",
            find: "a",
            replace: "b",
            count: 2,
        };
        assert_eq!(apply("a-a", &edit).unwrap(), "b-b");
        let lines = Edit {
            find: "x\ny",
            replace: "z\nw",
            count: 1,
            ..edit
        };
        assert_eq!(apply("x\r\ny\r\n", &lines).unwrap(), "z\r\nw\r\n");
        let error = apply("a", &edit).unwrap_err().to_string();
        assert!(error.contains("expects 2 occurrence(s)"), "{error}");
    }
}

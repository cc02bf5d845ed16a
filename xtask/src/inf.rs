//! `LookasideList.inx` stamped as stampinf does it in wdk-build's `cargo make` flow: the
//! architecture goes into the section names and `DriverVer` gets a date and a four-part
//! version. The driver package (`cargo xtask package`) ships the result; the Wine check of the
//! INF install ([`crate::wine::inf_install`]) installs it.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace;

/// The INF source, at the workspace root.
pub const INX: &str = "LookasideList.inx";
/// The architecture stampinf writes for `x86_64-pc-windows-msvc` (wdk-build's mapping).
pub const ARCH: &str = "amd64";

/// What stampinf does to an `.inx`: replaces every `$ARCH$` with `arch` and sets `DriverVer`
/// in `[Version]` to `date,version` (replacing the line there, or appending one to the section).
/// The rest of the text, line endings included, is kept.
///
/// `date` is `mm/dd/yyyy` and `version` four dot-separated numbers, as `DriverVer` requires.
#[must_use]
pub fn stamp(inx: &str, arch: &str, version: &str, date: &str) -> String {
    let text = inx.replace("$ARCH$", arch);
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let driver_ver = format!("DriverVer   = {date},{version}");
    let mut out = String::with_capacity(text.len() + driver_ver.len() + 2);
    let mut in_version = false;
    let mut stamped = false;
    // Where the last non-blank line of [Version] ends, for a DriverVer it lacks.
    let mut version_end = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        if let Some(name) = section_name(content) {
            in_version = name.eq_ignore_ascii_case("Version");
        } else if in_version && directive_key(content).is_some_and(|key| key == "driverver") {
            out.push_str(&driver_ver);
            out.push_str(&line[content.len()..]);
            stamped = true;
            continue;
        }
        out.push_str(line);
        if in_version && !content.trim().is_empty() {
            version_end = Some(out.len());
        }
    }
    if !stamped && let Some(at) = version_end {
        // A last line without a newline gets one before the directive.
        let before = if out[..at].ends_with('\n') {
            ""
        } else {
            newline
        };
        out.insert_str(at, &format!("{before}{driver_ver}{newline}"));
    }
    out
}

/// A section header's name: `[Version] ; comment` gives `Version`.
fn section_name(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('[')?;
    let end = rest.find(']')?;
    Some(rest[..end].trim())
}

/// A directive's key in lower case: `DriverVer = x ; y` gives `driverver`. Comments and blank
/// lines have none.
fn directive_key(line: &str) -> Option<String> {
    let line = line.trim_start();
    if line.starts_with(';') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    Some(key.trim().to_ascii_lowercase())
}

/// The value of `key` in `[section]` of an INF, without its comment, quotes kept.
pub fn directive(inf: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in inf.lines() {
        if let Some(name) = section_name(line) {
            inside = name.eq_ignore_ascii_case(section);
        } else if inside && directive_key(line).is_some_and(|k| k.eq_ignore_ascii_case(key)) {
            let value = line.split_once('=').map_or("", |(_, value)| value);
            let value = value.split(';').next().unwrap_or_default().trim();
            return Some(value.to_owned());
        }
    }
    None
}

/// A Cargo package version as `DriverVer` wants it: `0.1.0` gives `0.1.0.0`; pre-release and
/// build suffixes are dropped.
#[must_use]
pub fn driver_version(package_version: &str) -> String {
    let core = package_version.split(['-', '+']).next().unwrap_or_default();
    let mut parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
    parts.resize(4, "0");
    parts.truncate(4);
    parts.join(".")
}

/// Today's date (UTC) as `mm/dd/yyyy`, what `stampinf -d *` writes: the system's `date`.
fn today() -> Result<String> {
    let output = Command::new("date")
        .args(["-u", "+%m/%d/%Y"])
        .output()
        .context("running date")?;
    let date = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || date.len() != 10 {
        bail!("`date -u +%m/%d/%Y` answered {date:?}");
    }
    Ok(date)
}

/// The driver package's version, as `cargo metadata` gives it.
fn package_version() -> Result<String> {
    let metadata = workspace::cargo_metadata(false)?;
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "LookasideList")
        .and_then(|package| package["version"].as_str())
        .map(str::to_owned)
        .context("cargo metadata lists no LookasideList package version")
}

/// `LookasideList.inx` stamped as stampinf would (architecture, `DriverVer`), written to
/// `path`. Returns its `DriverVer` (`date,version`).
pub fn write_stamped(path: &Path) -> Result<String> {
    let inx = fs::read_to_string(workspace::root().join(INX))
        .with_context(|| format!("reading {INX}"))?;
    let version = driver_version(&package_version()?);
    let date = today()?;
    let inf = stamp(&inx, ARCH, &version, &date);
    fs::write(path, inf).with_context(|| format!("writing {}", path.display()))?;
    Ok(format!("{date},{version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INX: &str = "[Version]\nSignature = \"$WINDOWS NT$\"\nDriverVer   =\nCatalogFile = \
                       LookasideList.cat\n\n[DefaultInstall.NT$ARCH$]\nCopyFiles = Files\n";

    #[test]
    fn stamps_arch_and_driver_ver() {
        let inf = stamp(INX, "amd64", "0.1.0.0", "11/24/2026");
        assert_eq!(
            inf,
            "[Version]\nSignature = \"$WINDOWS NT$\"\nDriverVer   = 11/24/2026,0.1.0.0\n\
             CatalogFile = LookasideList.cat\n\n[DefaultInstall.NTamd64]\nCopyFiles = Files\n"
        );
    }

    #[test]
    fn adds_a_missing_driver_ver_to_the_version_section() {
        let inx = "[Version]\r\nSignature = \"$WINDOWS NT$\"\r\n\r\n[Strings]\r\nA = \"b\"\r\n";
        let inf = stamp(inx, "amd64", "1.2.3.4", "01/02/2027");
        assert_eq!(
            inf,
            "[Version]\r\nSignature = \"$WINDOWS NT$\"\r\nDriverVer   = 01/02/2027,1.2.3.4\r\n\
             \r\n[Strings]\r\nA = \"b\"\r\n"
        );
    }

    #[test]
    fn leaves_driver_ver_outside_version_alone() {
        let inx = "[Version]\nDriverVer = 01/01/2000,1.0.0.0 ; old\n[Other]\nDriverVer = x\n";
        let inf = stamp(inx, "arm64", "0.1.0.0", "11/24/2026");
        assert_eq!(
            inf,
            "[Version]\nDriverVer   = 11/24/2026,0.1.0.0\n[Other]\nDriverVer = x\n"
        );
    }

    #[test]
    fn driver_versions_have_four_parts() {
        assert_eq!(driver_version("0.1.0"), "0.1.0.0");
        assert_eq!(driver_version("1.2.3-rc.1+build"), "1.2.3.0");
        assert_eq!(driver_version("1.2.3.4.5"), "1.2.3.4");
    }

    #[test]
    fn today_and_the_version_come_from_the_system_and_cargo() {
        let date = today().unwrap();
        assert_eq!((date.len(), &date[2..3], &date[5..6]), (10, "/", "/"));
        assert_eq!(
            driver_version(&package_version().unwrap())
                .split('.')
                .count(),
            4
        );
    }
}

//! Installing LookasideList.sys from its INF in Wine, the way a Windows user installs the
//! driver package that `cargo make` produces.
//!
//! 1. [`stamp`] turns `LookasideList.inx` into `LookasideList.inf` as stampinf does in
//!    wdk-build's `cargo make` flow: the architecture goes into the section names and
//!    `DriverVer` gets a date and a four-part version.
//! 2. The INF and `LookasideList.sys` go into a package folder under `target/` (the `.sys`
//!    must sit beside the INF: `[SourceDisksFiles]` says so).
//! 3. `rundll32 setupapi.dll,InstallHinfSection DefaultInstall.NTamd64 132 <inf>` runs the
//!    INF's install sections: it copies the driver and creates the `LookasideList` service.
//! 4. `reg query` reads the service key back: `ImagePath`, `Type`, `Start`, `ErrorControl`;
//!    the file `ImagePath` names must be the driver that was staged.
//!
//! The caller then starts the driver from that service with `sc start`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::process;
use crate::wine::{Prefix, SERVICE};
use crate::workspace;

/// The INF source, at the workspace root.
pub const INX: &str = "LookasideList.inx";
/// The architecture stampinf writes for `x86_64-pc-windows-msvc` (wdk-build's mapping).
pub const ARCH: &str = "amd64";
/// The section `InstallHinfSection` runs (its `.Services` section comes with it).
pub const INSTALL_SECTION: &str = "DefaultInstall.NTamd64";
/// The service key the install creates.
pub const SERVICE_KEY: &str = r"HKLM\System\CurrentControlSet\Services\LookasideList";

/// `SERVICE_KERNEL_DRIVER`.
const SERVICE_KERNEL_DRIVER: u32 = 1;
/// `SERVICE_DEMAND_START`.
const SERVICE_DEMAND_START: u32 = 3;
/// `SERVICE_ERROR_NORMAL`.
const SERVICE_ERROR_NORMAL: u32 = 1;

/// What the INF install produced, as checked.
#[derive(Debug)]
pub struct InfInstall {
    /// The stamped INF, in the package folder under `target/`.
    pub inf: PathBuf,
    /// `DriverVer` as stamped: `mm/dd/yyyy,a.b.c.d`.
    pub driver_ver: String,
    /// The DIRID of `[DestinationDirs] DefaultDestDir`, which `ServiceBinary` also uses.
    pub dirid: u32,
    /// The service's `ImagePath` as Wine wrote it, e.g. `C:\windows\system32\...\LookasideList.sys`.
    pub image_path: String,
    /// Where `ImagePath` points inside the prefix (a host path); it holds the staged driver.
    pub installed: PathBuf,
    /// `Type` (1, `SERVICE_KERNEL_DRIVER`).
    pub service_type: u32,
    /// `Start` (3, `SERVICE_DEMAND_START`).
    pub start: u32,
    /// `ErrorControl` (1, `SERVICE_ERROR_NORMAL`).
    pub error_control: u32,
}

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
fn directive(inf: &str, section: &str, key: &str) -> Option<String> {
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

/// Today's date (UTC) as `mm/dd/yyyy`, what `stampinf -d *` writes.
#[must_use]
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() / 86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{month:02}/{day:02}/{year:04}")
}

/// The Gregorian date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
const fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// The driver package's version, from the `[package]` table of the root `Cargo.toml`.
fn package_version(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "version"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// Where the package folder is staged: `target/inf/LookasideList_package`, named like the
/// folder wdk-build's flow makes.
fn package_dir() -> PathBuf {
    workspace::root().join("target/inf/LookasideList_package")
}

/// `LookasideList.inx` stamped as stampinf would (architecture, `DriverVer`), written to
/// `path`. Returns its `DriverVer` (`date,version`).
pub fn write_stamped(path: &Path) -> Result<String> {
    let root = workspace::root();
    let inx = fs::read_to_string(root.join(INX)).with_context(|| format!("reading {INX}"))?;
    let manifest = fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let version =
        driver_version(&package_version(&manifest).context("Cargo.toml has no [package] version")?);
    let date = today();
    let inf = stamp(&inx, ARCH, &version, &date);
    fs::write(path, inf).with_context(|| format!("writing {}", path.display()))?;
    Ok(format!("{date},{version}"))
}

/// Stamps `LookasideList.inx` and stages it with `driver` in a fresh package folder.
/// Returns the INF's path and its `DriverVer`.
fn stage(driver: &Path) -> Result<(PathBuf, String)> {
    let dir = package_dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let inf_path = dir.join("LookasideList.inf");
    let driver_ver = write_stamped(&inf_path)?;
    fs::copy(driver, dir.join("LookasideList.sys"))
        .with_context(|| format!("copying {} to {}", driver.display(), dir.display()))?;
    Ok((inf_path, driver_ver))
}

/// The DIRID both the file copy and `ServiceBinary` use; fails if the INF sends the driver
/// to one directory and the service to another.
fn dirid(inf: &str) -> Result<u32> {
    let dest = directive(inf, "DestinationDirs", "DefaultDestDir")
        .context("the INF has no [DestinationDirs] DefaultDestDir")?;
    let dest: u32 = dest
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .with_context(|| format!("DefaultDestDir = {dest} is no DIRID"))?;
    let binary = directive(inf, "LookasideList.Service", "ServiceBinary")
        .context("the INF has no [LookasideList.Service] ServiceBinary")?;
    let expected = format!("%{dest}%\\LookasideList.sys");
    ensure!(
        binary.eq_ignore_ascii_case(&expected),
        "ServiceBinary = {binary}, but the driver is copied to DIRID {dest} ({expected})"
    );
    Ok(dest)
}

/// Where Wine puts files for `dirid`, relative to `C:\windows`, lower case. Wine 8 does not
/// know DIRID 13 (the driver store) and uses `system32\unknown`; a Wine that knows it uses
/// the driver store.
const fn wine_dirs(dirid: u32) -> &'static [&'static str] {
    match dirid {
        12 => &[r"system32\drivers"],
        13 => &[r"system32\unknown", r"system32\driverstore\filerepository\"],
        _ => &[],
    }
}

/// The values of a `reg query` listing: `(name, type, data)`.
fn reg_values(listing: &str) -> Vec<(String, String, String)> {
    listing
        .lines()
        .filter(|line| line.starts_with("    "))
        .filter_map(|line| {
            let mut fields = line.trim().splitn(3, "    ");
            let name = fields.next()?.trim();
            let kind = fields.next()?.trim();
            let data = fields.next().unwrap_or_default().trim();
            Some((name.to_owned(), kind.to_owned(), data.to_owned()))
        })
        .collect()
}

/// A `REG_DWORD` value of a `reg query` listing.
fn reg_dword(values: &[(String, String, String)], name: &str) -> Result<u32> {
    let (_, kind, data) = values
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .with_context(|| format!("{SERVICE_KEY} has no {name}"))?;
    ensure!(kind == "REG_DWORD", "{name} is {kind}, not REG_DWORD");
    let hex = data.strip_prefix("0x").unwrap_or(data);
    u32::from_str_radix(hex, 16).with_context(|| format!("{name} = {data} is no DWORD"))
}

/// The host path of an `ImagePath` in the prefix: `C:\...`, `\??\C:\...`, `\SystemRoot\...`
/// and `System32\...` (relative to the Windows directory) are understood. Components are
/// matched without regard to case, as Windows does.
fn host_path(prefix_dir: &Path, image_path: &str) -> Result<PathBuf> {
    let path = image_path.strip_prefix(r"\??\").unwrap_or(image_path);
    let lower = path.to_ascii_lowercase();
    let (base, rest) = if lower.starts_with("c:\\") {
        (prefix_dir.join("drive_c"), &path[3..])
    } else if let Some(rest) = lower.strip_prefix(r"\systemroot\") {
        (
            prefix_dir.join("drive_c/windows"),
            &path[path.len() - rest.len()..],
        )
    } else if lower.starts_with(r"system32\") {
        (prefix_dir.join("drive_c/windows"), path)
    } else {
        bail!("ImagePath {image_path} is not on drive C:");
    };
    let mut host = base;
    for component in rest.split('\\').filter(|c| !c.is_empty()) {
        let exact = host.join(component);
        host = if exact.exists() {
            exact
        } else {
            fs::read_dir(&host)
                .ok()
                .and_then(|entries| {
                    entries.flatten().map(|entry| entry.path()).find(|entry| {
                        entry
                            .file_name()
                            .is_some_and(|n| n.eq_ignore_ascii_case(component))
                    })
                })
                .unwrap_or(exact)
        };
    }
    Ok(host)
}

/// The service's `ImagePath`, if the service exists.
fn image_path(prefix: &Prefix) -> Option<String> {
    let output = process::capture(prefix.command("wine").args([
        "reg",
        "query",
        SERVICE_KEY,
        "/v",
        "ImagePath",
    ]))
    .ok()?;
    if !output.status.success() {
        return None;
    }
    let listing = String::from_utf8_lossy(&output.stdout);
    reg_values(&listing)
        .into_iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case("ImagePath"))
        .map(|(_, _, data)| data)
}

/// Removes what an earlier install left: the service (`sc delete`) and the file it pointed
/// at, so that the checks below see this install's work. Failures are ignored: there may be
/// nothing to remove.
fn remove_old(prefix: &Prefix, prefix_dir: &Path) {
    if let Some(old) = image_path(prefix)
        && let Ok(file) = host_path(prefix_dir, &old)
    {
        let _ = fs::remove_file(file);
    }
    let _ = process::capture(prefix.command("wine").args(["sc", "delete", SERVICE]));
}

/// The Windows path of a host path, as Wine sees it (`winepath -w`; `Z:` maps `/`).
fn windows_path(prefix: &Prefix, path: &Path) -> String {
    process::capture(prefix.command("winepath").arg("-w").arg(path))
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|windows| !windows.is_empty())
        .unwrap_or_else(|| format!("Z:{}", path.display()).replace('/', "\\"))
}

/// Installs `driver` (LookasideList.sys) in the Wine prefix at `prefix_dir` from the stamped
/// `LookasideList.inx`, and checks the service and the file the install made.
///
/// The prefix must exist (`Prefix::ensure`). A service left by an earlier install, or by
/// `sc create`, is deleted first.
///
/// # Errors
/// When the INF cannot be stamped or staged, Wine cannot run, or the service key or the
/// installed file is not what the INF says.
pub fn install_from_inf(
    prefix: &Prefix,
    prefix_dir: &Path,
    driver: &Path,
    verbose: bool,
) -> Result<InfInstall> {
    let (inf, driver_ver) = stage(driver)?;
    let stamped = fs::read_to_string(&inf)?;
    let dirid = dirid(&stamped)?;
    remove_old(prefix, prefix_dir);

    // rundll32 splits its command line at spaces, so the pieces go as separate arguments
    // (a quoted whole would be taken for the DLL's name). 132 = 128 (the INF's folder is the
    // source path) + 4 (ask before rebooting, should the install need a reboot).
    let inf_windows = windows_path(prefix, &inf);
    process::run(
        &format!("rundll32 setupapi.dll,InstallHinfSection {INSTALL_SECTION} 132 {inf_windows}"),
        prefix.command("wine").args([
            "rundll32",
            "setupapi.dll,InstallHinfSection",
            INSTALL_SECTION,
            "132",
            &inf_windows,
        ]),
        verbose,
    )?;

    // InstallHinfSection reports nothing: what it did is read back. (Not through process::run,
    // which does not capture the output in verbose mode.)
    process::progress(&format!("reg query {SERVICE_KEY}"));
    let output = process::capture(prefix.command("wine").args(["reg", "query", SERVICE_KEY]))
        .context("running `wine reg query`")?;
    let listing = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "the INF install created no LookasideList service (`reg query {SERVICE_KEY}`: {})",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    if verbose {
        eprint!("{listing}");
    }
    let values = reg_values(&listing);
    let service_type = reg_dword(&values, "Type")?;
    let start = reg_dword(&values, "Start")?;
    let error_control = reg_dword(&values, "ErrorControl")?;
    ensure!(
        service_type == SERVICE_KERNEL_DRIVER,
        "Type = {service_type:#x}, expected {SERVICE_KERNEL_DRIVER:#x} (SERVICE_KERNEL_DRIVER)"
    );
    ensure!(
        start == SERVICE_DEMAND_START,
        "Start = {start:#x}, expected {SERVICE_DEMAND_START:#x} (SERVICE_DEMAND_START)"
    );
    ensure!(
        error_control == SERVICE_ERROR_NORMAL,
        "ErrorControl = {error_control:#x}, expected {SERVICE_ERROR_NORMAL:#x} (SERVICE_ERROR_NORMAL)"
    );

    let image_path = values
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case("ImagePath"))
        .map(|(_, _, data)| data.clone())
        .with_context(|| format!("{SERVICE_KEY} has no ImagePath"))?;
    check_image_path(&image_path, dirid)?;
    let installed = host_path(prefix_dir, &image_path)?;
    let bytes = fs::read(&installed).with_context(|| {
        format!(
            "ImagePath {image_path} names {}, which the install did not create",
            installed.display()
        )
    })?;
    ensure!(
        bytes == fs::read(driver)?,
        "{} is not the driver that was staged ({})",
        installed.display(),
        driver.display()
    );

    Ok(InfInstall {
        inf,
        driver_ver,
        dirid,
        image_path,
        installed,
        service_type,
        start,
        error_control,
    })
}

/// `ImagePath` must name `LookasideList.sys` in the directory Wine uses for `dirid`.
fn check_image_path(image_path: &str, dirid: u32) -> Result<()> {
    let lower = image_path.to_ascii_lowercase();
    ensure!(
        lower.ends_with(r"\lookasidelist.sys"),
        "ImagePath {image_path} does not name LookasideList.sys"
    );
    let relative = lower
        .strip_prefix(r"\??\")
        .unwrap_or(&lower)
        .trim_start_matches(r"c:\windows\")
        .trim_start_matches(r"\systemroot\");
    let dirs = wine_dirs(dirid);
    ensure!(
        dirs.iter().any(|dir| relative.starts_with(dir)),
        "ImagePath {image_path} is not where DIRID {dirid} puts files (C:\\windows\\{})",
        dirs.join(" or C:\\windows\\")
    );
    Ok(())
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
    fn the_projects_inx_stamps_and_is_consistent() {
        let inx =
            fs::read_to_string(workspace::root().join(super::INX)).expect("LookasideList.inx");
        let inf = stamp(&inx, ARCH, "0.1.0.0", "11/24/2026");
        assert!(!inf.contains("$ARCH$"));
        assert_eq!(
            directive(&inf, "Version", "DriverVer").as_deref(),
            Some("11/24/2026,0.1.0.0")
        );
        assert_eq!(
            directive(&inf, "Version", "CatalogFile").as_deref(),
            Some("LookasideList.cat")
        );
        for section in [
            "DefaultInstall.NTamd64",
            "DefaultInstall.NTamd64.Services",
            "DefaultUninstall.NTamd64",
            "DefaultUninstall.NTamd64.Services",
        ] {
            assert!(
                inf.lines().any(|line| section_name(line) == Some(section)),
                "[{section}] missing"
            );
        }
        assert_eq!(
            directive(&inf, "LookasideList.Service", "ServiceType").as_deref(),
            Some("1")
        );
        assert_eq!(
            directive(&inf, "LookasideList.Service", "StartType").as_deref(),
            Some("3")
        );
        assert_eq!(
            directive(&inf, "LookasideList.Service", "ErrorControl").as_deref(),
            Some("1")
        );
        assert!(dirid(&inf).is_ok_and(|id| !wine_dirs(id).is_empty()));
        assert!(inf.is_ascii(), "the INF stays ASCII");
    }

    #[test]
    fn driver_versions_have_four_parts() {
        assert_eq!(driver_version("0.1.0"), "0.1.0.0");
        assert_eq!(driver_version("1.2.3-rc.1+build"), "1.2.3.0");
        assert_eq!(driver_version("1.2.3.4.5"), "1.2.3.4");
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(today().len(), 10);
    }

    #[test]
    fn reads_reg_query_listings() {
        let listing = "\r\nHKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\LookasideList\r\n    \
                       ErrorControl    REG_DWORD    0x1\r\n    ImagePath    REG_SZ    \
                       C:\\windows\\system32\\drivers\\LookasideList.sys\r\n    Start    \
                       REG_DWORD    0x3\r\n    Type    REG_DWORD    0x1\r\n\r\n";
        let values = reg_values(listing);
        assert_eq!(reg_dword(&values, "Type").ok(), Some(1));
        assert_eq!(reg_dword(&values, "Start").ok(), Some(3));
        assert_eq!(reg_dword(&values, "ErrorControl").ok(), Some(1));
        assert!(reg_dword(&values, "ImagePath").is_err());
        assert!(values.iter().any(|(name, _, data)| name == "ImagePath"
            && data == r"C:\windows\system32\drivers\LookasideList.sys"));
    }

    #[test]
    fn image_paths() {
        assert!(check_image_path(r"C:\windows\system32\drivers\LookasideList.sys", 12).is_ok());
        assert!(check_image_path(r"\SystemRoot\System32\drivers\LookasideList.sys", 12).is_ok());
        assert!(check_image_path(r"C:\windows\system32\unknown\LookasideList.sys", 13).is_ok());
        assert!(
            check_image_path(
                r"\SystemRoot\System32\DriverStore\FileRepository\lookasidelist.inf_amd64_0123\LookasideList.sys",
                13
            )
            .is_ok()
        );
        assert!(check_image_path(r"C:\windows\system32\drivers\LookasideList.sys", 13).is_err());
        assert!(check_image_path(r"C:\windows\system32\drivers\Other.sys", 12).is_err());
        let prefix = Path::new("/nonexistent-prefix");
        assert_eq!(
            host_path(prefix, r"C:\windows\system32\x.sys").ok(),
            Some(prefix.join("drive_c/windows/system32/x.sys"))
        );
        assert_eq!(
            host_path(prefix, r"\SystemRoot\System32\x.sys").ok(),
            Some(prefix.join("drive_c/windows/System32/x.sys"))
        );
        assert!(host_path(prefix, r"D:\x.sys").is_err());
    }

    #[test]
    fn service_binary_must_follow_the_copy() {
        let inf = "[DestinationDirs]\nDefaultDestDir = 12\n[LookasideList.Service]\n\
                   ServiceBinary = %13%\\LookasideList.sys\n";
        assert!(dirid(inf).is_err());
        let inf = "[DestinationDirs]\nDefaultDestDir = 12 ; drivers\n[LookasideList.Service]\n\
                   ServiceBinary = %12%\\LookasideList.sys ; same\n";
        assert_eq!(dirid(inf).ok(), Some(12));
    }
}

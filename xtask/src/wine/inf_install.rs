//! Installing LookasideList.sys from its INF in Wine, the way a Windows user installs the
//! driver package that `cargo make` produces; the check `cargo xtask test` makes of it.
//!
//! 1. [`inf::stamp`] turns `LookasideList.inx` into `LookasideList.inf`.
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

use anyhow::{Context, Result, ensure};

use super::prefix::z_path;
use super::{Prefix, REG, RUNDLL32, SC, SERVICE};
use crate::{inf, process, workspace};

/// The section `InstallHinfSection` runs (its `.Services` section comes with it).
const INSTALL_SECTION: &str = "DefaultInstall.NTamd64";
/// The service key the install creates.
const SERVICE_KEY: &str = r"HKLM\System\CurrentControlSet\Services\LookasideList";

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

/// Where the package folder is staged: `target/inf/LookasideList_package`, named like the
/// folder wdk-build's flow makes.
fn package_dir() -> PathBuf {
    workspace::root().join("target/inf/LookasideList_package")
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
    let driver_ver = inf::write_stamped(&inf_path)?;
    fs::copy(driver, dir.join("LookasideList.sys"))
        .with_context(|| format!("copying {} to {}", driver.display(), dir.display()))?;
    Ok((inf_path, driver_ver))
}

/// The DIRID both the file copy and `ServiceBinary` use; fails if the INF sends the driver
/// to one directory and the service to another.
fn dirid(inf: &str) -> Result<u32> {
    let dest = inf::directive(inf, "DestinationDirs", "DefaultDestDir")
        .context("the INF has no [DestinationDirs] DefaultDestDir")?;
    let dest: u32 = dest
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .with_context(|| format!("DefaultDestDir = {dest} is no DIRID"))?;
    let binary = inf::directive(inf, "LookasideList.Service", "ServiceBinary")
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

/// The service's `ImagePath`, if the service exists.
fn image_path(prefix: &Prefix) -> Option<String> {
    let output = process::capture(prefix.command("wine").args([
        REG,
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
fn remove_old(prefix: &Prefix) {
    if let Some(old) = image_path(prefix)
        && let Ok(file) = host_path(prefix, &old)
    {
        let _ = fs::remove_file(file);
    }
    let _ = process::capture(prefix.command("wine").args([SC, "delete", SERVICE]));
}

/// The Windows path of a host path, as Wine sees it (`winepath -w`; `Z:` maps `/`).
fn windows_path(prefix: &Prefix, path: &Path) -> String {
    process::capture(prefix.command("winepath").arg("-w").arg(path))
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|windows| !windows.is_empty())
        .unwrap_or_else(|| z_path(path))
}

/// Installs `driver` (LookasideList.sys) in the Wine prefix from the stamped
/// `LookasideList.inx`, and checks the service and the file the install made.
///
/// The prefix must exist (`Prefix::ensure`). A service left by an earlier install, or by
/// `sc create`, is deleted first.
///
/// # Errors
/// When the INF cannot be stamped or staged, Wine cannot run, or the service key or the
/// installed file is not what the INF says.
pub fn install(prefix: &Prefix, driver: &Path, verbose: bool) -> Result<InfInstall> {
    let (inf, driver_ver) = stage(driver)?;
    let stamped = fs::read_to_string(&inf)?;
    let dirid = dirid(&stamped)?;
    let _server = prefix.start_server(None)?;
    remove_old(prefix);

    // rundll32 splits its command line at spaces, so the pieces go as separate arguments
    // (a quoted whole would be taken for the DLL's name). 132 = 128 (the INF's folder is the
    // source path) + 4 (ask before rebooting, should the install need a reboot).
    let inf_windows = windows_path(prefix, &inf);
    process::run(
        &format!("rundll32 setupapi.dll,InstallHinfSection {INSTALL_SECTION} 132 {inf_windows}"),
        prefix.command("wine").args([
            RUNDLL32,
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
    let output = process::capture(prefix.command("wine").args([REG, "query", SERVICE_KEY]))
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
    let installed = host_path(prefix, &image_path)?;
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

/// The host path of an `ImagePath` in the prefix, as Wine maps it (`winepath -u`, which finds
/// each component whatever its case). Wine's tools do not take the NT forms `\??\`,
/// `\SystemRoot\` and a bare `System32\...`; they are written as the `C:` paths they are.
fn host_path(prefix: &Prefix, image_path: &str) -> Result<PathBuf> {
    let path = image_path.strip_prefix(r"\??\").unwrap_or(image_path);
    let lower = path.to_ascii_lowercase();
    let dos = if let Some(rest) = lower.strip_prefix(r"\systemroot\") {
        format!(r"C:\windows\{}", &path[path.len() - rest.len()..])
    } else if lower.starts_with(r"system32\") {
        format!(r"C:\windows\{path}")
    } else {
        path.to_owned()
    };
    ensure!(
        dos.to_ascii_lowercase().starts_with(r"c:\"),
        "ImagePath {image_path} is not on drive C:"
    );
    let output = process::capture(prefix.command("winepath").arg("-u").arg(&dos))
        .context("running winepath")?;
    let unix = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    ensure!(
        output.status.success() && !unix.is_empty(),
        "winepath -u {dos} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(PathBuf::from(unix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_inx_installs_where_its_service_points() {
        let inx = std::fs::read_to_string(crate::workspace::root().join(inf::INX))
            .expect("LookasideList.inx");
        let stamped = inf::stamp(&inx, inf::ARCH, "0.1.0.0", "11/24/2026");
        for (key, value) in [
            ("ServiceType", "1"),
            ("StartType", "3"),
            ("ErrorControl", "1"),
        ] {
            assert_eq!(
                inf::directive(&stamped, "LookasideList.Service", key).as_deref(),
                Some(value),
                "{key}"
            );
        }
        assert!(dirid(&stamped).is_ok_and(|id| !wine_dirs(id).is_empty()));
        assert!(stamped.is_ascii(), "the INF stays ASCII");
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

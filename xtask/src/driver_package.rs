//! `cargo xtask package`: a driver package a Windows test VM loads, made on Linux.
//!
//! `target/package/LookasideList/` holds the `.sys` that `cargo xtask run` loads, signed with
//! Authenticode (SHA-256, page hashes) by `osslsigncode`, the stamped `LookasideList.inf`, and
//! the signing certificate's public part, `LookasideList-test.cer` (Base-64), for `certutil`. No catalog:
//! Windows makes `.cat` files with `inf2cat`, and no well-kept Linux tool creates one (osslsigncode
//! signs a catalog but does not make it), so the INF path needs `inf2cat` and `signtool` on
//! Windows, as `NO-CATALOG.txt` in the package says. A catalog Windows would reject is worse than
//! none.
//!
//! The test certificate is made on first use under `target/package-certificate/` (RSA 2048,
//! SHA-256, code-signing EKU, valid 90 days; the private key readable by its owner only), and
//! reused until it is within a day of expiring. `LOOKASIDELIST_SIGN_CERT` and
//! `LOOKASIDELIST_SIGN_KEY` (PEM files) sign with a certificate of your own instead.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::build::{self, Artifacts};
use crate::options::Options;
use crate::workspace;
use crate::{debian, inf, process};

/// The certificate's subject: how `certmgr` and `certutil` show it.
pub const SUBJECT: &str = "LookasideList test signing (cargo xtask package)";
/// Days the test certificate is valid.
const VALID_DAYS: &str = "90";
/// The variables naming a certificate and key of the user's own.
pub const CERT_VARIABLE: &str = "LOOKASIDELIST_SIGN_CERT";
pub const KEY_VARIABLE: &str = "LOOKASIDELIST_SIGN_KEY";

/// A signing certificate and its key, both PEM.
pub struct Signer {
    pub cert: PathBuf,
    key: PathBuf,
}

/// What `package` made.
pub struct Package {
    pub dir: PathBuf,
    pub sys: PathBuf,
    /// The certificate that signed it (PEM), to verify against.
    pub cert: PathBuf,
}

/// The package's folder.
pub fn dir() -> PathBuf {
    workspace::root().join("target/package/LookasideList")
}

/// The user's certificate (both variables set), or this project's test certificate, made or
/// renewed here.
pub fn signer(verbose: bool) -> Result<Signer> {
    let own = (
        std::env::var_os(CERT_VARIABLE),
        std::env::var_os(KEY_VARIABLE),
    );
    match own {
        (Some(cert), Some(key)) => {
            let (cert, key) = (PathBuf::from(cert), PathBuf::from(key));
            for (variable, path) in [(CERT_VARIABLE, &cert), (KEY_VARIABLE, &key)] {
                if !path.is_file() {
                    bail!("{variable}={} is not a file", path.display());
                }
            }
            Ok(Signer { cert, key })
        }
        (None, None) => test_certificate(verbose),
        _ => bail!("{CERT_VARIABLE} and {KEY_VARIABLE} go together: set both, or neither"),
    }
}

/// The project's test certificate under `target/`, made when missing or about to expire.
fn test_certificate(verbose: bool) -> Result<Signer> {
    let dir = workspace::root().join("target/package-certificate");
    let (cert, key) = (
        dir.join("LookasideList-test.pem"),
        dir.join("LookasideList-test.key"),
    );
    let valid_for_a_day = cert.is_file()
        && key.is_file()
        && Command::new("openssl")
            .args(["x509", "-checkend", "86400", "-noout", "-in"])
            .arg(&cert)
            .output()
            .is_ok_and(|output| output.status.success());
    if !valid_for_a_day {
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        process::run(
            &format!(
                "making the test certificate \"{SUBJECT}\" (RSA 2048, SHA-256, code signing, {VALID_DAYS} days)"
            ),
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days",
                ])
                .arg(VALID_DAYS)
                .arg("-subj")
                .arg(format!("/CN={SUBJECT}"))
                .args([
                    "-addext",
                    "extendedKeyUsage=codeSigning",
                    "-addext",
                    "keyUsage=critical,digitalSignature",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            verbose,
        )?;
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
    Ok(Signer { cert, key })
}

/// Signs `input` into `output`: Authenticode, SHA-256, with page hashes.
pub fn sign(signer: &Signer, input: &Path, output: &Path, verbose: bool) -> Result<()> {
    let _ = fs::remove_file(output);
    process::run(
        "signing LookasideList.sys (osslsigncode: Authenticode, SHA-256, page hashes)",
        Command::new("osslsigncode")
            .arg("sign")
            .arg("-certs")
            .arg(&signer.cert)
            .arg("-key")
            .arg(&signer.key)
            .args(["-h", "sha256", "-ph", "-n", "LookasideList", "-in"])
            .arg(input)
            .arg("-out")
            .arg(output),
        verbose,
    )?;
    Ok(())
}

/// `osslsigncode verify` of `sys` against `cert`: its output when the signature holds.
pub fn verify(sys: &Path, cert: &Path) -> Result<String> {
    let output = process::capture(
        Command::new("osslsigncode")
            .args(["verify", "-CAfile"])
            .arg(cert)
            .arg("-in")
            .arg(sys),
    )?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || !text.contains("Signature verification: ok") {
        bail!(
            "osslsigncode verify failed ({}): {}",
            output.status,
            text.lines()
                .filter(|line| line.contains("MISMATCH")
                    || line.contains("failed")
                    || line.contains("Error"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(text)
}

/// Makes the package from the cross-build's `.sys`.
pub fn make(artifacts: &Artifacts, verbose: bool) -> Result<Package> {
    let signer = signer(verbose)?;
    let dir = dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(&dir)?;
    let sys = dir.join("LookasideList.sys");
    sign(&signer, &artifacts.driver, &sys, verbose)?;
    inf::write_stamped(&dir.join("LookasideList.inf"))?;
    // Base-64 (PEM), one of the two encodings of a `.cer` that Windows' certutil imports; the
    // form `osslsigncode verify -CAfile` reads too.
    fs::copy(&signer.cert, dir.join("LookasideList-test.cer"))
        .context("copying the certificate into the package")?;
    fs::write(
        dir.join("NO-CATALOG.txt"),
        "This package has no LookasideList.cat: Windows makes driver catalogs with inf2cat, and no\r\n\
         well-kept Linux tool creates one. sc.exe and the OSR Driver Loader load the signed\r\n\
         LookasideList.sys as it is (test signing on). For the INF install, on Windows:\r\n\
         \r\n  inf2cat /driver:. /os:10_X64\r\n  signtool sign /fd SHA256 /f <your .pfx> LookasideList.cat\r\n",
    )?;
    verify(&sys, &signer.cert).context("the signed LookasideList.sys")?;
    Ok(Package {
        dir,
        sys,
        cert: signer.cert,
    })
}

/// `cargo xtask package`.
pub fn run(options: &Options) -> Result<()> {
    debian::ensure(&[debian::BUILD, debian::PACKAGE], options.verbose)?;
    let artifacts = build::all(options)?;
    let package = make(&artifacts, options.verbose)?;
    let mut names: Vec<String> = fs::read_dir(&package.dir)?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!(
        "{}: {} (LookasideList.sys signed by \"{}\"; no .cat, see NO-CATALOG.txt)",
        package.dir.display(),
        names.join(", "),
        subject(&package.cert).unwrap_or_else(|_| SUBJECT.to_owned())
    );
    Ok(())
}

/// A certificate's subject common name.
fn subject(cert: &Path) -> Result<String> {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "multiline", "-in"])
        .arg(cert)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("commonName")?
                .split_once('=')
                .map(|(_, cn)| cn.trim().to_owned())
        })
        .context("no common name")
}

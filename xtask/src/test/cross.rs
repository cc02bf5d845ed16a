//! The cross-build's checks (LTO in effect, clippy on the Windows target, each driver's PE
//! checks and linker map) and the signed package's.

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use super::{Check, Needs};
use crate::build::{self, Artifacts};
use crate::driver_package::{self, Package};
use crate::{linkmap, pe};

/// Each driver's file, linker map and expectations.
type Driver = (fn(&Artifacts) -> (&Path, &Path), &'static pe::Expected);

const DRIVERS: [Driver; 2] = [
    (
        |artifacts| (&artifacts.driver, &artifacts.driver_map),
        &pe::LOOKASIDE_LIST,
    ),
    (
        |artifacts| (&artifacts.example, &artifacts.example_map),
        &pe::MINIMAL_DRIVER,
    ),
];

pub fn checks() -> Vec<Check> {
    let mut checks = vec![
        Check::new(
            "cross-build: LookasideList.sys, the example driver and the Wine fixture",
            Needs::CrossBuild,
            |context| context.artifacts().map(drop),
        ),
        Check::new(
            "cross-build: the driver's rustc line carries the release profile's -C lto, and no -Z flag",
            Needs::CrossBuild,
            |context| {
                context.artifacts()?;
                lto_in_effect(&build::driver_rustc_line(context.options)?)
            },
        ),
        Check::new(
            "cross-build: clippy on the Windows target (wdk backend, DriverEntry, Wine fixture), warnings as errors",
            Needs::CrossBuild,
            |context| build::clippy(context.options),
        ),
    ];
    for (files, expected) in DRIVERS {
        let name = expected.name;
        checks.push(Check::new(
            format!("PE: {name}: AMD64, native subsystem, entry DriverEntry, imports exactly the list (nothing a supported Windows lacks), no W+X section, unwind data read-only, size budget"),
            Needs::CrossBuild,
            move |context| {
                let (sys, _) = files(context.artifacts()?);
                let report = pe::check(sys, expected)?;
                eprintln!(
                    "    {} bytes (budget {}); imports from ntoskrnl.exe: {}",
                    report.size,
                    expected.size_budget,
                    report.imports.join(", ")
                );
                for (name, virtual_size, raw_size) in &report.sections {
                    eprintln!("    section {name:<8} {virtual_size:>6} bytes ({raw_size} in the file)");
                }
                Ok(())
            },
        ));
        for (what, check) in [
            (
                "no core::fmt",
                linkmap::check_no_core_fmt as fn(&[linkmap::Chunk]) -> Result<()>,
            ),
            ("no panic site", linkmap::check_no_panic_site),
            (
                "no writable global data, merged into .rdata",
                linkmap::check_no_writable_data,
            ),
        ] {
            checks.push(Check::new(
                format!("PE: {name}: {what} (linker map)"),
                Needs::CrossBuild,
                move |context| {
                    let (_, map) = files(context.artifacts()?);
                    check(&read_map(map)?)
                },
            ));
        }
    }
    checks.extend([
        Check::new(
            "package: the signature verifies against the certificate (osslsigncode), with page hashes",
            Needs::Package,
            |context| {
                let package = context.package()?;
                let report = driver_package::verify(&package.sys, &package.cert)?;
                if !report.contains("Page hash") {
                    bail!("osslsigncode verify shows no page hashes");
                }
                Ok(())
            },
        ),
        Check::new(
            "package: the signed LookasideList.sys passes the PE checks",
            Needs::Package,
            |context| pe::check(&context.package()?.sys, &pe::LOOKASIDE_LIST).map(drop),
        ),
        Check::new(
            "package: a LookasideList.sys changed after signing fails verification",
            Needs::Package,
            |context| tampered(context.package()?),
        ),
    ]);
    checks
}

/// `-C lto` on the driver's release rustc line (a `cdylib` alone, so Cargo applies the
/// profile's `lto = true`), and no `-Z` flag: the stable toolchain as Windows users have it.
fn lto_in_effect(line: &str) -> Result<()> {
    if !line.contains("-C lto") {
        bail!("no `-C lto` on the driver's rustc line: {line}");
    }
    if let Some(flag) = line.split_whitespace().find(|word| word.starts_with("-Z")) {
        bail!("{flag} reaches the driver's rustc: {line}");
    }
    Ok(())
}

/// Reads lld-link's map of a driver, showing its largest functions.
fn read_map(map: &Path) -> Result<Vec<linkmap::Chunk>> {
    let text = std::fs::read_to_string(map)
        .map_err(|error| anyhow!("reading {}: {error}", map.display()))?;
    let chunks = linkmap::parse(&text)?;
    for (size, name) in linkmap::largest_functions(&chunks, 5) {
        eprintln!("    function {size:>6} bytes  {name}");
    }
    Ok(chunks)
}

/// A copy of the signed `.sys` with one byte of its code changed must not verify.
fn tampered(package: &Package) -> Result<()> {
    let mut bytes = std::fs::read(&package.sys)?;
    // Inside .text, which starts at the first 512-byte boundary after the headers.
    let at = 0x400 + 0x20;
    bytes[at] ^= 0xFF;
    let copy = package.dir.with_file_name("tampered-LookasideList.sys");
    std::fs::write(&copy, bytes)?;
    let outcome = driver_package::verify(&copy, &package.cert);
    let _ = std::fs::remove_file(&copy);
    match outcome {
        Ok(_) => bail!("a changed image still verifies"),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::lto_in_effect;

    #[test]
    fn the_rustc_line_must_carry_lto_and_no_unstable_flag() {
        let line = "Running `rustc --crate-name LookasideList --crate-type cdylib -C opt-level=s -C lto -C codegen-units=1`";
        assert!(lto_in_effect(line).is_ok());
        assert!(lto_in_effect(&line.replace(" -C lto", "")).is_err());
        assert!(lto_in_effect(&format!("{line} -Zbuild-std")).is_err());
    }
}

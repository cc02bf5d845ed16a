//! Checks that LookasideList.sys is what Windows expects of a kernel driver.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use object::LittleEndian as LE;
use object::pe::{
    IMAGE_DIRECTORY_ENTRY_BASERELOC, IMAGE_DIRECTORY_ENTRY_EXCEPTION,
    IMAGE_DIRECTORY_ENTRY_SECURITY, IMAGE_FILE_MACHINE_AMD64, IMAGE_FILE_RELOCS_STRIPPED,
    IMAGE_SCN_MEM_EXECUTE, IMAGE_SCN_MEM_WRITE, IMAGE_SUBSYSTEM_NATIVE,
};
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{ExportTarget, NameOrOrdinal, Object};

/// An upper bound on the driver's size (without a signature), every feature included: what it
/// weighs on the wdk crates, 13,312 bytes (headers 512, .text 0x1AB6 in 7,168, .rdata 0x148C
/// with the unwind tables in 5,632, no .reloc; each section padded to 512 bytes in the file).
/// The kernel formats the log (`DbgPrint`), so nothing of `core::fmt` is linked in; a change
/// that pulls formatting or panic messages back in, or bloats a function, shows up here.
pub const SIZE_BUDGET: u64 = 13_312;

/// What was checked, for the report.
pub struct Report {
    pub size: u64,
    pub imports: Vec<String>,
    /// Name, size in memory and size in the file of each section.
    pub sections: Vec<(String, u32, u32)>,
}

/// The kernel routines LookasideList.sys imports, exactly. Routines not every supported Windows
/// exports (see [`MISSING_ON_SUPPORTED_WINDOWS`]) are looked up at run time instead.
pub const IMPORTS: &[&str] = &[
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

/// Kernel exports some supported Windows lacks, so that a driver importing one would not load
/// there: `ExAllocatePool2`/`ExFreePool2` (Windows 10 2004+; wdk-alloc's allocator calls the
/// first) and the lookaside pair (Windows 11 22H2+).
pub const MISSING_ON_SUPPORTED_WINDOWS: &[&str] = &[
    "ExAllocatePool2",
    "ExFreePool2",
    "ExAllocateFromLookasideListEx",
    "ExFreeToLookasideListEx",
];

/// Whether `imported` is what the driver should import: none of the routines a supported
/// Windows lacks, and exactly [`IMPORTS`].
pub fn check_imports(imported: &BTreeSet<String>) -> Result<()> {
    let missing: Vec<&str> = MISSING_ON_SUPPORTED_WINDOWS
        .iter()
        .copied()
        .filter(|name| imported.contains(*name))
        .collect();
    ensure!(
        missing.is_empty(),
        "imports {missing:?}, which Windows 10 before 2004 (or Windows 11 before 22H2) lacks: the loader would refuse the driver there"
    );
    let listed: BTreeSet<String> = IMPORTS.iter().map(|name| (*name).to_owned()).collect();
    ensure!(
        *imported == listed,
        "the import table differs from xtask/src/pe.rs's IMPORTS: imported only {:?}, listed only {:?}",
        imported.difference(&listed).collect::<Vec<_>>(),
        listed.difference(imported).collect::<Vec<_>>()
    );
    Ok(())
}

pub fn check(driver: &Path) -> Result<Report> {
    let data = std::fs::read(driver).with_context(|| format!("reading {}", driver.display()))?;
    let pe = PeFile64::parse(&*data).context("LookasideList.sys is not a PE32+ image")?;
    // The image without an Authenticode signature (the certificate table at the file's end,
    // which `cargo xtask package` adds): the budget is the driver's.
    let signature = pe
        .data_directory(IMAGE_DIRECTORY_ENTRY_SECURITY)
        .map_or(0, |dir| u64::from(dir.size.get(LE)));
    let size = data.len() as u64 - signature;
    let headers = pe.nt_headers();
    let machine = headers.file_header().machine.get(LE);
    ensure!(
        machine == IMAGE_FILE_MACHINE_AMD64,
        "machine is {machine:#x}, not AMD64"
    );
    // The driver needs no base relocations (no absolute address in it: no vtable), so the image
    // has none; the loader still places it at any address as long as the image does not claim
    // its relocations were stripped.
    ensure!(
        headers.file_header().characteristics.get(LE).0 & IMAGE_FILE_RELOCS_STRIPPED.0 == 0,
        "IMAGE_FILE_RELOCS_STRIPPED is set: the loader could not place the driver"
    );
    ensure!(
        pe.data_directory(IMAGE_DIRECTORY_ENTRY_BASERELOC)
            .is_none_or(|dir| dir.size.get(LE) == 0),
        "the image has base relocations (an absolute address, a vtable?): a .reloc section"
    );
    let optional = headers.optional_header();
    let subsystem = optional.subsystem();
    ensure!(
        subsystem == IMAGE_SUBSYSTEM_NATIVE,
        "subsystem is {subsystem}, not NATIVE (1)"
    );

    let sections = sections(&pe)?;

    let entry = u64::from(optional.address_of_entry_point()) + optional.image_base();
    let mut driver_entry = None;
    for export in pe.exports()? {
        let export = export?;
        if let (NameOrOrdinal::Name(b"DriverEntry"), ExportTarget::Address { address }) =
            (export.name(), export.target())
        {
            driver_entry = Some(address);
        }
    }
    let driver_entry = driver_entry.context("DriverEntry is not exported")?;
    ensure!(
        driver_entry == entry,
        "the entry point {entry:#x} is not DriverEntry ({driver_entry:#x})"
    );

    let mut imports = Vec::new();
    for import in pe.imports()? {
        let import = import?;
        let library = String::from_utf8_lossy(import.library()).into_owned();
        ensure!(
            library.eq_ignore_ascii_case("ntoskrnl.exe"),
            "imports from {library}"
        );
        let NameOrOrdinal::Name(name) = import.name() else {
            bail!("an import by ordinal from {library}");
        };
        imports.push(String::from_utf8_lossy(name).into_owned());
    }
    check_imports(&imports.iter().cloned().collect())?;
    ensure!(
        size <= SIZE_BUDGET,
        "{size} bytes, over the {SIZE_BUDGET}-byte budget"
    );
    Ok(Report {
        size,
        imports,
        sections,
    })
}

/// Each section's name, size in memory and size in the file. No section is both writable and
/// executable, and the unwind data (build.rs merges .pdata into .rdata) is in one that is
/// neither.
fn sections(pe: &PeFile64<'_>) -> Result<Vec<(String, u32, u32)>> {
    let exceptions = pe
        .data_directory(IMAGE_DIRECTORY_ENTRY_EXCEPTION)
        .map_or(0, |dir| dir.virtual_address.get(LE));
    ensure!(exceptions != 0, "the image has no exception directory");
    let mut sections = Vec::new();
    let mut holds_exceptions = false;
    for section in pe.section_table().iter() {
        let (start, size) = (
            section.virtual_address.get(LE),
            section.virtual_size.get(LE),
        );
        let flags = section.characteristics.get(LE).0;
        ensure!(
            flags & IMAGE_SCN_MEM_WRITE.0 == 0 || flags & IMAGE_SCN_MEM_EXECUTE.0 == 0,
            "a section is both writable and executable"
        );
        if (start..start.saturating_add(size)).contains(&exceptions) {
            holds_exceptions = true;
            ensure!(
                flags & (IMAGE_SCN_MEM_WRITE.0 | IMAGE_SCN_MEM_EXECUTE.0) == 0,
                "the exception directory is in a writable or executable section"
            );
        }
        let name = String::from_utf8_lossy(section.raw_name())
            .trim_end_matches('\0')
            .to_owned();
        sections.push((name, size, section.size_of_raw_data.get(LE)));
    }
    ensure!(
        holds_exceptions,
        "the exception directory is outside every section"
    );
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_must_be_the_list_and_nothing_a_supported_windows_lacks() {
        let exact: BTreeSet<String> = IMPORTS.iter().map(|name| (*name).to_owned()).collect();
        check_imports(&exact).unwrap();
        let mut with_pool2 = exact.clone();
        with_pool2.insert("ExAllocatePool2".to_owned());
        let error = check_imports(&with_pool2).unwrap_err().to_string();
        assert!(
            error.contains("ExAllocatePool2") && error.contains("lacks"),
            "{error}"
        );
        let mut fewer = exact;
        fewer.remove("ZwClose");
        let error = check_imports(&fewer).unwrap_err().to_string();
        assert!(error.contains("listed only [\"ZwClose\"]"), "{error}");
    }
}

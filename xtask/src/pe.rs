//! Checks that a driver of the workspace (`LookasideList.sys`, `minimal_driver.sys`) is what
//! Windows expects of a kernel driver.

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

/// What one driver must be: its import table, exactly, and an upper bound on its size
/// (without a signature).
///
/// The budgets are what the drivers weigh as the cross-build makes them (the release profile
/// with LTO, rustup's prebuilt std): each section is padded to 512 bytes in the file, and the
/// kernel formats the log (`DbgPrint`), so nothing of `core::fmt` is linked in; a change that
/// pulls formatting or panic messages back in, or bloats a function, shows up here.
pub struct Expected {
    /// The file, for messages.
    pub name: &'static str,
    /// The kernel routines it imports, exactly. Routines not every supported Windows exports
    /// (see [`MISSING_ON_SUPPORTED_WINDOWS`]) are looked up at run time instead.
    pub imports: &'static [&'static str],
    /// Bytes, without the Authenticode signature.
    pub size_budget: u64,
}

/// LookasideList.sys: 12,800 bytes as measured (headers 512, .text and .rdata with the
/// unwind tables, no .reloc).
pub const LOOKASIDE_LIST: Expected = Expected {
    name: "LookasideList.sys",
    imports: &[
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
        // rustup's prebuilt core calls the C runtime's routines; ntoskrnl.exe exports them.
        "memcpy",
        "memset",
    ],
    size_budget: 12_800,
};

/// `minimal_driver.sys`, the library's example: 4,096 bytes as measured.
pub const MINIMAL_DRIVER: Expected = Expected {
    name: "minimal_driver.sys",
    imports: &[
        "DbgPrint",
        "ExAllocatePoolWithTag",
        "ExDeleteLookasideListEx",
        "ExFlushLookasideListEx",
        "ExFreePoolWithTag",
        "ExInitializeLookasideListEx",
        "ExpInterlockedPopEntrySList",
        "ExpInterlockedPushEntrySList",
        "KeGetCurrentProcessorNumberEx",
        "MmGetSystemRoutineAddress",
    ],
    size_budget: 4_096,
};

/// What was checked, for the report.
pub struct Report {
    pub size: u64,
    pub imports: Vec<String>,
    /// Name, size in memory and size in the file of each section.
    pub sections: Vec<(String, u32, u32)>,
}

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
/// Windows lacks, and exactly the list.
pub fn check_imports(expected: &Expected, imported: &BTreeSet<String>) -> Result<()> {
    let missing: Vec<&str> = MISSING_ON_SUPPORTED_WINDOWS
        .iter()
        .copied()
        .filter(|name| imported.contains(*name))
        .collect();
    ensure!(
        missing.is_empty(),
        "imports {missing:?}, which Windows 10 before 2004 (or Windows 11 before 22H2) lacks: the loader would refuse the driver there"
    );
    let listed: BTreeSet<String> = expected
        .imports
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    ensure!(
        *imported == listed,
        "{}'s import table differs from its list in xtask/src/pe.rs: imported only {:?}, listed only {:?}",
        expected.name,
        imported.difference(&listed).collect::<Vec<_>>(),
        listed.difference(imported).collect::<Vec<_>>()
    );
    Ok(())
}

/// Checks `driver` against what is `expected` of it.
pub fn check(driver: &Path, expected: &Expected) -> Result<Report> {
    let data = std::fs::read(driver).with_context(|| format!("reading {}", driver.display()))?;
    let pe = PeFile64::parse(&*data)
        .with_context(|| format!("{} is not a PE32+ image", expected.name))?;
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
    check_imports(expected, &imports.iter().cloned().collect())?;
    ensure!(
        size <= expected.size_budget,
        "{}: {size} bytes, over the {}-byte budget",
        expected.name,
        expected.size_budget
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
        let expected = &LOOKASIDE_LIST;
        let exact: BTreeSet<String> = expected
            .imports
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        check_imports(expected, &exact).unwrap();
        let mut with_pool2 = exact.clone();
        with_pool2.insert("ExAllocatePool2".to_owned());
        let error = check_imports(expected, &with_pool2)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ExAllocatePool2") && error.contains("lacks"),
            "{error}"
        );
        let mut fewer = exact;
        fewer.remove("ZwClose");
        let error = check_imports(expected, &fewer).unwrap_err().to_string();
        assert!(error.contains("listed only [\"ZwClose\"]"), "{error}");
    }
}

//! The linker's map of LookasideList.sys (lld-link `/LLDMAP`, which build.rs asks for in the
//! cross-build): what each function weighs, and whether any of `core::fmt` got in.

use anyhow::{Result, bail};

/// One section contribution of the map: a function (each has its own section) or a piece of
/// data, with the symbols defined in it.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The output section (`.text`, `.rdata`, ...).
    pub section: String,
    /// The object's section it comes from (`.text`, `.data`, `.pdata`, ...).
    pub input: String,
    /// Bytes.
    pub size: u64,
    /// The symbols it defines (lld-link demangles Rust names).
    pub symbols: Vec<String>,
}

/// The chunks of an lld-style map (`Address Size Align Out In Symbol`, hexadecimal).
pub fn parse(map: &str) -> Result<Vec<Chunk>> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut section = String::new();
    for line in map.lines().skip(1).filter(|line| !line.trim().is_empty()) {
        let Some((size, rest)) = line
            .split_once(' ')
            .and_then(|(_, rest)| rest.split_once(' '))
        else {
            bail!("not a map line: {line:?}");
        };
        let size = u64::from_str_radix(size, 16)?;
        // After the alignment column: the output section, or a contribution indented by 8,
        // or a symbol indented by 16.
        let rest = rest
            .trim_start()
            .split_once(' ')
            .map_or("", |(_, rest)| rest);
        let indent = rest.len() - rest.trim_start().len();
        let text = rest.trim();
        match indent {
            0 => text.clone_into(&mut section),
            8 => chunks.push(Chunk {
                section: section.clone(),
                input: input_section(text).to_owned(),
                size,
                symbols: Vec::new(),
            }),
            _ => match chunks.last_mut() {
                Some(chunk) => chunk.symbols.push(text.to_owned()),
                None => bail!("a symbol before any section contribution: {line:?}"),
            },
        }
    }
    Ok(chunks)
}

/// The section name of a contribution (`.data` of `dir/driver.o:(.data)`).
fn input_section(contribution: &str) -> &str {
    contribution
        .strip_suffix(')')
        .and_then(|rest| rest.rsplit_once(":("))
        .map_or("", |(_, name)| name)
}

/// Whether a Rust symbol belongs to `core::fmt` (its functions, or a `Display`, `Debug`,
/// `UpperHex`... implementation), as lld-link writes it (demangled) or mangled.
pub fn is_core_fmt(symbol: &str) -> bool {
    ["core::fmt", "4core3fmt", "core..fmt"]
        .iter()
        .any(|name| symbol.contains(name))
}

/// Whether a symbol is one of `core::panicking`'s entry points (`panic_fmt`, `panic_const_*`,
/// `panic_bounds_check`...): a panic site calls one, with its message and source location,
/// which the driver's handler never reads.
pub fn is_panic_site(symbol: &str) -> bool {
    ["core::panicking", "4core9panicking", "core..panicking"]
        .iter()
        .any(|name| symbol.contains(name))
}

/// Fails when any symbol of the map is `core::fmt`'s.
pub fn check_no_core_fmt(chunks: &[Chunk]) -> Result<()> {
    check_absent(chunks, is_core_fmt, "core::fmt is linked into the driver")
}

/// Fails when the driver has a panic site: the panic path stays message-free, every panic is
/// ruled out where it would arise (a checked index, a division, an `assert!`).
pub fn check_no_panic_site(chunks: &[Chunk]) -> Result<()> {
    check_absent(
        chunks,
        is_panic_site,
        "the driver has panic sites (each links its message and location)",
    )
}

/// Fails when the driver has writable global data (a `static` with interior mutability, a
/// `static mut`): build.rs merges `.data` and `.bss` into the read-only `.rdata`, which is right
/// only while they are empty, as they are.
pub fn check_no_writable_data(chunks: &[Chunk]) -> Result<()> {
    let writable: u64 = chunks
        .iter()
        .filter(|chunk| is_writable_data(&chunk.input))
        .map(|chunk| chunk.size)
        .sum();
    if writable == 0 {
        Ok(())
    } else {
        bail!(
            "the driver has {writable} bytes of writable global data (.data/.bss), which the \
             link merges into read-only .rdata: keep the state in DriverEntry's frame or pool"
        )
    }
}

/// `.data`, `.bss` and their `$`-suffixed groups.
fn is_writable_data(input: &str) -> bool {
    [".data", ".bss"].iter().any(|name| {
        input
            .strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('$'))
    })
}

/// Fails, naming a few, when any symbol of the map is `unwanted`.
fn check_absent(chunks: &[Chunk], unwanted: fn(&str) -> bool, what: &str) -> Result<()> {
    let mut found: Vec<String> = chunks
        .iter()
        .flat_map(|chunk| &chunk.symbols)
        .filter(|symbol| unwanted(symbol))
        .map(|symbol| demangle(symbol))
        .collect();
    found.dedup();
    if found.is_empty() {
        Ok(())
    } else {
        bail!(
            "{what} ({} symbols, e.g. {})",
            found.len(),
            found[..found.len().min(3)].join(", ")
        )
    }
}

/// The `n` largest functions: size and name, largest first.
pub fn largest_functions(chunks: &[Chunk], n: usize) -> Vec<(u64, String)> {
    let mut functions: Vec<(u64, String)> = chunks
        .iter()
        .filter(|chunk| chunk.section == ".text")
        .filter_map(|chunk| {
            let name = chunk.symbols.first()?;
            Some((chunk.size, demangle(name)))
        })
        .collect();
    functions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    functions.truncate(n);
    functions
}

/// A legacy-mangled Rust name (`_ZN4core3fmt5write17h0123456789abcdefE`) as a path
/// (`core::fmt::write`); any other name (lld-link's already demangled ones) as it is.
pub fn demangle(symbol: &str) -> String {
    let Some(mut rest) = symbol
        .strip_prefix("_ZN")
        .and_then(|rest| rest.strip_suffix('E'))
    else {
        return symbol.to_owned();
    };
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let Ok(len) = rest[..digits].parse::<usize>() else {
            return symbol.to_owned();
        };
        let Some(part) = rest.get(digits..digits + len) else {
            return symbol.to_owned();
        };
        parts.push(part);
        rest = &rest[digits + len..];
    }
    if parts
        .last()
        .is_some_and(|hash| hash.len() == 17 && hash.starts_with('h'))
    {
        parts.pop();
    }
    let mut path = parts.join("::");
    for (escape, text) in [
        ("$LT$", "<"),
        ("$GT$", ">"),
        ("$RF$", "&"),
        ("$BP$", "*"),
        ("$C$", ","),
        ("$u20$", " "),
        ("$u27$", "'"),
        ("$u7b$", "{"),
        ("$u7d$", "}"),
        ("..", "::"),
    ] {
        path = path.replace(escape, text);
    }
    path.trim_start_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
Address  Size     Align Out     In      Symbol
00001000 00000120  4096 .text
00001000 00000100    16         LookasideList.o:(.text)
00001000 00000000     0                 DriverEntry
00001100 00000020    16         LookasideList.o:(.text)
00001100 00000000     0                 _ZN4core3fmt5write17h0123456789abcdefE
00002000 00000010  4096 .rdata
00002000 00000010     8         LookasideList.o:(.rdata)
00002010 00000000     4         LookasideList.o:(.data)
00002010 00000000     4         LookasideList.o:(.bss)
";

    #[test]
    fn reads_sections_sizes_and_symbols() {
        let chunks = parse(MAP).unwrap();
        assert_eq!(chunks.len(), 5);
        assert_eq!(
            chunks[0],
            Chunk {
                section: ".text".into(),
                input: ".text".into(),
                size: 0x100,
                symbols: vec!["DriverEntry".into()],
            }
        );
        assert_eq!(chunks[2].section, ".rdata");
        assert_eq!(chunks[3].input, ".data");
        assert_eq!(
            largest_functions(&chunks, 5),
            [
                (0x100, "DriverEntry".into()),
                (0x20, "core::fmt::write".into())
            ]
        );
    }

    #[test]
    fn core_fmt_is_found_and_named() {
        let chunks = parse(MAP).unwrap();
        let error = check_no_core_fmt(&chunks).unwrap_err().to_string();
        assert!(error.contains("core::fmt::write"), "{error}");
        let without = MAP.replace("_ZN4core3fmt5write17h0123456789abcdefE", "memcpy");
        assert!(check_no_core_fmt(&parse(&without).unwrap()).is_ok());
        assert!(is_core_fmt(
            "_ZN42_$LT$u32$u20$as$u20$core..fmt..Display$GT$3fmt17h0123456789abcdefE"
        ));
        assert!(is_core_fmt("<usize as core::fmt::Display>::fmt"));
        assert!(!is_core_fmt(
            "<core::ffi::c_str::CStr>::from_bytes_until_nul"
        ));
    }

    #[test]
    fn writable_data_is_found_only_when_it_has_bytes() {
        assert!(check_no_writable_data(&parse(MAP).unwrap()).is_ok());
        for input in ["(.data)", "(.bss)"] {
            let with_data = MAP.replace(
                &format!("00000000     4         LookasideList.o:{input}"),
                &format!("00000004     4         LookasideList.o:{input}"),
            );
            let error = check_no_writable_data(&parse(&with_data).unwrap())
                .unwrap_err()
                .to_string();
            assert!(error.contains("4 bytes of writable global data"), "{error}");
        }
        assert!(is_writable_data(".data$r"));
        assert!(!is_writable_data(".rdata"));
        assert!(!is_writable_data(".database"));
    }

    #[test]
    fn panic_sites_are_found_and_named() {
        let with_panic = MAP.replace(
            "_ZN4core3fmt5write17h0123456789abcdefE",
            "core::panicking::panic_const::panic_const_rem_by_zero",
        );
        let error = check_no_panic_site(&parse(&with_panic).unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("panic_const_rem_by_zero"), "{error}");
        assert!(check_no_panic_site(&parse(MAP).unwrap()).is_ok());
        assert!(is_panic_site(
            "_ZN4core9panicking18panic_bounds_check17h0123456789abcdefE"
        ));
        assert!(!is_panic_site("LookasideList::kernel::ffi::panic"));
    }

    #[test]
    fn demangles_legacy_rust_names() {
        assert_eq!(
            demangle("_ZN13LookasideList8scenario12driver_entry17h0123456789abcdefE"),
            "LookasideList::scenario::driver_entry"
        );
        assert_eq!(
            demangle("_ZN42_$LT$u32$u20$as$u20$core..fmt..Display$GT$3fmt17h0123456789abcdefE"),
            "<u32 as core::fmt::Display>::fmt"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
    }
}

//! The simulated kernel's `DbgPrint` formatter: the conversions [`super::format`] allows,
//! printed as Windows' `DbgPrint` prints them, so the host tests compare exact text.

use core::ffi::CStr;
use core::fmt::Write as _;

use super::format::{Conversion, Piece, Spec, Value, piece};

/// `format` with `args` substituted.
///
/// # Safety
/// Every [`Value::String`] in `args` points at a NUL-terminated string that lives across the
/// call.
///
/// # Panics
/// When the format and the arguments disagree, which [`super::format::check`] rules out at
/// compile time: the simulation checks again rather than trust it.
#[must_use]
pub unsafe fn format(format: &CStr, args: &[Value]) -> String {
    let bytes = format.to_bytes();
    let mut args = args.iter().copied();
    let mut out = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let (piece, next) = piece(bytes, at).unwrap_or_else(|error| panic!("{error}"));
        match piece {
            Piece::Text => out.push_str(&String::from_utf8_lossy(&bytes[at..next])),
            Piece::Percent => out.push('%'),
            Piece::Spec(spec) => {
                let value = args
                    .next()
                    .expect("DbgPrint: more conversions than arguments");
                // SAFETY: as the caller guarantees for every string argument.
                let text = unsafe { convert(spec.conversion, value) };
                pad(&mut out, &text, spec);
            }
        }
        at = next;
    }
    assert!(
        args.next().is_none(),
        "DbgPrint: more arguments than conversions"
    );
    out
}

/// One argument as its conversion prints it, before padding.
///
/// # Safety
/// A [`Value::String`] points at a live NUL-terminated string.
unsafe fn convert(conversion: Conversion, value: Value) -> String {
    let mut text = String::new();
    let written = match (conversion, value) {
        (Conversion::Unsigned, Value::U32(v)) => write!(text, "{v}"),
        (Conversion::Hex, Value::U32(v)) => write!(text, "{v:X}"),
        (Conversion::Hex, Value::I32(v)) => write!(text, "{:X}", v.cast_unsigned()),
        (Conversion::Unsigned64, Value::U64(v)) => write!(text, "{v}"),
        (Conversion::Signed64, Value::I64(v)) => write!(text, "{v}"),
        // Windows prints a pointer as `%016I64X` does on x64 (Wine does the same).
        (Conversion::Pointer, Value::Pointer(address)) => write!(text, "{address:016X}"),
        (Conversion::Char, Value::U32(v)) => write!(text, "{}", char::from(v.to_le_bytes()[0])),
        (Conversion::String, Value::String(string)) => {
            // SAFETY: the caller guarantees a live NUL-terminated string.
            let string = unsafe { CStr::from_ptr(string) };
            write!(text, "{}", string.to_string_lossy())
        }
        (conversion, value) => panic!("DbgPrint: {conversion:?} given {value:?}"),
    };
    written.expect("a String never fails");
    text
}

/// `text` right-aligned in the spec's width, with spaces, or with zeros after any sign.
fn pad(out: &mut String, text: &str, spec: Spec) {
    let fill = spec.width.saturating_sub(text.len());
    let (sign, digits) = match text.strip_prefix('-') {
        Some(digits) if spec.zero_pad => ("-", digits),
        _ => ("", text),
    };
    out.push_str(sign);
    let pad = if spec.zero_pad { '0' } else { ' ' };
    out.extend(core::iter::repeat_n(pad, fill));
    out.push_str(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(format_text: &CStr, args: &[Value]) -> String {
        // SAFETY: the only strings are C string literals.
        unsafe { format(format_text, args) }
    }

    #[test]
    fn each_conversion_prints_as_dbgprint_does() {
        let text = printed(
            c"[%u|%8u|%02u|%08X|%04X|%X|%I64u|%02I64u|%I64d|%5I64d|%05I64d|%p|%s|%c|%%]",
            &[
                Value::U32(4_000_000_000),
                Value::U32(32),
                Value::U32(5),
                Value::I32(0xC000_0182_u32.cast_signed()),
                Value::U32(0x200),
                Value::U32(0xBEEF),
                Value::U64(u64::MAX),
                Value::U64(7),
                Value::I64(-12),
                Value::I64(-12),
                Value::I64(-12),
                Value::Pointer(0x14A_0370),
                Value::String(c"Wasm".as_ptr()),
                Value::U32(u32::from(b'W')),
            ],
        );
        assert_eq!(
            text,
            "[4000000000|      32|05|C0000182|0200|BEEF|18446744073709551615|07|-12|  -12|-0012|00000000014A0370|Wasm|W|%]"
        );
    }

    #[test]
    fn a_width_narrower_than_the_value_does_not_cut_it() {
        assert_eq!(printed(c"%2u", &[Value::U32(12345)]), "12345");
    }

    #[test]
    #[should_panic(expected = "Hex given U64")]
    fn a_mismatch_panics_here_too() {
        let _ = printed(c"%X", &[Value::U64(1)]);
    }

    #[test]
    #[should_panic(expected = "more arguments")]
    fn a_left_over_argument_panics() {
        let _ = printed(c"none", &[Value::U32(1)]);
    }
}

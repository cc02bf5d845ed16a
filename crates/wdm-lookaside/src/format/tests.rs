//! Tests of `format`.

use super::*;

fn pieces(format: &str) -> Result<Vec<Piece>, &'static str> {
    let format = format.as_bytes();
    let mut at = 0;
    let mut out = Vec::new();
    while at < format.len() {
        let (piece, next) = piece(format, at)?;
        out.push(piece);
        at = next;
    }
    Ok(out)
}

const fn spec(conversion: Conversion, zero_pad: bool, width: usize) -> Piece {
    Piece::Spec(Spec {
        conversion,
        zero_pad,
        width,
    })
}

#[test]
fn every_supported_conversion_parses() {
    use Conversion::{Char, Hex, Pointer, Signed64, String, Unsigned, Unsigned64};
    assert_eq!(
        pieces("a %u b %8u %08X %04X %I64u %02I64u %I64d %p %s %c %%").unwrap(),
        [
            Piece::Text,
            spec(Unsigned, false, 0),
            Piece::Text,
            spec(Unsigned, false, 8),
            Piece::Text,
            spec(Hex, true, 8),
            Piece::Text,
            spec(Hex, true, 4),
            Piece::Text,
            spec(Unsigned64, false, 0),
            Piece::Text,
            spec(Unsigned64, true, 2),
            Piece::Text,
            spec(Signed64, false, 0),
            Piece::Text,
            spec(Pointer, false, 0),
            Piece::Text,
            spec(String, false, 0),
            Piece::Text,
            spec(Char, false, 0),
            Piece::Text,
            Piece::Percent,
        ]
    );
}

#[test]
fn conversions_the_driver_does_not_use_are_refused() {
    for format in [
        "%d", "%x", "%lu", "%-8u", "%.4s", "%08p", "%8s", "%2c", "%I64X", "%I32u", "%", "50%",
        "%100u",
    ] {
        assert!(pieces(format).is_err(), "{format}");
    }
}

#[test]
fn each_conversion_takes_its_types_only() {
    let all = [
        CType::U32,
        CType::I32,
        CType::U64,
        CType::I64,
        CType::Pointer,
        CType::String,
        CType::Char,
    ];
    let table = [
        (Conversion::Unsigned, &[CType::U32][..]),
        (Conversion::Hex, &[CType::U32, CType::I32]),
        (Conversion::Unsigned64, &[CType::U64]),
        (Conversion::Signed64, &[CType::I64]),
        (Conversion::Pointer, &[CType::Pointer]),
        (Conversion::String, &[CType::String]),
        (Conversion::Char, &[CType::Char]),
    ];
    for (conversion, accepted) in table {
        for ty in all {
            assert_eq!(
                conversion.accepts(ty),
                accepted.contains(&ty),
                "{conversion:?} {ty:?}"
            );
        }
    }
}

#[test]
fn check_counts_and_matches_arguments() {
    check(
        b"%u %s %p %% %I64d\n",
        &[CType::U32, CType::String, CType::Pointer, CType::I64],
    );
    for (format, args) in [
        (&b"%u"[..], &[][..]),
        (b"text", &[CType::U32]),
        (b"%u", &[CType::U64]),
        (b"%s", &[CType::Pointer]),
    ] {
        let outcome = std::panic::catch_unwind(|| check(format, args));
        assert!(outcome.is_err(), "{format:?} {args:?}");
    }
}

//! Table-driven card tests: every value form and every error.

use super::*;

/// Pads `s` with spaces to a full 80-byte card.
fn card80(s: &str) -> [u8; CARD_LEN] {
    let mut c = [b' '; CARD_LEN];
    c[..s.len()].copy_from_slice(s.as_bytes());
    c
}

/// What a test expects from a card.
#[derive(Debug)]
enum Expect {
    /// kind, keyword, value (None for commentary/END), raw value text, comment
    Ok(
        CardKind,
        &'static str,
        Option<Value<'static>>,
        &'static str,
        Option<&'static str>,
    ),
    /// offset and kind of the error
    Err(usize, CardErrorKind),
}

macro_rules! card {
    ($name:ident, $bytes:expr, $expected:expr) => {
        #[test]
        fn $name() {
            let raw = card80($bytes);
            check(&raw, $expected);
        }
    };
}

fn check(raw: &[u8; CARD_LEN], expected: Expect) {
    let got = Card::parse(raw, 7);
    match expected {
        Expect::Ok(kind, key, value, rawv, comment) => {
            let c = got.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.kind(), kind, "kind");
            assert_eq!(c.keyword(), key, "keyword");
            assert_eq!(c.value().copied(), value, "value");
            assert_eq!(c.raw_value(), rawv, "raw value");
            assert_eq!(c.comment(), comment, "comment");
            assert_eq!(c.index(), 7);
        }
        Expect::Err(offset, kind) => {
            assert_eq!(
                got,
                Err(CardError {
                    card: 7,
                    offset,
                    kind
                })
            );
        }
    }
}

use CardErrorKind as E;
use CardKind::{Commentary, Continue, End, Value as Val};
use Expect::{Err as Bad, Ok as Good};

const fn s(raw: &'static str) -> Value<'static> {
    Value::String(FitsStr::from_escaped(raw))
}

card!(
    logical_true,
    "SIMPLE  =                    T / conforms",
    Good(
        Val,
        "SIMPLE",
        Some(Value::Logical(true)),
        "T",
        Some("conforms")
    )
);
card!(
    logical_false_free,
    "EXTEND  = F",
    Good(Val, "EXTEND", Some(Value::Logical(false)), "F", None)
);
card!(
    integer_fixed,
    "BITPIX  =                  -32",
    Good(Val, "BITPIX", Some(Value::Integer(-32)), "-32", None)
);
card!(
    integer_plus,
    "N       = +12/c",
    Good(Val, "N", Some(Value::Integer(12)), "+12", Some("c"))
);
card!(
    integer_min,
    "N       = -9223372036854775808",
    Good(
        Val,
        "N",
        Some(Value::Integer(i64::MIN)),
        "-9223372036854775808",
        None
    )
);
card!(
    integer_big,
    "N       = 99999999999999999999999",
    Good(
        Val,
        "N",
        Some(Value::BigInteger("99999999999999999999999")),
        "99999999999999999999999",
        None
    )
);
card!(
    real_e,
    "EXPTIME =              1.5E+02 / seconds",
    Good(
        Val,
        "EXPTIME",
        Some(Value::Real(150.0)),
        "1.5E+02",
        Some("seconds")
    )
);
card!(
    real_d,
    "X       = -2.25D-1",
    Good(Val, "X", Some(Value::Real(-0.225)), "-2.25D-1", None)
);
card!(
    real_plain,
    "X       = 3.",
    Good(Val, "X", Some(Value::Real(3.0)), "3.", None)
);
card!(
    real_long_d,
    "X       = 0.12345678901234567890123456789012345678901234567890123456789D+10",
    Good(
        Val,
        "X",
        Some(Value::Real(1234567890.1234567)),
        "0.12345678901234567890123456789012345678901234567890123456789D+10",
        None
    )
);
card!(
    complex_int,
    "Z       = (1, -2) / zz",
    Good(
        Val,
        "Z",
        Some(Value::ComplexInteger(1, -2)),
        "(1, -2)",
        Some("zz")
    )
);
card!(
    complex_real,
    "Z       = (1.5E1,2D0)",
    Good(
        Val,
        "Z",
        Some(Value::ComplexReal(15.0, 2.0)),
        "(1.5E1,2D0)",
        None
    )
);
card!(
    string_simple,
    "XTENSION= 'IMAGE   '           / ext",
    Good(Val, "XTENSION", Some(s("IMAGE")), "'IMAGE   '", Some("ext"))
);
card!(
    string_quote,
    "OBJECT  = 'O''HARA'",
    Good(Val, "OBJECT", Some(s("O''HARA")), "'O''HARA'", None)
);
card!(
    string_slash,
    "PATH    = 'a/b' / c/d",
    Good(Val, "PATH", Some(s("a/b")), "'a/b'", Some("c/d"))
);
card!(
    string_null,
    "S       = ''",
    Good(Val, "S", Some(s("")), "''", None)
);
card!(
    string_blank,
    "S       = '    '",
    Good(Val, "S", Some(s(" ")), "'    '", None)
);
card!(
    string_leading,
    "S       = '  a '",
    Good(Val, "S", Some(s("  a")), "'  a '", None)
);
card!(
    string_quotes_only,
    "S       = ''''''",
    Good(Val, "S", Some(s("''''")), "''''''", None)
);
card!(
    undefined,
    "UNDEF   =                      / nothing",
    Good(Val, "UNDEF", Some(Value::Undefined), "", Some("nothing"))
);
card!(
    undefined_bare,
    "UNDEF   =",
    Good(Val, "UNDEF", Some(Value::Undefined), "", None)
);
card!(
    comment_empty,
    "N       = 1 /",
    Good(Val, "N", Some(Value::Integer(1)), "1", Some(""))
);
card!(
    comment_nospace,
    "N       = 1 /x  ",
    Good(Val, "N", Some(Value::Integer(1)), "1", Some("x"))
);
card!(
    keyword_dash,
    "DATE-OBS= '2020-01-01'",
    Good(Val, "DATE-OBS", Some(s("2020-01-01")), "'2020-01-01'", None)
);
card!(
    keyword_underscore,
    "A_B     = 1",
    Good(Val, "A_B", Some(Value::Integer(1)), "1", None)
);
card!(
    commentary_comment,
    "COMMENT   = not a value 'x",
    Good(Commentary, "COMMENT", None, "  = not a value 'x", None)
);
card!(
    commentary_history,
    "HISTORY made by test",
    Good(Commentary, "HISTORY", None, "made by test", None)
);
card!(
    commentary_blank,
    "        just text = 1",
    Good(Commentary, "", None, "just text = 1", None)
);
card!(
    commentary_all_blank,
    "",
    Good(Commentary, "", None, "", None)
);
card!(
    commentary_no_indicator,
    "FOO     =1",
    Good(Commentary, "FOO", None, "=1", None)
);
card!(
    commentary_no_space,
    "FOO      = 1",
    Good(Commentary, "FOO", None, " = 1", None)
);
card!(
    continue_card,
    "CONTINUE  'more text&'  / c",
    Good(
        Continue,
        "CONTINUE",
        Some(s("more text&")),
        "'more text&'",
        Some("c")
    )
);
card!(
    continue_commentary,
    "CONTINUE  plain words",
    Good(Commentary, "CONTINUE", None, "  plain words", None)
);
card!(
    hierarch,
    "HIERARCH ESO DET CHIP ID = 'ccd1' / chip",
    Good(
        Val,
        "HIERARCH ESO DET CHIP ID",
        Some(s("ccd1")),
        "'ccd1'",
        Some("chip")
    )
);
card!(
    hierarch_num,
    "HIERARCH ESO TEL AIRM=1.25",
    Good(
        Val,
        "HIERARCH ESO TEL AIRM",
        Some(Value::Real(1.25)),
        "1.25",
        None
    )
);
card!(
    hierarch_no_eq,
    "HIERARCH ESO",
    Good(Commentary, "HIERARCH", None, " ESO", None)
);
card!(
    hierarch_eq_in_free_text,
    "HIERARCH ESO NOTE / see a=b",
    Good(Commentary, "HIERARCH", None, " ESO NOTE / see a=b", None)
);
card!(
    hierarch_spaced_eq_in_free_text,
    "HIERARCH ESO NOTE / x = 1",
    Good(Commentary, "HIERARCH", None, " ESO NOTE / x = 1", None)
);
card!(
    hierarch_eq_in_quoted_text,
    "HIERARCH ESO NOTE 'a=b'",
    Good(Commentary, "HIERARCH", None, " ESO NOTE 'a=b'", None)
);
card!(
    hierarch_eq_in_string_and_comment,
    "HIERARCH ESO DET = 'a=b' / c=d",
    Good(
        Val,
        "HIERARCH ESO DET",
        Some(s("a=b")),
        "'a=b'",
        Some("c=d")
    )
);
card!(
    hierarch_eq_in_comment,
    "HIERARCH ESO A = 1 / b = 2",
    Good(
        Val,
        "HIERARCH ESO A",
        Some(Value::Integer(1)),
        "1",
        Some("b = 2")
    )
);
card!(
    hierarch_name_with_symbols,
    "HIERARCH XTE$TEMP-1 = 98.6",
    Good(
        Val,
        "HIERARCH XTE$TEMP-1",
        Some(Value::Real(98.6)),
        "98.6",
        None
    )
);
card!(end, "END", Good(End, "END", None, "", None));

card!(
    err_lowercase,
    "naxis   = 1",
    Bad(0, E::InvalidKeyword(b'n'))
);
card!(
    err_embedded_space,
    "AB CD   = 1",
    Bad(3, E::InvalidKeyword(b'C'))
);
card!(
    err_leading_space,
    " AB     = 1",
    Bad(1, E::InvalidKeyword(b'A'))
);
card!(
    err_keyword_char,
    "A.B     = 1",
    Bad(1, E::InvalidKeyword(b'.'))
);
card!(
    err_unterminated,
    "S       = 'abc",
    Bad(10, E::UnterminatedString)
);
card!(
    err_after_string,
    "S       = 'abc' x",
    Bad(16, E::TextAfterString)
);
card!(err_bad_number, "N       = 12x", Bad(10, E::InvalidValue));
card!(err_two_numbers, "N       =   1 2", Bad(12, E::InvalidValue));
card!(err_logical_word, "L       = TRUE", Bad(10, E::InvalidValue));
card!(err_complex, "Z       = (1, 2", Bad(10, E::InvalidValue));
card!(err_nan, "N       = NaN", Bad(10, E::InvalidValue));
card!(err_end_not_blank, "END     x", Bad(8, E::EndNotBlank));
card!(
    err_continue_unterminated,
    "CONTINUE  'abc",
    Bad(10, E::UnterminatedString)
);
card!(
    err_hierarch_value,
    "HIERARCH A = zz",
    Bad(13, E::InvalidValue)
);

#[test]
fn err_bytes() {
    for (off, b) in [
        (0usize, 0x09u8),
        (5, 0x00),
        (40, 0x7F),
        (79, 0xC3),
        (12, 0x1F),
    ] {
        let mut raw = card80("KEY     = 'abcdefgh'");
        raw[off] = b;
        check(&raw, Bad(off, E::InvalidByte(b)));
    }
}

#[test]
fn err_length() {
    for n in [0usize, 79, 81, 160] {
        let buf = [b' '; 200];
        assert_eq!(
            Card::parse(&buf[..n], 3),
            Err(CardError {
                card: 3,
                offset: 0,
                kind: E::Length(n)
            })
        );
    }
}

#[test]
fn type_names_and_continues() {
    let names = [
        ("A       = T", "logical"),
        ("A       = 1", "integer"),
        ("A       = 123456789012345678901234", "integer"),
        ("A       = 1.0", "real"),
        ("A       = (1,2)", "complex"),
        ("A       = 'x'", "string"),
        ("A       =", "undefined"),
        ("COMMENT x", "commentary"),
        ("CONTINUE  'x'", "continue"),
        ("END", "end"),
    ];
    for (text, name) in names {
        let raw = card80(text);
        assert_eq!(Card::parse(&raw, 0).unwrap().type_name(), name, "{text}");
    }
    let raw = card80("A       = 'abc&'");
    assert!(Card::parse(&raw, 0).unwrap().continues());
    let raw = card80("A       = 'abc'");
    assert!(!Card::parse(&raw, 0).unwrap().continues());
}

#[test]
fn error_display_names_card_and_offset() {
    let raw = card80("naxis   = 1");
    let e = Card::parse(&raw, 12).unwrap_err();
    let mut buf = [0u8; 128];
    let mut w = crate::fits::writer::SliceWriter::new(&mut buf);
    core::fmt::write(&mut w, format_args!("{e}")).unwrap();
    let n = w.len();
    assert_eq!(
        core::str::from_utf8(&buf[..n]).unwrap(),
        "card 12, byte offset 0: keyword character 'n' is not A-Z, 0-9, '-' or '_'"
    );
}

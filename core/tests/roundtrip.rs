//! Property tests: whatever the writer writes parses back to the same values.

use proptest::prelude::*;
use shmfits_core::fits::{
    format_card, format_commentary, Card, CardKind, CardValue, Commentary, Header, HeaderBuilder,
    Value,
};

/// FITS string semantics: trailing spaces are insignificant, a blank string is one space.
fn norm(s: &str) -> String {
    match s.trim_end_matches(' ') {
        "" if !s.is_empty() => " ".to_string(),
        t => t.to_string(),
    }
}

fn keyword() -> impl Strategy<Value = String> {
    "[A-Z0-9_-]{1,8}".prop_filter("reserved", |k| {
        !matches!(
            k.as_str(),
            "END" | "COMMENT" | "HISTORY" | "CONTINUE" | "HIERARCH"
        )
    })
}

fn real() -> impl Strategy<Value = f64> {
    prop::num::f64::POSITIVE
        | prop::num::f64::NEGATIVE
        | prop::num::f64::NORMAL
        | prop::num::f64::SUBNORMAL
        | prop::num::f64::ZERO
}

fn same(a: &Value<'_>, b: &CardValue<'_>) -> bool {
    match (a, b) {
        (Value::Logical(x), CardValue::Logical(y)) => x == y,
        (Value::Integer(x), CardValue::Integer(y)) => x == y,
        (Value::Real(x), CardValue::Real(y)) => x.to_bits() == y.to_bits(),
        (Value::ComplexInteger(a, b), CardValue::ComplexInteger(c, d)) => a == c && b == d,
        (Value::ComplexReal(a, b), CardValue::ComplexReal(c, d)) => {
            a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
        }
        (Value::String(s), CardValue::String(t)) => s.to_string() == norm(t),
        (Value::Undefined, CardValue::Undefined) => true,
        _ => false,
    }
}

fn value() -> impl Strategy<Value = (u8, i64, i64, f64, f64, String)> {
    (
        0u8..7,
        any::<i64>(),
        any::<i64>(),
        real(),
        real(),
        "[ -~]{0,34}",
    )
}

fn pick<'a>(v: &'a (u8, i64, i64, f64, f64, String)) -> CardValue<'a> {
    match v.0 {
        0 => CardValue::Logical(v.1 % 2 == 0),
        1 => CardValue::Integer(v.1),
        2 => CardValue::Real(v.3),
        3 => CardValue::ComplexInteger(v.1, v.2),
        4 => CardValue::ComplexReal(v.3, v.4),
        5 => CardValue::String(&v.5),
        _ => CardValue::Undefined,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn card_roundtrip(key in keyword(), v in value(), comment in proptest::option::of("[ -~]{0,20}")) {
        let cv = pick(&v);
        let mut raw = [0u8; 80];
        let comment = comment.map(|c| c.trim_end().to_string());
        if let Err(e) = format_card(&mut raw, &key, cv, comment.as_deref()) {
            // Only a comment that cannot fit after a long value is refused.
            prop_assert_eq!(e, shmfits_core::fits::WriteError::CommentTooLong);
            format_card(&mut raw, &key, cv, None).unwrap();
            let end = 80 - raw.iter().rev().take_while(|&&b| b == b' ').count();
            prop_assert!(end + 3 + comment.as_deref().unwrap_or("").len() > 80);
            return Ok(());
        }
        let card = Card::parse(&raw, 0).unwrap();
        prop_assert_eq!(card.kind(), CardKind::Value);
        prop_assert_eq!(card.keyword(), key.as_str());
        let got = card.value().unwrap();
        prop_assert!(same(got, &cv), "{:?} vs {:?}", got, cv);
        prop_assert_eq!(card.comment(), comment.as_deref());
        // Fixed format: logical in byte 30, short numbers right-justified to byte 30.
        match cv {
            CardValue::Logical(_) => prop_assert!(raw[29] == b'T' || raw[29] == b'F'),
            CardValue::Integer(_) => prop_assert!(raw[29].is_ascii_digit()),
            CardValue::String(_) => prop_assert_eq!(raw[10], b'\''),
            _ => {}
        }
    }

    #[test]
    fn string_roundtrip(s in "[ -~]{0,68}") {
        let mut raw = [0u8; 80];
        match format_card(&mut raw, "S", CardValue::String(&s), None) {
            Ok(()) => {
                let card = Card::parse(&raw, 0).unwrap();
                let v = card.value().unwrap().as_str().unwrap();
                prop_assert_eq!(v.to_string(), norm(&s));
                let mut buf = [0u8; 80];
                let n = v.copy_unescaped(&mut buf).unwrap();
                let want = norm(&s);
                prop_assert_eq!(&buf[..n], want.as_bytes());
            }
            Err(e) => {
                // Only too long once quotes are doubled.
                prop_assert!(s.len() + s.matches('\'').count() > 68, "{e}");
            }
        }
    }

    #[test]
    fn commentary_roundtrip(text in "[ -~]{0,72}", which in 0u8..3) {
        let kw = [Commentary::Comment, Commentary::History, Commentary::Blank][usize::from(which)];
        let mut raw = [0u8; 80];
        format_commentary(&mut raw, kw, &text).unwrap();
        let card = Card::parse(&raw, 0).unwrap();
        prop_assert_eq!(card.kind(), CardKind::Commentary);
        prop_assert_eq!(card.raw_value(), text.trim_end());
    }

    #[test]
    fn long_string_roundtrip(
        s in "[ -~]{0,400}",
        comment in proptest::option::of("[ -~]{0,63}"),
    ) {
        let comment = comment.map(|c| c.trim_end().to_string());
        let mut buf = vec![0u8; 2880 * 4];
        let mut b = HeaderBuilder::new(&mut buf);
        b.logical("SIMPLE", true, None).unwrap();
        b.integer("BITPIX", 8, None).unwrap();
        b.integer("NAXIS", 0, None).unwrap();
        b.long_string("LONG", &s, comment.as_deref()).unwrap();
        b.string("AFTER", "x", None).unwrap();
        let n = b.finish().unwrap();
        let h = Header::parse(&buf[..n]).unwrap();
        let ls = h.long_string("LONG").unwrap();
        let got: Vec<u8> = ls.bytes().collect();
        prop_assert_eq!(String::from_utf8(got).unwrap(), norm(&s));
        prop_assert_eq!(ls.unescaped_len(), norm(&s).len());
        // The comment is on the last card of the string.
        let last = h.cards().map(|c| c.unwrap()).filter(|c| c.keyword() != "AFTER").last().unwrap();
        prop_assert_eq!(last.comment(), comment.as_deref());
        // ... together with the string's last characters: never an empty final part.
        if last.keyword() == "CONTINUE" {
            let part = last.value().unwrap().as_str().unwrap().raw();
            prop_assert!(!part.is_empty(), "{:?}", last);
        }
        prop_assert_eq!(h.get("AFTER").unwrap().value().unwrap().as_str().unwrap().raw(), "x");
    }

    #[test]
    fn header_roundtrip(cards in proptest::collection::vec((keyword(), value()), 0..120)) {
        let mut buf = vec![0u8; 2880 * 6];
        let mut b = HeaderBuilder::new(&mut buf);
        b.logical("SIMPLE", true, None).unwrap();
        b.integer("BITPIX", 8, None).unwrap();
        b.integer("NAXIS", 0, None).unwrap();
        for (k, v) in &cards {
            b.card(k, pick(v), None).unwrap();
        }
        let n = b.finish().unwrap();
        prop_assert_eq!(n % 2880, 0);
        let h = match Header::parse(&buf[..n]) {
            Ok(h) => h,
            // A random keyword may be GROUPS/PCOUNT/GCOUNT with an invalid value.
            Err(e) => {
                prop_assert!(matches!(e.kind, shmfits_core::fits::HduErrorKind::InvalidValue(_)), "{e}");
                return Ok(());
            }
        };
        prop_assert_eq!(h.card_count(), cards.len() + 3);
        for (c, (k, v)) in h.cards().skip(3).zip(&cards) {
            let c = c.unwrap();
            prop_assert_eq!(c.keyword(), k.as_str());
            prop_assert!(same(c.value().unwrap(), &pick(v)));
        }
    }

    #[test]
    fn buffer_too_small_reports_need(len in 0usize..400) {
        let mut buf = vec![0u8; len];
        let mut b = HeaderBuilder::new(&mut buf);
        let r = b.logical("SIMPLE", true, None)
            .and_then(|()| b.integer("BITPIX", 8, None))
            .and_then(|()| b.integer("NAXIS", 0, None));
        match r {
            Ok(()) => prop_assert!(len >= 240),
            Err(shmfits_core::fits::WriteError::BufferTooSmall { needed }) => {
                prop_assert!(needed > len && needed <= 240 && needed % 80 == 0)
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
        if len >= 240 {
            let r = b.finish();
            prop_assert_eq!(r, if len >= 2880 { Ok(2880) } else { Err(shmfits_core::fits::WriteError::BufferTooSmall { needed: 2880 }) });
        }
    }
}

#[test]
fn writer_errors() {
    use shmfits_core::fits::WriteError::*;
    let mut raw = [0u8; 80];
    for bad in [
        "",
        "lower",
        "TOOLONGKEY",
        "A B",
        "END",
        "COMMENT",
        "CONTINUE",
    ] {
        assert_eq!(
            format_card(&mut raw, bad, CardValue::Integer(1), None),
            Err(InvalidKeyword),
            "{bad}"
        );
    }
    assert_eq!(
        format_card(&mut raw, "A", CardValue::Real(f64::NAN), None),
        Err(NotFinite)
    );
    assert_eq!(
        format_card(&mut raw, "A", CardValue::Real(f64::INFINITY), None),
        Err(NotFinite)
    );
    assert_eq!(
        format_card(&mut raw, "A", CardValue::String("\u{e9}"), None),
        Err(NotPrintable)
    );
    assert_eq!(
        format_card(&mut raw, "A", CardValue::String(&"x".repeat(69)), None),
        Err(ValueTooLong)
    );
    assert_eq!(
        format_card(&mut raw, "A", CardValue::String(&"'".repeat(35)), None),
        Err(ValueTooLong)
    );
    assert_eq!(
        format_card(&mut raw, "A", CardValue::Integer(1), Some(&"c".repeat(60))),
        Err(CommentTooLong)
    );
    assert_eq!(
        format_card(&mut raw, "A", CardValue::Integer(1), Some("\t")),
        Err(NotPrintable)
    );
    assert_eq!(
        format_commentary(&mut raw, Commentary::Comment, &"x".repeat(73)),
        Err(ValueTooLong)
    );
    // Long comments move left to fit after the value.
    format_card(&mut raw, "A", CardValue::String("x"), Some(&"c".repeat(50))).unwrap();
    assert_eq!(raw[21], b'/');
    assert_eq!(
        Card::parse(&raw, 0).unwrap().comment(),
        Some("c".repeat(50).as_str())
    );
    // Fixed-format positions.
    format_card(
        &mut raw,
        "SIMPLE",
        CardValue::Logical(true),
        Some("conforms"),
    )
    .unwrap();
    assert_eq!(
        &raw[..],
        format!("{:<80}", "SIMPLE  =                    T / conforms").as_bytes()
    );
    format_card(&mut raw, "XTENSION", CardValue::String("IMAGE"), None).unwrap();
    assert_eq!(
        &raw[..],
        format!("{:<80}", "XTENSION= 'IMAGE   '").as_bytes()
    );
    format_card(&mut raw, "E", CardValue::Real(1e-300), None).unwrap();
    assert_eq!(&raw[..30], b"E       =               1E-300");
    format_card(&mut raw, "N", CardValue::String(""), None).unwrap();
    assert_eq!(&raw[..12], b"N       = ''");
    // long_string: nothing written when the buffer is too small.
    let mut buf = [0u8; 160];
    let mut b = HeaderBuilder::new(&mut buf);
    assert_eq!(
        b.long_string("L", &"y".repeat(200), None),
        Err(BufferTooSmall { needed: 240 })
    );
    assert_eq!(b.len(), 0);
    // A long string's last card keeps room for a character next to the comment.
    let mut buf = [0u8; 2880];
    let mut b = HeaderBuilder::new(&mut buf);
    let c64 = "c".repeat(64);
    assert_eq!(
        b.long_string("L", "yyyyyyyyyy", Some(&c64)),
        Err(CommentTooLong)
    );
    b.long_string("L", "yyyyyyyyyy", Some(&c64[1..])).unwrap();
    assert_eq!(b.len(), 160);
    assert_eq!(&buf[..20], b"L       = 'yyyyyyyy&");
    assert_eq!(&buf[80..80 + 17], b"CONTINUE  'yy' / ");
    // A short one fits one card once it is not padded to 8 characters.
    let mut b = HeaderBuilder::new(&mut buf);
    b.long_string("L", "y", Some(&c64[1..])).unwrap();
    assert_eq!(b.len(), 80);
    assert_eq!(&buf[..16], b"L       = 'y' / ");
}

#[test]
fn pad_data_fills() {
    use shmfits_core::fits::{pad_data, pad_data_with};
    let mut buf = vec![7u8; 2880 * 2];
    assert_eq!(pad_data(&mut buf, 100), Ok(2880));
    assert!(buf[100..2880].iter().all(|&b| b == 0));
    assert_eq!(buf[99], 7);
    assert_eq!(buf[2880], 7);
    assert_eq!(pad_data_with(&mut buf, 2881, b' '), Ok(5760));
    assert!(buf[2881..].iter().all(|&b| b == b' '));
    assert_eq!(pad_data(&mut buf, 0), Ok(0));
    assert_eq!(
        pad_data(&mut buf[..100], 50),
        Err(shmfits_core::fits::WriteError::BufferTooSmall { needed: 2880 })
    );
}

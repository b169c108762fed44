//! Invariant checks shared by the fuzz targets and by `core/tests/fuzz_corpus.rs`, which
//! replays the committed corpora on the stable toolchain. Every check panics on a violated
//! invariant; the parsers themselves must never panic.

#![allow(dead_code)]

use shmfits_core::fits::{
    format_card, Card, CardKind, CardValue, HduErrorKind, Hdus, Header, HeaderStream, Status,
    Value, WriteError, BLOCK_LEN, CARD_LEN,
};

/// Whether `inner` lies within `outer` (same allocation, by address).
fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

/// The writer's form of a parsed value, if it has one.
fn writable<'a>(v: &Value<'a>, buf: &'a mut [u8; 80]) -> Option<CardValue<'a>> {
    Some(match *v {
        Value::Logical(b) => CardValue::Logical(b),
        Value::Integer(i) => CardValue::Integer(i),
        Value::Real(r) if r.is_finite() => CardValue::Real(r),
        Value::ComplexInteger(a, b) => CardValue::ComplexInteger(a, b),
        Value::ComplexReal(a, b) if a.is_finite() && b.is_finite() => CardValue::ComplexReal(a, b),
        Value::String(s) => {
            let n = s.copy_unescaped(buf).ok()?;
            CardValue::String(core::str::from_utf8(buf.get(..n)?).ok()?)
        }
        Value::Undefined => CardValue::Undefined,
        _ => return None,
    })
}

fn same_value(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
        (Value::ComplexReal(a, b), Value::ComplexReal(c, d)) => {
            a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
        }
        (Value::String(x), Value::String(y)) => x.bytes().eq(y.bytes()),
        _ => a == b,
    }
}

/// One card: parse, check that everything borrowed lies in the card, and that writing the
/// value back gives the same value.
pub fn card(data: &[u8]) {
    match Card::parse(data, 3) {
        Ok(c) => {
            assert_eq!(data.len(), CARD_LEN);
            assert!(within(c.keyword().as_bytes(), data));
            assert!(within(c.raw_value().as_bytes(), data));
            if let Some(com) = c.comment() {
                assert!(within(com.as_bytes(), data));
            }
            assert!(!c.type_name().is_empty());
            assert_eq!(c.index(), 3);
            if let Some(Value::String(s)) = c.value() {
                // At most 70 characters fit between quotes (CONTINUE quotes may start in
                // byte 9).
                assert!(s.unescaped_len() <= 70);
                let mut buf = [0u8; 70];
                assert_eq!(s.copy_unescaped(&mut buf), Ok(s.unescaped_len()));
            }
            // Round trip through the writer.
            if c.kind() == CardKind::Value && !c.is_hierarch() {
                let mut sbuf = [0u8; 80];
                if let Some(cv) = writable(c.value().unwrap_or(&Value::Undefined), &mut sbuf) {
                    let mut out = [0u8; 80];
                    match format_card(&mut out, c.keyword(), cv, c.comment()) {
                        Ok(()) => {
                            let back = Card::parse(&out, 0).expect("writer output parses");
                            assert_eq!(back.keyword(), c.keyword());
                            let (a, b) = (back.value(), c.value());
                            assert!(
                                same_value(
                                    a.unwrap_or(&Value::Undefined),
                                    b.unwrap_or(&Value::Undefined)
                                ),
                                "{a:?} != {b:?}"
                            );
                        }
                        Err(
                            WriteError::ValueTooLong
                            | WriteError::CommentTooLong
                            | WriteError::InvalidKeyword,
                        ) => {}
                        Err(e) => panic!("unexpected writer error {e}"),
                    }
                }
            }
        }
        Err(e) => {
            assert_eq!(e.card, 3);
            assert!(e.offset < CARD_LEN);
            assert!(!e.to_string().is_empty());
        }
    }
    // Also every 80-byte window of a longer input.
    if data.len() > CARD_LEN {
        for chunk in data.chunks_exact(CARD_LEN).take(8) {
            let _ = Card::parse(chunk, 0);
        }
    }
}

/// A header: on success everything lies in the input and every card parses.
pub fn header(data: &[u8]) {
    match Header::parse(data) {
        Ok(h) => {
            assert!(within(h.bytes(), data));
            assert_eq!(h.len() % BLOCK_LEN, 0);
            assert!(h.card_count() < h.len() / CARD_LEN);
            assert_eq!(h.cards().count(), h.card_count());
            for c in h.cards() {
                let c = c.expect("cards of a parsed header parse");
                assert_ne!(c.kind(), CardKind::End);
            }
            assert_eq!(h.axes().count(), usize::from(h.layout().naxis()));
            let l = h.layout();
            assert!(l.padded_data_len() >= l.data_len());
            assert_eq!(l.padded_data_len() % BLOCK_LEN as u64, 0);
            assert!(l.padded_data_len() - l.data_len() < BLOCK_LEN as u64);
        }
        Err(e) => {
            assert_eq!(e.hdu, 0);
            assert!(e.offset <= data.len() as u64, "{e}");
            assert!(!e.to_string().is_empty());
        }
    }
}

/// The HDU walk: ranges in order and within the input; the iterator ends after an error.
pub fn hdu_walk(data: &[u8]) {
    let mut expect_start = 0usize;
    let mut errored = false;
    for (i, r) in Hdus::new(data).enumerate() {
        assert!(!errored, "item after an error");
        match r {
            Ok(h) => {
                assert_eq!(h.index(), i);
                assert_eq!(h.header_start(), expect_start);
                assert!(h.data_start() <= h.data_end());
                assert!(h.data_end() <= h.padded_end());
                assert!(h.padded_end() <= data.len());
                assert_eq!(h.padded_end() % BLOCK_LEN, 0);
                assert_eq!(h.data_len() as u64, h.layout().data_len());
                assert_eq!(h.axes().count(), usize::from(h.layout().naxis()));
                for c in h.cards() {
                    c.expect("cards of a walked HDU parse");
                }
                expect_start = h.padded_end();
            }
            Err(e) => {
                assert_eq!(e.hdu, i);
                assert!(e.offset >= expect_start as u64);
                if !matches!(e.kind, HduErrorKind::DataPastEnd { .. }) {
                    assert!(e.offset <= data.len() as u64, "{e}");
                }
                errored = true;
            }
        }
    }
}

/// The streaming parser agrees with the HDU walk on the first header.
pub fn stream(data: &[u8]) {
    let first = Hdus::new(data).next();
    let mut s = HeaderStream::new(0, 0);
    let mut result = None;
    for block in data.chunks(BLOCK_LEN) {
        match s.push(block) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(l)) => {
                result = Some(Ok(*l));
                break;
            }
            Err(e) => {
                result = Some(Err(e));
                break;
            }
        }
    }
    match (first, result) {
        (Some(Ok(h)), Some(Ok(l))) => {
            assert_eq!(h.layout(), &l);
            assert_eq!(s.header_len(), h.header().len() as u64);
            assert_eq!(s.card_count(), h.header().card_count());
            assert!(s.axes().iter().copied().eq(h.axes()));
            assert_eq!(s.next_header_start(), Some(h.padded_end() as u64));
        }
        (Some(Err(e)), Some(Ok(_))) => {
            assert!(
                matches!(
                    e.kind,
                    HduErrorKind::DataPastEnd { .. } | HduErrorKind::Overflow
                ),
                "{e}"
            );
        }
        (Some(Err(e)), Some(Err(f))) => match f.kind {
            HduErrorKind::BlockLength(_) => assert_eq!(e.kind, HduErrorKind::Truncated),
            _ => assert_eq!(e, f),
        },
        (Some(Err(e)), None) => {
            assert!(
                matches!(e.kind, HduErrorKind::MissingEnd | HduErrorKind::Truncated),
                "{e}"
            );
        }
        (None, None) => assert!(data.is_empty()),
        (a, b) => panic!("walk {a:?} vs stream {b:?}"),
    }
}

//! Helpers shared by the integration tests: build FITS byte files with the writer.
#![allow(dead_code)]

use shmfits_core::fits::{pad_data, CardValue, HeaderBuilder, BLOCK_LEN};

/// One card for [`header`].
pub enum C<'a> {
    /// A value card.
    V(&'a str, CardValue<'a>),
    /// A COMMENT card.
    Comment(&'a str),
    /// A long string.
    Long(&'a str, &'a str),
}

/// Builds a header from cards (END and padding added).
pub fn header(cards: &[C<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; (cards.len() * 3 / 36 + 2) * BLOCK_LEN];
    let mut b = HeaderBuilder::new(&mut buf);
    for c in cards {
        match *c {
            C::V(k, v) => b.card(k, v, None).unwrap(),
            C::Comment(t) => b.comment(t).unwrap(),
            C::Long(k, s) => b.long_string(k, s, None).unwrap(),
        }
    }
    let n = b.finish().unwrap();
    buf.truncate(n);
    buf
}

/// Appends `len` data bytes (a repeating pattern) and zero padding.
pub fn data(file: &mut Vec<u8>, len: usize) {
    let start = file.len();
    file.extend((0..len).map(|i| (i % 251) as u8));
    let padded = len.div_ceil(BLOCK_LEN) * BLOCK_LEN;
    file.resize(start + padded, 0xEE);
    let n = pad_data(&mut file[start..], len).unwrap();
    assert_eq!(n, padded);
}

/// Shorthand for an integer card.
pub fn i(k: &str, v: i64) -> C<'_> {
    C::V(k, CardValue::Integer(v))
}

/// Shorthand for a string card.
pub fn s<'a>(k: &'a str, v: &'a str) -> C<'a> {
    C::V(k, CardValue::String(v))
}

/// Shorthand for a logical card.
pub fn l(k: &str, v: bool) -> C<'_> {
    C::V(k, CardValue::Logical(v))
}

/// A primary header with the given BITPIX and axes.
pub fn primary(bitpix: i64, axes: &[i64]) -> Vec<u8> {
    let names: Vec<String> = (1..=axes.len()).map(|n| format!("NAXIS{n}")).collect();
    let mut cards = vec![
        l("SIMPLE", true),
        i("BITPIX", bitpix),
        i("NAXIS", axes.len() as i64),
    ];
    for (n, &a) in names.iter().zip(axes) {
        cards.push(i(n, a));
    }
    cards.push(l("EXTEND", true));
    header(&cards)
}

/// An extension header: XTENSION, BITPIX, NAXIS, axes, PCOUNT, GCOUNT, then `extra`.
pub fn ext(
    xt: &str,
    bitpix: i64,
    axes: &[i64],
    pcount: i64,
    gcount: i64,
    extra: &[C<'_>],
) -> Vec<u8> {
    let names: Vec<String> = (1..=axes.len()).map(|n| format!("NAXIS{n}")).collect();
    let mut cards = vec![
        s("XTENSION", xt),
        i("BITPIX", bitpix),
        i("NAXIS", axes.len() as i64),
    ];
    for (n, &a) in names.iter().zip(axes) {
        cards.push(i(n, a));
    }
    cards.push(i("PCOUNT", pcount));
    cards.push(i("GCOUNT", gcount));
    for c in extra {
        cards.push(match *c {
            C::V(k, v) => C::V(k, v),
            C::Comment(t) => C::Comment(t),
            C::Long(k, v) => C::Long(k, v),
        });
    }
    header(&cards)
}

/// A multi-extension file: a primary with a 10x10 16-bit image, an IMAGE extension, a
/// BINTABLE with a heap, an ASCII TABLE and an unknown extension.
pub fn sample_file() -> Vec<u8> {
    let mut f = primary(16, &[10, 10]);
    data(&mut f, 200);
    f.extend(ext("IMAGE", -32, &[3, 4, 5], 0, 1, &[s("EXTNAME", "SCI")]));
    data(&mut f, 240);
    f.extend(ext(
        "BINTABLE",
        8,
        &[12, 300],
        1000,
        1,
        &[
            i("TFIELDS", 2),
            s("EXTNAME", "EVENTS"),
            s("TFORM1", "1PB(10)"),
            s("TFORM2", "J"),
        ],
    ));
    data(&mut f, 12 * 300 + 1000);
    f.extend(ext(
        "TABLE",
        8,
        &[20, 5],
        0,
        1,
        &[i("TFIELDS", 1), s("TFORM1", "A20")],
    ));
    data(&mut f, 100);
    f.extend(ext("FOREIGN", 8, &[], 7, 1, &[s("EXTNAME", "O'DD")]));
    data(&mut f, 7);
    f
}

//! Header and HDU walk tests on files built with the writer, plus hand-made edge cases.

mod common;

use common::*;
use shmfits_core::fits::{
    CardErrorKind, CardKind, CardValue, HduError, HduErrorKind, HduKind, Hdus, Header,
    HeaderStream, Mandatory, Status, Value, BLOCK_LEN,
};

/// Offset of the first END card.
fn end_card(f: &[u8]) -> usize {
    f.chunks(80).position(|c| c.starts_with(b"END ")).unwrap() * 80
}

fn walk(f: &[u8]) -> (Vec<shmfits_core::fits::Hdu<'_>>, Option<HduError>) {
    let mut ok = Vec::new();
    let mut err = None;
    for r in Hdus::new(f) {
        match r {
            Ok(h) => ok.push(h),
            Err(e) => {
                assert!(err.is_none(), "iterator continued after an error");
                err = Some(e);
            }
        }
    }
    (ok, err)
}

/// Streams the headers of `f` block by block and checks they agree with the walk.
fn stream_agrees(f: &[u8]) {
    let (hdus, _) = walk(f);
    let mut start = 0usize;
    for h in &hdus {
        let mut s = HeaderStream::new(h.index(), start as u64);
        let mut pos = start;
        loop {
            let st = s.push(&f[pos..pos + BLOCK_LEN]).unwrap();
            pos += BLOCK_LEN;
            if let Status::Complete(l) = st {
                assert_eq!(l, h.layout());
                break;
            }
            assert!(s.axes().is_empty());
        }
        assert_eq!(pos, h.data_start());
        assert_eq!(s.axes(), h.axes().collect::<Vec<_>>());
        assert_eq!(s.card_count(), h.header().card_count());
        assert_eq!(s.next_header_start(), Some(h.padded_end() as u64));
        start = h.padded_end();
    }
}

#[test]
fn sample_file_walk() {
    let f = sample_file();
    let (hdus, err) = walk(&f);
    assert_eq!(err, None);
    assert_eq!(hdus.len(), 5);
    let kinds: Vec<_> = hdus.iter().map(|h| h.kind()).collect();
    assert_eq!(
        kinds,
        [
            HduKind::Primary,
            HduKind::Image,
            HduKind::BinTable,
            HduKind::Table,
            HduKind::Extension
        ]
    );
    let p = &hdus[0];
    assert_eq!(p.header_range(), 0..2880);
    assert_eq!(p.data_range(), 2880..3080);
    assert_eq!(p.padded_end(), 5760);
    assert_eq!(p.axes().collect::<Vec<_>>(), [10, 10]);
    assert_eq!(p.layout().extend(), Some(true));
    assert_eq!(p.layout().pcount(), 0);
    assert_eq!(p.layout().gcount(), 1);
    assert_eq!(p.extname(), None);
    let im = &hdus[1];
    assert_eq!(im.header_start(), 5760);
    assert_eq!(im.layout().bitpix(), -32);
    assert_eq!(im.data_len(), 240);
    assert_eq!(im.extname(), Some("SCI"));
    assert_eq!(im.layout().xtension(), Some("IMAGE"));
    let bt = &hdus[2];
    assert_eq!(bt.layout().data_len(), 12 * 300 + 1000);
    assert_eq!(bt.layout().pcount(), 1000);
    assert_eq!(bt.layout().tfields(), Some(2));
    assert_eq!(bt.extname(), Some("EVENTS"));
    assert_eq!(bt.padded_end() - bt.data_start(), 5760);
    let un = &hdus[4];
    assert_eq!(un.layout().xtension(), Some("FOREIGN"));
    assert_eq!(un.data_len(), 7);
    assert_eq!(un.extname(), Some("O'DD"));
    assert_eq!(un.padded_end(), f.len());
    // Cards: every card before END, commentary included, END excluded.
    let keys: Vec<_> = hdus[2].cards().map(|c| c.unwrap().keyword()).collect();
    assert_eq!(
        keys,
        [
            "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS",
            "EXTNAME", "TFORM1", "TFORM2"
        ]
    );
    let c = hdus[2].cards().next().unwrap().unwrap();
    assert_eq!(c.raw_value(), "'BINTABLE'");
    assert_eq!(c.type_name(), "string");
    stream_agrees(&f);
}

#[test]
fn walk_never_reads_data() {
    // Data bytes that look like garbage (0xFF) must not matter.
    let mut f = primary(8, &[5000]);
    let start = f.len();
    f.resize(start + 5760, 0xFF);
    let (hdus, err) = walk(&f);
    assert_eq!(err, None);
    assert_eq!(hdus.len(), 1);
    assert_eq!(hdus[0].data_len(), 5000);
}

#[test]
fn truncation_at_every_block_boundary_and_inside() {
    let f = sample_file();
    let (full, _) = walk(&f);
    for cut in (0..f.len())
        .step_by(BLOCK_LEN)
        .chain((1..f.len()).step_by(BLOCK_LEN))
    {
        let (hdus, err) = walk(&f[..cut]);
        let complete = full.iter().filter(|h| h.padded_end() <= cut).count();
        assert_eq!(hdus.len(), complete, "cut {cut}");
        for (a, b) in hdus.iter().zip(&full) {
            assert_eq!(a, b);
        }
        if full.iter().any(|h| h.padded_end() == cut) {
            assert_eq!(err, None, "cut {cut} is a valid shorter file");
            continue;
        }
        let e = err.unwrap_or_else(|| panic!("cut at {cut} not reported"));
        assert_eq!(e.hdu, complete, "cut {cut}");
        assert!(e.offset <= cut as u64, "cut {cut}: {e}");
        match e.kind {
            HduErrorKind::Truncated => assert_eq!(cut % BLOCK_LEN, 1),
            HduErrorKind::MissingEnd => assert_eq!(e.offset, cut as u64),
            HduErrorKind::DataPastEnd { end, len } => {
                assert_eq!(len, cut as u64);
                assert_eq!(end, full[complete].padded_end() as u64);
                assert_eq!(e.offset, full[complete].data_start() as u64);
            }
            k => panic!("cut {cut}: unexpected {k:?}"),
        }
    }
}

#[test]
fn empty_input() {
    let (hdus, err) = walk(&[]);
    assert!(hdus.is_empty());
    assert_eq!(err, Some(HduError::new(0, 0, HduErrorKind::MissingEnd)));
}

#[test]
fn missing_end() {
    let mut f = primary(8, &[]);
    // Overwrite END with a comment: no END anywhere.
    let pos = end_card(&f);
    f[pos..pos + 7].copy_from_slice(b"COMMENT");
    let (hdus, err) = walk(&f);
    assert!(hdus.is_empty());
    assert_eq!(err, Some(HduError::new(0, 2880, HduErrorKind::MissingEnd)));
}

#[test]
fn multi_block_header() {
    let mut cards = vec![l("SIMPLE", true), i("BITPIX", 8), i("NAXIS", 0)];
    for _ in 0..100 {
        cards.push(C::Comment("filler"));
    }
    let f = header(&cards);
    assert_eq!(f.len(), 3 * BLOCK_LEN);
    let h = Header::parse(&f).unwrap();
    assert_eq!(h.card_count(), 103);
    assert_eq!(h.len(), 3 * BLOCK_LEN);
    stream_agrees(&f);
    // Streaming the blocks one by one: Partial, Partial, Complete.
    let mut s = HeaderStream::new(0, 0);
    assert_eq!(s.push(&f[..2880]), Ok(Status::Partial));
    assert_eq!(s.push(&f[2880..5760]), Ok(Status::Partial));
    assert!(matches!(s.push(&f[5760..]), Ok(Status::Complete(_))));
    assert_eq!(
        s.push(&f[..2880]),
        Err(HduError::new(0, 8640, HduErrorKind::AfterEnd))
    );
}

#[test]
fn stream_errors() {
    let mut s = HeaderStream::new(0, 100);
    assert_eq!(
        s.push(&[b' '; 80]),
        Err(HduError::new(0, 100, HduErrorKind::BlockLength(80)))
    );
    // Failed streams stay failed.
    assert_eq!(
        s.push(&[b' '; 2880]),
        Err(HduError::new(0, 100, HduErrorKind::BlockLength(80)))
    );
    let f = ext("IMAGE", 8, &[], 0, 1, &[]);
    let mut s = HeaderStream::new(0, 0);
    let e = s.push(&f).unwrap_err();
    assert_eq!(e.kind, HduErrorKind::ExpectedKeyword(Mandatory::Simple));
    assert_eq!(e.card, Some(0));
    let mut s = HeaderStream::new(1, 0);
    assert!(matches!(s.push(&f), Ok(Status::Complete(_))));
    // Offsets near the top of u64 saturate instead of overflowing.
    let mut bad = f.clone();
    bad[100] = 0;
    let mut s = HeaderStream::new(1, u64::MAX - 5);
    let e = s.push(&bad).unwrap_err();
    assert_eq!(e.offset, u64::MAX);
    assert_eq!(e.card, Some(1));
}

#[test]
fn naxis_999() {
    let axes = vec![1i64; 999];
    let f = primary(64, &axes);
    let h = Header::parse(&f).unwrap();
    assert_eq!(h.layout().naxis(), 999);
    assert_eq!(h.axes().count(), 999);
    assert!(h.axes().all(|a| a == 1));
    stream_agrees(&f);
    assert_eq!(h.layout().data_len(), 8);
    let cards = vec![l("SIMPLE", true), i("BITPIX", 8), i("NAXIS", 1000)];
    let e = Header::parse(&header(&cards)).unwrap_err();
    assert_eq!(e.kind, HduErrorKind::InvalidValue(Mandatory::Naxis));
    assert_eq!(e.card, Some(2));
    assert_eq!(e.offset, 160);
}

#[test]
fn overflow() {
    let big = i64::MAX;
    let f = primary(64, &[big, big]);
    let e = Header::parse(&f).unwrap_err();
    assert_eq!(e.kind, HduErrorKind::Overflow);
    // The error names the card whose value made the size overflow: NAXIS2 (card 4).
    assert_eq!((e.card, e.offset), (Some(4), 320));
    // ... also when END is blocks later, and from a stream that starts at an offset.
    let mut cards = vec![l("SIMPLE", true), i("BITPIX", 64), i("NAXIS", 2)];
    cards.extend([i("NAXIS1", big), i("NAXIS2", big)]);
    cards.extend((0..70).map(|_| C::Comment("padding")));
    let f = header(&cards);
    assert_eq!(f.len(), 3 * BLOCK_LEN);
    let e = Header::parse(&f).unwrap_err();
    assert_eq!(
        (e.kind, e.card, e.offset),
        (HduErrorKind::Overflow, Some(4), 320)
    );
    let mut s = HeaderStream::new(0, 5760);
    assert!(matches!(s.push(&f[..BLOCK_LEN]), Ok(Status::Partial)));
    assert!(matches!(
        s.push(&f[BLOCK_LEN..2 * BLOCK_LEN]),
        Ok(Status::Partial)
    ));
    let e = s.push(&f[2 * BLOCK_LEN..]).unwrap_err();
    assert_eq!((e.card, e.offset), (Some(4), 5760 + 320));
    // ... also when only the bytes (BITPIX/8 times the product) overflow: NAXIS3 here,
    // and not when a later axis is 0.
    let e = Header::parse(&primary(16, &[1 << 31, 1 << 31, 4, 7])).unwrap_err();
    assert_eq!(
        (e.kind, e.card, e.offset),
        (HduErrorKind::Overflow, Some(5), 400)
    );
    let zero = primary(16, &[1 << 31, 1 << 31, 4, 0]);
    assert_eq!(Header::parse(&zero).unwrap().layout().data_len(), 0);
    // Extensions: GCOUNT (or PCOUNT) can be the card that overflows.
    let e = Header::parse(&ext("FOO", 8, &[8, 1 << 40], 1 << 62, 4, &[])).unwrap_err();
    assert_eq!(
        (e.kind, e.card, e.offset),
        (HduErrorKind::Overflow, Some(6), 480)
    );
    let e = Header::parse(&ext("FOO", 8, &[3, 1 << 62], big, 1, &[])).unwrap_err();
    assert_eq!(
        (e.kind, e.card, e.offset),
        (HduErrorKind::Overflow, Some(5), 400)
    );
    // PCOUNT and GCOUNT fit, their bytes do not: GCOUNT, the last factor.
    let e = Header::parse(&ext("FOO", 64, &[1], 1 << 60, 2, &[])).unwrap_err();
    assert_eq!((e.kind, e.card), (HduErrorKind::Overflow, Some(5)));
    // One axis just below overflow with BITPIX 8: size fits in u64 but padding overflows?
    let f = primary(8, &[big]);
    let h = Header::parse(&f).unwrap();
    assert_eq!(h.layout().data_len(), big as u64);
    // ... and the walk says the data points past the end.
    let (hdus, err) = walk(&f);
    assert!(hdus.is_empty());
    let e = err.unwrap();
    assert!(matches!(e.kind, HduErrorKind::DataPastEnd { .. }), "{e}");
    assert_eq!(e.offset, 2880);
    // Random groups with huge PCOUNT * GCOUNT.
    let f = header(&[
        l("SIMPLE", true),
        i("BITPIX", 64),
        i("NAXIS", 2),
        i("NAXIS1", 0),
        i("NAXIS2", 1),
        l("GROUPS", true),
        i("PCOUNT", big),
        i("GCOUNT", 3),
    ]);
    let e = Header::parse(&f).unwrap_err();
    assert_eq!(
        (e.kind, e.card, e.offset),
        (HduErrorKind::Overflow, Some(7), 560)
    );
}

#[test]
fn random_groups() {
    let f = header(&[
        l("SIMPLE", true),
        i("BITPIX", -32),
        i("NAXIS", 3),
        i("NAXIS1", 0),
        i("NAXIS2", 4),
        i("NAXIS3", 2),
        l("GROUPS", true),
        i("PCOUNT", 3),
        i("GCOUNT", 5),
    ]);
    let h = Header::parse(&f).unwrap();
    let l_ = h.layout();
    assert_eq!(l_.kind(), HduKind::RandomGroups);
    assert_eq!(l_.kind().name(), "random-groups");
    // Eq. 4.2: 4 * 5 * (3 + 4*2)
    assert_eq!(l_.data_len(), 4 * 5 * (3 + 8));
    assert_eq!(l_.padded_data_len(), 2880);
    // NAXIS1 = 0 without GROUPS: an ordinary primary without data.
    let f = primary(16, &[0, 4]);
    let h = Header::parse(&f).unwrap();
    assert_eq!(h.layout().kind(), HduKind::Primary);
    assert_eq!(h.layout().data_len(), 0);
    // GROUPS = T without PCOUNT.
    let f = header(&[
        l("SIMPLE", true),
        i("BITPIX", 8),
        i("NAXIS", 2),
        i("NAXIS1", 0),
        i("NAXIS2", 4),
        l("GROUPS", true),
        i("GCOUNT", 5),
    ]);
    assert_eq!(
        Header::parse(&f).unwrap_err().kind,
        HduErrorKind::MissingKeyword(Mandatory::Pcount)
    );
    // A bad PCOUNT matters for random groups only.
    let groups = |pcount: i64, groups: bool| {
        header(&[
            l("SIMPLE", true),
            i("BITPIX", 8),
            i("NAXIS", 2),
            i("NAXIS1", 0),
            i("NAXIS2", 4),
            i("PCOUNT", pcount),
            i("GCOUNT", 1),
            l("GROUPS", groups),
        ])
    };
    let e = Header::parse(&groups(-1, true)).unwrap_err();
    assert_eq!(e.kind, HduErrorKind::InvalidValue(Mandatory::Pcount));
    assert_eq!(e.card, Some(8));
    let f = groups(-1, false);
    let h = Header::parse(&f).unwrap();
    assert_eq!(h.layout().kind(), HduKind::Primary);
    assert_eq!((h.layout().pcount(), h.layout().gcount()), (0, 1));
}

fn first_err(cards: &[C<'_>]) -> HduError {
    Header::parse(&header(cards)).unwrap_err()
}

#[test]
fn mandatory_keywords() {
    use HduErrorKind::*;
    use Mandatory::*;
    let cases: Vec<(Vec<C<'_>>, HduErrorKind, usize)> = vec![
        (vec![i("BITPIX", 8)], ExpectedKeyword(Simple), 0),
        (vec![l("SIMPLE", false)], NotConforming, 0),
        (vec![i("SIMPLE", 1)], InvalidValue(Simple), 0),
        (
            vec![l("SIMPLE", true), i("NAXIS", 0)],
            ExpectedKeyword(Bitpix),
            1,
        ),
        (
            vec![l("SIMPLE", true), i("BITPIX", 12)],
            InvalidValue(Bitpix),
            1,
        ),
        (
            vec![l("SIMPLE", true), i("BITPIX", 8), i("NAXIS", -1)],
            InvalidValue(Naxis),
            2,
        ),
        (
            vec![
                l("SIMPLE", true),
                i("BITPIX", 8),
                i("NAXIS", 2),
                i("NAXIS2", 1),
            ],
            ExpectedKeyword(NaxisN(1)),
            3,
        ),
        (
            vec![
                l("SIMPLE", true),
                i("BITPIX", 8),
                i("NAXIS", 1),
                i("NAXIS1", -5),
            ],
            InvalidValue(NaxisN(1)),
            3,
        ),
        (
            vec![
                l("SIMPLE", true),
                i("BITPIX", 8),
                i("NAXIS", 2),
                i("NAXIS1", 1),
            ],
            MissingKeyword(NaxisN(2)),
            4,
        ),
        (
            vec![l("SIMPLE", true), i("BITPIX", 8)],
            MissingKeyword(Naxis),
            2,
        ),
        (
            vec![
                l("SIMPLE", true),
                i("BITPIX", 8),
                C::Comment("x"),
                i("NAXIS", 0),
            ],
            ExpectedKeyword(Naxis),
            2,
        ),
        (
            vec![
                s("XTENSION", "IMAGE"),
                i("BITPIX", 8),
                i("NAXIS", 0),
                i("PCOUNT", 1),
                i("GCOUNT", 1),
            ],
            InvalidValue(Pcount),
            3,
        ),
        (
            vec![
                s("XTENSION", "IMAGE"),
                i("BITPIX", 8),
                i("NAXIS", 0),
                i("PCOUNT", 0),
                i("GCOUNT", 2),
            ],
            InvalidValue(Gcount),
            4,
        ),
        (
            vec![
                s("XTENSION", "IMAGE"),
                i("BITPIX", 8),
                i("NAXIS", 0),
                i("GCOUNT", 1),
            ],
            ExpectedKeyword(Pcount),
            3,
        ),
        (
            vec![
                s("XTENSION", "IMAGE"),
                i("BITPIX", 8),
                i("NAXIS", 0),
                i("PCOUNT", 0),
            ],
            MissingKeyword(Gcount),
            4,
        ),
        (
            vec![s("XTENSION", "BINTABLE"), i("BITPIX", 16)],
            InvalidValue(Bitpix),
            1,
        ),
        (
            vec![s("XTENSION", "BINTABLE"), i("BITPIX", 8), i("NAXIS", 1)],
            InvalidValue(Naxis),
            2,
        ),
        (
            vec![
                s("XTENSION", "BINTABLE"),
                i("BITPIX", 8),
                i("NAXIS", 2),
                i("NAXIS1", 1),
                i("NAXIS2", 1),
                i("PCOUNT", 0),
                i("GCOUNT", 1),
            ],
            MissingKeyword(Tfields),
            7,
        ),
        (
            vec![
                s("XTENSION", "BINTABLE"),
                i("BITPIX", 8),
                i("NAXIS", 2),
                i("NAXIS1", 1),
                i("NAXIS2", 1),
                i("PCOUNT", 0),
                i("GCOUNT", 1),
                i("TFIELDS", 1000),
            ],
            InvalidValue(Tfields),
            7,
        ),
        (
            vec![
                s("XTENSION", "TABLE"),
                i("BITPIX", 8),
                i("NAXIS", 2),
                i("NAXIS1", 1),
                i("NAXIS2", 1),
                i("PCOUNT", 4),
                i("GCOUNT", 1),
            ],
            InvalidValue(Pcount),
            5,
        ),
        (
            vec![
                s("XTENSION", "TABLE"),
                i("BITPIX", 8),
                i("NAXIS", 2),
                i("NAXIS1", 1),
                i("NAXIS2", 1),
                i("PCOUNT", 0),
                i("GCOUNT", 1),
                s("TFORM1", "A1"),
                i("TFIELDS", 1),
            ],
            ExpectedKeyword(Tfields),
            7,
        ),
        (
            vec![s("XTENSION", " "), i("BITPIX", 8)],
            InvalidValue(Xtension),
            0,
        ),
        (vec![i("XTENSION", 3)], InvalidValue(Xtension), 0),
        (vec![], MissingKeyword(Simple), 0),
    ];
    for (n, (cards, kind, card)) in cases.into_iter().enumerate() {
        let e = first_err(&cards);
        assert_eq!(e.kind, kind, "case {n}: {e}");
        assert_eq!(e.card, Some(card), "case {n}: {e}");
        assert_eq!(e.offset, 80 * card as u64, "case {n}: {e}");
        assert_eq!(e.hdu, 0);
    }
}

#[test]
fn extension_first_card_checked_by_walk() {
    let mut f = primary(8, &[]);
    f.extend(primary(8, &[]));
    let (hdus, err) = walk(&f);
    assert_eq!(hdus.len(), 1);
    let e = err.unwrap();
    assert_eq!(e.kind, HduErrorKind::ExpectedKeyword(Mandatory::Xtension));
    assert_eq!((e.hdu, e.card, e.offset), (1, Some(0), 2880));
    // Garbage after the last HDU.
    let mut f = primary(8, &[]);
    f.extend(vec![0u8; 2880]);
    let e = walk(&f).1.unwrap();
    assert_eq!(e.kind, HduErrorKind::Card(CardErrorKind::InvalidByte(0)));
    assert_eq!((e.hdu, e.card, e.offset), (1, Some(0), 2880));
}

#[test]
fn bad_card_location() {
    let mut f = sample_file();
    // Corrupt HDU 2 (BINTABLE), card 9 (TFORM1), byte 15.
    let (hdus, _) = walk(&f);
    let at = hdus[2].header_start() + 9 * 80 + 15;
    f[at] = b'\t';
    let (ok, err) = walk(&f);
    assert_eq!(ok.len(), 2);
    let e = err.unwrap();
    assert_eq!(
        e.kind,
        HduErrorKind::Card(CardErrorKind::InvalidByte(b'\t'))
    );
    assert_eq!((e.hdu, e.card, e.offset), (2, Some(9), at as u64));
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!("HDU 2, card 9, byte offset {at}: byte 0x09 is not printable ASCII (0x20..=0x7E)")
    );
}

#[test]
fn not_blank_after_end() {
    let mut f = primary(8, &[]);
    let pos = end_card(&f);
    f[pos + 80 + 5] = b'X';
    let e = Header::parse(&f).unwrap_err();
    assert_eq!(e.kind, HduErrorKind::NotBlankAfterEnd);
    assert_eq!(e.offset, (pos + 80) as u64);
    assert_eq!(e.card, Some(pos / 80 + 1));
}

#[test]
fn long_strings_and_lookup() {
    let long: String = (0..300)
        .map(|n| char::from(b'a' + (n % 26) as u8))
        .collect();
    let with_quotes = "it's a 'quoted' & long ".repeat(10);
    let f = header(&[
        l("SIMPLE", true),
        i("BITPIX", 8),
        i("NAXIS", 0),
        C::Long("LONGSTR", &long),
        C::Long("QUOTES", with_quotes.trim_end()),
        C::V("PI", CardValue::Real(std::f64::consts::PI)),
    ]);
    let h = Header::parse(&f).unwrap();
    let ls = h.long_string("LONGSTR").unwrap();
    let mut buf = vec![0u8; 400];
    let n = ls.copy_unescaped(&mut buf).unwrap();
    assert_eq!(&buf[..n], long.as_bytes());
    assert!(ls.parts().count() > 4);
    let q = h.long_string("QUOTES").unwrap();
    assert_eq!(
        q.bytes().collect::<Vec<u8>>(),
        with_quotes.trim_end().as_bytes()
    );
    let conts = h
        .cards()
        .filter(|c| c.unwrap().kind() == CardKind::Continue)
        .count();
    assert!(conts >= 6, "{conts}");
    assert_eq!(
        h.get("PI").unwrap().value(),
        Some(&Value::Real(std::f64::consts::PI))
    );
    assert!(h.get("NOPE").is_none());
    assert!(h.long_string("PI").is_none());
}

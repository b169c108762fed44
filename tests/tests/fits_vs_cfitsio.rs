//! Our FITS parser against CFITSIO, the ground truth: every file `tests/c/mkfits.c` makes and
//! every file under `tests/data/` is walked by both, and HDU count, offsets, card count and
//! every card's keyword and value must agree.

use std::path::{Path, PathBuf};

use shmfits_tests::{cfitsio, compare};
use shmfits_unix::cli::info::Report;

/// Every corpus file is valid FITS according to fitsverify (warnings allowed, no errors).
#[test]
fn corpus_passes_fitsverify() {
    let Some((c, _)) = cfitsio::require_fitsverify("corpus_passes_fitsverify") else {
        return;
    };
    let files = c.corpus_files();
    assert!(files.len() >= 30, "mkfits made only {} files", files.len());
    for f in files {
        let v = c.fitsverify(&f).unwrap();
        assert_eq!(v.errors, 0, "fitsverify {}:\n{}", f.display(), v.report);
    }
}

/// CFITSIO's own listing is self-consistent: HDUs tile the file, card counts match.
#[test]
fn cfitsio_listing_is_consistent() {
    let Some(c) = cfitsio::require("cfitsio_listing_is_consistent") else {
        return;
    };
    for f in c.corpus_files() {
        let l = c.listhdus(&f).unwrap();
        assert_eq!(l.error, None, "{}", f.display());
        assert_eq!(l.nhdus, Some(l.hdus.len()), "{}", f.display());
        let mut next = 0;
        for h in &l.hdus {
            assert_eq!(h.headstart, next, "{} hdu {}", f.display(), h.index);
            assert_eq!(h.datastart % 2880, 0);
            assert_eq!(h.dataend % 2880, 0);
            assert!(h.headstart < h.datastart && h.datastart <= h.dataend);
            assert_eq!(h.nkeys, h.cards.len());
            next = h.dataend;
        }
        let len = std::fs::metadata(&f).unwrap().len();
        assert_eq!(
            next,
            len,
            "{}: HDUs do not end at the end of the file",
            f.display()
        );
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn report_of(path: &Path) -> Report {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Report::from_bytes(&path.display().to_string(), &bytes)
}

/// Files of tests/data/ that both parsers must read identically.
const VALID_DATA: &[&str] = &[
    "minimal.fits",
    "primary_2ext.fits",
    "blank_before_end.fits",
    "foreign_ext.fits",
    "naxis_99.fits",
    "cards_edge.fits",
];

fn compare_files(c: &cfitsio::Cfitsio, files: &[PathBuf]) {
    let mut failures = Vec::new();
    for f in files {
        let ours = report_of(f);
        let theirs = c.listhdus(f).unwrap();
        if let Err(e) = compare::file(&ours, &theirs) {
            failures.push(format!("{}:\n{e}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} files differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every file CFITSIO writes: same HDUs, offsets, cards and values.
#[test]
fn cfitsio_corpus_agrees() {
    let Some(c) = cfitsio::require("cfitsio_corpus_agrees") else {
        return;
    };
    let files = c.corpus_files();
    compare_files(c, &files);
    // the multi-extension file really was walked to its end
    let many = report_of(&c.corpus().join("many_ext.fits"));
    assert_eq!(many.hdus.len(), 51);
    assert_eq!(many.hdus[50].extname.as_deref(), Some("EXT50"));
}

/// The hand-made valid files of tests/data/: same view as CFITSIO, and fitsverify-clean.
#[test]
fn data_files_agree() {
    let Some(c) = cfitsio::require("data_files_agree") else {
        return;
    };
    let files: Vec<PathBuf> = VALID_DATA.iter().map(|n| data_dir().join(n)).collect();
    compare_files(c, &files);
    if let Some((_, _)) = cfitsio::require_fitsverify("data_files_agree (fitsverify)") {
        for f in &files {
            let v = c.fitsverify(f).unwrap();
            assert_eq!(v.errors, 0, "fitsverify {}:\n{}", f.display(), v.report);
        }
    }
}

/// Kinds, layouts and card types that CFITSIO does not report directly, on files it wrote.
#[test]
fn cfitsio_corpus_kinds_and_types() {
    let Some(c) = cfitsio::require("cfitsio_corpus_kinds_and_types") else {
        return;
    };
    let dir = c.corpus();
    let kinds = |name: &str| -> Vec<&'static str> {
        report_of(&dir.join(name))
            .hdus
            .iter()
            .map(|h| h.kind)
            .collect()
    };
    assert_eq!(kinds("random_groups.fits"), ["random-groups"]);
    assert_eq!(kinds("ascii_table.fits"), ["primary", "table"]);
    assert_eq!(
        kinds("bintable_vla.fits"),
        ["primary", "bintable", "bintable"]
    );
    assert_eq!(
        kinds("image_ext.fits"),
        ["primary", "image", "image", "image"]
    );

    let groups = &report_of(&dir.join("random_groups.fits")).hdus[0];
    // (PCOUNT + NAXIS2 * NAXIS3) * GCOUNT * 4 bytes = (2 + 12) * 10 * 4
    assert_eq!(
        (groups.pcount, groups.gcount, groups.data_len),
        (2, 10, 560)
    );

    let vla = &report_of(&dir.join("bintable_vla.fits")).hdus[1];
    assert!(vla.pcount > 0, "the VLA heap must give PCOUNT > 0");
    assert_eq!(vla.data_len, vla.naxis[0] * vla.naxis[1] + vla.pcount);
    assert_eq!(vla.extname.as_deref(), Some("EVENTS"));

    let keys = report_of(&dir.join("keywords.fits"));
    let card = |key: &str| {
        keys.hdus[0]
            .cards
            .iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("{key}"))
    };
    for (key, kind, value) in [
        ("LOGT", "logical", Some("T")),
        ("INTMIN", "integer", Some("-9223372036854775808")),
        ("DEXP", "real", Some("1.5D+03")),
        ("ICMPLX", "complex", Some("(3, -4)")),
        ("RCMPLX", "complex", Some("(1.0E2, -0.5D1)")),
        ("STRQ", "string", Some("'O''Hara''s ''quoted'' text'")),
        ("UNDEF", "undefined", None),
        (
            "NOVALUE",
            "commentary",
            Some(" no value indicator, so this is commentary"),
        ),
        ("HIERARCH ESO DET CHIP NAME", "string", Some("'CCD-42  '")),
    ] {
        let c = card(key);
        assert_eq!((c.kind, c.value.as_deref()), (kind, value), "{key}");
    }
    let continued = keys.hdus[0]
        .cards
        .iter()
        .filter(|c| c.kind == "continue")
        .count();
    assert_eq!(continued, 6, "LONGSTR continues over 6 CONTINUE cards");
}

/// NAXIS = 999 (the FITS maximum): our parser only, because CFITSIO 4.2.0 crashes (SIGSEGV)
/// opening a primary header with NAXIS >= 104.
#[test]
fn naxis_999_is_read() {
    let r = report_of(&data_dir().join("naxis_999.fits"));
    assert_eq!(r.error, None);
    assert_eq!(r.hdus.len(), 1);
    let h = &r.hdus[0];
    assert_eq!(h.naxis, vec![1; 999]);
    assert_eq!((h.data_start, h.data_len, h.data_end), (80_640, 1, 83_520));
    assert_eq!(h.cards.len(), 3 + 999);
}

/// What an invalid file must give: HDUs read before the error, and where the error is.
struct Bad {
    file: &'static str,
    hdus_before: usize,
    hdu: usize,
    card: Option<usize>,
    /// Exact byte offset of the error.
    offset: u64,
}

/// Each defect was put at a known place by tests/data/make_data.py.
const BAD: &[Bad] = &[
    // BITPIX = 12 on card 1
    Bad {
        file: "bad_bitpix.fits",
        hdus_before: 0,
        hdu: 0,
        card: Some(1),
        offset: 80,
    },
    // BEL byte at column 32 of card 3
    Bad {
        file: "bad_control_byte.fits",
        hdus_before: 0,
        hdu: 0,
        card: Some(3),
        offset: 271,
    },
    // no END: the input ends where the next header block would start
    Bad {
        file: "bad_missing_end.fits",
        hdus_before: 0,
        hdu: 0,
        card: None,
        offset: 2880,
    },
    // NAXIS before BITPIX: card 1 should be BITPIX
    Bad {
        file: "bad_order.fits",
        hdus_before: 0,
        hdu: 0,
        card: Some(1),
        offset: 80,
    },
    // the data (2000 bytes, 2880 padded) start at 2880 and the file ends at 3880
    Bad {
        file: "bad_truncated_data.fits",
        hdus_before: 0,
        hdu: 0,
        card: None,
        offset: 2880,
    },
    // the second header's block starts at 2880 and is cut at 3880
    Bad {
        file: "bad_truncated_header.fits",
        hdus_before: 1,
        hdu: 1,
        card: None,
        offset: 2880,
    },
];

#[test]
fn invalid_files_report_where() {
    for b in BAD {
        let r = report_of(&data_dir().join(b.file));
        let e = r
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no error", b.file));
        assert_eq!(
            r.hdus.len(),
            b.hdus_before,
            "{}: HDUs before the error",
            b.file
        );
        assert_eq!(
            (e.hdu, e.card, e.offset),
            (b.hdu, b.card, b.offset),
            "{}: {}",
            b.file,
            e.message
        );
        assert!(!e.message.is_empty());
    }
}

/// 3 axes of 2^32 64-bit pixels: the size overflows; an error at the card that made it
/// overflow (NAXIS2, card 4 at byte 320: 2^32 * 2^32), never a wrapped size (CFITSIO 4.2.0
/// accepts this file and reports data ending at 5760).
#[test]
fn naxis_overflow_is_an_error() {
    let r = report_of(&data_dir().join("bad_naxis_overflow.fits"));
    let e = r.error.expect("overflow must be an error");
    assert!(r.hdus.is_empty());
    assert_eq!(e.hdu, 0);
    assert_eq!((e.card, e.offset), (Some(4), 320), "{}", e.message);
    assert!(e.message.contains("overflow"), "{}", e.message);
}

/// Where CFITSIO refuses a file, so do we (we are stricter, never more lenient).
#[test]
fn invalid_files_cfitsio_rejects_we_reject() {
    let Some(c) = cfitsio::require("invalid_files_cfitsio_rejects_we_reject") else {
        return;
    };
    let mut rejected = 0;
    for b in BAD
        .iter()
        .map(|b| b.file)
        .chain(["bad_naxis_overflow.fits"])
    {
        let path = data_dir().join(b);
        let theirs = c.listhdus(&path).unwrap();
        if theirs.error.is_some() {
            rejected += 1;
            assert!(
                report_of(&path).error.is_some(),
                "{b}: CFITSIO rejects it, we do not"
            );
        }
    }
    // BITPIX 12, missing END, keyword order: CFITSIO refuses at least these three
    assert!(rejected >= 3, "CFITSIO rejected only {rejected} files");
}

/// The comparison itself can fail: every kind of difference is caught and named.
#[test]
fn comparison_detects_differences() {
    let Some(c) = cfitsio::require("comparison_detects_differences") else {
        return;
    };
    let path = c.corpus().join("keywords.fits");
    let ours = report_of(&path);
    let theirs = c.listhdus(&path).unwrap();
    compare::file(&ours, &theirs).unwrap();

    type Mutation = Box<dyn Fn(&mut cfitsio::Listing)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        ("data_end", Box::new(|l| l.hdus[1].dataend += 2880)),
        ("header_start", Box::new(|l| l.hdus[1].headstart = 0)),
        ("HDUs vs CFITSIO", Box::new(|l| drop(l.hdus.pop()))),
        ("cards", Box::new(|l| l.hdus[0].nkeys -= 1)),
        (
            "value",
            Box::new(|l| l.hdus[0].cards[8].value = "43".into()),
        ),
        (
            "keyword",
            Box::new(|l| l.hdus[0].cards[8].name = "INTPOSS".into()),
        ),
        (
            "comment",
            Box::new(|l| l.hdus[0].cards[8].comment = "another".into()),
        ),
        ("type", Box::new(|l| l.hdus[0].cards[8].dtype = 'F')),
        (
            "commentary",
            Box::new(|l| l.hdus[0].cards[4].comment = "changed".into()),
        ),
        (
            "CONTINUE",
            Box::new(|l| l.hdus[0].cards[30].comment = "'other&'".into()),
        ),
        (
            "image",
            Box::new(|l| l.hdus[1].image = Some((16, vec![11]))),
        ),
        ("kind", Box::new(|l| l.hdus[1].hdutype = 2)),
        (
            "CFITSIO failed",
            Box::new(|l| l.error = Some((107, "x".into()))),
        ),
    ];
    for (what, mutate) in mutations {
        let mut l = theirs.clone();
        mutate(&mut l);
        let e = compare::file(&ours, &l).expect_err(what);
        assert!(e.contains(what), "mutation {what}: {e}");
    }
}

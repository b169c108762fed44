//! Our FITS parser against CFITSIO, the ground truth: every file `tests/c/mkfits.c` makes and
//! every file under `tests/data/` is walked by both, and HDU count, offsets, card count and
//! every card's keyword and value must agree.

use shmfits_tests::cfitsio;

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

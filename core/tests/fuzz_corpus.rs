//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same checks
//! the fuzz targets run, so that the stable-toolchain test suite exercises them.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{target}: {} failed", path.display());
        // Every prefix of the first 3 blocks too: truncation must never panic.
        for cut in (0..data.len().min(3 * 2880)).step_by(79) {
            check(&data[..cut]);
        }
        n += 1;
    }
    assert!(n > 0, "no corpus files in {}", dir.display());
}

#[test]
fn card_corpus() {
    replay("card", checks::card);
}

#[test]
fn header_corpus() {
    replay("header", checks::header);
}

#[test]
fn hdu_walk_corpus() {
    replay("hdu_walk", checks::hdu_walk);
}

#[test]
fn stream_corpus() {
    replay("stream", checks::stream);
}

/// The CFITSIO-made seeds (see `fuzz/seeds/gen.c`) walk without error, with the layout
/// CFITSIO wrote: (kind, BITPIX, axes, PCOUNT, GCOUNT, header start, data length, EXTNAME).
#[test]
fn cfitsio_seeds_walk_cleanly() {
    use shmfits_core::fits::{HduKind::*, Hdus};
    type Row = (
        shmfits_core::fits::HduKind,
        i8,
        &'static [u64],
        u64,
        u64,
        usize,
        usize,
        Option<&'static str>,
    );
    let files: [(&str, &[Row]); 4] = [
        (
            "seed-img16",
            &[(Primary, 16, &[10, 10], 0, 1, 0, 200, None)],
        ),
        (
            "seed-mef",
            &[
                (Primary, 8, &[], 0, 1, 0, 0, None),
                (Image, -32, &[3, 4, 2], 0, 1, 2880, 96, Some("SCI")),
                (BinTable, 8, &[12, 3], 36, 1, 8640, 72, Some("EVENTS")),
                (Table, 8, &[17, 2], 0, 1, 14400, 34, Some("CAT")),
            ],
        ),
        (
            "seed-groups",
            &[(RandomGroups, -32, &[0, 2, 3], 2, 4, 0, 128, None)],
        ),
        (
            "seed-bitpix",
            &[
                (Primary, 8, &[], 0, 1, 0, 0, None),
                (Image, 8, &[5, 3], 0, 1, 2880, 15, None),
                (Image, 16, &[5, 3], 0, 1, 8640, 30, None),
                (Image, 32, &[5, 3], 0, 1, 14400, 60, None),
                (Image, 64, &[5, 3], 0, 1, 20160, 120, None),
                (Image, -32, &[5, 3], 0, 1, 25920, 60, None),
                (Image, -64, &[5, 3], 0, 1, 31680, 120, None),
            ],
        ),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/hdu_walk");
    for (name, rows) in files {
        let data = std::fs::read(dir.join(name)).unwrap();
        let hdus: Vec<_> = Hdus::new(&data)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hdus.len(), rows.len(), "{name}");
        for (h, &(kind, bitpix, axes, pcount, gcount, start, len, extname)) in hdus.iter().zip(rows)
        {
            let l = h.layout();
            let got = (
                l.kind(),
                l.bitpix(),
                h.axes().collect::<Vec<_>>(),
                l.pcount(),
                l.gcount(),
                h.header_start(),
                h.data_len(),
                h.extname(),
            );
            assert_eq!(
                got,
                (
                    kind,
                    bitpix,
                    axes.to_vec(),
                    pcount,
                    gcount,
                    start,
                    len,
                    extname
                ),
                "{name} HDU {}",
                h.index()
            );
            assert_eq!(h.data_start(), start + 2880, "{name}");
        }
        assert_eq!(hdus.last().unwrap().padded_end(), data.len(), "{name}");
    }
}

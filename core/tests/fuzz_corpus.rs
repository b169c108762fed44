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

/// The seeds are what they say: the CFITSIO-made files walk without error.
#[test]
fn cfitsio_seeds_walk_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/hdu_walk");
    for (name, hdus) in [("seed-img16", 1), ("seed-mef", 4), ("seed-groups", 1)] {
        let data = std::fs::read(dir.join(name)).unwrap();
        let all: Result<Vec<_>, _> = shmfits_core::fits::Hdus::new(&data).collect();
        assert_eq!(all.unwrap().len(), hdus, "{name}");
    }
}

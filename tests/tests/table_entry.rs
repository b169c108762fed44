//! Stable replay of the `table_entry` fuzz target (issue 5 items 4 and 7): every input of
//! the committed corpus `fuzz/corpus/table_entry/`, plus programs drawn from a fixed
//! xorshift seed, run through `shmfits_tests::table_entry::run` (the fuzz target's own
//! code) on the mock: the table, segment headers and counters overwritten between the
//! operations of two processes.
//!
//! `SHMFITS_TABLE_ENTRY_CASES` sets how many drawn programs run (default 300).

use std::path::Path;

use shmfits_tests::table_entry::run;

fn drawn(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn check(label: &str, bytes: &[u8]) {
    if let Err(e) = run(bytes) {
        panic!("{label}: {e}\nreplay bytes: {bytes:?}");
    }
}

#[test]
fn committed_corpus_replays_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/table_entry");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "seed corpus too small: {}", files.len());
    for f in &files {
        check(
            &f.display().to_string(),
            &std::fs::read(f).expect("corpus file"),
        );
    }
}

#[test]
fn drawn_programs_replay_clean() {
    let cases: u64 = std::env::var("SHMFITS_TABLE_ENTRY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for case in 0..cases {
        let bytes = drawn(
            0x7AB1_E000_0000_0001 ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            8 + (case % 300) as usize,
        );
        check(&format!("drawn case {case}"), &bytes);
    }
}

/// An empty program and one of only missing operands still run the final checks.
#[test]
fn short_programs_run() {
    for bytes in [&b""[..], b"\x00", b"\x05", b"\x0f", b"\xff"] {
        check(&format!("{bytes:?}"), bytes);
    }
}

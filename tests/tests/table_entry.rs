//! Stable replay of the `table_entry` fuzz target (issue 5 items 4 and 7): every input of
//! the committed corpus `fuzz/corpus/table_entry/`, plus programs drawn from a fixed
//! xorshift seed, run through `shmfits_tests::table_entry::run` (the fuzz target's own
//! code) on the mock: the table, segment headers and counters overwritten between the
//! operations of two processes.
//!
//! `SHMFITS_TABLE_ENTRY_CASES` sets how many drawn programs run (default 300).

use shmfits_tests::fault::Rng;
use shmfits_tests::fuzz_seeds;
use shmfits_tests::table_entry::run;

fn drawn(seed: u64, len: usize) -> Vec<u8> {
    Rng(seed).bytes(len)
}

fn check(label: &str, bytes: &[u8]) {
    if let Err(e) = run(bytes) {
        panic!("{label}: {e}\nreplay bytes: {bytes:?}");
    }
}

#[test]
fn committed_corpus_replays_clean() {
    let files = fuzz_seeds("table_entry");
    assert!(files.len() >= 5, "seed corpus too small: {}", files.len());
    for (f, bytes) in &files {
        check(&f.display().to_string(), bytes);
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

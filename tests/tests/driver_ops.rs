//! Stable replay of the `driver_ops` fuzz target (issue 3 item 7): every input of the
//! committed corpus `fuzz/corpus/driver_ops/`, plus inputs drawn from a fixed xorshift seed,
//! run through `shmfits_tests::driver_ops::run` (the fuzz target's own code) on the mock.
//!
//! `SHMFITS_DRIVER_OPS_CASES` sets how many drawn inputs run (default 300).

use std::path::Path;

use shmfits_tests::driver_ops::{run, Input};

fn check(label: &str, bytes: &[u8]) {
    let input = Input::from_bytes(bytes);
    if let Err(e) = run(&input) {
        panic!("{label}: {e}\nreplay: {input:#?}");
    }
}

#[test]
fn committed_corpus_replays_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/driver_ops");
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
fn drawn_inputs_replay_clean() {
    let cases: usize = std::env::var("SHMFITS_DRIVER_OPS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut x: u64 = 0x5EED_D21F_0A5E_0001;
    for case in 0..cases {
        let len = 16 + case % 400;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        check(&format!("drawn case {case}"), &bytes);
    }
}

#[test]
fn decoding_is_total_and_deterministic() {
    for bytes in [&b""[..], b"\x00", b"\xff\xff\xff\xff", &[7u8; 5000]] {
        assert_eq!(Input::from_bytes(bytes), Input::from_bytes(bytes));
    }
    let long = Input::from_bytes(&[0x5a; 100_000]);
    assert!(long.steps.len() <= shmfits_tests::driver_ops::MAX_STEPS);
}

/// A file whose table entry's `sem` field was overwritten (the counter still exists under
/// `semkey`): recovery finds the counter by its key and repairs the field, and the last
/// process's recover and delete leave nothing behind.
#[test]
fn recover_repairs_a_wrong_sem_field() {
    use shmfits_core::shm::WriteMode;
    use shmfits_tests::driver_ops::{Corruption, Op, Step};
    let step = |op| Step {
        proc: 0,
        op,
        fault: None,
    };
    let input = Input {
        mode: WriteMode::Shadow,
        steps: vec![step(Op::Create { slot: 1 }), step(Op::Close { handle: 0 })],
        corruptions: vec![Corruption::Table {
            slot: 1,
            field: 0,
            value: 7000,
        }],
    };
    run(&input).unwrap();
}

/// The decoder aims faults at every call the model test does, in both write modes: no
/// call is left out (`segment_remove`, and `segment_detach` with shadow writes, once were).
#[test]
fn faults_are_aimed_at_every_call_in_both_modes() {
    use shmfits_core::shm::WriteMode;
    use shmfits_mock::model::FAULT_CALLS;
    let mut seen = std::collections::HashSet::new();
    let mut x: u64 = 0x0FA0_17ED_CA11_0002;
    for case in 0..2000 {
        let bytes: Vec<u8> = (0..64 + case % 200)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        let input = Input::from_bytes(&bytes);
        let shadow = input.mode == WriteMode::Shadow;
        seen.extend(
            input
                .steps
                .iter()
                .filter_map(|s| s.fault)
                .map(|f| (shadow, f.call)),
        );
    }
    for shadow in [false, true] {
        for call in FAULT_CALLS {
            assert!(seen.contains(&(shadow, call)), "{call:?}, shadow {shadow}");
        }
    }
}

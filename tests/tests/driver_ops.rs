//! Stable replay of the `driver_ops` fuzz target (issue 3 item 7, issue 5 item 4): every
//! input of the committed corpus `fuzz/corpus/driver_ops/`, plus inputs drawn from a fixed
//! xorshift seed, run through `shmfits_tests::driver_ops::run` (the fuzz target's own code)
//! on the mock. Corruptions fall between steps (before the first, between any two, after
//! the last, several at one place): the tests below check that the decoder and the seeds
//! produce each of these, and replay hand-written cases of a file corrupted while another
//! process holds it open.
//!
//! `SHMFITS_DRIVER_OPS_CASES` sets how many drawn inputs run (default 300).

use shmfits_tests::driver_ops::{run, Input};
use shmfits_tests::fault::Rng;
use shmfits_tests::fuzz_seeds;

fn drawn(seed: u64, len: usize) -> Vec<u8> {
    Rng(seed).bytes(len)
}

/// Where an input's corruptions fall: (before the first step, strictly between two steps,
/// after the last step, two or more at one place between two steps).
fn places(input: &Input) -> [bool; 4] {
    let n = input.steps.len();
    let between: Vec<usize> = input
        .corruptions
        .iter()
        .map(|c| c.after.min(n))
        .filter(|a| *a > 0 && *a < n)
        .collect();
    let shared = between
        .iter()
        .enumerate()
        .any(|(i, a)| between[i + 1..].contains(a));
    let c = &input.corruptions;
    [
        n > 0 && c.iter().any(|c| c.after == 0),
        !between.is_empty(),
        c.iter().any(|c| c.after >= n),
        shared,
    ]
}

fn check(label: &str, bytes: &[u8]) {
    let input = Input::from_bytes(bytes);
    if let Err(e) = run(&input) {
        panic!("{label}: {e}\nreplay: {input:#?}");
    }
}

#[test]
fn committed_corpus_replays_clean() {
    let files = fuzz_seeds("driver_ops");
    assert!(files.len() >= 5, "seed corpus too small: {}", files.len());
    let mut seen = [false; 4];
    for (f, bytes) in &files {
        check(&f.display().to_string(), bytes);
        for (s, p) in seen.iter_mut().zip(places(&Input::from_bytes(bytes))) {
            *s |= p;
        }
    }
    assert_eq!(
        seen, [true; 4],
        "the seeds must place corruptions before the first step, between steps, after the \
         last, and several between the same two steps"
    );
}

/// The decoder places corruptions everywhere, often enough that the drawn cases below
/// (300 in CI) exercise every kind of place many times.
#[test]
fn corruptions_fall_between_steps() {
    let mut counts = [0usize; 4];
    let mut kinds = std::collections::HashSet::new();
    for case in 0..300u64 {
        let input = Input::from_bytes(&drawn(0x5EED_D21F_0A5E_0001 + case, 16 + case as usize));
        for (c, p) in counts.iter_mut().zip(places(&input)) {
            *c += usize::from(p);
        }
        kinds.extend(
            input
                .corruptions
                .iter()
                .map(|c| std::mem::discriminant(&c.what)),
        );
    }
    assert!(counts.iter().all(|c| *c >= 5), "places {counts:?}");
    assert_eq!(kinds.len(), 4, "every kind of corruption is drawn");
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
    use shmfits_tests::driver_ops::{Corruption, Op, Placed, Step};
    let step = |op| Step {
        proc: 0,
        op,
        fault: None,
    };
    let input = Input {
        mode: WriteMode::Shadow,
        steps: vec![step(Op::Create { slot: 1 }), step(Op::Close { handle: 0 })],
        corruptions: vec![Placed {
            after: 2,
            what: Corruption::Table {
                slot: 1,
                field: 0,
                value: 7000,
            },
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

fn step(proc: usize, op: shmfits_tests::driver_ops::Op) -> shmfits_tests::driver_ops::Step {
    shmfits_tests::driver_ops::Step {
        proc,
        op,
        fault: None,
    }
}

/// A reader holds a file open while a neighbour overwrites its file header, its block
/// header and the size in its table entry, one step at a time; the reader keeps reading,
/// a writer tries to open it, the reader closes, others delete and recover: every result is
/// clean and nothing is left but the segment whose block header is no longer ours.
#[test]
fn file_corrupted_between_the_steps_of_a_reader() {
    use shmfits_core::shm::WriteMode;
    use shmfits_tests::driver_ops::{Corruption, Op, Placed};
    for mode in [WriteMode::Shadow, WriteMode::InPlace] {
        let read = |proc| {
            step(
                proc,
                Op::Read {
                    handle: 0,
                    at: 0,
                    len: 3000,
                },
            )
        };
        let input = Input {
            mode,
            steps: vec![
                step(0, Op::Create { slot: 1 }),
                step(
                    0,
                    Op::Write {
                        handle: 0,
                        at: 0,
                        len: 5000,
                        byte: 7,
                    },
                ),
                step(0, Op::Close { handle: 0 }),
                step(
                    1,
                    Op::Open {
                        slot: 1,
                        write: false,
                        wait: 0,
                    },
                ),
                read(1),
                read(1),
                step(
                    2,
                    Op::Open {
                        slot: 1,
                        write: true,
                        wait: 1,
                    },
                ),
                read(1),
                step(1, Op::Close { handle: 0 }),
                step(2, Op::Delete { slot: 1 }),
                step(0, Op::Recover),
            ],
            corruptions: vec![
                Placed {
                    after: 4,
                    what: Corruption::Header {
                        slot: 1,
                        offset: 12,
                        value: i32::MAX,
                    },
                },
                Placed {
                    after: 5,
                    what: Corruption::Table {
                        slot: 1,
                        field: 4,
                        value: 1 << 30,
                    },
                },
                Placed {
                    after: 5,
                    what: Corruption::Counter { slot: 1, value: 0 },
                },
                Placed {
                    after: 7,
                    what: Corruption::Header {
                        slot: 1,
                        offset: 0,
                        value: -1,
                    },
                },
            ],
        };
        if let Err(e) = run(&input) {
            panic!("{mode:?}: {e}");
        }
    }
}

/// A writer's unpublished shadow (the second live segment besides the table) is
/// overwritten between its writes, and its published file's header too: flush, close and
/// a reader afterwards return clean results.
#[test]
fn shadow_corrupted_between_the_steps_of_a_writer() {
    use shmfits_core::shm::WriteMode;
    use shmfits_tests::driver_ops::{Corruption, Op, Placed};
    let write = |at| {
        step(
            0,
            Op::Write {
                handle: 0,
                at,
                len: 300,
                byte: 9,
            },
        )
    };
    for offset in [0, 8, 20, 1000] {
        let input = Input {
            mode: WriteMode::Shadow,
            steps: vec![
                step(0, Op::Create { slot: 2 }),
                step(0, Op::Flush { handle: 0 }),
                write(0),
                write(9000),
                step(0, Op::Flush { handle: 0 }),
                write(100),
                step(0, Op::Close { handle: 0 }),
                step(
                    1,
                    Op::Open {
                        slot: 2,
                        write: false,
                        wait: 0,
                    },
                ),
                step(
                    1,
                    Op::Read {
                        handle: 0,
                        at: 0,
                        len: 3999,
                    },
                ),
            ],
            corruptions: vec![
                Placed {
                    after: 3,
                    what: Corruption::Segment {
                        nth: 1,
                        offset,
                        value: -1,
                    },
                },
                Placed {
                    after: 6,
                    what: Corruption::Segment {
                        nth: 0,
                        offset: offset + 4,
                        value: i32::MIN,
                    },
                },
            ],
        };
        if let Err(e) = run(&input) {
            panic!("offset {offset}: {e}");
        }
    }
}

/// Found by fuzzing (2026-11-30): a neighbour sets a file's counter to 0 while two readers
/// hold it. Setting a counter clears every undo adjustment, so when the first reader's close
/// succeeds and the second's fails ("would go below zero"), the kernel's undo at exit leaves
/// the counter at 1 with nobody attached. Every result is clean; the final check sets the
/// counter back to 0 (the driver takes a counter above 0 for an attached CFITSIO process and
/// would keep the file), and then nothing is left.
#[test]
fn counter_set_under_two_readers() {
    use shmfits_core::shm::WriteMode;
    use shmfits_tests::driver_ops::{Corruption, Op, Placed};
    let open = |proc| {
        step(
            proc,
            Op::Open {
                slot: 0,
                write: false,
                wait: 2,
            },
        )
    };
    let input = Input {
        mode: WriteMode::Shadow,
        steps: vec![
            step(0, Op::Create { slot: 0 }),
            step(0, Op::Exit),
            open(1),
            open(0),
            step(1, Op::Close { handle: 2 }),
        ],
        corruptions: vec![Placed {
            after: 3,
            what: Corruption::Counter { slot: 0, value: 0 },
        }],
    };
    run(&input).unwrap();
}

/// The product fix for the finding above: a neighbour sets a file's counter to 0 under a
/// reader, a second reader opens, and the counter drifts to 1 once both are gone (the first
/// close counts down, the second cannot, the first reader's undo at exit adds 1 back). A delete then cannot free the file (the
/// counter says a process is attached); `recover`, holding the slot's exclusive lock and
/// seeing no attachment of the segment, frees it instead of keeping it forever.
#[test]
fn recover_frees_a_deleted_file_whose_counter_drifted() {
    use shmfits_core::shm::{Mode, Wait, WriteMode};
    use shmfits_mock::model::world::{config, Drv};
    use shmfits_mock::MockKernel;
    let k = MockKernel::new();
    let driver = |k: &MockKernel| {
        let p = k.spawn();
        let d = Drv::new(p.clone(), config(WriteMode::Shadow)).expect("driver");
        (p, d)
    };
    let (p0, mut d0) = driver(&k);
    let h = d0.create("shmem://h0").expect("create");
    d0.close(h).expect("close");
    let (p1, mut d1) = driver(&k);
    let h1 = d1
        .open("shmem://h0", Mode::ReadOnly, Wait::No)
        .expect("open");
    let counter = k.objects().counters[0].id;
    k.set_counter_value(counter, 0).expect("set counter");
    let h0 = d0
        .open("shmem://h0", Mode::ReadOnly, Wait::No)
        .expect("open");
    d1.close(h1).expect("first close counts down");
    assert!(d0.close(h0).is_err(), "second close cannot count below 0");
    for (p, d) in [(p0, d0), (p1, d1)] {
        d.shutdown().expect("shutdown");
        p.exit();
    }
    assert_eq!(k.objects().counters[0].value, 1, "the counter drifted");
    let (last, mut d) = driver(&k);
    d.delete("shmem://h0").expect("delete");
    assert_eq!(k.objects().segments.len(), 2, "delete keeps it: counter 1");
    let report = d.recover(None).expect("recover");
    assert_eq!(report.removed, 1, "{report:?}");
    d.shutdown().expect("shutdown");
    last.exit();
    let o = k.objects();
    assert!(o.segments.is_empty() && o.counters.is_empty(), "{o:?}");
}

//! Model-based test of the driver on the mock kernel (issue 3, item 7); the model and the
//! simulated world are `shmfits_mock::model`.
//!
//! Random sequences of (process, operation, injected fault or crash) run against
//! `Driver<MockProcess>` — three simulated processes, each with its own driver, on one
//! simulated kernel — and against the plain reference model. After every step the driver's
//! slot list, lock states, counters and `nprocdebug`, the bytes that reads return and the
//! kernel's objects are compared with the model; at the end every process exits, a last one
//! recovers and deletes everything, and the kernel must be empty.
//!
//! A failing case shrinks to a short list of steps whose `Debug` form is a readable replay,
//! e.g. `[p0 Create { slot: 1 }, p1 Open { slot: 1, write: false, wait: 0 } [EIO at read#1]]`.
//! Set `PROPTEST_CASES` to run more or fewer sequences (default 5 000 per write mode,
//! about half a minute in all in a debug build) and `PROPTEST_SEED` to draw other ones.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use shmfits_core::shm::WriteMode;
use shmfits_mock::model::world::{Fault, Op, Step, PROCS, SLOTS};
use shmfits_mock::model::{run, steps_from_bytes, FAULT_CALLS, FAULT_ERRNOS};

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        4 => slot.clone().prop_map(|slot| Op::Create { slot }),
        5 => (slot.clone(), any::<bool>(), prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)])
            .prop_map(|(slot, write, wait)| Op::Open { slot, write, wait }),
        4 => (0..4usize).prop_map(|handle| Op::Close { handle }),
        5 => (0..4usize, any::<u16>(), prop_oneof![1..200u16, 1..9000u16], any::<u8>())
            .prop_map(|(handle, at, len, byte)| Op::Write { handle, at, len, byte }),
        3 => (0..4usize, any::<u16>(), 1..4000u16)
            .prop_map(|(handle, at, len)| Op::Read { handle, at, len }),
        2 => slot.prop_map(|slot| Op::Delete { slot }),
        2 => (0..4usize).prop_map(|handle| Op::Flush { handle }),
        1 => Just(Op::Recover),
        1 => Just(Op::Crash),
        1 => Just(Op::Exit),
    ]
}

fn fault() -> impl Strategy<Value = Option<Fault>> {
    let f = (
        proptest::sample::select(&FAULT_CALLS[..]),
        1..4u8,
        proptest::option::weighted(0.75, proptest::sample::select(&FAULT_ERRNOS[..])),
    )
        .prop_map(|(call, nth, errno)| Fault { call, nth, errno });
    proptest::option::weighted(0.25, f)
}

fn step() -> impl Strategy<Value = Step> {
    (0..PROCS, op(), fault()).prop_map(|(proc, op, fault)| Step { proc, op, fault })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// The sequences are drawn from a fixed seed (`PROPTEST_SEED` overrides it), so a run is
/// reproducible.
fn seed() -> u64 {
    std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_F175)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 20_000,
        rng_seed: RngSeed::Fixed(seed()),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Shadow writes (the driver's default): readers see the last published version; a
    /// writer that dies loses only what it had not flushed.
    #[test]
    fn driver_on_mock_matches_the_model_with_shadow_writes(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        run(&steps, WriteMode::Shadow).map_err(TestCaseError::fail)?;
    }

    /// In-place writes: every byte written is in the file at once and survives its writer.
    #[test]
    fn driver_on_mock_matches_the_model_with_in_place_writes(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        run(&steps, WriteMode::InPlace).map_err(TestCaseError::fail)?;
    }
}

/// A hand-written replay: growth, readers, delete with a reader, crashes, recover.
#[test]
fn a_fixed_replay_runs_clean() {
    let step = |proc, op| Step {
        proc,
        op,
        fault: None,
    };
    let steps = [
        step(0, Op::Create { slot: 1 }),
        step(
            0,
            Op::Write {
                handle: 0,
                at: 0,
                len: 20000,
                byte: 7,
            },
        ),
        step(
            1,
            Op::Open {
                slot: 1,
                write: false,
                wait: 0,
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
        step(
            2,
            Op::Open {
                slot: 1,
                write: false,
                wait: 1,
            },
        ),
        step(
            1,
            Op::Read {
                handle: 1,
                at: 100,
                len: 3000,
            },
        ),
        step(2, Op::Delete { slot: 1 }),
        step(1, Op::Crash),
        step(2, Op::Close { handle: 0 }),
        step(0, Op::Create { slot: 1 }),
        step(0, Op::Crash),
        step(2, Op::Recover),
    ];
    run(&steps, WriteMode::Shadow).unwrap();
    run(&steps, WriteMode::InPlace).unwrap();
}

/// The fuzzer's decoder gives valid replays for any input.
#[test]
fn fuzz_input_decodes_to_replays() {
    let data: Vec<u8> = (0..=255u8)
        .cycle()
        .take(8 * 40)
        .map(|b| b.wrapping_mul(37))
        .collect();
    let steps = steps_from_bytes(&data);
    assert_eq!(steps.len(), 40);
    for mode in [WriteMode::Shadow, WriteMode::InPlace] {
        run(&steps, mode).unwrap();
    }
}

/// Creates killed after their segment was made leave orphans that take every data key: the
/// next create fails with `NoKey` and the model expects it; a recover with every slot free
/// sweeps the orphans and creates succeed again.
#[test]
fn exhausted_keys_give_no_key_until_recover() {
    use shmfits_mock::CallKind;
    let step = |op, fault| Step { proc: 0, op, fault };
    let write = |proc| Step {
        proc,
        op: Op::Write {
            handle: 0,
            at: 0,
            len: 30000,
            byte: 7,
        },
        fault: None,
    };
    let crash = Some(Fault {
        call: CallKind::CounterCreate,
        nth: 1,
        errno: None,
    });
    for mode in [WriteMode::Shadow, WriteMode::InPlace] {
        // 3·SLOTS − 1 data keys, one orphan segment per killed create.
        let mut steps: Vec<Step> = (0..3 * SLOTS - 1)
            .map(|_| step(Op::Create { slot: 0 }, crash))
            .collect();
        steps.extend([
            step(Op::Create { slot: 1 }, None),
            step(Op::Recover, None),
            step(Op::Create { slot: 1 }, None),
            write(0),
        ]);
        run(&steps, mode).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        // A file open in p1 while the killed creates take the other keys: its growing (or,
        // with shadow writes, first) write finds no key and changes nothing; after close and
        // recover it succeeds.
        let mut steps = vec![Step {
            proc: 1,
            op: Op::Create { slot: 1 },
            fault: None,
        }];
        steps.extend((0..3 * SLOTS - 2).map(|_| step(Op::Create { slot: 0 }, crash)));
        steps.extend([
            write(1),
            Step {
                proc: 1,
                op: Op::Close { handle: 0 },
                fault: None,
            },
            step(Op::Recover, None),
            Step {
                proc: 1,
                op: Op::Open {
                    slot: 1,
                    write: true,
                    wait: 0,
                },
                fault: None,
            },
            write(1),
        ]);
        run(&steps, mode).unwrap_or_else(|e| panic!("{mode:?}, open file: {e}"));
    }
}

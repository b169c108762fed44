//! Sequences of driver operations from arbitrary bytes, run on the mock kernel: the library
//! behind the `driver_ops` fuzz target (`fuzz/fuzz_targets/driver_ops.rs`) and its stable
//! replay test (`tests/tests/driver_ops.rs`).
//!
//! The operations, the reference model and the step-by-step comparison are the mock's
//! model-based test harness itself ([`shmfits_mock::model`]): an [`Input`] is a write mode,
//! a list of [`Step`]s (process, operation, injected fault or crash) and corruptions of
//! shared memory ([`Corruption`]: table entries, block and file headers, any live segment
//! — a file another process holds open, a writer's shadow —, counters), each [`Placed`]
//! between two steps, before the first or after the last. Unlike
//! [`shmfits_mock::model::steps_from_bytes`], the decoder weights operations like the
//! model's proptest, aims faults at every call of [`shmfits_mock::model::FAULT_CALLS`], and
//! adds corruption.
//!
//! [`run`] plays every step (the model expects `NoKey` once orphans of crashed operations
//! have taken every data key), and checks:
//! * until the first corruption, everything the model test checks — after every step the
//!   driver agrees with the model and the kernel's objects are accounted for; without any
//!   corruption, at the end every file holds what the model says and, once all processes
//!   have exited and a last one has recovered and deleted everything, no kernel object is
//!   left;
//! * from the first corruption on (the model cannot predict what a hostile neighbour's
//!   bytes do), that every later operation still returns a clean result — success or an
//!   error that is neither [`Error::LogicBug`] nor [`Error::IllegalTransition`] — and that
//!   after every process has exited, `recover` and `delete` in a last process leave no
//!   kernel object behind (but segments whose block header was overwritten: the driver
//!   does not recognise them as its own, and must not remove them).
//!
//! Panics are failures too: the fuzz target lets them abort; [`run`] does not catch them.
//!
//! ```
//! use shmfits_tests::driver_ops::{run, Input};
//! let input = Input::from_bytes(b"some fuzzer bytes, any length");
//! run(&input).unwrap();
//! ```

mod chaos;
mod corrupt;
mod decode;

pub use corrupt::{Corruption, Placed};
pub use decode::{MAX_CORRUPTIONS, MAX_STEPS};
pub use shmfits_mock::model::world::{Fault, Op, Step};

use shmfits_core::shm::{Error, WriteMode};
use shmfits_mock::MockError;

use shmfits_mock::model::world::World;

/// One fuzz case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// How the drivers write.
    pub mode: WriteMode,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Corruptions of shared memory, each made at its place (in this order when several
    /// share one).
    pub corruptions: Vec<Placed>,
}

/// Run `input`; `Err` names the first step (or the phase) where an invariant failed.
///
/// # Errors
/// A description of the violated invariant.
pub fn run(input: &Input) -> Result<(), String> {
    let mut world = World::new(input.mode)?;
    let n = input.steps.len();
    let mut chaos: Option<chaos::Chaos> = None;
    for i in 0..=n {
        for c in input.corruptions.iter().filter(|c| c.after.min(n) == i) {
            let ch = chaos.get_or_insert_with(chaos::Chaos::default);
            ch.corrupt(&world, c.what)
                .map_err(|e| format!("corruption {c:?}: {e}"))?;
        }
        let Some(s) = input.steps.get(i) else {
            break;
        };
        match &chaos {
            None => world.step(s),
            Some(_) => chaos::step(&mut world, s),
        }
        .map_err(|e| match &chaos {
            None => format!("step {i} {s:?}: {e}"),
            Some(ch) => format!("step {i} {s:?}, after corruptions {:?}: {e}", ch.made),
        })?;
    }
    match chaos {
        None => world
            .teardown()
            .map_err(|e| format!("after all steps: {e}")),
        Some(ch) => chaos::finish(&mut world, &ch)
            .map_err(|e| format!("after all steps and corruptions {:?}: {e}", ch.made)),
    }
}

/// After a last process has recovered and deleted everything: `Err` naming what is left in
/// `kernel`, except segments whose first 8 bytes (block header) are one of
/// `unrecognisable` (a corruption made them not ours, so they are never removed).
pub fn objects_left(
    kernel: &shmfits_mock::MockKernel,
    unrecognisable: &[[u8; 8]],
) -> Result<(), String> {
    let o = kernel.objects();
    let leaked = o.segments.iter().any(|s| {
        let bytes = kernel.segment_bytes(s.id).unwrap_or_default();
        !bytes
            .get(..8)
            .is_some_and(|h| unrecognisable.iter().any(|u| u == h))
    });
    if leaked || !o.counters.is_empty() || !o.locks.is_empty() {
        return Err(format!("kernel objects left: {o:?}"));
    }
    Ok(())
}

/// Whether a driver error is a clean one (not an internal invariant failure).
pub fn clean<T>(r: &Result<T, Error<MockError>>) -> Result<(), String> {
    match r {
        Err(e @ (Error::LogicBug { .. } | Error::IllegalTransition { .. })) => {
            Err(format!("internal error surfaced: {e}"))
        }
        _ => Ok(()),
    }
}

//! [`Input`] from arbitrary bytes: the fuzz target's decoder, also used by the replay test.

use arbitrary::{Arbitrary, Unstructured};
use shmfits_core::shm::WriteMode;
use shmfits_mock::model::{FAULT_CALLS, FAULT_ERRNOS};

use super::{Corruption, Input, Placed};
use shmfits_mock::model::world::{Fault, Op, Step, PROCS, SLOTS};

/// Longest sequence decoded (as the model test's proptest).
pub const MAX_STEPS: usize = 60;
/// Most corruptions in one input.
pub const MAX_CORRUPTIONS: usize = 4;

fn op(u: &mut Unstructured<'_>) -> arbitrary::Result<Op> {
    let slot = |u: &mut Unstructured<'_>| u.int_in_range(0..=SLOTS - 1);
    let handle = |u: &mut Unstructured<'_>| u.int_in_range(0..=3usize);
    // Weights as in the model test: create 4, open 5, close 4, write 5, read 3, delete 2,
    // flush 2, recover 1, crash 1, exit 1.
    Ok(match u.int_in_range(0..=27u8)? {
        0..=3 => Op::Create { slot: slot(u)? },
        4..=8 => Op::Open {
            slot: slot(u)?,
            write: u.arbitrary()?,
            wait: *u.choose(&[0u8, 0, 0, 1, 2])?,
        },
        9..=12 => Op::Close { handle: handle(u)? },
        13..=17 => Op::Write {
            handle: handle(u)?,
            at: u.arbitrary()?,
            len: if u.arbitrary()? {
                u.int_in_range(1..=199)?
            } else {
                u.int_in_range(1..=8999)?
            },
            byte: u.arbitrary()?,
        },
        18..=20 => Op::Read {
            handle: handle(u)?,
            at: u.arbitrary()?,
            len: u.int_in_range(1..=3999)?,
        },
        21..=22 => Op::Delete { slot: slot(u)? },
        23..=24 => Op::Flush { handle: handle(u)? },
        25 => Op::Recover,
        26 => Op::Crash,
        _ => Op::Exit,
    })
}

fn fault(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<Fault>> {
    if u.int_in_range(0..=3u8)? != 0 {
        return Ok(None);
    }
    let call = *u.choose(&FAULT_CALLS)?;
    let nth = u.int_in_range(1..=3u8)?;
    let errno = if u.int_in_range(0..=3u8)? == 0 {
        None
    } else {
        Some(*u.choose(&FAULT_ERRNOS)?)
    };
    Ok(Some(Fault { call, nth, errno }))
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mode = if u.arbitrary()? {
            WriteMode::Shadow
        } else {
            WriteMode::InPlace
        };
        // No corruption in 2 inputs of 3: the model compares every step of those.
        let corruptions = u.int_in_range(0..=MAX_CORRUPTIONS as u8 * 3)?;
        let corruptions = usize::from(corruptions.saturating_sub(2 * MAX_CORRUPTIONS as u8));
        // Corruptions first: the steps take whatever bytes are left. A place is a raw byte,
        // reduced modulo the number of steps + 1 once the steps are known; half the
        // corruptions after the first share the previous one's place.
        let mut placed: Vec<(u8, Corruption)> = Vec::with_capacity(corruptions);
        for _ in 0..corruptions {
            let at = match placed.last() {
                Some(&(prev, _)) if u.arbitrary()? => prev,
                _ => u.arbitrary()?,
            };
            placed.push((at, Corruption::arbitrary(u)?));
        }
        let mut steps = Vec::new();
        while steps.len() < MAX_STEPS && !u.is_empty() {
            let proc = u.int_in_range(0..=PROCS - 1)?;
            let op = op(u)?;
            let fault = fault(u)?;
            steps.push(Step { proc, op, fault });
        }
        let places = steps.len() + 1;
        let corruptions = placed
            .into_iter()
            .map(|(at, what)| Placed {
                after: usize::from(at) % places,
                what,
            })
            .collect();
        Ok(Input {
            mode,
            steps,
            corruptions,
        })
    }
}

impl Input {
    /// Decode `bytes` (any bytes decode; short input gives short sequences).
    pub fn from_bytes(bytes: &[u8]) -> Input {
        let mut u = Unstructured::new(bytes);
        Input::arbitrary(&mut u).unwrap_or(Input {
            mode: WriteMode::Shadow,
            steps: Vec::new(),
            corruptions: Vec::new(),
        })
    }
}

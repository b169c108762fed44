//! Model-based testing of the `shmem://` driver on the mock kernel (issue 3, item 7).
//!
//! * [`reference`](mod@reference): a plain reference model of the *file-level* semantics — slots with
//!   bytes, a persist flag, open handles and their modes; one writer xor many readers; data
//!   written is what later readers read (with shadow writes: once published by flush or
//!   close); persistent files survive their writer's death; deleted ones vanish with their
//!   last close; nothing leaks once every process has exited and every file is removed.
//! * [`world`]: the system under test — [`world::PROCS`] simulated processes, each with its
//!   own `Driver<MockProcess>` on one [`crate::MockKernel`] — driven by [`world::Step`]s
//!   (process, operation, injected fault or crash) and compared with the model after every
//!   step: results, bytes read, the slot list (sizes, flags, lock states, counters,
//!   `nprocdebug`) and the kernel's objects.
//!
//! After an injected fault the outcome of an operation is not unique; the world then learns
//! from the kernel what happened and checks that it is one of the allowed outcomes (the
//! state before, the state after, for an in-place write each byte old or new, for a shadow
//! publish one version or the other, never half).
//!
//! [`run`] plays a sequence; [`steps_from_bytes`] turns fuzzer input into one, so a
//! cargo-fuzz target is three lines:
//!
//! ```
//! use shmfits_core::shm::WriteMode;
//! use shmfits_mock::model::{run, steps_from_bytes};
//!
//! let data = [0u8, 1, 0, 0, 0, 0, 0, 0, 1, 1, 3, 0, 0, 0, 0, 0];
//! if let Err(e) = run(&steps_from_bytes(&data), WriteMode::Shadow) {
//!     panic!("{e}");
//! }
//! ```

mod check;
pub mod reference;
mod resync;
pub mod world;

use shmfits_core::shm::WriteMode;

use crate::{CallKind, MockErrno};
use world::{Fault, Op, Step, World, PROCS, SLOTS};

/// Play `steps` on a fresh world, then tear everything down and check that nothing leaked.
///
/// # Errors
/// The first disagreement between the driver, the kernel and the model, naming the step.
pub fn run(steps: &[Step], mode: WriteMode) -> Result<(), String> {
    let mut world = World::new(mode)?;
    for (i, s) in steps.iter().enumerate() {
        world.step(s).map_err(|e| format!("step {i} {s:?}: {e}"))?;
    }
    world
        .teardown()
        .map_err(|e| format!("after all steps: {e}"))
}

/// Platform calls a fault can be aimed at: every fallible one ([`CallKind::is_fallible`]),
/// in the order of [`CallKind::ALL`].
pub const FAULT_CALLS: [CallKind; 17] = fallible_calls();

const fn fallible_calls() -> [CallKind; 17] {
    let mut out = [CallKind::SegmentCreate; 17];
    let (mut i, mut n) = (0, 0);
    while i < CallKind::ALL.len() {
        if CallKind::ALL[i].is_fallible() {
            out[n] = CallKind::ALL[i]; // a new fallible kind fails the build here
            n += 1;
        }
        i += 1;
    }
    assert!(n == 17, "FAULT_CALLS must list every fallible call kind");
    out
}

/// Injected errnos: failures a healthy kernel can produce at any call. Errnos that state a
/// fact about an object (`ENOENT`/`EIDRM` "it is gone", `EEXIST`, `EAGAIN` "someone holds
/// it") are left out: a kernel that lies about its objects would make the driver rightly
/// remove or skip things, and the model could not tell a bug from the lie.
pub const FAULT_ERRNOS: [MockErrno; 5] = [
    MockErrno::Io,
    MockErrno::NoSpace,
    MockErrno::NoMem,
    MockErrno::Intr,
    MockErrno::Access,
];

/// Decode fuzzer input: 8 bytes per step (process, operation, three argument bytes, fault
/// call, fault position and errno); a short tail is ignored. Every input decodes to valid
/// steps.
pub fn steps_from_bytes(data: &[u8]) -> Vec<Step> {
    data.chunks_exact(8)
        .map(|c| {
            let arg = u16::from_le_bytes([c[2], c[3]]);
            let slot = u32::from(c[2]) % SLOTS;
            let handle = usize::from(c[2] % 4);
            let op = match c[1] % 12 {
                0 | 1 => Op::Create { slot },
                2 | 3 => Op::Open {
                    slot,
                    write: c[3] & 1 == 1,
                    wait: c[3] >> 1 & 3,
                },
                4 => Op::Close { handle },
                5 | 6 => Op::Write {
                    handle,
                    at: arg,
                    len: u16::from(c[4]) * 40 + 1,
                    byte: c[3],
                },
                7 => Op::Read {
                    handle,
                    at: arg,
                    len: u16::from(c[4]) * 16 + 1,
                },
                8 => Op::Delete { slot },
                9 => Op::Flush { handle },
                10 => match c[3] % 3 {
                    0 => Op::Recover,
                    1 => Op::Crash,
                    _ => Op::Exit,
                },
                _ => Op::Close { handle },
            };
            let fault = (c[5] & 3 == 0).then(|| Fault {
                call: FAULT_CALLS[usize::from(c[5] >> 2) % FAULT_CALLS.len()],
                nth: c[6] % 3 + 1,
                errno: (c[7] % 4 != 0)
                    .then(|| FAULT_ERRNOS[usize::from(c[7]) % FAULT_ERRNOS.len()]),
            });
            Step {
                proc: usize::from(c[0]) % PROCS,
                op,
                fault,
            }
        })
        .collect()
}

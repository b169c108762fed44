//! CFITSIO's `shmem://` shared-memory files: slot names, the on-memory layout, the
//! [`SharedMem`] platform trait and the driver state machine generic over it.
//!
//! * [`name`]: strict parsing of `shmem://hN[…]` names;
//! * [`layout`]: the wire structures and their validation;
//! * [`driver`]: [`Driver`], the protocol, with its reasoning in the module docs;
//! * [`State`]: the per-handle state machine; [`Error`]: the error type with CFITSIO codes.

pub mod driver;
mod error;
pub mod layout;
pub mod name;
mod platform;
mod state;
mod step;

pub use driver::{
    Config, Driver, Handle, LockState, Mode, Pending, RecoverAction, RecoverReport, SlotStatus,
    WriteMode,
};
pub use error::{code, Error};
pub use layout::{Corrupt, MAX_FITS_SIZE};
pub use name::{parse_name, HduSelector, NameError, NameErrorKind, SlotName};
pub use platform::*;
pub use state::State;
pub use step::Step;

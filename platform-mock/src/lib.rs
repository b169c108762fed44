#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod config;
mod counters;
mod error;
pub mod faults;
mod kernel;
mod locks;
pub mod model;
mod owners;
mod process;
mod segments;
mod state;
mod stats;

pub use config::{Limits, MockConfig};
pub use error::{CallKind, HelperError, MockErrno, MockError};
pub use faults::{FaultPlan, FaultRule, Trigger, XorShift64Star};
pub use kernel::MockKernel;
pub use locks::{LockEntry, MockLockOwner};
pub use process::MockProcess;
pub use segments::MockMapping;
pub use state::ProcessState;
pub use stats::{
    CallStats, CounterObject, ObjectCounts, Objects, ProcessObject, SegmentObject, Stats,
};

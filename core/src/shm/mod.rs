//! CFITSIO's `shmem://` shared-memory files: slot names, the on-memory layout, the
//! [`SharedMem`] platform trait and the driver state machine generic over it.

mod platform;

pub use platform::*;

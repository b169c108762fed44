//! Shared helpers of the shmfits scenario, interop and corpus tests.
//!
//! * [`cfitsio`]: the real CFITSIO library as a test oracle (C programs built at run time).
//! * [`ipc`]: a test's own CFITSIO key range and the guard that cleans it up.
#![warn(missing_docs)]

pub mod cfitsio;
pub mod ipc;

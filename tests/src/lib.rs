//! Shared helpers of the shmfits scenario, interop and corpus tests.
//!
//! * [`cfitsio`]: the real CFITSIO library as a test oracle (C programs built at run time).
#![warn(missing_docs)]

pub mod cfitsio;

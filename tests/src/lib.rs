//! Shared helpers of the shmfits scenario, interop and corpus tests.
//!
//! * [`cfitsio`]: the real CFITSIO library as a test oracle (C programs built at run time).
//! * [`compare`]: our parser's view of a file (the `smem info` report) against CFITSIO's.
//! * [`ipc`]: a test's own CFITSIO key range and the guard that cleans it up.
//! * [`smem`]: the `smem` binary, built on demand.
#![warn(missing_docs)]

pub mod cfitsio;
pub mod compare;
pub mod fault;
pub mod ipc;
pub mod smem;

//! `shmfits-unix`: the System V platform of shmfits, the std API and the `smem` tool.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;

//! `shmfits-core`: the `no_std`, allocation-free heart of shmfits.
//!
//! * [`fits`] parses and writes FITS headers (cards, values, headers, HDU layout, HDU walk,
//!   streaming) on borrowed bytes with caller-supplied storage.
//! * [`shm`] speaks CFITSIO's `shmem://` protocol: slot names, the on-memory layout, the
//!   [`shm::SharedMem`] platform trait and the driver state machine generic over it.
//!
//! The core never calls the operating system and never allocates; all memory is fixed by the
//! caller's buffers.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fits;
pub mod shm;

#![doc = include_str!("../../README.md")]
//!
//! # This crate
//!
//! `shmfits-unix`: the System V platform of shmfits, the std API and the `smem` tool.
//!
//! * [`SysV`] implements [`shmfits_core::shm::SharedMem`] with System V shared memory
//!   segments, System V semaphores (`SEM_UNDO`) and Linux open-file-description locks on
//!   CFITSIO's lock file, configured by [`Config`] (CFITSIO's defaults and environment
//!   variables, owner-only permissions).
//! * [`Shm`] and [`ShmFile`] are the std API: `create`, `open`/`try_open`/`open_timeout`,
//!   `Read`/`Write`/`Seek`, zero-copy [`ShmFile::as_bytes`], typed big-endian
//!   [`ShmFile::values`] and the HDU walk [`ShmFile::hdus`].
//! * [`cli`] is the `smem` command line (the binary only calls [`cli::main`]).
//! * [`camera`] is the camera job (`cargo run --release --example camera`).
//! * Every failure is a [`SysError`] naming the call, the errno and, where one applies, the
//!   kernel limit.
//!
//! All `unsafe` code lives in one private module (`sys`), one thin wrapper per system call.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod camera;
pub mod cli;
mod config;
mod error;
mod file;
mod file_error;
mod file_hint;
mod limits;
mod mirror;
mod owner;
#[allow(unsafe_code)]
mod sys;
mod sysv;
mod test_hook;

pub use config::{
    Config, ConfigError, ExpectedOwner, DEFAULT_KEY_BASE, DEFAULT_SLOTS, ENV_KEYBASE, ENV_LOCK_DIR,
    ENV_MAXSEG, MAX_SLOTS,
};
pub use error::{Call, Detail, Limit, LockFileProblem, SysError};
pub use file::{Shm, ShmFile, HANDLES};
pub use file_error::Error;
pub use shmfits_core::shm::{Mode, Wait, WriteMode};
pub use sys::SysMapping;
pub use sysv::{LockOwner, LockPin, SetupError, SysV};
pub use test_hook::ENV_STOP_AT;

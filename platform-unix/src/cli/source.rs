//! Where `smem` subcommands read a FITS file from: a path on disk, or a `shmem://hN[ext]`
//! (or bare `hN[ext]`) name read through the driver under a shared (read-only) lock.
//!
//! A bare argument of the form `hN` or `hN[ext]` is always a slot; write `./h2` for a file on
//! disk named `h2`.

use std::path::Path;

use shmfits_core::shm::{parse_name, Driver, Error, Mode};

use super::context::{self, with_driver, WaitArgs};
use super::exit::{exit_of_driver, Failure, EXIT_USAGE};
use crate::{Config, SysV};

/// Prefix that makes a `smem` argument a shared-memory file rather than a path.
pub const SHMEM_PREFIX: &str = "shmem://";

/// Why a file could not be read, with the exit status it maps to.
pub type LoadError = Failure;

/// An HDU selected by a `[…]` suffix of a `shmem://` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    /// `[n]`: the HDU at index `n` (0 = primary).
    Index(u32),
    /// `[NAME]`: the HDU whose EXTNAME is `NAME`.
    Name(String),
}

/// A file's bytes and, for `shmem://` names with a selector, the HDU it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The FITS bytes.
    pub bytes: Vec<u8>,
    /// The HDU selector of the name, if any.
    pub selected: Option<Selected>,
}

/// Whether `arg` names a shared-memory file (`shmem://…`, `hN`, `hN[ext]`).
pub fn is_shmem(arg: &str) -> bool {
    arg.starts_with(SHMEM_PREFIX) || context::looks_like_slot(arg)
}

/// Reads `arg`: a shared-memory name through the driver (configured by `config`, waiting as
/// `wait` says for a writer to finish), anything else as a path on disk.
///
/// # Errors
/// A bad name (2), a missing or unreadable file (3, or 6 for permission), no such slot (4),
/// a slot that stays locked by a writer (5), a platform failure (3).
pub fn load(
    arg: &Path,
    config: impl FnOnce() -> Result<Config, Failure>,
    wait: &WaitArgs,
) -> Result<Loaded, LoadError> {
    match arg.to_str() {
        Some(name) if is_shmem(name) => load_shmem(name, &config()?, wait),
        _ => std::fs::read(arg)
            .map(|bytes| Loaded {
                bytes,
                selected: None,
            })
            .map_err(|e| Failure::file(&arg.display().to_string(), "read", &e)),
    }
}

/// Reads a whole shared-memory file under a shared lock.
///
/// # Errors
/// As [`load`].
pub fn load_shmem(name: &str, config: &Config, wait: &WaitArgs) -> Result<Loaded, LoadError> {
    let parsed = parse_name(name, config.slots).map_err(|e| Failure {
        exit: EXIT_USAGE,
        message: format!("{name:?} is not a slot name: {e}"),
    })?;
    let selected = context::selector(parsed.hdu);
    let bytes = with_driver(config, |d| read_whole(d, config, name, parsed.slot, wait))?;
    Ok(Loaded { bytes, selected })
}

fn read_whole(
    driver: &mut Driver<SysV, 1>,
    config: &Config,
    name: &str,
    slot: u32,
    wait: &WaitArgs,
) -> Result<Vec<u8>, LoadError> {
    let err = |e: Error<_>| match e {
        Error::WouldBlock { .. } | Error::TimedOut { .. } | Error::Deadlock { .. } => {
            context::busy(config, name, slot, wait)
        }
        Error::NotFound { .. } => Failure::new(
            super::exit::EXIT_NOT_FOUND,
            format!("{name}: no such file (the slot is empty or deleted)"),
        ),
        e => Failure::new(exit_of_driver(&e), format!("{name}: {e}")),
    };
    let h = driver
        .open(name, Mode::ReadOnly, wait.to_wait())
        .map_err(err)?;
    let result = (|| {
        let size = driver.size(h).map_err(err)?;
        let size = usize::try_from(size).map_err(|_| Failure::io(format!("{name}: too large")))?;
        let mut bytes = vec![0u8; size];
        let mut got = 0;
        while got < size {
            let n = driver.read(h, &mut bytes[got..]).map_err(err)?;
            if n == 0 {
                return Err(Failure::io(format!(
                    "{name}: file ended at {got} of {size} bytes"
                )));
            }
            got += n;
        }
        Ok(bytes)
    })();
    let closed = driver.close(h).map_err(err);
    let bytes = result?;
    closed?;
    Ok(bytes)
}

//! Where `smem` subcommands read a FITS file from: a path on disk, or a `shmem://hN[ext]`
//! name read through the driver under a shared (read-only) lock.

use std::path::Path;
use std::time::Duration;

use shmfits_core::shm::{
    parse_name, Config as DriverConfig, Driver, Error, HduSelector, Mode, Wait,
};

use super::{EXIT_IO, EXIT_USAGE};
use crate::{Config, SysV};

/// Prefix that makes a `smem` argument a shared-memory file rather than a path.
pub const SHMEM_PREFIX: &str = "shmem://";

/// Why a file could not be read, with the exit status it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Exit status: [`EXIT_USAGE`] for a bad name, [`EXIT_IO`] for everything else.
    pub exit: u8,
    /// What went wrong, for people.
    pub message: String,
}

impl LoadError {
    fn io(message: String) -> LoadError {
        LoadError {
            exit: EXIT_IO,
            message,
        }
    }
}

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

/// Reads `arg`: a `shmem://hN[ext]` name through the driver (configured by `config`,
/// waiting at most `wait` for a writer to finish), anything else as a path on disk.
///
/// # Errors
/// A bad `shmem://` name ([`EXIT_USAGE`]); a missing or unreadable file, a slot that does
/// not exist or stays locked by a writer, a platform failure ([`EXIT_IO`]).
pub fn load(
    arg: &Path,
    config: impl FnOnce() -> Result<Config, String>,
    wait: Wait,
) -> Result<Loaded, LoadError> {
    match arg.to_str() {
        Some(name) if name.starts_with(SHMEM_PREFIX) => load_shmem(name, config()?, wait),
        _ => std::fs::read(arg)
            .map(|bytes| Loaded {
                bytes,
                selected: None,
            })
            .map_err(|e| LoadError::io(format!("cannot read {}: {e}", arg.display()))),
    }
}

impl From<String> for LoadError {
    fn from(message: String) -> LoadError {
        LoadError::io(message)
    }
}

/// Reads a whole `shmem://` file under a shared lock.
///
/// # Errors
/// As [`load`].
pub fn load_shmem(name: &str, config: Config, wait: Wait) -> Result<Loaded, LoadError> {
    let slots = config.slots;
    let parsed = parse_name(name, slots).map_err(|e| LoadError {
        exit: EXIT_USAGE,
        message: format!("{name}: {e}"),
    })?;
    let selected = parsed.hdu.map(|s| match s {
        HduSelector::Index(i) => Selected::Index(i),
        HduSelector::Name(n) => Selected::Name(n.to_owned()),
    });
    let mut driver_config = DriverConfig::new(config.key_base, slots);
    // only when the global table must be created; nobody holds slot locks then
    driver_config.init_wait = Wait::Timeout(Duration::from_secs(5));
    let sysv = SysV::new(config).map_err(|e| LoadError::io(format!("{name}: {e}")))?;
    let mut driver: Driver<SysV, 1> =
        Driver::new(sysv, driver_config).map_err(|e| LoadError::io(format!("{name}: {e}")))?;
    let read = read_whole(&mut driver, name, wait);
    // always detach (and let the last user remove an unused table), even after an error
    let shut = driver
        .shutdown()
        .map_err(|e| LoadError::io(format!("{name}: {e}")));
    let bytes = read?;
    shut?;
    Ok(Loaded { bytes, selected })
}

fn read_whole(driver: &mut Driver<SysV, 1>, name: &str, wait: Wait) -> Result<Vec<u8>, LoadError> {
    let err = |e: Error<_>| {
        let message = match e {
            Error::WouldBlock { .. } | Error::TimedOut { .. } => {
                format!("{name} is locked by a writer (use --wait SECONDS to wait for it)")
            }
            e => format!("{name}: {e}"),
        };
        LoadError::io(message)
    };
    let h = driver.open(name, Mode::ReadOnly, wait).map_err(err)?;
    let result = (|| {
        let size = driver.size(h).map_err(err)?;
        let size =
            usize::try_from(size).map_err(|_| LoadError::io(format!("{name}: too large")))?;
        let mut bytes = vec![0u8; size];
        let mut got = 0;
        while got < size {
            let n = driver.read(h, &mut bytes[got..]).map_err(err)?;
            if n == 0 {
                return Err(LoadError::io(format!(
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

/// `--wait SECONDS` as a lock wait: `None` fails at once.
pub fn wait_for(seconds: Option<f64>) -> Wait {
    match seconds {
        None => Wait::No,
        Some(s) if s.is_finite() && s > 0.0 => Wait::Timeout(Duration::from_secs_f64(s)),
        Some(_) => Wait::No,
    }
}

//! [`Error`]: what the std API reports, with CFITSIO's error number.

use std::fmt;

use shmfits_core::fits::HduError;
use shmfits_core::shm::{self, code, PlatformError};

use crate::config::ConfigError;
use crate::error::SysError;
use crate::sysv::SetupError;

/// An error of the std API. [`Error::code`] gives CFITSIO's number (151 … 159) for tools that
/// report it.
#[derive(Debug)]
pub enum Error {
    /// The driver refused or failed an operation.
    Driver(shm::Error<SysError>),
    /// The configuration or the lock file was refused.
    Setup(SetupError),
    /// A platform call of the std layer itself failed (attaching a view).
    Platform(SysError),
    /// The FITS bytes of the file do not parse.
    Fits(HduError),
    /// A view or seek outside the file.
    OutOfRange {
        /// First byte asked for.
        offset: usize,
        /// Number of bytes asked for.
        len: usize,
        /// Length of the file.
        file_len: usize,
    },
}

impl Error {
    /// CFITSIO's number for this error (see [`shmfits_core::shm::code`]).
    pub fn code(&self) -> i32 {
        match self {
            Error::Driver(e) => e.code(),
            Error::Setup(SetupError::Config(_)) => code::NOTINIT,
            Error::Setup(SetupError::LockFile { .. }) => code::IPCERR,
            Error::Platform(e) => match e.kind() {
                shm::ErrorKind::LimitReached => code::NOMEM,
                shm::ErrorKind::NotFound => code::NOFILE,
                _ => code::IPCERR,
            },
            Error::Fits(_) | Error::OutOfRange { .. } => code::BADARG,
        }
    }

    /// The portable kind, where one applies.
    pub fn io_kind(&self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Error::Driver(shm::Error::WouldBlock { .. }) => K::WouldBlock,
            Error::Driver(shm::Error::TimedOut { .. }) => K::TimedOut,
            Error::Driver(shm::Error::NotFound { .. }) => K::NotFound,
            Error::Driver(shm::Error::Exists { .. }) => K::AlreadyExists,
            Error::Driver(shm::Error::BadName(_)) => K::InvalidInput,
            Error::Driver(shm::Error::ReadOnly { .. }) => K::PermissionDenied,
            Error::Driver(shm::Error::Platform { error, .. }) | Error::Platform(error) => {
                match error.kind() {
                    shm::ErrorKind::PermissionDenied => K::PermissionDenied,
                    shm::ErrorKind::NotFound => K::NotFound,
                    shm::ErrorKind::WouldBlock => K::WouldBlock,
                    shm::ErrorKind::TimedOut => K::TimedOut,
                    shm::ErrorKind::InvalidArgument => K::InvalidInput,
                    _ => K::Other,
                }
            }
            Error::Setup(_) => K::PermissionDenied,
            Error::Fits(_) => K::InvalidData,
            Error::OutOfRange { .. } => K::InvalidInput,
            Error::Driver(_) => K::Other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Driver(e) => write!(f, "{e} (CFITSIO error {})", e.code()),
            Error::Setup(e) => e.fmt(f),
            Error::Platform(e) => e.fmt(f),
            Error::Fits(e) => write!(f, "FITS: {e}"),
            Error::OutOfRange {
                offset,
                len,
                file_len,
            } => write!(
                f,
                "{len} bytes at offset {offset} are outside the file of {file_len} bytes"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Driver(_) | Error::Fits(_) | Error::OutOfRange { .. } => None,
            Error::Setup(e) => Some(e),
            Error::Platform(e) => Some(e),
        }
    }
}

impl From<shm::Error<SysError>> for Error {
    fn from(e: shm::Error<SysError>) -> Self {
        Error::Driver(e)
    }
}

impl From<SetupError> for Error {
    fn from(e: SetupError) -> Self {
        Error::Setup(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Setup(SetupError::Config(e))
    }
}

impl From<HduError> for Error {
    fn from(e: HduError) -> Self {
        Error::Fits(e)
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(e.io_kind(), e)
    }
}

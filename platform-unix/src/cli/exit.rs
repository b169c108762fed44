//! Exit status of `smem` and the one table that maps errors to it.
//!
//! | code | constant | meaning |
//! |---|---|---|
//! | 0 | [`EXIT_OK`] | success |
//! | 1 | [`EXIT_INVALID`] | the input is not valid FITS / not a FITS file |
//! | 2 | [`EXIT_USAGE`] | usage error: bad arguments, bad slot name (the message names it), bad environment value |
//! | 3 | [`EXIT_IO`] | I/O error: file missing or unreadable, output failed, kernel or table failure |
//! | 4 | [`EXIT_NOT_FOUND`] | no such `shmem://` file (slot empty, or deleted) |
//! | 5 | [`EXIT_BUSY`] | busy: the slot is locked and `--no-wait` was given or `--wait` ran out |
//! | 6 | [`EXIT_PERMISSION`] | permission denied: objects or lock file of another user, or refused |
//!
//! Every failure prints one line on stderr, `smem <command>: <what>: <why>`.

use std::fmt;
use std::process::ExitCode;

use shmfits_core::shm::{self, ErrorKind, PlatformError};

use crate::{Error, SetupError, SysError};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the input is not valid FITS.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage error (clap uses 2 for argument errors too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: I/O error.
pub const EXIT_IO: u8 = 3;
/// Exit status: no such `shmem://` file.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit status: the slot is busy (locked; would block or timed out).
pub const EXIT_BUSY: u8 = 5;
/// Exit status: permission denied.
pub const EXIT_PERMISSION: u8 = 6;

/// The exit-status table as printed at the end of `smem --help`.
pub const EXIT_HELP: &str = "\
Exit status: 0 ok, 1 invalid FITS / not a FITS file, 2 usage error (bad arguments or slot
name), 3 I/O error, 4 no such shmem:// file, 5 busy (locked: --no-wait, or --wait ran out),
6 permission denied.";

/// A failed `smem` step: the exit status and the message for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The exit status (one of the `EXIT_*` constants).
    pub exit: u8,
    /// What went wrong, for people (without the `smem <command>:` prefix).
    pub message: String,
}

impl Failure {
    /// A failure with this status and message.
    pub fn new(exit: u8, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }

    /// An I/O failure ([`EXIT_IO`]).
    pub fn io(message: impl Into<String>) -> Failure {
        Failure::new(EXIT_IO, message)
    }

    /// A usage failure ([`EXIT_USAGE`]).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(EXIT_USAGE, message)
    }

    /// A failure of the std API on `what` (a name or path).
    pub fn of(what: &str, e: &Error) -> Failure {
        Failure::new(exit_of(e), format!("{what}: {}", plain(e)))
    }

    /// A failure of a local file operation on `path` (permission → 6, else 3).
    pub fn file(path: &str, doing: &str, e: &std::io::Error) -> Failure {
        let exit = match e.kind() {
            std::io::ErrorKind::PermissionDenied => EXIT_PERMISSION,
            _ => EXIT_IO,
        };
        Failure::new(exit, format!("cannot {doing} {path}: {e}"))
    }

    /// Prints `smem <command>: <message>` on stderr and returns the exit status.
    pub fn report(&self, command: &str) -> ExitCode {
        eprintln!("smem {command}: {}", self.message);
        ExitCode::from(self.exit)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::io(message)
    }
}

/// The message of an error without the CFITSIO number the std API appends.
fn plain(e: &Error) -> String {
    match e {
        Error::Driver(d) => d.to_string(),
        e => e.to_string(),
    }
}

fn exit_of_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::PermissionDenied => EXIT_PERMISSION,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Deadlock => EXIT_BUSY,
        _ => EXIT_IO,
    }
}

/// The exit status of a driver error.
pub fn exit_of_driver(e: &shm::Error<SysError>) -> u8 {
    use shm::Error as E;
    match e {
        E::BadName(_) => EXIT_USAGE,
        E::NotFound { .. } => EXIT_NOT_FOUND,
        E::WouldBlock { .. } | E::TimedOut { .. } | E::Deadlock { .. } | E::Exists { .. } => {
            EXIT_BUSY
        }
        E::ForeignOwner { .. } => EXIT_PERMISSION,
        E::Platform { error, .. } => exit_of_kind(error.kind()),
        _ => EXIT_IO,
    }
}

/// The exit status of a std API error.
pub fn exit_of(e: &Error) -> u8 {
    match e {
        Error::Driver(d) => exit_of_driver(d),
        Error::Setup(SetupError::Config(_)) => EXIT_USAGE,
        Error::Setup(SetupError::LockFile { error, .. }) => match error.kind() {
            ErrorKind::NotFound | ErrorKind::LimitReached => EXIT_IO,
            _ => EXIT_PERMISSION,
        },
        Error::Platform(p) => exit_of_kind(p.kind()),
        Error::Fits(_) => EXIT_INVALID,
        Error::OutOfRange { .. } => EXIT_IO,
    }
}

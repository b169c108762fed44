//! The driver's error type and CFITSIO's error numbers.

use core::fmt;

use super::layout::Corrupt;
use super::name::NameError;
use super::platform::{ErrorKind, PlatformError};
use super::state::State;

/// CFITSIO's error numbers of the shared-memory driver (`fitsio.h`, `SHARED_ERRBASE` = 150).
pub mod code {
    /// Bad argument (`SHARED_BADARG`).
    pub const BADARG: i32 = 151;
    /// Null pointer (`SHARED_NULPTR`).
    pub const NULPTR: i32 = 152;
    /// Table full (`SHARED_TABFULL`).
    pub const TABFULL: i32 = 153;
    /// Not initialized (`SHARED_NOTINIT`).
    pub const NOTINIT: i32 = 154;
    /// IPC error (`SHARED_IPCERR`).
    pub const IPCERR: i32 = 155;
    /// Out of memory (`SHARED_NOMEM`).
    pub const NOMEM: i32 = 156;
    /// Resource busy, try again (`SHARED_AGAIN`).
    pub const AGAIN: i32 = 157;
    /// No such file (`SHARED_NOFILE`).
    pub const NOFILE: i32 = 158;
    /// Cannot resize (`SHARED_NORESIZE`).
    pub const NORESIZE: i32 = 159;
}

/// Everything a driver operation can fail with.
///
/// `slot` fields are `None` when the failure concerns no particular slot (the global table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E: PlatformError> {
    /// A platform call failed: at which step, for which slot, and the platform's error.
    Platform {
        /// The slot concerned.
        slot: Option<u32>,
        /// What the driver was doing.
        step: &'static str,
        /// The platform's error.
        error: E,
    },
    /// An earlier write through this shadow-writing handle failed part-way: the unpublished
    /// version is abandoned (discarded at close, never published) and the committed version
    /// stays intact. Further writes and flushes through the handle fail with this.
    WriteFailed {
        /// The slot concerned.
        slot: u32,
    },
    /// The slot is locked by another process (or handle) and the call was asked not to wait.
    WouldBlock {
        /// The slot concerned.
        slot: u32,
    },
    /// Waiting for the slot lock ran out of time.
    TimedOut {
        /// The slot concerned.
        slot: u32,
    },
    /// Waiting for the slot lock would deadlock (reported by the kernel, or because this
    /// driver already holds a conflicting lock on the slot). A kernel report is the
    /// platform's: on Linux (`shmfits-unix`) it covers cycles between processes that wait
    /// with [`Wait::Forever`](crate::shm::Wait::Forever), and its detector, which works per
    /// process, can report a cycle in a multi-threaded process that another thread would
    /// have broken.
    Deadlock {
        /// The slot concerned.
        slot: u32,
    },
    /// No file in the slot (or it is deleted and waits for its last close).
    NotFound {
        /// The slot concerned.
        slot: u32,
    },
    /// Create found a file in the slot.
    Exists {
        /// The slot concerned.
        slot: u32,
    },
    /// The name is not a valid slot name.
    BadName(NameError),
    /// A value in shared memory is inconsistent.
    Corrupt(Corrupt),
    /// The file would exceed the size the CFITSIO format can express; nothing was changed.
    TooLarge {
        /// The slot concerned.
        slot: u32,
        /// FITS bytes the operation needed.
        requested: u64,
        /// Most FITS bytes a file can hold.
        max: u64,
    },
    /// No free key in the data key range for a new segment.
    NoKey {
        /// The slot concerned.
        slot: u32,
    },
    /// The handle is not (or no longer) open in this driver.
    BadHandle,
    /// The local table of open handles is full.
    TooManyHandles {
        /// Its capacity.
        capacity: usize,
    },
    /// Write or delete through a handle opened read-only.
    ReadOnly {
        /// The slot concerned.
        slot: u32,
    },
    /// The configuration is unusable.
    BadConfig {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: i64,
    },
    /// The global table exists with another size than this configuration's slot count needs.
    TableMismatch {
        /// Expected size in bytes (28 · slots).
        expected: usize,
        /// Size the kernel reports.
        actual: usize,
    },
    /// A kernel object belongs to another user (and the configuration does not allow that).
    ForeignOwner {
        /// The slot concerned (`None`: the global table).
        slot: Option<u32>,
        /// Which object.
        what: &'static str,
        /// Its owner's uid.
        uid: u32,
    },
    /// A handle state change that the state machine does not allow.
    IllegalTransition {
        /// State before.
        from: State,
        /// State asked for.
        to: State,
    },
    /// An internal invariant did not hold (a bug in the driver, reported instead of a panic).
    LogicBug {
        /// What did not hold.
        what: &'static str,
    },
}

impl<E: PlatformError> Error<E> {
    /// CFITSIO's number for this error (151 … 159, see [`code`]).
    pub fn code(&self) -> i32 {
        match self {
            Error::Platform { error, .. } => match error.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => code::AGAIN,
                ErrorKind::NotFound => code::NOFILE,
                ErrorKind::LimitReached => code::NOMEM,
                _ => code::IPCERR,
            },
            Error::WouldBlock { .. } | Error::TimedOut { .. } => code::AGAIN,
            Error::Deadlock { .. } => code::IPCERR,
            Error::NotFound { .. } => code::NOFILE,
            Error::Exists { .. } => code::BADARG,
            Error::BadName(_) => code::BADARG,
            Error::Corrupt(_) => code::IPCERR,
            Error::TooLarge { .. } => code::NORESIZE,
            Error::NoKey { .. } => code::NOMEM,
            Error::BadHandle => code::BADARG,
            Error::TooManyHandles { .. } => code::TABFULL,
            Error::ReadOnly { .. } => code::BADARG,
            Error::WriteFailed { .. } => code::NORESIZE,
            Error::BadConfig { .. } => code::NOTINIT,
            Error::TableMismatch { .. } => code::NOTINIT,
            Error::ForeignOwner { .. } => code::IPCERR,
            Error::IllegalTransition { .. } => code::BADARG,
            Error::LogicBug { .. } => code::IPCERR,
        }
    }

    /// The slot the error concerns, if any.
    pub fn slot(&self) -> Option<u32> {
        match *self {
            Error::Platform { slot, .. } => slot,
            Error::WouldBlock { slot }
            | Error::TimedOut { slot }
            | Error::Deadlock { slot }
            | Error::NotFound { slot }
            | Error::Exists { slot }
            | Error::TooLarge { slot, .. }
            | Error::NoKey { slot }
            | Error::ReadOnly { slot }
            | Error::WriteFailed { slot } => Some(slot),
            Error::Corrupt(c) => Some(c.slot),
            Error::ForeignOwner { slot, .. } => slot,
            _ => None,
        }
    }
}

impl<E: PlatformError> From<Corrupt> for Error<E> {
    fn from(c: Corrupt) -> Self {
        Error::Corrupt(c)
    }
}

impl<E: PlatformError> From<NameError> for Error<E> {
    fn from(n: NameError) -> Self {
        Error::BadName(n)
    }
}

impl<E: PlatformError> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Platform {
                slot: Some(s),
                step,
                error,
            } => write!(f, "slot h{s}: {step} failed: {error}"),
            Error::Platform {
                slot: None,
                step,
                error,
            } => write!(f, "global table: {step} failed: {error}"),
            Error::WouldBlock { slot } => {
                write!(f, "slot h{slot}: locked by another process (not waiting)")
            }
            Error::TimedOut { slot } => write!(f, "slot h{slot}: timed out waiting for its lock"),
            Error::Deadlock { slot } => {
                write!(f, "slot h{slot}: waiting for its lock would deadlock")
            }
            Error::NotFound { slot } => write!(f, "slot h{slot}: no such file (or deleted)"),
            Error::Exists { slot } => write!(f, "slot h{slot}: a file already exists"),
            Error::BadName(n) => write!(f, "{n}"),
            Error::Corrupt(c) => write!(f, "{c}"),
            Error::TooLarge {
                slot,
                requested,
                max,
            } => write!(
                f,
                "slot h{slot}: {requested} bytes exceed the format's limit of {max} bytes; \
                 nothing was changed"
            ),
            Error::NoKey { slot } => {
                write!(f, "slot h{slot}: every key of the data key range is taken")
            }
            Error::BadHandle => f.write_str("handle is not open in this driver"),
            Error::TooManyHandles { capacity } => {
                write!(f, "all {capacity} local handles are in use")
            }
            Error::ReadOnly { slot } => write!(f, "slot h{slot}: handle is read-only"),
            Error::WriteFailed { slot } => write!(
                f,
                "slot h{slot}: an earlier write through this handle failed; its unpublished \
                 version is abandoned and the committed version is intact"
            ),
            Error::BadConfig { what, value } => write!(f, "bad configuration: {what} = {value}"),
            Error::TableMismatch { expected, actual } => write!(
                f,
                "global table is {actual} bytes, this slot count needs {expected} bytes \
                 (different SHMEM_LIB_MAXSEG?)"
            ),
            Error::ForeignOwner {
                slot: Some(s),
                what,
                uid,
            } => write!(
                f,
                "slot h{s}: {what} belongs to uid {uid}, not to us; not used"
            ),
            Error::ForeignOwner {
                slot: None,
                what,
                uid,
            } => write!(f, "{what} belongs to uid {uid}, not to us; not used"),
            Error::IllegalTransition { from, to } => {
                write!(f, "illegal handle state change: {from} -> {to}")
            }
            Error::LogicBug { what } => write!(f, "driver bug: {what}"),
        }
    }
}

impl<E: PlatformError> core::error::Error for Error<E> {}

/// Map a platform error of a lock call: the lock-specific kinds become their own variants.
pub(crate) fn lock_error<E: PlatformError>(slot: u32, step: &'static str, e: E) -> Error<E> {
    match e.kind() {
        ErrorKind::WouldBlock => Error::WouldBlock { slot },
        ErrorKind::TimedOut => Error::TimedOut { slot },
        ErrorKind::Deadlock => Error::Deadlock { slot },
        _ => Error::Platform {
            slot: Some(slot),
            step,
            error: e,
        },
    }
}

/// Wrap a platform error of a step on `slot`.
pub(crate) fn plat<E: PlatformError>(slot: u32, step: &'static str) -> impl Fn(E) -> Error<E> {
    move |error| Error::Platform {
        slot: Some(slot),
        step,
        error,
    }
}

//! [`SysError`]: what a System V call (or a check the adapter makes around one) reported.
//!
//! Every failing system call becomes a `SysError { call, errno, detail }`. Its portable
//! [`ErrorKind`] comes from one table per call ([`SysError::kind`]), because the same errno
//! means different things to different calls: `EINVAL` from `shmget` is a size outside
//! `SHMMIN..=SHMMAX`, from `shmat` it is a segment id that no longer exists.
//!
//! The type is `Copy` (the [`PlatformError`] contract), so it carries no path; errors that
//! need one (opening the lock file) are wrapped in [`crate::SetupError`].

use core::fmt;

use shmfits_core::shm::{ErrorKind, PlatformError};

/// The system call (or adapter check) that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// `shmget` with `IPC_CREAT | IPC_EXCL` (create a segment).
    ShmgetCreate,
    /// `shmget` without flags (find a segment).
    ShmgetFind,
    /// `shmat`.
    Shmat,
    /// `shmdt`.
    Shmdt,
    /// `shmctl(IPC_STAT)`.
    ShmctlStat,
    /// `shmctl(IPC_RMID)`.
    ShmctlRmid,
    /// `semget` with `IPC_CREAT | IPC_EXCL` (create a counter).
    SemgetCreate,
    /// `semget` without flags (find a counter).
    SemgetFind,
    /// `semop` with `SEM_UNDO | IPC_NOWAIT`.
    Semop,
    /// `semctl(GETVAL)`.
    SemctlGetval,
    /// `semctl(IPC_STAT)`.
    SemctlStat,
    /// `semctl(IPC_RMID)`.
    SemctlRmid,
    /// `open` of the lock file.
    Open,
    /// `fstat` of the lock file.
    Fstat,
    /// `fcntl(F_OFD_SETLK)`.
    FcntlSetlk,
    /// `fcntl(F_OFD_SETLKW)`.
    FcntlSetlkw,
    /// `fcntl(F_OFD_GETLK)`.
    FcntlGetlk,
    /// `fcntl(F_SETLK)` of a mirror lock (a classic record lock far beyond the slot bytes that
    /// lets the kernel see our waits; see [`SysV`](crate::SysV)).
    MirrorSetlk,
    /// `fcntl(F_SETLKW)` of a mirror lock (`EDEADLK` here is a lock cycle between processes).
    MirrorSetlkw,
    /// `close`.
    Close,
    /// The adapter's check of the lock file after `fstat` (no errno).
    LockFileCheck,
    /// A bounds check of a copy into or out of a mapping (no errno).
    MappingAccess,
    /// An argument the adapter refused before calling the kernel (no errno).
    Argument,
    /// The adapter's table of lock owners (no errno).
    LockOwner,
}

impl Call {
    /// The call as a person would write it.
    pub fn name(self) -> &'static str {
        match self {
            Call::ShmgetCreate => "shmget(IPC_CREAT|IPC_EXCL)",
            Call::ShmgetFind => "shmget",
            Call::Shmat => "shmat",
            Call::Shmdt => "shmdt",
            Call::ShmctlStat => "shmctl(IPC_STAT)",
            Call::ShmctlRmid => "shmctl(IPC_RMID)",
            Call::SemgetCreate => "semget(IPC_CREAT|IPC_EXCL)",
            Call::SemgetFind => "semget",
            Call::Semop => "semop(SEM_UNDO|IPC_NOWAIT)",
            Call::SemctlGetval => "semctl(GETVAL)",
            Call::SemctlStat => "semctl(IPC_STAT)",
            Call::SemctlRmid => "semctl(IPC_RMID)",
            Call::Open => "open",
            Call::Fstat => "fstat",
            Call::FcntlSetlk => "fcntl(F_OFD_SETLK)",
            Call::FcntlSetlkw => "fcntl(F_OFD_SETLKW)",
            Call::FcntlGetlk => "fcntl(F_OFD_GETLK)",
            Call::MirrorSetlk => "fcntl(F_SETLK) of a mirror lock",
            Call::MirrorSetlkw => "fcntl(F_SETLKW) of a mirror lock",
            Call::Close => "close",
            Call::LockFileCheck => "lock file check",
            Call::MappingAccess => "mapping access",
            Call::Argument => "argument check",
            Call::LockOwner => "lock owner",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was wrong with the lock file after it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockFileProblem {
    /// It is not a regular file (a directory, FIFO, device…).
    NotRegular,
    /// It belongs to a user other than the expected owner (and not to root).
    WrongOwner,
    /// Group or others may write it, and the configured create mode does not allow that.
    Writable,
    /// The path now names a different file than the one checked when the platform was made.
    Replaced,
    /// The path is a symbolic link (refused, never followed).
    Symlink,
}

impl fmt::Display for LockFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockFileProblem::NotRegular => "is not a regular file",
            LockFileProblem::WrongOwner => "is owned by an unexpected user",
            LockFileProblem::Writable => "is writable by group or others",
            LockFileProblem::Replaced => "was replaced by another file",
            LockFileProblem::Symlink => "is a symbolic link",
        })
    }
}

/// Extra facts about an error beyond the call and errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detail {
    /// Nothing more to say.
    None,
    /// A copy of `len` bytes at `offset` does not fit into `available` bytes.
    OutOfRange {
        /// First byte asked for.
        offset: usize,
        /// Number of bytes asked for.
        len: usize,
        /// Length of the mapping.
        available: usize,
    },
    /// The lock file was refused.
    LockFile {
        /// What is wrong with it.
        problem: LockFileProblem,
        /// Its owner's uid (from `fstat`; `u32::MAX` when unknown).
        uid: u32,
        /// Its mode bits (from `fstat`; `0` when unknown).
        mode: u32,
    },
    /// A lock range outside the lock file's `slots` bytes, or of length 0.
    BadRange {
        /// First byte.
        start: u32,
        /// Number of bytes.
        len: u32,
        /// Number of slots (bytes) of the lock file.
        slots: u32,
    },
    /// The lock owner token is unknown (released, or never made by this platform).
    UnknownOwner,
    /// An unlock or release would drop a lock that a zero-copy view still relies on.
    Pinned {
        /// A pinned byte of the lock file.
        byte: u32,
    },
    /// A timed lock wait gave up after this many milliseconds.
    TimedOut {
        /// How long it waited.
        waited_ms: u64,
    },
    /// The key `0` (`IPC_PRIVATE`) is never used.
    PrivateKey,
    /// A segment of size 0 was asked for.
    ZeroSize,
    /// A kernel limit was reached, as the adapter found by reading the limit and the use of
    /// the calling process's IPC namespace from `/proc` right after the call failed (see
    /// [`Limit`] for what `in_use`, `asked` and `max` count).
    Limit {
        /// Which limit.
        limit: Limit,
        /// How much of it was in use when the adapter looked.
        in_use: u64,
        /// How much the failed call asked for.
        asked: u64,
        /// The limit's value.
        max: u64,
    },
}

/// A System V limit of the kernel (per IPC namespace), by its `sysctl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `kernel.shmmax`: largest segment, in bytes (`asked`: the segment's size; `in_use`: 0).
    Shmmax,
    /// `kernel.shmmni`: number of segments (`in_use`: segments that exist; `asked`: 1).
    Shmmni,
    /// `kernel.shmall`: pages of all segments together (`in_use`, `asked`: pages).
    Shmall,
    /// `SEMMNI`, 4th field of `kernel.sem`: number of semaphore sets (`in_use`: sets that
    /// exist; `asked`: 1).
    Semmni,
    /// `SEMMNS`, 2nd field of `kernel.sem`: semaphores of all sets together (`in_use`,
    /// `asked`: semaphores).
    Semmns,
    /// `SEMMSL`, 1st field of `kernel.sem`: semaphores per set (`asked`: the set's
    /// semaphores; `in_use`: 0).
    Semmsl,
}

impl Limit {
    /// The limit's name as the kernel documentation writes it (`"SHMMNI"`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::Shmmax => "SHMMAX",
            Limit::Shmmni => "SHMMNI",
            Limit::Shmall => "SHMALL",
            Limit::Semmni => "SEMMNI",
            Limit::Semmns => "SEMMNS",
            Limit::Semmsl => "SEMMSL",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed System V call or adapter check: the call, the errno (0 for adapter checks) and
/// details. Its [`kind`](PlatformError::kind) is the portable classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SysError {
    call: Call,
    errno: i32,
    detail: Detail,
}

impl SysError {
    /// An error of `call` with `errno` and no details.
    pub fn new(call: Call, errno: i32) -> Self {
        SysError {
            call,
            errno,
            detail: Detail::None,
        }
    }

    /// An error of an adapter check (errno 0) with `detail`.
    pub fn check(call: Call, detail: Detail) -> Self {
        SysError {
            call,
            errno: 0,
            detail,
        }
    }

    /// The same error with `detail` attached.
    pub fn with_detail(self, detail: Detail) -> Self {
        SysError { detail, ..self }
    }

    /// The call that failed.
    pub fn call(&self) -> Call {
        self.call
    }

    /// The errno the kernel reported (0 for adapter checks).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// Extra facts about the error.
    pub fn detail(&self) -> Detail {
        self.detail
    }

    /// The kernel limit that this error means was reached, by its name, if known: the one
    /// the adapter found in `/proc` ([`Detail::Limit`]), else every limit the call and errno
    /// can mean (`"SHMMNI/SHMALL"` when an `ENOSPC` of `shmget` could not be told apart).
    pub fn limit(&self) -> Option<&'static str> {
        use libc::*;
        if let Detail::Limit { limit, .. } = self.detail {
            return Some(limit.name());
        }
        match (self.call, self.errno) {
            (Call::ShmgetCreate, EINVAL) => Some("SHMMAX"),
            (Call::ShmgetCreate, ENOSPC) => Some("SHMMNI/SHMALL"),
            // ENOMEM from shmget is memory for the segment (overcommit accounting, cgroup),
            // not a System V limit: the errno text says it, no limit name would be honest.
            (Call::ShmgetCreate, ENOMEM) => None,
            (Call::Shmat, ENOMEM) => Some("address space"),
            (Call::SemgetCreate, ENOSPC) => Some("SEMMNI/SEMMNS"),
            // one semaphore per set, created exclusively: EINVAL is only `1 > SEMMSL`
            (Call::SemgetCreate, EINVAL) => Some("SEMMSL"),
            (Call::Semop, E2BIG) => Some("SEMOPM"),
            (Call::Semop, ERANGE) => Some("SEMVMX"),
            (Call::Semop, ENOSPC) => Some("SEMMNU"),
            (Call::Open, EMFILE) => Some("RLIMIT_NOFILE"),
            (Call::Open, ENFILE) => Some("file-max"),
            _ => None,
        }
    }

    /// The portable kind, by one table per call.
    fn kind_by_table(&self) -> ErrorKind {
        use libc::*;
        use ErrorKind as K;
        let e = self.errno;
        let call_specific = match self.call {
            Call::ShmgetCreate => match e {
                EEXIST => Some(K::AlreadyExists),
                // size outside SHMMIN..=SHMMAX
                EINVAL | ENOSPC | ENOMEM => Some(K::LimitReached),
                _ => None,
            },
            Call::ShmgetFind | Call::SemgetFind => match e {
                ENOENT => Some(K::NotFound),
                EINVAL => Some(K::InvalidArgument),
                _ => None,
            },
            Call::SemgetCreate => match e {
                EEXIST => Some(K::AlreadyExists),
                EINVAL | ENOSPC | ENOMEM => Some(K::LimitReached),
                _ => None,
            },
            // An id that no longer exists is EINVAL (or EIDRM) for these calls.
            Call::Shmat | Call::ShmctlStat | Call::ShmctlRmid => match e {
                EINVAL | EIDRM => Some(K::NotFound),
                ENOMEM => Some(K::LimitReached),
                _ => None,
            },
            Call::Shmdt => match e {
                EINVAL => Some(K::InvalidArgument),
                _ => None,
            },
            Call::Semop => match e {
                EAGAIN => Some(K::WouldBlock),
                EINVAL | EIDRM => Some(K::NotFound),
                EFBIG => Some(K::InvalidArgument),
                E2BIG | ERANGE | ENOSPC | ENOMEM => Some(K::LimitReached),
                _ => None,
            },
            Call::SemctlGetval | Call::SemctlStat | Call::SemctlRmid => match e {
                EINVAL | EIDRM => Some(K::NotFound),
                _ => None,
            },
            Call::Open => match e {
                ELOOP => Some(K::PermissionDenied),
                ENOENT | ENOTDIR => Some(K::NotFound),
                EMFILE | ENFILE | ENOSPC | EDQUOT => Some(K::LimitReached),
                _ => None,
            },
            Call::FcntlSetlk
            | Call::FcntlSetlkw
            | Call::FcntlGetlk
            | Call::MirrorSetlk
            | Call::MirrorSetlkw => match e {
                // F_SETLK reports a conflict as EAGAIN or EACCES.
                EAGAIN | EACCES => Some(K::WouldBlock),
                EDEADLK => Some(K::Deadlock),
                ENOLCK => Some(K::LimitReached),
                EBADF | EINVAL => Some(K::InvalidArgument),
                _ => None,
            },
            Call::Fstat | Call::Close => None,
            Call::LockFileCheck => Some(K::PermissionDenied),
            Call::MappingAccess | Call::Argument => Some(K::InvalidArgument),
            Call::LockOwner => Some(K::InvalidArgument),
        };
        call_specific.unwrap_or(match e {
            EEXIST => K::AlreadyExists,
            ENOENT | EIDRM => K::NotFound,
            EACCES | EPERM => K::PermissionDenied,
            EAGAIN => K::WouldBlock,
            EDEADLK => K::Deadlock,
            ENOSPC | ENOMEM | EMFILE | ENFILE | E2BIG | EFBIG | ERANGE => K::LimitReached,
            EINVAL => K::InvalidArgument,
            _ => K::Other,
        })
    }
}

impl PlatformError for SysError {
    fn kind(&self) -> ErrorKind {
        match self.detail {
            Detail::TimedOut { .. } => ErrorKind::TimedOut,
            Detail::LockFile { .. } => ErrorKind::PermissionDenied,
            Detail::OutOfRange { .. }
            | Detail::BadRange { .. }
            | Detail::UnknownOwner
            | Detail::Pinned { .. }
            | Detail::PrivateKey
            | Detail::ZeroSize => ErrorKind::InvalidArgument,
            Detail::None | Detail::Limit { .. } => self.kind_by_table(),
        }
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.call)?;
        if self.errno != 0 {
            let text = std::io::Error::from_raw_os_error(self.errno);
            write!(f, ": {text}")?;
        }
        match self.detail {
            Detail::None => {}
            Detail::OutOfRange {
                offset,
                len,
                available,
            } => write!(
                f,
                ": {len} bytes at offset {offset} do not fit into a mapping of {available} bytes"
            )?,
            Detail::LockFile { problem, uid, mode } => {
                write!(f, ": lock file {problem} (owner uid {uid}, mode {mode:o})")?
            }
            Detail::BadRange { start, len, slots } => write!(
                f,
                ": lock range {start}..{start}+{len} is empty or outside the {slots} slot bytes"
            )?,
            Detail::UnknownOwner => f.write_str(": unknown or released lock owner")?,
            Detail::Pinned { byte } => write!(
                f,
                ": the lock on byte {byte} is still in use by a zero-copy view"
            )?,
            Detail::TimedOut { waited_ms } => {
                write!(f, ": lock not granted within {waited_ms} ms")?
            }
            Detail::PrivateKey => f.write_str(": key 0 (IPC_PRIVATE) is never used")?,
            Detail::ZeroSize => f.write_str(": a segment of 0 bytes was asked for")?,
            Detail::Limit {
                limit,
                in_use,
                asked,
                max,
            } => match limit {
                Limit::Shmmax => write!(
                    f,
                    ": a segment of {asked} bytes asked, kernel.shmmax = {max} bytes"
                )?,
                Limit::Shmmni => write!(f, ": segments in use: {in_use}, kernel.shmmni = {max}")?,
                Limit::Shmall => write!(
                    f,
                    ": pages in use: {in_use}, asked: {asked}, kernel.shmall = {max} pages"
                )?,
                Limit::Semmni => write!(
                    f,
                    ": semaphore sets in use: {in_use}, SEMMNI (kernel.sem, 4th field) = {max}"
                )?,
                Limit::Semmns => write!(
                    f,
                    ": semaphores in use: {in_use}, asked: {asked}, SEMMNS (kernel.sem, 2nd \
                     field) = {max}"
                )?,
                Limit::Semmsl => write!(
                    f,
                    ": semaphores per set asked: {asked}, SEMMSL (kernel.sem, 1st field) = {max}"
                )?,
            },
        }
        if let Some(limit) = self.limit() {
            write!(f, " [kernel limit {limit}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for SysError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shmget_einval_is_a_limit_named_shmmax() {
        let e = SysError::new(Call::ShmgetCreate, libc::EINVAL);
        assert_eq!(e.kind(), ErrorKind::LimitReached);
        assert_eq!(e.limit(), Some("SHMMAX"));
        let text = e.to_string();
        assert!(text.contains("SHMMAX"), "{text}");
        assert!(text.contains("shmget"), "{text}");
        assert!(text.contains("os error 22"), "{text}");
    }

    #[test]
    fn same_errno_differs_per_call() {
        assert_eq!(
            SysError::new(Call::Shmat, libc::EINVAL).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            SysError::new(Call::FcntlSetlk, libc::EINVAL).kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            SysError::new(Call::FcntlSetlk, libc::EACCES).kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(
            SysError::new(Call::MirrorSetlk, libc::EACCES).kind(),
            ErrorKind::WouldBlock
        );
        assert_eq!(
            SysError::new(Call::MirrorSetlkw, libc::EDEADLK).kind(),
            ErrorKind::Deadlock
        );
        assert_eq!(
            SysError::new(Call::ShmgetFind, libc::EACCES).kind(),
            ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn generic_table() {
        let cases = [
            (libc::EEXIST, ErrorKind::AlreadyExists),
            (libc::ENOENT, ErrorKind::NotFound),
            (libc::EIDRM, ErrorKind::NotFound),
            (libc::EPERM, ErrorKind::PermissionDenied),
            (libc::EAGAIN, ErrorKind::WouldBlock),
            (libc::EDEADLK, ErrorKind::Deadlock),
            (libc::EMFILE, ErrorKind::LimitReached),
            (libc::EINVAL, ErrorKind::InvalidArgument),
            (libc::EIO, ErrorKind::Other),
        ];
        for (errno, kind) in cases {
            assert_eq!(
                SysError::new(Call::Fstat, errno).kind(),
                kind,
                "errno {errno}"
            );
        }
    }

    #[test]
    fn semget_enospc_names_semmni() {
        let e = SysError::new(Call::SemgetCreate, libc::ENOSPC);
        assert_eq!(e.kind(), ErrorKind::LimitReached);
        assert!(e.to_string().contains("SEMMNI"));
    }

    #[test]
    fn a_diagnosed_limit_replaces_the_ambiguous_name() {
        let e = SysError::new(Call::ShmgetCreate, libc::ENOSPC).with_detail(Detail::Limit {
            limit: Limit::Shmmni,
            in_use: 2,
            asked: 1,
            max: 2,
        });
        assert_eq!(e.kind(), ErrorKind::LimitReached);
        assert_eq!(e.limit(), Some("SHMMNI"));
        let text = e.to_string();
        assert!(text.ends_with("[kernel limit SHMMNI]"), "{text}");
        assert!(text.contains("os error 28"), "{text}");
        assert!(text.contains("kernel.shmmni = 2"), "{text}");
        // undiagnosed, the errno alone cannot tell SHMMNI from SHMALL: both are named
        let bare = SysError::new(Call::ShmgetCreate, libc::ENOSPC);
        assert_eq!(bare.limit(), Some("SHMMNI/SHMALL"));
        // ENOMEM is memory, not a System V limit
        let nomem = SysError::new(Call::ShmgetCreate, libc::ENOMEM);
        assert_eq!(nomem.kind(), ErrorKind::LimitReached);
        assert_eq!(nomem.limit(), None);
    }
}

//! Errors of the mock kernel: which call failed ([`CallKind`]), with which simulated errno
//! ([`MockErrno`]), and why ([`MockError::detail`]).

use core::fmt;

use shmfits_core::shm::{ErrorKind, PlatformError};

/// One variant per method of [`shmfits_core::shm::SharedMem`]: what a [`MockError`] came from,
/// what a fault rule targets and what [`crate::Stats`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    /// `segment_create`
    SegmentCreate,
    /// `segment_find`
    SegmentFind,
    /// `segment_info`
    SegmentInfo,
    /// `segment_attach`
    SegmentAttach,
    /// `segment_detach`
    SegmentDetach,
    /// `segment_remove`
    SegmentRemove,
    /// `mapping_id` (infallible: fault rules never fire on it)
    MappingId,
    /// `mapping_len` (infallible: fault rules never fire on it)
    MappingLen,
    /// `read`
    Read,
    /// `write`
    Write,
    /// `counter_create`
    CounterCreate,
    /// `counter_info`
    CounterInfo,
    /// `counter_add`
    CounterAdd,
    /// `counter_remove`
    CounterRemove,
    /// `counter_find`
    CounterFind,
    /// `lock_owner_new`
    LockOwnerNew,
    /// `lock_owner_release`
    LockOwnerRelease,
    /// `lock`
    Lock,
    /// `unlock`
    Unlock,
    /// `current_uid` (infallible: fault rules never fire on it)
    CurrentUid,
}

impl CallKind {
    /// Every call kind, in declaration order (the index of a kind is its position here).
    pub const ALL: [CallKind; 20] = [
        CallKind::SegmentCreate,
        CallKind::SegmentFind,
        CallKind::SegmentInfo,
        CallKind::SegmentAttach,
        CallKind::SegmentDetach,
        CallKind::SegmentRemove,
        CallKind::MappingId,
        CallKind::MappingLen,
        CallKind::Read,
        CallKind::Write,
        CallKind::CounterCreate,
        CallKind::CounterInfo,
        CallKind::CounterAdd,
        CallKind::CounterRemove,
        CallKind::CounterFind,
        CallKind::LockOwnerNew,
        CallKind::LockOwnerRelease,
        CallKind::Lock,
        CallKind::Unlock,
        CallKind::CurrentUid,
    ];

    /// Number of call kinds.
    pub const COUNT: usize = Self::ALL.len();

    /// Position of this kind in [`CallKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The trait method's name, e.g. `"segment_create"`.
    pub const fn name(self) -> &'static str {
        match self {
            CallKind::SegmentCreate => "segment_create",
            CallKind::SegmentFind => "segment_find",
            CallKind::SegmentInfo => "segment_info",
            CallKind::SegmentAttach => "segment_attach",
            CallKind::SegmentDetach => "segment_detach",
            CallKind::SegmentRemove => "segment_remove",
            CallKind::MappingId => "mapping_id",
            CallKind::MappingLen => "mapping_len",
            CallKind::Read => "read",
            CallKind::Write => "write",
            CallKind::CounterCreate => "counter_create",
            CallKind::CounterInfo => "counter_info",
            CallKind::CounterAdd => "counter_add",
            CallKind::CounterRemove => "counter_remove",
            CallKind::CounterFind => "counter_find",
            CallKind::LockOwnerNew => "lock_owner_new",
            CallKind::LockOwnerRelease => "lock_owner_release",
            CallKind::Lock => "lock",
            CallKind::Unlock => "unlock",
            CallKind::CurrentUid => "current_uid",
        }
    }

    /// Whether the trait method returns a `Result` (only those can fail or be faulted).
    pub const fn is_fallible(self) -> bool {
        !matches!(
            self,
            CallKind::MappingId | CallKind::MappingLen | CallKind::CurrentUid
        )
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The simulated `errno` of a failed call. [`MockErrno::kind`] is the same table a real
/// System V adapter uses to turn errno into a portable [`ErrorKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MockErrno {
    /// `ENOENT`: no object under that key.
    NoEntry,
    /// `EIDRM`: the object was removed.
    IdRemoved,
    /// `EEXIST`: an exclusive create found an object.
    Exists,
    /// `EACCES`: mode bits forbid the access.
    Access,
    /// `EPERM`: only the owner, the creator or root may do that.
    Perm,
    /// `EAGAIN`: would have had to wait.
    Again,
    /// `EINTR`: interrupted by a signal (only ever injected).
    Intr,
    /// `EDEADLK`: the wait would deadlock.
    Deadlock,
    /// `ETIMEDOUT`: a timed wait ran out.
    TimedOut,
    /// `ENOSPC`: a system-wide object or memory limit.
    NoSpace,
    /// `ENOMEM`: out of memory.
    NoMem,
    /// `EMFILE`: a per-process limit.
    TooManyFiles,
    /// `E2BIG`: argument too big.
    TooBig,
    /// `EFBIG`: file (segment) too big.
    FileTooBig,
    /// `ERANGE`: a counter or undo value would leave its range.
    Range,
    /// `EINVAL`: an argument is out of range.
    Inval,
    /// `EBADF`: a lock owner that does not exist in this process.
    BadF,
    /// `ESRCH`: the calling process is dead (killed or exited).
    Srch,
    /// `EIO`: an I/O error (only ever injected).
    Io,
}

impl MockErrno {
    /// Every errno the mock knows, for tests that sweep them.
    pub const ALL: [MockErrno; 19] = [
        MockErrno::NoEntry,
        MockErrno::IdRemoved,
        MockErrno::Exists,
        MockErrno::Access,
        MockErrno::Perm,
        MockErrno::Again,
        MockErrno::Intr,
        MockErrno::Deadlock,
        MockErrno::TimedOut,
        MockErrno::NoSpace,
        MockErrno::NoMem,
        MockErrno::TooManyFiles,
        MockErrno::TooBig,
        MockErrno::FileTooBig,
        MockErrno::Range,
        MockErrno::Inval,
        MockErrno::BadF,
        MockErrno::Srch,
        MockErrno::Io,
    ];

    /// The portable kind, by the same table a System V adapter uses.
    pub const fn kind(self) -> ErrorKind {
        match self {
            MockErrno::NoEntry | MockErrno::IdRemoved => ErrorKind::NotFound,
            MockErrno::Exists => ErrorKind::AlreadyExists,
            MockErrno::Access | MockErrno::Perm => ErrorKind::PermissionDenied,
            MockErrno::Again => ErrorKind::WouldBlock,
            MockErrno::TimedOut => ErrorKind::TimedOut,
            MockErrno::Deadlock => ErrorKind::Deadlock,
            MockErrno::NoSpace
            | MockErrno::NoMem
            | MockErrno::TooManyFiles
            | MockErrno::TooBig
            | MockErrno::FileTooBig
            | MockErrno::Range => ErrorKind::LimitReached,
            MockErrno::Inval | MockErrno::BadF => ErrorKind::InvalidArgument,
            MockErrno::Intr | MockErrno::Srch | MockErrno::Io => ErrorKind::Other,
        }
    }

    /// The C name, e.g. `"ENOSPC"`.
    pub const fn name(self) -> &'static str {
        match self {
            MockErrno::NoEntry => "ENOENT",
            MockErrno::IdRemoved => "EIDRM",
            MockErrno::Exists => "EEXIST",
            MockErrno::Access => "EACCES",
            MockErrno::Perm => "EPERM",
            MockErrno::Again => "EAGAIN",
            MockErrno::Intr => "EINTR",
            MockErrno::Deadlock => "EDEADLK",
            MockErrno::TimedOut => "ETIMEDOUT",
            MockErrno::NoSpace => "ENOSPC",
            MockErrno::NoMem => "ENOMEM",
            MockErrno::TooManyFiles => "EMFILE",
            MockErrno::TooBig => "E2BIG",
            MockErrno::FileTooBig => "EFBIG",
            MockErrno::Range => "ERANGE",
            MockErrno::Inval => "EINVAL",
            MockErrno::BadF => "EBADF",
            MockErrno::Srch => "ESRCH",
            MockErrno::Io => "EIO",
        }
    }

    /// The Linux errno number.
    pub const fn code(self) -> i32 {
        match self {
            MockErrno::NoEntry => 2,
            MockErrno::IdRemoved => 43,
            MockErrno::Exists => 17,
            MockErrno::Access => 13,
            MockErrno::Perm => 1,
            MockErrno::Again => 11,
            MockErrno::Intr => 4,
            MockErrno::Deadlock => 35,
            MockErrno::TimedOut => 110,
            MockErrno::NoSpace => 28,
            MockErrno::NoMem => 12,
            MockErrno::TooManyFiles => 24,
            MockErrno::TooBig => 7,
            MockErrno::FileTooBig => 27,
            MockErrno::Range => 34,
            MockErrno::Inval => 22,
            MockErrno::BadF => 9,
            MockErrno::Srch => 3,
            MockErrno::Io => 5,
        }
    }
}

impl fmt::Display for MockErrno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed call of a [`crate::MockProcess`].
///
/// `Display` names the call, the errno and the reason, e.g.
/// `segment_create: ENOSPC (kernel limit reached): limit SHMMNI reached`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MockError {
    /// The trait method that failed.
    pub call: CallKind,
    /// The simulated errno.
    pub errno: MockErrno,
    /// The portable kind (always `errno.kind()`).
    pub kind: ErrorKind,
    /// Why, in words: the limit's name (`"limit SHMMNI reached"`), `"injected fault"`, the
    /// argument that was out of range, `"process is dead"` …
    pub detail: &'static str,
}

impl MockError {
    /// Whether this error was produced by the fault plan rather than by a kernel rule.
    pub fn is_injected(&self) -> bool {
        self.detail == INJECTED || self.detail == CRASHED
    }
}

/// [`MockError::detail`] of every injected fault.
pub(crate) const INJECTED: &str = "injected fault";
/// [`MockError::detail`] of the call at which a crashing fault rule killed the process.
pub(crate) const CRASHED: &str = "injected crash: the process was killed at this call";

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({}): {}",
            self.call, self.errno, self.kind, self.detail
        )
    }
}

impl core::error::Error for MockError {}

impl PlatformError for MockError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// A kernel rule's refusal before it is tied to the call that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    pub errno: MockErrno,
    pub detail: &'static str,
}

impl Fail {
    pub(crate) const fn new(errno: MockErrno, detail: &'static str) -> Self {
        Fail { errno, detail }
    }

    pub(crate) const fn into_error(self, call: CallKind) -> MockError {
        MockError {
            call,
            errno: self.errno,
            kind: self.errno.kind(),
            detail: self.detail,
        }
    }
}

/// Why a test helper of [`crate::MockKernel`] (corruption, raw reads) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperError {
    /// No segment (live or removed-but-attached) has this id.
    NoSuchSegment(i32),
    /// No counter has this id.
    NoSuchCounter(i32),
    /// `offset + len` passes the end of the segment's memory.
    OutOfRange {
        /// The segment.
        id: i32,
        /// First byte asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Length of the segment's memory (page-rounded).
        segment_len: usize,
    },
    /// A counter value above `SEMVMX` (32767).
    CounterValueTooBig(u32),
    /// No process has this pid, or it is already dead.
    NoSuchProcess(u32),
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HelperError::NoSuchSegment(id) => write!(f, "no segment with id {id}"),
            HelperError::NoSuchCounter(id) => write!(f, "no counter with id {id}"),
            HelperError::OutOfRange {
                id,
                offset,
                len,
                segment_len,
            } => write!(
                f,
                "bytes {offset}..{offset}+{len} pass the end of segment {id} ({segment_len} bytes)"
            ),
            HelperError::CounterValueTooBig(v) => {
                write!(f, "counter value {v} is above SEMVMX (32767)")
            }
            HelperError::NoSuchProcess(pid) => write!(f, "no live process with pid {pid}"),
        }
    }
}

impl core::error::Error for HelperError {}

//! The boundary between the driver and a kernel: [`SharedMem`].
//!
//! The trait is the System V model reduced to what the `shmem://` driver needs. A port to a new
//! kernel implements exactly these operations; the driver relies on nothing else. Three kinds
//! of kernel object take part:
//!
//! * **segments** — shared memory blocks named by a [`Key`], identified by a [`SegmentId`]
//!   once created or found, attached into the calling process as a [`SharedMem::Mapping`];
//! * **counters** — one per slot, counting the processes that have the slot's file attached.
//!   Increments made by a process are *undone by the kernel when that process dies*
//!   (System V semaphores with `SEM_UNDO`);
//! * **locks** — shared/exclusive locks on byte ranges of one lock file (byte `i` is slot `i`),
//!   held by a [`SharedMem::LockOwner`] and *released by the kernel when the owner's process
//!   dies*. Two owners in one process conflict with each other exactly as two processes do.
//!
//! Every method takes `&self`: a platform value is a thin, internally synchronized view of the
//! kernel, and may be used from several threads when the implementation is `Sync`.
//!
//! Nothing a platform returns about a segment's *contents* is trusted by the driver; the
//! metadata it returns from the kernel itself ([`SegmentInfo`], [`CounterInfo`]) is what the
//! driver checks those contents against.

use core::fmt;
use core::time::Duration;

/// A System V IPC key (`key_t`, a C `int`).
pub type Key = i32;

/// Kernel identifier of a segment (a `shmid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(pub i32);

/// Kernel identifier of a counter (a `semid`; the counter is semaphore 0 of that set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterId(pub i32);

/// What went wrong in a platform call, independent of the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No object exists under that key or id (`ENOENT`, `EIDRM`, `EINVAL` for a gone id).
    NotFound,
    /// An exclusive create found an object under the key (`EEXIST`).
    AlreadyExists,
    /// The object exists but belongs to someone who does not let us use it (`EACCES`, `EPERM`).
    PermissionDenied,
    /// A lock or counter operation asked not to wait and would have had to (`EAGAIN`).
    WouldBlock,
    /// A wait with a timeout ran out.
    TimedOut,
    /// The kernel refused a wait because it would deadlock (`EDEADLK`).
    Deadlock,
    /// A kernel limit was reached (`ENOSPC`, `ENOMEM`, `EMFILE`, `E2BIG`, `EFBIG`, `ERANGE`).
    LimitReached,
    /// An argument was out of range, e.g. an offset past the end of a mapping (`EINVAL`).
    InvalidArgument,
    /// Anything else; the platform error carries the details.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::WouldBlock => "would block",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Deadlock => "deadlock",
            ErrorKind::LimitReached => "kernel limit reached",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Other => "platform error",
        })
    }
}

/// The error type of a platform: platform-specific detail (errno, the call, the limit's
/// name) plus a portable [`ErrorKind`] that the driver decides on.
pub trait PlatformError: fmt::Debug + fmt::Display + Copy {
    /// The portable kind of this error.
    fn kind(&self) -> ErrorKind;
}

/// Metadata of a segment as the kernel reports it (`shmctl(IPC_STAT)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The key the segment was created under; `None` once it is marked for removal (Linux
    /// reports `IPC_PRIVATE` then) or when it was created private.
    pub key: Option<Key>,
    /// The size asked for at creation, in bytes (not rounded to pages). Every attachment of
    /// the segment is at least this long.
    pub size: usize,
    /// Number of current attachments, all processes together.
    pub attach_count: u32,
    /// Effective user id of the owner.
    pub owner_uid: u32,
    /// Permission bits (`0o600` …).
    pub mode: u32,
    /// Whether the segment is marked for removal and will go away with its last detach.
    pub removed: bool,
}

/// Metadata and value of a counter (`semctl(IPC_STAT)` and `GETVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterInfo {
    /// The key the counter was created under.
    pub key: Option<Key>,
    /// Current value: the number of attach increments not yet taken back.
    pub value: u32,
    /// Effective user id of the owner.
    pub owner_uid: u32,
    /// Permission bits.
    pub mode: u32,
}

/// Kind of a lock on a byte range of the lock file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// Many owners may hold it at once (`F_RDLCK`).
    Shared,
    /// One owner holds it and no one else holds any lock on the range (`F_WRLCK`).
    Exclusive,
}

/// What a lock call does when the lock is held by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wait {
    /// Fail at once with [`ErrorKind::WouldBlock`].
    No,
    /// Wait until the lock is granted (or the kernel reports [`ErrorKind::Deadlock`]).
    /// A simulated platform that cannot wait reports [`ErrorKind::WouldBlock`] instead of
    /// hanging.
    Forever,
    /// Wait at most this long, then fail with [`ErrorKind::TimedOut`].
    Timeout(Duration),
}

/// A byte range of the lock file: `start .. start + len`. Slot `i` is `LockRange::slot(i)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockRange {
    /// First byte.
    pub start: u32,
    /// Number of bytes; at least 1.
    pub len: u32,
}

impl LockRange {
    /// The one-byte range of slot `slot`.
    pub const fn slot(slot: u32) -> Self {
        LockRange {
            start: slot,
            len: 1,
        }
    }

    /// The range `0 .. slots` that covers every slot (used to decide whether the global
    /// table may be removed).
    pub const fn all(slots: u32) -> Self {
        LockRange {
            start: 0,
            len: slots,
        }
    }
}

/// The System V model reduced to what the `shmem://` driver needs.
///
/// # Contract for implementors
///
/// * Calls are atomic with respect to each other, across all processes.
/// * A process's death (crash, `SIGKILL`) has these effects, all at once: every lock held by
///   its owners is released; every counter increment it made is taken back (decrements it
///   made too); every mapping it held is detached. Segments and counters themselves survive.
/// * Removing a segment frees its key at once but its memory only with the last detach; a
///   removed segment can no longer be found or attached.
/// * No call may panic on any argument; out-of-range arguments are
///   [`ErrorKind::InvalidArgument`].
pub trait SharedMem {
    /// Errors of this platform.
    type Error: PlatformError;

    /// A segment attached into this process. Detaching consumes it.
    type Mapping;

    /// Holder of locks. Two owners conflict exactly as two processes would, even in one
    /// process (on Unix: one open file description with `F_OFD_*` locks). It is a small
    /// copyable token; [`SharedMem::lock_owner_release`] frees what stands behind it.
    type LockOwner: Copy + fmt::Debug;

    // ---------------------------------------------------------------- segments

    /// Create a segment of `size` bytes under `key`, failing with
    /// [`ErrorKind::AlreadyExists`] if one exists (`IPC_CREAT | IPC_EXCL`). Contents are zero.
    fn segment_create(&self, key: Key, size: usize) -> Result<SegmentId, Self::Error>;

    /// Find the live segment created under `key`.
    fn segment_find(&self, key: Key) -> Result<SegmentId, Self::Error>;

    /// Kernel metadata of a segment.
    fn segment_info(&self, id: SegmentId) -> Result<SegmentInfo, Self::Error>;

    /// Attach a segment into this process, read-write.
    fn segment_attach(&self, id: SegmentId) -> Result<Self::Mapping, Self::Error>;

    /// Detach a mapping.
    fn segment_detach(&self, mapping: Self::Mapping) -> Result<(), Self::Error>;

    /// Mark a segment for removal: its key is free at once, its memory goes with the last
    /// detach.
    fn segment_remove(&self, id: SegmentId) -> Result<(), Self::Error>;

    /// The id of the segment behind a mapping.
    fn mapping_id(&self, mapping: &Self::Mapping) -> SegmentId;

    /// Length of an attached segment in bytes (what may be read and written through it).
    fn mapping_len(&self, mapping: &Self::Mapping) -> usize;

    /// Copy `buf.len()` bytes out of the mapping starting at `offset`.
    /// Out of range is [`ErrorKind::InvalidArgument`] and copies nothing.
    fn read(
        &self,
        mapping: &Self::Mapping,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), Self::Error>;

    /// Copy `data` into the mapping starting at `offset`.
    /// Out of range is [`ErrorKind::InvalidArgument`] and copies nothing.
    fn write(&self, mapping: &Self::Mapping, offset: usize, data: &[u8])
        -> Result<(), Self::Error>;

    // ---------------------------------------------------------------- counters

    /// Create a counter with value 0 under `key`, failing with
    /// [`ErrorKind::AlreadyExists`] if one exists.
    fn counter_create(&self, key: Key) -> Result<CounterId, Self::Error>;

    /// Kernel metadata and current value of a counter.
    fn counter_info(&self, id: CounterId) -> Result<CounterInfo, Self::Error>;

    /// Add `delta` to a counter, never waiting. The kernel undoes the change when the calling
    /// process dies. A change that would make the value negative fails with
    /// [`ErrorKind::WouldBlock`] and changes nothing.
    fn counter_add(&self, id: CounterId, delta: i16) -> Result<(), Self::Error>;

    /// Remove a counter (at once; later calls on its id fail with [`ErrorKind::NotFound`]).
    fn counter_remove(&self, id: CounterId) -> Result<(), Self::Error>;

    /// Find the counter created under `key` (`semget(key, 0, 0)`): `Ok(Some(id))`, or
    /// `Ok(None)` if there is none.
    ///
    /// Optional: the default answers `Ok(None)` for every key, meaning "cannot tell". The
    /// driver uses it only to remove counters that a crash left behind under a key no table
    /// entry names; without it such counters stay (harmless, but they count against the
    /// kernel's limit).
    fn counter_find(&self, key: Key) -> Result<Option<CounterId>, Self::Error> {
        let _ = key;
        Ok(None)
    }

    // ---------------------------------------------------------------- locks

    /// A new lock owner, holding nothing.
    fn lock_owner_new(&self) -> Result<Self::LockOwner, Self::Error>;

    /// Release every lock of `owner` and free it. Using it afterwards is
    /// [`ErrorKind::InvalidArgument`].
    fn lock_owner_release(&self, owner: Self::LockOwner) -> Result<(), Self::Error>;

    /// Take (or convert to) a `kind` lock on `range` for `owner`. Converting a held lock is
    /// allowed, as with `fcntl`; it is not atomic (another owner may get in between).
    fn lock(
        &self,
        owner: Self::LockOwner,
        range: LockRange,
        kind: LockKind,
        wait: Wait,
    ) -> Result<(), Self::Error>;

    /// Release `owner`'s lock on `range` (releasing what is not held is not an error).
    fn unlock(&self, owner: Self::LockOwner, range: LockRange) -> Result<(), Self::Error>;

    // ---------------------------------------------------------------- test hook

    /// **Test-only hook**: the driver calls this at every named [`Step`](super::Step) of an
    /// operation where a crash leaves a distinct state. The default does nothing; test
    /// platforms stop or kill the process here (see [`Step`](super::Step)). It must not
    /// change any kernel object.
    fn checkpoint(&self, step: super::Step) {
        let _ = step;
    }

    // ---------------------------------------------------------------- identity

    /// The effective user id of the calling process, to check object ownership against.
    fn current_uid(&self) -> u32;
}

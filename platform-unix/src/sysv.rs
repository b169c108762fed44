//! [`SysV`]: the [`SharedMem`] platform on System V shared memory, System V semaphores and
//! open-file-description locks on CFITSIO's lock file.
//!
//! ```no_run
//! use shmfits_core::shm::{LockKind, LockRange, SharedMem, Wait};
//! use shmfits_unix::{Config, SysV};
//!
//! let sysv = SysV::new(Config::from_env()?)?;
//! let owner = sysv.lock_owner_new()?;
//! sysv.lock(owner, LockRange::slot(2), LockKind::Shared, Wait::No)?;
//! sysv.lock_owner_release(owner)?; // releases the lock
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shmfits_core::shm::{
    CounterId, CounterInfo, ErrorKind, Key, LockKind, LockRange, PlatformError, SegmentId,
    SegmentInfo, SharedMem, Step, Wait,
};

use crate::config::{Config, ConfigError, ExpectedOwner};
use crate::error::{Call, Detail, LockFileProblem, SysError};
use crate::limits;
use crate::mirror::{self, FileKey, MirrorWait};
use crate::owner::OwnerEntry;
use crate::sys::{self, FileStat, SysMapping};
use crate::test_hook::StopAt;

/// A lock owner of [`SysV`]: a token for one open file description of the lock file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockOwner(u64);

/// Making a [`SysV`] failed: the configuration or the lock file was refused.
#[derive(Debug)]
pub enum SetupError {
    /// A configuration value is invalid.
    Config(ConfigError),
    /// The lock file could not be opened or was refused.
    LockFile {
        /// Its path.
        path: PathBuf,
        /// What failed.
        error: SysError,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Config(e) => e.fmt(f),
            SetupError::LockFile { path, error } => {
                write!(f, "lock file {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::Config(e) => Some(e),
            SetupError::LockFile { error, .. } => Some(error),
        }
    }
}

impl From<ConfigError> for SetupError {
    fn from(e: ConfigError) -> Self {
        SetupError::Config(e)
    }
}

impl SetupError {
    /// The portable kind (`InvalidArgument` for a configuration error).
    pub fn kind(&self) -> ErrorKind {
        match self {
            SetupError::Config(_) => ErrorKind::InvalidArgument,
            SetupError::LockFile { error, .. } => error.kind(),
        }
    }
}

#[derive(Debug, Default)]
struct Owners {
    next: u64,
    map: HashMap<u64, OwnerEntry>,
    /// Released owners whose description of the checked lock file holds no lock, kept whole
    /// (`Arc`, emptied tables with their capacity) for reuse: an open+close cycle then opens,
    /// checks and closes no file (three system calls) and allocates nothing.
    spare: Vec<OwnerEntry>,
}

/// Most lock-free descriptions of the lock file kept for reuse.
const SPARE_OWNERS: usize = 8;

/// Most table entries a spare owner keeps room for (the whole-range lock of table setup
/// would otherwise keep `slots` entries per spare owner).
const SPARE_TABLE: usize = 64;

#[derive(Debug)]
struct Inner {
    config: Config,
    path: PathBuf,
    file: FileStat,
    /// The checked lock file, kept open: owners are new open file descriptions of it. Taken
    /// out only by `Drop` (its close may have to wait for the process's mirror locks).
    file_fd: Option<OwnedFd>,
    euid: u32,
    owners: Mutex<Owners>,
    stop_at: Option<StopAt>,
}

/// The System V platform: segments (`shmget`/`shmat`), counters (semaphores with
/// `SEM_UNDO`) and slot locks (`F_OFD_*` locks on the lock file).
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`.
///
/// # Lock cycles between processes
///
/// The slot locks are open-file-description locks on bytes `0..M` of the lock file (what
/// CFITSIO sees: its classic locks on the same bytes conflict with them). Linux does not
/// check waits for OFD locks for deadlock, so every slot lock is *mirrored*: first a classic
/// `fcntl` lock of the same kind is taken on byte `2^40 + i` of the same file, with the same
/// wait form (`Wait::Forever`: `F_SETLKW`), then the slot lock; unlocking releases the slot
/// lock, then the mirror. When two of our processes each hold a slot and wait for the other's,
/// the kernel refuses the wait that would close the cycle with `EDEADLK`, which
/// [`SharedMem::lock`] reports as [`ErrorKind::Deadlock`] (the driver's `Error::Deadlock`), and
/// the other wait completes once that side gives up its slot.
///
/// What is and is not detected:
/// * Cycles among processes using shmfits (any number, up to the kernel's depth of 10) whose
///   waits are `Wait::Forever`. The timeout and non-blocking forms never hang anyway.
/// * Not cycles through a CFITSIO process: it takes no mirrors. Use the timeout form there.
/// * The kernel's detector works per process (classic locks belong to the process), so in a
///   multi-threaded process it can report a cycle that another thread would have broken, and
///   one lock cycle can be reported to a different thread than the one closing it (`fcntl(2)`:
///   the detection "can yield both false negatives and false positives").
/// * Classic locks vanish when the process closes *any* descriptor of the file. This platform
///   keeps its own descriptors of the lock file open while the process holds mirrors on it
///   (closing them later), but if other code of the process closes a descriptor of the same
///   file (CFITSIO linked into it, say), the process's mirrors are gone: cycles through it are
///   then not detected (the slot locks stay correct) until it takes new mirrors.
/// * Mirrors of one process are one lock per byte, at the strongest kind any owner of the
///   process holds or is taking. While one of its owners waits for an exclusive slot lock that
///   another of its owners holds shared (two drivers in one process), other processes' readers
///   of that slot wait too.
/// * The count of mirrors is kept per process: use a platform only in the process that made
///   it (a child made by `fork` without `exec` inherits the count but not the locks).
#[derive(Clone, Debug)]
pub struct SysV {
    inner: Arc<Inner>,
}

/// First and longest sleep between polls of a timed lock wait.
const POLL_FIRST: Duration = Duration::from_micros(100);
const POLL_MAX: Duration = Duration::from_millis(5);

impl SysV {
    /// Validate `config`, open (creating if needed) and check the lock file.
    ///
    /// The lock file is opened with `O_NOFOLLOW | O_CLOEXEC | O_CREAT`, never truncated, and
    /// refused unless it is a regular file owned by the expected user (or root) without
    /// group/world write beyond what `config.create_mode` allows (unless it is our own
    /// user's file and `config.accept_cfitsio_lock_file` is set, as by default).
    ///
    /// # Errors
    /// [`SetupError::Config`] for invalid values, [`SetupError::LockFile`] naming the path
    /// (with owner uid and mode when the file was refused).
    pub fn new(config: Config) -> Result<Self, SetupError> {
        config.validate()?;
        let path = config.lock_file_path();
        let euid = sys::geteuid();
        let lock_err = |error| SetupError::LockFile {
            path: path.clone(),
            error,
        };
        let fd = open_or_reuse(&path, &config, euid).map_err(lock_err)?;
        let file = sys::fstat(fd.as_fd()).map_err(lock_err)?;
        Ok(SysV {
            inner: Arc::new(Inner {
                config,
                path,
                file,
                file_fd: Some(fd),
                euid,
                owners: Mutex::new(Owners::default()),
                stop_at: StopAt::from_env(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The lock file's path.
    pub fn lock_file_path(&self) -> &Path {
        &self.inner.path
    }

    /// The real user id of the calling process (the effective one is
    /// [`SharedMem::current_uid`]).
    pub fn real_uid(&self) -> u32 {
        sys::getuid()
    }

    /// The process id of the calling process.
    pub fn process_id(&self) -> i32 {
        sys::getpid()
    }

    /// Which lock of another owner (or of another process) would conflict with taking `kind`
    /// on `range` for `owner`, without taking anything (`F_OFD_GETLK`).
    ///
    /// # Errors
    /// Unknown owner or bad range: [`ErrorKind::InvalidArgument`].
    pub fn lock_probe(
        &self,
        owner: LockOwner,
        range: LockRange,
        kind: LockKind,
    ) -> Result<Option<LockKind>, SysError> {
        self.check_range(range)?;
        let fd = self.owner_fd(owner)?;
        let probed = sys::ofd_getlk(
            fd.as_fd(),
            u64::from(range.start),
            u64::from(range.len),
            kind,
        );
        if let Ok(fd) = Arc::try_unwrap(fd) {
            let _ = Self::close_fd(self.file_key(), fd);
        }
        probed
    }

    /// The owner of this platform that holds an exclusive lock on every byte of `range`, if
    /// any (there is at most one: exclusive locks conflict between owners).
    pub fn exclusive_holder(&self, range: LockRange) -> Option<LockOwner> {
        let owners = self.owners();
        owners.map.iter().find_map(|(&id, entry)| {
            bytes(range)
                .all(|b| entry.held(b) == Some(LockKind::Exclusive))
                .then_some(LockOwner(id))
        })
    }

    /// Pin `owner`'s lock on `range` for zero-copy views: until the returned pin is dropped,
    /// [`SharedMem::unlock`] of a pinned byte and [`SharedMem::lock_owner_release`] of the
    /// owner fail with [`Detail::Pinned`]. Every byte of `range` must be locked by `owner`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] when the owner is unknown, the range is bad, or a byte
    /// is not locked by the owner.
    pub fn pin(&self, owner: LockOwner, range: LockRange) -> Result<LockPin, SysError> {
        self.check_range(range)?;
        let mut owners = self.owners();
        let entry = owners
            .map
            .get_mut(&owner.0)
            .ok_or(SysError::check(Call::LockOwner, Detail::UnknownOwner))?;
        let mut kind = LockKind::Exclusive;
        for byte in bytes(range) {
            match entry.held(byte) {
                Some(LockKind::Shared) => kind = LockKind::Shared,
                Some(LockKind::Exclusive) => {}
                None => {
                    return Err(SysError::check(
                        Call::LockOwner,
                        Detail::BadRange {
                            start: byte,
                            len: 1,
                            slots: self.inner.config.slots,
                        },
                    ))
                }
            }
        }
        entry.pin(range);
        Ok(LockPin {
            sysv: self.clone(),
            owner,
            range,
            kind,
        })
    }

    fn owners(&self) -> MutexGuard<'_, Owners> {
        // A panic while holding the table cannot leave it inconsistent in a way that matters
        // more than refusing all further lock calls would, so poisoning is ignored.
        self.inner
            .owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn owner_fd(&self, owner: LockOwner) -> Result<Arc<OwnedFd>, SysError> {
        self.owners()
            .map
            .get(&owner.0)
            .map(|e| Arc::clone(&e.fd))
            .ok_or(SysError::check(Call::LockOwner, Detail::UnknownOwner))
    }

    fn check_range(&self, range: LockRange) -> Result<(), SysError> {
        let slots = self.inner.config.slots;
        let end = u64::from(range.start) + u64::from(range.len);
        if range.len == 0 || end > u64::from(slots) {
            return Err(SysError::check(
                Call::Argument,
                Detail::BadRange {
                    start: range.start,
                    len: range.len,
                    slots,
                },
            ));
        }
        Ok(())
    }

    /// The lock file's identity, for the process-wide table of mirror locks.
    fn file_key(&self) -> FileKey {
        FileKey {
            dev: self.inner.file.dev,
            ino: self.inner.file.ino,
        }
    }

    /// Take the mirror, then the slot lock, both waiting (`wait`) or not; if the slot lock
    /// fails, the mirror is returned to what it was.
    fn lock_mirrored(
        &self,
        fd: &OwnedFd,
        range: LockRange,
        kind: LockKind,
        wait: bool,
    ) -> Result<(), SysError> {
        let key = self.file_key();
        let mirror_wait = if wait {
            MirrorWait::Block
        } else {
            MirrorWait::Try
        };
        mirror::acquire(key, fd.as_fd(), range, kind, mirror_wait)?;
        match sys::ofd_setlk(fd.as_fd(), range.start, range.len, Some(kind), wait) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = mirror::release(key, fd.as_fd(), range, kind);
                Err(e)
            }
        }
    }

    /// Close a lock-file descriptor of `key`'s file, or keep it while the process holds
    /// mirror locks on that file (see [`mirror::close_or_defer`]).
    fn close_fd(key: FileKey, fd: OwnedFd) -> Result<(), SysError> {
        mirror::close_or_defer(key, fd)
    }

    /// Poll the mirror and the slot lock without waiting until both are granted or `timeout`
    /// has passed.
    fn lock_polling(
        &self,
        fd: &OwnedFd,
        range: LockRange,
        kind: LockKind,
        timeout: Duration,
    ) -> Result<(), SysError> {
        let start = Instant::now();
        let mut sleep = POLL_FIRST;
        loop {
            match self.lock_mirrored(fd, range, kind, false) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let waited = start.elapsed();
                    let Some(left) = timeout.checked_sub(waited).filter(|d| !d.is_zero()) else {
                        let waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
                        return Err(e.with_detail(Detail::TimedOut { waited_ms }));
                    };
                    std::thread::sleep(sleep.min(left));
                    sleep = (sleep * 2).min(POLL_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// As [`open_checked`], but first, if the process keeps descriptors whose close waits for
/// its mirror locks, reuse one of the file the path names (`lstat`), checked the same way.
fn open_or_reuse(path: &Path, config: &Config, euid: u32) -> Result<OwnedFd, SysError> {
    if mirror::any_deferred() {
        if let Ok(st) = sys::lstat(path) {
            let key = FileKey {
                dev: st.dev,
                ino: st.ino,
            };
            if let Some(fd) = st
                .is_regular()
                .then(|| mirror::take_deferred(key))
                .flatten()
            {
                let checked = sys::fstat(fd.as_fd())
                    .and_then(|live| check_opened(&live, config, euid, Some(&st)));
                return match checked {
                    Ok(()) => Ok(fd),
                    Err(e) => {
                        let _ = SysV::close_fd(key, fd);
                        Err(e)
                    }
                };
            }
        }
    }
    open_checked(path, config, euid, None)
}

/// Open the lock file at `path` and check it; with `same_as`, also that it is that file.
fn open_checked(
    path: &Path,
    config: &Config,
    euid: u32,
    same_as: Option<&FileStat>,
) -> Result<OwnedFd, SysError> {
    let fd = match sys::open_lock_file(path, config.create_mode) {
        Ok(fd) => fd,
        Err(e) if e.errno() == libc::ELOOP => {
            return Err(e.with_detail(Detail::LockFile {
                problem: LockFileProblem::Symlink,
                uid: u32::MAX,
                mode: 0,
            }))
        }
        Err(e) => return Err(e),
    };
    let st = sys::fstat(fd.as_fd())?;
    match check_opened(&st, config, euid, same_as) {
        Ok(()) => Ok(fd),
        Err(e) => {
            // this process may hold mirror locks on this very file
            let key = FileKey {
                dev: st.dev,
                ino: st.ino,
            };
            let _ = SysV::close_fd(key, fd);
            Err(e)
        }
    }
}

/// Check an opened lock file's `fstat`: regular, expected owner, permissions, identity.
fn check_opened(
    st: &FileStat,
    config: &Config,
    euid: u32,
    same_as: Option<&FileStat>,
) -> Result<(), SysError> {
    let problem = |problem| {
        SysError::check(
            Call::LockFileCheck,
            Detail::LockFile {
                problem,
                uid: st.uid,
                mode: st.mode & 0o7777,
            },
        )
    };
    if !st.is_regular() {
        return Err(problem(LockFileProblem::NotRegular));
    }
    let expected = match config.lock_file_owner {
        ExpectedOwner::CurrentUser => euid,
        ExpectedOwner::Uid(uid) => uid,
    };
    if st.uid != expected && st.uid != 0 {
        return Err(problem(LockFileProblem::WrongOwner));
    }
    let cfitsio_made = config.accept_cfitsio_lock_file && st.uid == expected;
    if st.mode & 0o022 & !config.create_mode != 0 && !cfitsio_made {
        return Err(problem(LockFileProblem::Writable));
    }
    if let Some(first) = same_as {
        if (first.dev, first.ino) != (st.dev, st.ino) {
            return Err(problem(LockFileProblem::Replaced));
        }
    }
    Ok(())
}

/// Release the mirrors of what `entry` holds on `range` (after its slot locks there were
/// released or replaced), one call per run of bytes held with the same kind.
fn release_mirrors(key: FileKey, entry: &OwnerEntry, range: LockRange) -> Result<(), SysError> {
    let fd = entry.fd.as_fd();
    let end = u64::from(range.start) + u64::from(range.len);
    let mut result = Ok(());
    let mut run: Option<(LockRange, LockKind)> = None;
    let held = entry
        .held
        .iter()
        .filter(|&&(b, _)| b >= range.start && u64::from(b) < end);
    for &(byte, kind) in held {
        match &mut run {
            Some((r, k))
                if *k == kind && u64::from(r.start) + u64::from(r.len) == u64::from(byte) =>
            {
                r.len += 1;
            }
            _ => {
                if let Some((r, k)) = run.take() {
                    result = result.and(mirror::release(key, fd, r, k));
                }
                run = Some((
                    LockRange {
                        start: byte,
                        len: 1,
                    },
                    kind,
                ));
            }
        }
    }
    if let Some((r, k)) = run {
        result = result.and(mirror::release(key, fd, r, k));
    }
    result
}

fn check_key(key: Key) -> Result<(), SysError> {
    if key == 0 {
        return Err(SysError::check(Call::Argument, Detail::PrivateKey));
    }
    Ok(())
}

fn bytes(range: LockRange) -> impl Iterator<Item = u32> {
    (0..range.len).map(move |i| range.start.saturating_add(i))
}

/// Proof that a lock owner holds a slot lock that cannot be released while this lives;
/// made by [`SysV::pin`], needed for zero-copy views of a mapping.
#[derive(Debug)]
pub struct LockPin {
    sysv: SysV,
    owner: LockOwner,
    range: LockRange,
    kind: LockKind,
}

impl LockPin {
    /// The weakest kind of lock held on the pinned range.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// The pinned range.
    pub fn range(&self) -> LockRange {
        self.range
    }

    /// The owner whose lock is pinned.
    pub fn owner(&self) -> LockOwner {
        self.owner
    }

    /// Borrow `len` bytes of `mapping` at `offset` without copying, for as long as both this
    /// pin and the mapping are borrowed. `mapping` must be the segment of the slot this pin
    /// locks.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] when the range does not fit into the mapping.
    pub fn view<'m>(
        &'m self,
        mapping: &'m SysMapping,
        offset: usize,
        len: usize,
    ) -> Result<&'m [u8], SysError> {
        mapping.view(self, offset, len)
    }
}

impl Drop for LockPin {
    fn drop(&mut self) {
        let mut owners = self.sysv.owners();
        if let Some(entry) = owners.map.get_mut(&self.owner.0) {
            entry.unpin(self.range);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Every descriptor of the lock file is closed through the mirror table: while this
        // process holds mirror locks on the file (through another `SysV`), a close would
        // drop them. Owners never released give up their locks explicitly first.
        let key = FileKey {
            dev: self.file.dev,
            ino: self.file.ino,
        };
        let owners = std::mem::take(
            self.owners
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let all = LockRange::all(self.config.slots);
        for entry in owners.map.into_values().chain(owners.spare) {
            let mut unlocked = Ok(());
            if !entry.held.is_empty() {
                unlocked = sys::ofd_setlk(entry.fd.as_fd(), 0, 0, None, false);
                let _ = release_mirrors(key, &entry, all);
            }
            if let Ok(fd) = Arc::try_unwrap(entry.fd) {
                let _ = match unlocked {
                    Ok(()) => mirror::close_or_defer(key, fd),
                    Err(_) => sys::close(fd),
                };
            }
        }
        if let Some(fd) = self.file_fd.take() {
            let _ = mirror::close_or_defer(key, fd);
        }
    }
}

impl SharedMem for SysV {
    type Error = SysError;
    type Mapping = SysMapping;
    type LockOwner = LockOwner;

    fn segment_create(&self, key: Key, size: usize) -> Result<SegmentId, SysError> {
        check_key(key)?;
        if size == 0 {
            return Err(SysError::check(Call::Argument, Detail::ZeroSize));
        }
        sys::shmget_create(key, size, self.inner.config.create_mode)
            .map(SegmentId)
            .map_err(|e| limits::diagnose_shmget(e, size))
    }

    fn segment_find(&self, key: Key) -> Result<SegmentId, SysError> {
        check_key(key)?;
        sys::shmget_find(key).map(SegmentId)
    }

    fn segment_info(&self, id: SegmentId) -> Result<SegmentInfo, SysError> {
        let st = sys::shmctl_stat(id.0)?;
        let removed = st.mode & sys::SHM_DEST != 0;
        Ok(SegmentInfo {
            key: if st.key == 0 || removed {
                None
            } else {
                Some(st.key)
            },
            size: st.size,
            attach_count: u32::try_from(st.nattch).unwrap_or(u32::MAX),
            owner_uid: st.uid,
            mode: st.mode & 0o777,
            removed,
        })
    }

    fn segment_attach(&self, id: SegmentId) -> Result<SysMapping, SysError> {
        sys::shmat(id)
    }

    fn segment_detach(&self, mapping: SysMapping) -> Result<(), SysError> {
        sys::shmdt(mapping)
    }

    fn segment_remove(&self, id: SegmentId) -> Result<(), SysError> {
        sys::shmctl_rmid(id.0)
    }

    fn mapping_id(&self, mapping: &SysMapping) -> SegmentId {
        mapping.id()
    }

    fn mapping_len(&self, mapping: &SysMapping) -> usize {
        mapping.len()
    }

    fn read(&self, mapping: &SysMapping, offset: usize, buf: &mut [u8]) -> Result<(), SysError> {
        mapping.read(offset, buf)
    }

    fn write(&self, mapping: &SysMapping, offset: usize, data: &[u8]) -> Result<(), SysError> {
        mapping.write(offset, data)
    }

    fn counter_create(&self, key: Key) -> Result<CounterId, SysError> {
        check_key(key)?;
        sys::semget_create(key, self.inner.config.create_mode)
            .map(CounterId)
            .map_err(|e| limits::diagnose_semget(e, 1))
    }

    fn counter_info(&self, id: CounterId) -> Result<CounterInfo, SysError> {
        let st = sys::semctl_stat(id.0)?;
        let value = sys::semctl_getval(id.0)?;
        Ok(CounterInfo {
            key: if st.key == 0 { None } else { Some(st.key) },
            value: u32::try_from(value).unwrap_or(0),
            owner_uid: st.uid,
            mode: st.mode & 0o777,
        })
    }

    fn counter_add(&self, id: CounterId, delta: i16) -> Result<(), SysError> {
        if delta == 0 {
            // semop with 0 would wait for zero; adding nothing only checks the id.
            return sys::semctl_getval(id.0).map(|_| ());
        }
        sys::semop_undo_nowait(id.0, delta)
    }

    fn counter_remove(&self, id: CounterId) -> Result<(), SysError> {
        sys::semctl_rmid(id.0)
    }

    fn counter_find(&self, key: Key) -> Result<Option<CounterId>, SysError> {
        check_key(key)?;
        match sys::semget_find(key) {
            Ok(id) => Ok(Some(CounterId(id))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn lock_owner_new(&self) -> Result<LockOwner, SysError> {
        let inner = &self.inner;
        // A spare owner (kept whole by `lock_owner_release`, holding no lock) costs no
        // allocation and no system call. Otherwise a new open file description of the very
        // file checked in `new` (even if its path was replaced since); without /proc, the
        // path is opened and checked again.
        let spare = self.owners().spare.pop();
        let deferred = match spare {
            Some(_) => None,
            None => mirror::take_deferred(self.file_key()),
        };
        let entry = match (spare, deferred) {
            (Some(entry), _) => entry,
            (None, Some(fd)) => OwnerEntry::new(fd),
            (None, None) => {
                let reopened = match &inner.file_fd {
                    Some(file_fd) => sys::reopen(file_fd.as_fd()),
                    None => Err(SysError::check(Call::LockOwner, Detail::UnknownOwner)),
                };
                OwnerEntry::new(match reopened {
                    Ok(fd) => {
                        let st = match sys::fstat(fd.as_fd()) {
                            Ok(st) => st,
                            Err(e) => {
                                let _ = Self::close_fd(self.file_key(), fd);
                                return Err(e);
                            }
                        };
                        if (st.dev, st.ino) != (inner.file.dev, inner.file.ino) {
                            let key = FileKey {
                                dev: st.dev,
                                ino: st.ino,
                            };
                            let _ = Self::close_fd(key, fd);
                            return Err(SysError::check(
                                Call::LockFileCheck,
                                Detail::LockFile {
                                    problem: LockFileProblem::Replaced,
                                    uid: st.uid,
                                    mode: st.mode & 0o7777,
                                },
                            ));
                        }
                        fd
                    }
                    Err(_) => {
                        open_checked(&inner.path, &inner.config, inner.euid, Some(&inner.file))?
                    }
                })
            }
        };
        let mut owners = self.owners();
        let id = owners.next;
        owners.next = owners.next.wrapping_add(1);
        owners.map.insert(id, entry);
        Ok(LockOwner(id))
    }

    fn lock_owner_release(&self, owner: LockOwner) -> Result<(), SysError> {
        let entry = {
            let mut owners = self.owners();
            let entry = owners
                .map
                .get(&owner.0)
                .ok_or(SysError::check(Call::LockOwner, Detail::UnknownOwner))?;
            if let Some(&(byte, _)) = entry.pins.first() {
                return Err(SysError::check(Call::LockOwner, Detail::Pinned { byte }));
            }
            owners
                .map
                .remove(&owner.0)
                .ok_or(SysError::check(Call::LockOwner, Detail::UnknownOwner))?
        };
        // What the owner still holds is released explicitly (its descriptor's close may be
        // deferred while the process holds mirror locks, see `mirror`): the slot locks of its
        // open file description, then its mirrors. If another thread is inside a lock call
        // with this owner right now, that call finds the owner gone and undoes its lock. A
        // description that holds no lock is kept for reuse, with its `Arc` and tables:
        // removed from the map, no one can clone the `Arc` again, so a count of 1 stays 1.
        let mut entry = entry;
        let mut unlocked = Ok(());
        let mut result = Ok(());
        if !entry.held.is_empty() {
            unlocked = sys::ofd_setlk(entry.fd.as_fd(), 0, 0, None, false);
            let all = LockRange::all(self.inner.config.slots);
            result = release_mirrors(self.file_key(), &entry, all);
            entry.held.clear();
        }
        if let Err(e) = unlocked {
            // It may still hold slot locks: closing releases them (and, while this process
            // holds mirrors on the file, those too: detection is lost, locking is not).
            return match Arc::try_unwrap(entry.fd) {
                Ok(fd) => sys::close(fd).and(Err(e)),
                Err(_shared) => Err(e),
            };
        }
        if result.is_ok() && Arc::strong_count(&entry.fd) == 1 {
            let mut owners = self.owners();
            if owners.spare.len() < SPARE_OWNERS {
                entry.pins.clear();
                if entry.held.capacity() > SPARE_TABLE {
                    entry.held = Vec::new();
                }
                if entry.pins.capacity() > SPARE_TABLE {
                    entry.pins = Vec::new();
                }
                owners.spare.push(entry);
                return Ok(());
            }
        }
        match Arc::try_unwrap(entry.fd) {
            Ok(fd) => result.and(Self::close_fd(self.file_key(), fd)),
            Err(_shared) => result,
        }
    }

    fn lock(
        &self,
        owner: LockOwner,
        range: LockRange,
        kind: LockKind,
        wait: Wait,
    ) -> Result<(), SysError> {
        self.check_range(range)?;
        let fd = self.owner_fd(owner)?;
        let result = match wait {
            Wait::No => self.lock_mirrored(&fd, range, kind, false),
            Wait::Forever => self.lock_mirrored(&fd, range, kind, true),
            Wait::Timeout(timeout) => self.lock_polling(&fd, range, kind, timeout),
        };
        if result.is_ok() {
            let mut owners = self.owners();
            if let Some(entry) = owners.map.get_mut(&owner.0) {
                // a conversion: the mirrors of the kinds held before are counted once less
                let _ = release_mirrors(self.file_key(), entry, range);
                entry.set_held(range, kind);
            } else {
                // released while we waited: nobody will unlock this
                let _ = sys::ofd_setlk(fd.as_fd(), range.start, range.len, None, false);
                let _ = mirror::release(self.file_key(), fd.as_fd(), range, kind);
            }
        }
        // The last reference of a released owner's descriptor: its close may be deferred.
        if let Ok(fd) = Arc::try_unwrap(fd) {
            let _ = Self::close_fd(self.file_key(), fd);
        }
        result
    }

    fn unlock(&self, owner: LockOwner, range: LockRange) -> Result<(), SysError> {
        self.check_range(range)?;
        let mut owners = self.owners();
        let entry = owners
            .map
            .get_mut(&owner.0)
            .ok_or(SysError::check(Call::LockOwner, Detail::UnknownOwner))?;
        if let Some(byte) = entry.first_pin(range) {
            return Err(SysError::check(Call::LockOwner, Detail::Pinned { byte }));
        }
        // Held under the table lock so that no pin can be taken on a byte being unlocked;
        // F_UNLCK never waits. The slot lock goes first, then its mirror.
        sys::ofd_setlk(entry.fd.as_fd(), range.start, range.len, None, false)?;
        let mirrors = release_mirrors(self.file_key(), entry, range);
        entry.clear_held(range);
        mirrors
    }

    fn current_uid(&self) -> u32 {
        self.inner.euid
    }

    fn checkpoint(&self, step: Step) {
        if let Some(stop) = &self.inner.stop_at {
            stop.reached(step);
        }
    }
}

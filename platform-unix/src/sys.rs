//! The only module of `shmfits-unix` with `unsafe` code: one thin safe wrapper per system call.
//!
//! Each wrapper passes valid arguments to one libc function, reads `errno` right after a
//! failure and turns it into a [`SysError`] naming the call. Nothing here decides policy
//! (modes, owners, retries); that is [`crate::sysv`]'s job.
//!
//! Memory attached with `shmat` is shared with other processes that may write it at any time.
//! It is only ever touched here: copied in and out with bounds-checked
//! [`ptr::copy_nonoverlapping`], and lent out as `&[u8]` only against a [`LockPin`] proving
//! that a slot lock excluding writers is held (see [`SysMapping::view`]).

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};

use shmfits_core::shm::{Key, LockKind, SegmentId};

use crate::error::{Call, Detail, SysError};
use crate::sysv::LockPin;

/// Reads at least this long fill the page tables first (see `SysMapping::populate_read`).
const POPULATE_MIN: usize = 1 << 20;

/// Linux's "segment marked for removal" bit in `shm_perm.mode` (`SHM_DEST`).
pub(crate) const SHM_DEST: u32 = 0o1000;

/// `errno` of the call that just failed, as an error of `call`.
fn last_error(call: Call) -> SysError {
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    SysError::new(call, errno)
}

// ------------------------------------------------------------------------------ identity

/// Real user id of the calling process (`getuid`).
pub(crate) fn getuid() -> u32 {
    // SAFETY: getuid has no preconditions, touches no memory and cannot fail.
    unsafe { libc::getuid() }
}

/// Effective user id of the calling process (`geteuid`).
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

/// Process id of the calling process (`getpid`).
pub(crate) fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions, touches no memory and cannot fail.
    unsafe { libc::getpid() }
}

/// The page size (`sysconf(_SC_PAGESIZE)`), `None` if the system does not say.
pub(crate) fn page_size() -> Option<u64> {
    // SAFETY: sysconf takes a plain integer and touches no memory of ours.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|n| *n > 0)
}

/// Stop the calling process with `SIGSTOP` (test-only step hook, see `test_hook.rs`).
pub(crate) fn raise_stop() {
    // SAFETY: raise takes a plain signal number and touches no memory of ours; SIGSTOP cannot
    // be caught, so no handler of ours runs.
    let _ = unsafe { libc::raise(libc::SIGSTOP) };
}

// ------------------------------------------------------------------------------ segments

/// `shmget(key, size, IPC_CREAT | IPC_EXCL | mode)`: a new segment id.
pub(crate) fn shmget_create(key: Key, size: usize, mode: u32) -> Result<i32, SysError> {
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | (mode & 0o777) as i32;
    // SAFETY: shmget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::shmget(key, size, flags) };
    if id < 0 {
        return Err(last_error(Call::ShmgetCreate));
    }
    Ok(id)
}

/// `shmget(key, 0, 0)`: the id of the live segment created under `key`.
pub(crate) fn shmget_find(key: Key) -> Result<i32, SysError> {
    // SAFETY: shmget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::shmget(key, 0, 0) };
    if id < 0 {
        return Err(last_error(Call::ShmgetFind));
    }
    Ok(id)
}

/// What `shmctl(IPC_STAT)` reports, reduced to what the adapter uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShmStat {
    /// `shm_perm.__key` (0 = `IPC_PRIVATE`, also after `IPC_RMID` on Linux).
    pub key: Key,
    /// `shm_segsz`.
    pub size: usize,
    /// `shm_nattch`.
    pub nattch: u64,
    /// `shm_perm.uid`.
    pub uid: u32,
    /// `shm_perm.mode`, including `SHM_DEST`.
    pub mode: u32,
}

/// `shmctl(id, IPC_STAT)`.
pub(crate) fn shmctl_stat(id: i32) -> Result<ShmStat, SysError> {
    let mut ds = MaybeUninit::<libc::shmid_ds>::zeroed();
    // SAFETY: `ds` is a writable shmid_ds that lives across the call; the kernel fills it.
    let rc = unsafe { libc::shmctl(id, libc::IPC_STAT, ds.as_mut_ptr()) };
    if rc < 0 {
        return Err(last_error(Call::ShmctlStat));
    }
    // SAFETY: shmid_ds is plain integers, valid when zeroed, and IPC_STAT succeeded.
    let ds = unsafe { ds.assume_init() };
    Ok(ShmStat {
        key: ds.shm_perm.__key,
        size: ds.shm_segsz,
        nattch: ds.shm_nattch,
        uid: ds.shm_perm.uid,
        mode: u32::from(ds.shm_perm.mode),
    })
}

/// `shmctl(id, IPC_RMID)`.
pub(crate) fn shmctl_rmid(id: i32) -> Result<(), SysError> {
    // SAFETY: IPC_RMID does not read the buffer argument; null is allowed.
    let rc = unsafe { libc::shmctl(id, libc::IPC_RMID, ptr::null_mut()) };
    if rc < 0 {
        return Err(last_error(Call::ShmctlRmid));
    }
    Ok(())
}

/// A segment attached into this process, read-write, at `addr` for `len` bytes.
///
/// The memory is shared with every process that attached the same segment: its contents may
/// change at any time unless the protocol's slot lock excludes writers. The mapping never
/// hands out `&mut [u8]`; it copies in and out (`SharedMem::read`/`write`) and lends `&[u8]`
/// only against a [`LockPin`] ([`LockPin::view`]).
///
/// Dropping a mapping detaches it (errors ignored); `SharedMem::segment_detach` detaches and
/// reports errors.
#[derive(Debug)]
pub struct SysMapping {
    addr: NonNull<u8>,
    len: usize,
    id: SegmentId,
    /// Whether the page tables of the whole attachment were filled once (see
    /// `SysMapping::populate_read`); later large reads do not ask again.
    populated: AtomicBool,
}

// SAFETY: a SysMapping is an address range attached into the whole process, not tied to the
// thread that attached it; every access through it is a bounds-checked copy or a view scoped
// by a lock pin, and shmdt may be called from any thread.
unsafe impl Send for SysMapping {}
// SAFETY: shared references only allow copies out/in through raw pointers (never `&mut`
// aliasing) and lock-scoped views; concurrent access from several threads is the same as
// from several processes, which the slot locks already order.
unsafe impl Sync for SysMapping {}

/// `shmat(id, NULL, 0)` followed by `shmctl(IPC_STAT)` for the length.
pub(crate) fn shmat(id: SegmentId) -> Result<SysMapping, SysError> {
    // SAFETY: a null address lets the kernel choose where to attach; no memory of ours is
    // touched. The result is checked for (void*)-1 below.
    let addr = unsafe { libc::shmat(id.0, ptr::null(), 0) };
    if addr as isize == -1 {
        return Err(last_error(Call::Shmat));
    }
    let Some(addr) = NonNull::new(addr.cast::<u8>()) else {
        return Err(SysError::new(Call::Shmat, libc::EFAULT));
    };
    match shmctl_stat(id.0) {
        Ok(stat) => Ok(SysMapping {
            addr,
            len: stat.size,
            id,
            populated: AtomicBool::new(false),
        }),
        Err(e) => {
            // SAFETY: `addr` was returned by shmat just above and is detached exactly once.
            unsafe { libc::shmdt(addr.as_ptr().cast()) };
            Err(e)
        }
    }
}

/// `shmdt`: detach a mapping.
pub(crate) fn shmdt(mapping: SysMapping) -> Result<(), SysError> {
    let addr = mapping.addr;
    std::mem::forget(mapping);
    // SAFETY: `addr` came from shmat and the mapping that owned it is forgotten, so it is
    // detached exactly once; no reference into it outlives the mapping (views borrow it).
    let rc = unsafe { libc::shmdt(addr.as_ptr().cast()) };
    if rc < 0 {
        return Err(last_error(Call::Shmdt));
    }
    Ok(())
}

impl Drop for SysMapping {
    fn drop(&mut self) {
        // SAFETY: `addr` came from shmat; shmdt consumes mappings with mem::forget, so this
        // is the only detach, and borrows of views ended before drop.
        unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
    }
}

impl SysMapping {
    /// The id of the attached segment.
    pub fn id(&self) -> SegmentId {
        self.id
    }

    /// Length in bytes (the segment's size as created).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping has length 0 (never, for segments made by this crate).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Check that `len` bytes at `offset` lie inside the mapping.
    fn check(&self, offset: usize, len: usize) -> Result<(), SysError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(SysError::check(
                Call::MappingAccess,
                Detail::OutOfRange {
                    offset,
                    len,
                    available: self.len,
                },
            )),
        }
    }

    /// Ask the kernel, once per attachment, to fill this process's page tables for the whole
    /// segment in one call (`MADV_POPULATE_READ`, Linux 5.14+), instead of one page fault per
    /// 4 KiB (or per fault-around batch) during the copies that follow. A hint: failure
    /// (older kernels answer `EINVAL`) changes nothing but speed.
    fn populate_read(&self) {
        if self.populated.swap(true, Ordering::Relaxed) {
            return;
        }
        // SAFETY: the whole attachment, `addr .. addr + len`, is mapped while `self` lives
        // and starts page-aligned (shmat returns page-aligned addresses);
        // MADV_POPULATE_READ only faults pages in for reading and changes no byte.
        let _ = unsafe {
            libc::madvise(
                self.addr.as_ptr().cast(),
                self.len,
                libc::MADV_POPULATE_READ,
            )
        };
    }

    /// Copy `buf.len()` bytes out of the mapping from `offset`. Out of range copies nothing.
    /// The first copy of 1 MiB or more fills the page tables in one call
    /// ([`Self::populate_read`]).
    pub(crate) fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), SysError> {
        self.check(offset, buf.len())?;
        if buf.len() >= POPULATE_MIN {
            self.populate_read();
        }
        // SAFETY: offset + len <= self.len (checked above, without overflow), and the
        // mapping is attached for self.len bytes while `self` lives; `buf` is our own
        // memory, which cannot overlap the shared segment. Other processes may write the
        // range concurrently; then the copy may see a mix of old and new bytes, which the
        // protocol's locks (not this function) prevent.
        unsafe {
            ptr::copy_nonoverlapping(self.addr.as_ptr().add(offset), buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }

    /// Copy `data` into the mapping at `offset`. Out of range copies nothing.
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result<(), SysError> {
        self.check(offset, data.len())?;
        // SAFETY: offset + len <= self.len (checked above), the segment is attached
        // read-write for self.len bytes while `self` lives, and `data` is our own memory,
        // disjoint from the segment. No `&[u8]` view of the range exists in this process
        // unless the caller broke the documented rule of LockPin (writes need the
        // exclusive lock, which views of other owners exclude).
        unsafe {
            ptr::copy_nonoverlapping(data.as_ptr(), self.addr.as_ptr().add(offset), data.len());
        }
        Ok(())
    }

    /// Borrow `len` bytes at `offset` without copying, while `pin` keeps a slot lock held.
    ///
    /// `pin` must pin the lock of the slot whose segment this mapping is (crate-internal
    /// callers pair them; the file layer owns both). While the pin lives, the lock cannot be
    /// released through the platform, so no cooperating process (ours or CFITSIO's) writes
    /// the segment: writers need the exclusive lock, which a held shared lock excludes, and
    /// a held exclusive lock belongs to the caller, whose own writes need `&mut` access to
    /// the handle that lends this view.
    ///
    /// # Errors
    /// [`Detail::OutOfRange`] when the range does not fit.
    pub(crate) fn view<'a>(
        &'a self,
        pin: &'a LockPin,
        offset: usize,
        len: usize,
    ) -> Result<&'a [u8], SysError> {
        let _ = pin;
        self.check(offset, len)?;
        // SAFETY: the range is inside the attachment (checked), which stays attached while
        // `self` is borrowed for 'a (detaching consumes the mapping). The bytes are not
        // written while the borrow lives: `pin` (also borrowed for 'a) keeps the slot lock
        // held, and by the protocol nobody writes a slot's segment without the exclusive
        // lock; see the doc comment above for the in-process side. u8 has no invalid values.
        Ok(unsafe { std::slice::from_raw_parts(self.addr.as_ptr().add(offset), len) })
    }
}

// ------------------------------------------------------------------------------ counters

/// `semget(key, 1, IPC_CREAT | IPC_EXCL | mode)`: a new semaphore set of one semaphore.
/// Linux initializes its value to 0.
pub(crate) fn semget_create(key: Key, mode: u32) -> Result<i32, SysError> {
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | (mode & 0o777) as i32;
    // SAFETY: semget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::semget(key, 1, flags) };
    if id < 0 {
        return Err(last_error(Call::SemgetCreate));
    }
    Ok(id)
}

/// `semget(key, 0, 0)`: the id of the semaphore set created under `key`.
pub(crate) fn semget_find(key: Key) -> Result<i32, SysError> {
    // SAFETY: semget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::semget(key, 0, 0) };
    if id < 0 {
        return Err(last_error(Call::SemgetFind));
    }
    Ok(id)
}

/// `semop` on semaphore 0 with `SEM_UNDO | IPC_NOWAIT`, adding `delta`.
pub(crate) fn semop_undo_nowait(id: i32, delta: i16) -> Result<(), SysError> {
    let mut op = libc::sembuf {
        sem_num: 0,
        sem_op: delta,
        sem_flg: (libc::SEM_UNDO | libc::IPC_NOWAIT) as i16,
    };
    // SAFETY: `op` is one valid sembuf that lives across the call; nsops = 1 matches it.
    let rc = unsafe { libc::semop(id, &mut op, 1) };
    if rc < 0 {
        return Err(last_error(Call::Semop));
    }
    Ok(())
}

/// `semctl(id, 0, GETVAL)`.
pub(crate) fn semctl_getval(id: i32) -> Result<i32, SysError> {
    // SAFETY: GETVAL takes no fourth argument and touches no memory of ours.
    let v = unsafe { libc::semctl(id, 0, libc::GETVAL) };
    if v < 0 {
        return Err(last_error(Call::SemctlGetval));
    }
    Ok(v)
}

/// What `semctl(IPC_STAT)` reports, reduced to what the adapter uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SemStat {
    /// `sem_perm.__key`.
    pub key: Key,
    /// `sem_perm.uid`.
    pub uid: u32,
    /// `sem_perm.mode`.
    pub mode: u32,
}

/// `semctl(id, 0, IPC_STAT, &ds)`.
pub(crate) fn semctl_stat(id: i32) -> Result<SemStat, SysError> {
    let mut ds = MaybeUninit::<libc::semid_ds>::zeroed();
    // SAFETY: for IPC_STAT the fourth argument (union semun) is its `buf` member, a pointer
    // to a writable semid_ds; passing the pointer itself has the same ABI. `ds` lives across
    // the call.
    let rc = unsafe { libc::semctl(id, 0, libc::IPC_STAT, ds.as_mut_ptr()) };
    if rc < 0 {
        return Err(last_error(Call::SemctlStat));
    }
    // SAFETY: semid_ds is plain integers, valid when zeroed, and IPC_STAT succeeded.
    let ds = unsafe { ds.assume_init() };
    Ok(SemStat {
        key: ds.sem_perm.__key,
        uid: ds.sem_perm.uid,
        mode: u32::from(ds.sem_perm.mode),
    })
}

/// `semctl(id, 0, IPC_RMID)`.
pub(crate) fn semctl_rmid(id: i32) -> Result<(), SysError> {
    // SAFETY: IPC_RMID takes no fourth argument and touches no memory of ours.
    let rc = unsafe { libc::semctl(id, 0, libc::IPC_RMID) };
    if rc < 0 {
        return Err(last_error(Call::SemctlRmid));
    }
    Ok(())
}

// ------------------------------------------------------------------------------ files

/// `open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode)`; never truncates, never
/// follows a symlink in the last component (`ELOOP`).
pub(crate) fn open_lock_file(path: &Path, mode: u32) -> Result<OwnedFd, SysError> {
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return Err(SysError::new(Call::Open, libc::EINVAL));
    };
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `cpath` is a NUL-terminated string that lives across the call; the mode is
    // passed as the variadic third argument that O_CREAT requires.
    let fd = unsafe { libc::open(cpath.as_ptr(), flags, (mode & 0o777) as libc::c_uint) };
    if fd < 0 {
        return Err(last_error(Call::Open));
    }
    // SAFETY: `fd` was just returned by open, is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A new open file description of the file open as `fd`: `open("/proc/self/fd/N", O_RDWR |
/// O_CLOEXEC)`. The magic link names the very inode of `fd`, whatever its path now is.
pub(crate) fn reopen(fd: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
    let Ok(cpath) = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
        return Err(SysError::new(Call::Open, libc::EINVAL));
    };
    // SAFETY: `cpath` is a NUL-terminated string that lives across the call; without O_CREAT
    // no mode argument is read.
    let new = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if new < 0 {
        return Err(last_error(Call::Open));
    }
    // SAFETY: `new` was just returned by open, is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// What `fstat` reports, reduced to what the lock-file check uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStat {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_uid`.
    pub uid: u32,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
}

impl FileStat {
    /// Whether it is a regular file.
    pub fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

impl From<&libc::stat> for FileStat {
    fn from(st: &libc::stat) -> FileStat {
        FileStat {
            dev: st.st_dev,
            ino: st.st_ino,
            uid: st.st_uid,
            mode: st.st_mode,
        }
    }
}

/// `lstat(path)`: what the path itself names (a symlink is not followed).
pub(crate) fn lstat(path: &Path) -> Result<FileStat, SysError> {
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return Err(SysError::new(Call::Fstat, libc::EINVAL));
    };
    let mut st = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `cpath` is a NUL-terminated string and `st` a writable stat, both living across
    // the call.
    let rc = unsafe { libc::lstat(cpath.as_ptr(), st.as_mut_ptr()) };
    if rc < 0 {
        return Err(last_error(Call::Fstat));
    }
    // SAFETY: stat is plain integers, valid when zeroed, and lstat succeeded.
    Ok(FileStat::from(&unsafe { st.assume_init() }))
}

/// `fstat(fd)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat, SysError> {
    let mut st = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `fd` is a valid open descriptor (borrowed), `st` is writable and lives across
    // the call.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if rc < 0 {
        return Err(last_error(Call::Fstat));
    }
    // SAFETY: stat is plain integers, valid when zeroed, and fstat succeeded.
    Ok(FileStat::from(&unsafe { st.assume_init() }))
}

/// A record lock request on `start .. start + len` (`len` 0: to the end of the file, whatever
/// it grows to), `l_pid` 0 as `F_OFD_*` requests need.
fn flock(
    start: u64,
    len: u64,
    kind: Option<LockKind>,
    call: Call,
) -> Result<libc::flock, SysError> {
    let (Ok(l_start), Ok(l_len)) = (libc::off_t::try_from(start), libc::off_t::try_from(len))
    else {
        return Err(SysError::new(call, libc::EOVERFLOW));
    };
    // SAFETY: flock is plain integers (and possibly padding) for which all-zero is valid.
    let mut fl: libc::flock = unsafe { MaybeUninit::zeroed().assume_init() };
    fl.l_type = match kind {
        Some(LockKind::Shared) => libc::F_RDLCK,
        Some(LockKind::Exclusive) => libc::F_WRLCK,
        None => libc::F_UNLCK,
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = l_start;
    fl.l_len = l_len;
    fl.l_pid = 0;
    Ok(fl)
}

/// `fcntl(fd, cmd, &fl)` for a SETLK-type `cmd`, retried on `EINTR`.
fn setlk(
    fd: BorrowedFd<'_>,
    cmd: libc::c_int,
    fl: &libc::flock,
    call: Call,
) -> Result<(), SysError> {
    loop {
        // SAFETY: `fd` is a valid open descriptor (borrowed); `fl` is a valid flock that
        // lives across the call and is only read for the SETLK/SETLKW commands passed here.
        let rc = unsafe { libc::fcntl(fd.as_raw_fd(), cmd, fl as *const libc::flock) };
        if rc == 0 {
            return Ok(());
        }
        let e = last_error(call);
        if e.errno() != libc::EINTR {
            return Err(e);
        }
    }
}

/// `fcntl(fd, F_OFD_SETLK or F_OFD_SETLKW, {kind or F_UNLCK, start, len})` (`len` 0: to the
/// end of the file).
///
/// Open-file-description locks conflict with classic `fcntl` record locks of other processes
/// (CFITSIO's) and with locks of other open file descriptions in this process.
pub(crate) fn ofd_setlk(
    fd: BorrowedFd<'_>,
    start: u32,
    len: u32,
    kind: Option<LockKind>,
    wait: bool,
) -> Result<(), SysError> {
    let (cmd, call) = if wait {
        (libc::F_OFD_SETLKW, Call::FcntlSetlkw)
    } else {
        (libc::F_OFD_SETLK, Call::FcntlSetlk)
    };
    let fl = flock(u64::from(start), u64::from(len), kind, call)?;
    setlk(fd, cmd, &fl, call)
}

/// `fcntl(fd, F_OFD_SETLK, {kind or F_UNLCK, start, len})` at any offset (tests lock mirror
/// bytes with it as another process would).
#[cfg(test)]
pub(crate) fn ofd_setlk_at(
    fd: BorrowedFd<'_>,
    start: u64,
    len: u64,
    kind: Option<LockKind>,
) -> Result<(), SysError> {
    let fl = flock(start, len, kind, Call::FcntlSetlk)?;
    setlk(fd, libc::F_OFD_SETLK, &fl, Call::FcntlSetlk)
}

/// `fcntl(fd, F_SETLK or F_SETLKW, {kind or F_UNLCK, start, len})`: a classic record lock,
/// owned by this process (not by `fd`'s description) and dropped by the kernel when the
/// process closes any descriptor of the file. `F_SETLKW` fails with `EDEADLK` when waiting
/// would close a cycle of waiting processes (which `F_OFD_SETLKW` never reports).
pub(crate) fn posix_setlk(
    fd: BorrowedFd<'_>,
    start: u64,
    len: u64,
    kind: Option<LockKind>,
    wait: bool,
) -> Result<(), SysError> {
    let (cmd, call) = if wait {
        (libc::F_SETLKW, Call::MirrorSetlkw)
    } else {
        (libc::F_SETLK, Call::MirrorSetlk)
    };
    let fl = flock(start, len, kind, call)?;
    setlk(fd, cmd, &fl, call)
}

/// `fcntl(fd, F_OFD_GETLK, {kind, start, len})`: the kind of a lock of another owner (or a
/// classic lock of any process, this one included) that would conflict, or `None` if `kind`
/// could be taken.
pub(crate) fn ofd_getlk(
    fd: BorrowedFd<'_>,
    start: u64,
    len: u64,
    kind: LockKind,
) -> Result<Option<LockKind>, SysError> {
    let mut fl = flock(start, len, Some(kind), Call::FcntlGetlk)?;
    // SAFETY: `fd` is a valid open descriptor (borrowed); `fl` is a valid, writable flock
    // that lives across the call; the kernel overwrites it with the conflicting lock.
    let rc = unsafe {
        libc::fcntl(
            fd.as_raw_fd(),
            libc::F_OFD_GETLK,
            &mut fl as *mut libc::flock,
        )
    };
    if rc < 0 {
        return Err(last_error(Call::FcntlGetlk));
    }
    Ok(match i32::from(fl.l_type) {
        libc::F_RDLCK => Some(LockKind::Shared),
        libc::F_WRLCK => Some(LockKind::Exclusive),
        _ => None,
    })
}

/// `close(fd)`, reporting its error (unlike dropping an `OwnedFd`).
pub(crate) fn close(fd: OwnedFd) -> Result<(), SysError> {
    let raw = fd.into_raw_fd();
    // SAFETY: `raw` came out of an OwnedFd, so it is open and this is its only close.
    let rc = unsafe { libc::close(raw) };
    if rc < 0 {
        // EINTR still closes the descriptor on Linux; it is reported, never retried.
        return Err(last_error(Call::Close));
    }
    Ok(())
}

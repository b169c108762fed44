//! Mirror locks: classic `fcntl` record locks that shadow our slot locks so that the kernel's
//! deadlock detector sees lock cycles between processes.
//!
//! The slot locks of [`SysV`](crate::SysV) are open-file-description (`F_OFD_*`) locks on bytes
//! `0..M` of the lock file, the bytes CFITSIO locks with classic locks. Linux never reports
//! `EDEADLK` for OFD locks (`fs/locks.c`, `posix_locks_deadlock`: OFD waiters are not
//! tracked), so two processes that each hold a slot and wait (`F_OFD_SETLKW`) for the other's
//! would wait forever. Before every slot lock, [`SysV`](crate::SysV) therefore takes a *mirror*:
//! a classic lock of the same kind on byte [`MIRROR_BASE`]` + i` (far beyond anything CFITSIO
//! locks), waiting with `F_SETLKW` when the slot lock will wait. Classic waits are checked for
//! cycles: the process whose wait would close one gets `EDEADLK` (`ErrorKind::Deadlock`).
//!
//! Classic locks belong to the process, not to a lock owner, and one process holds at most one
//! lock (shared or exclusive) per byte. This module keeps, per lock file (device and inode) and
//! per byte, how many holders of this process want it shared and exclusive, and keeps the
//! kernel's lock at the strongest of them: a second reader of a slot in the same process costs
//! no system call, and releasing one of two readers keeps the mirror.
//!
//! The kernel also drops every classic lock of a process on a file when the process closes
//! *any* descriptor of that file. [`close_or_defer`] therefore keeps descriptors of a lock file
//! open while this process holds mirrors on it, and closes them once the last mirror is gone.
//! A descriptor of the same file closed by other code of the process (CFITSIO linked into it,
//! say) still drops our mirrors: cycles through this process are then not detected until it
//! takes its next mirror (the slot locks themselves stay correct; waits are as without mirrors).
//! Kept descriptors are reused for new lock owners ([`take_deferred`]), so their number stays
//! bounded by what the process had open at once. A descriptor that may still hold a slot lock
//! (its explicit unlock failed) is closed at once instead: releasing the slot lock matters more
//! than keeping the mirrors.
//!
//! A process made by `fork` (without `exec`) inherits this table but none of the classic
//! locks: a platform is to be used only in the process that made it.
//!
//! Blocking waits (`F_SETLKW`) are never made while holding this module's mutex: the bytes
//! being waited for are marked busy, and other threads of the process that need a system call
//! on a busy byte wait for it (`Try` requests report `WouldBlock` instead), so that two
//! requests of one process never race to set one byte to different kinds.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use shmfits_core::shm::{LockKind, LockRange};

use crate::error::{Call, SysError};
use crate::sys;

/// Offset of the mirror of slot byte 0: byte `i` is mirrored at `MIRROR_BASE + i`. CFITSIO
/// locks only bytes `0..M` with explicit lengths, so nothing of its ever overlaps.
pub(crate) const MIRROR_BASE: u64 = 1 << 40;

/// A lock file: device and inode (classic locks belong to the inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileKey {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// How a request may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MirrorWait {
    /// `F_SETLK`: fail at once with `WouldBlock`.
    Try,
    /// `F_SETLKW`: wait; `Deadlock` when waiting would close a cycle.
    Block,
}

#[derive(Debug)]
struct Byte {
    byte: u32,
    shared: u32,
    exclusive: u32,
    /// The kernel's lock of this process on the mirror byte (while `busy`, the kernel may
    /// already hold the stronger kind being waited for).
    applied: Option<LockKind>,
    /// A thread waits in `F_SETLKW` to raise `applied`.
    busy: bool,
}

impl Byte {
    fn new(byte: u32) -> Byte {
        Byte {
            byte,
            shared: 0,
            exclusive: 0,
            applied: None,
            busy: false,
        }
    }

    fn desired(&self) -> Option<LockKind> {
        if self.exclusive > 0 {
            Some(LockKind::Exclusive)
        } else if self.shared > 0 {
            Some(LockKind::Shared)
        } else {
            None
        }
    }

    fn count(&mut self, kind: LockKind) -> &mut u32 {
        match kind {
            LockKind::Shared => &mut self.shared,
            LockKind::Exclusive => &mut self.exclusive,
        }
    }

    /// The kind the kernel's lock must be lowered to, if it is stronger than needed.
    fn lower_to(&self) -> Option<Option<LockKind>> {
        let desired = self.desired();
        (!self.busy && strength(self.applied) > strength(desired)).then_some(desired)
    }

    fn idle(&self) -> bool {
        self.shared == 0 && self.exclusive == 0 && self.applied.is_none() && !self.busy
    }
}

#[derive(Debug)]
struct File {
    key: FileKey,
    /// Bytes with a holder, a kernel lock or a wait, sorted by byte, none idle.
    bytes: Vec<Byte>,
    /// Descriptors of the file whose close waits until no mirror is held.
    deferred: Vec<OwnedFd>,
}

impl File {
    fn index(&self, byte: u32) -> Result<usize, usize> {
        self.bytes.binary_search_by_key(&byte, |b| b.byte)
    }

    fn get(&self, byte: u32) -> Option<&Byte> {
        self.index(byte).ok().and_then(|i| self.bytes.get(i))
    }

    fn get_mut(&mut self, byte: u32) -> Option<&mut Byte> {
        let i = self.index(byte).ok()?;
        self.bytes.get_mut(i)
    }

    fn entry(&mut self, byte: u32) -> &mut Byte {
        let i = match self.index(byte) {
            Ok(i) => i,
            Err(i) => {
                self.bytes.insert(i, Byte::new(byte));
                i
            }
        };
        &mut self.bytes[i]
    }

    /// Lower every byte of `start..end` whose kernel lock is stronger than its holders need
    /// (never waits), drop idle bytes, and close the deferred descriptors if no mirror is
    /// left. The first failure is returned after the rest was tried.
    fn settle(&mut self, fd: BorrowedFd<'_>, start: u64, end: u64) -> Result<(), SysError> {
        let lo = self.bytes.partition_point(|b| u64::from(b.byte) < start);
        let hi = self.bytes.partition_point(|b| u64::from(b.byte) < end);
        let mut result = Ok(());
        let mut i = lo;
        while i < hi {
            let Some(target) = self.bytes.get(i).and_then(Byte::lower_to) else {
                i += 1;
                continue;
            };
            // the run of adjacent bytes lowered to the same kind: one system call
            let mut j = i + 1;
            while j < hi
                && self.bytes.get(j).is_some_and(|b| {
                    b.lower_to() == Some(target)
                        && self.bytes.get(j - 1).map(|p| p.byte.wrapping_add(1)) == Some(b.byte)
                })
            {
                j += 1;
            }
            let first = self.bytes.get(i).map_or(0, |b| b.byte);
            let len = (j - i) as u64;
            match sys::posix_setlk(fd, MIRROR_BASE + u64::from(first), len, target, false) {
                Ok(()) => {
                    for b in self.bytes.get_mut(i..j).into_iter().flatten() {
                        b.applied = target;
                    }
                }
                Err(e) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
            i = j;
        }
        self.bytes.retain(|b| !b.idle());
        if self.bytes.is_empty() {
            for fd in self.deferred.drain(..) {
                let _ = sys::close(fd);
            }
        }
        result
    }
}

static TABLE: Mutex<Vec<File>> = Mutex::new(Vec::new());
/// Signalled when a busy byte is no longer busy.
static WAIT_DONE: Condvar = Condvar::new();
/// Threads waiting on [`WAIT_DONE`]; changed and read only with [`TABLE`] locked, so that an
/// uncontended blocking acquire wakes nobody (no `futex` call).
static WAITERS: AtomicUsize = AtomicUsize::new(0);

fn table() -> MutexGuard<'static, Vec<File>> {
    // Every change of the table is completed before the guard is dropped; a panic in between
    // leaves counts that at worst keep a mirror held, never one missing.
    TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The file's entry, made if missing. Entries are kept (with their capacity) for the life of
/// the process, so a steady open/close cycle allocates nothing.
fn file(t: &mut Vec<File>, key: FileKey) -> &mut File {
    let i = match t.iter().position(|f| f.key == key) {
        Some(i) => i,
        None => {
            t.push(File {
                key,
                bytes: Vec::new(),
                deferred: Vec::new(),
            });
            t.len() - 1
        }
    };
    &mut t[i]
}

fn strength(kind: Option<LockKind>) -> u8 {
    match kind {
        None => 0,
        Some(LockKind::Shared) => 1,
        Some(LockKind::Exclusive) => 2,
    }
}

fn span(range: LockRange) -> (u64, u64) {
    let start = u64::from(range.start);
    (start, start + u64::from(range.len))
}

/// Count one more holder of `kind` on the mirrors of `range`, taking or raising the kernel's
/// lock where this process does not hold it strongly enough yet (`fd`: any descriptor of the
/// file). On error nothing is counted and the kernel's locks are as they were.
///
/// # Errors
/// `WouldBlock` (`Try`: another process holds a conflicting mirror, or another thread of
/// this one is waiting to raise the same byte), `Deadlock` (`Block`: the wait would close a
/// cycle), or another `fcntl` error.
pub(crate) fn acquire(
    key: FileKey,
    fd: BorrowedFd<'_>,
    range: LockRange,
    kind: LockKind,
    wait: MirrorWait,
) -> Result<(), SysError> {
    let (start, end) = span(range);
    let mut next = start; // bytes start..next are counted
    let mut t = table();
    let result = loop {
        let f = file(&mut t, key);
        // count every byte already held strongly enough
        while next < end {
            let b = f.entry(next as u32);
            if strength(b.applied) < strength(Some(kind)) {
                break;
            }
            *b.count(kind) += 1;
            next += 1;
        }
        if next >= end {
            break Ok(());
        }
        // the run of bytes that need the system call, up to a busy or sufficient byte
        let mut run_end = next;
        while run_end < end {
            match f.get(run_end as u32) {
                Some(b) if b.busy || strength(b.applied) >= strength(Some(kind)) => break,
                _ => run_end += 1,
            }
        }
        if run_end == next {
            // `next` is busy: another thread waits to raise it
            match wait {
                MirrorWait::Try => {
                    break Err(SysError::new(Call::MirrorSetlk, libc::EAGAIN));
                }
                MirrorWait::Block => {
                    WAITERS.fetch_add(1, Ordering::Relaxed);
                    t = WAIT_DONE
                        .wait(t)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    WAITERS.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let offset = MIRROR_BASE + next;
        let len = run_end - next;
        let r = match wait {
            MirrorWait::Try => sys::posix_setlk(fd, offset, len, Some(kind), false),
            MirrorWait::Block => {
                for b in next..run_end {
                    f.entry(b as u32).busy = true;
                }
                drop(t);
                let r = sys::posix_setlk(fd, offset, len, Some(kind), true);
                t = table();
                let f = file(&mut t, key);
                for b in next..run_end {
                    f.entry(b as u32).busy = false;
                }
                if WAITERS.load(Ordering::Relaxed) > 0 {
                    WAIT_DONE.notify_all();
                }
                r
            }
        };
        let f = file(&mut t, key);
        if let Err(e) = r {
            break Err(e);
        }
        for b in next..run_end {
            let b = f.entry(b as u32);
            b.applied = Some(kind);
            *b.count(kind) += 1;
        }
        let _ = f.settle(fd, next, run_end);
        next = run_end;
    };
    if result.is_err() {
        // uncount what was counted; lower what holders released while we waited
        let f = file(&mut t, key);
        for b in start..next {
            if let Some(b) = f.get_mut(b as u32) {
                let c = b.count(kind);
                *c = c.saturating_sub(1);
            }
        }
        let _ = f.settle(fd, start, end);
    }
    result
}

/// Count one holder of `kind` less on the mirrors of `range`, lowering or dropping the
/// kernel's lock where no holder of this process needs it any more (never waits). Closes the
/// file's deferred descriptors once no mirror is left.
///
/// # Errors
/// The `fcntl` error of lowering a lock (the count is changed anyway).
pub(crate) fn release(
    key: FileKey,
    fd: BorrowedFd<'_>,
    range: LockRange,
    kind: LockKind,
) -> Result<(), SysError> {
    let (start, end) = span(range);
    let mut t = table();
    let f = file(&mut t, key);
    let lo = f.bytes.partition_point(|b| u64::from(b.byte) < start);
    let hi = f.bytes.partition_point(|b| u64::from(b.byte) < end);
    for b in f.bytes.get_mut(lo..hi).into_iter().flatten() {
        let c = b.count(kind);
        *c = c.saturating_sub(1);
    }
    f.settle(fd, start, end)
}

/// Close `fd`, a descriptor of the lock file `key`, or, while this process holds a mirror on
/// that file (closing would drop them all), keep it until the last mirror is released.
///
/// # Errors
/// The error of `close`.
pub(crate) fn close_or_defer(key: FileKey, fd: OwnedFd) -> Result<(), SysError> {
    let mut t = table();
    match t.iter_mut().find(|f| f.key == key) {
        Some(f) if !f.bytes.is_empty() => {
            f.deferred.push(fd);
            Ok(())
        }
        _ => sys::close(fd),
    }
}

/// A descriptor of `key`'s file whose close was deferred, for reuse (it holds no lock: what
/// it held was released before it was deferred). Reusing them keeps the number of kept
/// descriptors at the most the process had open at once, however long mirrors stay held.
pub(crate) fn take_deferred(key: FileKey) -> Option<OwnedFd> {
    table().iter_mut().find(|f| f.key == key)?.deferred.pop()
}

/// Whether any descriptor of any lock file waits to be closed.
pub(crate) fn any_deferred() -> bool {
    table().iter().any(|f| !f.deferred.is_empty())
}

/// The kernel lock this process holds on the mirror of `byte` as recorded here, and the
/// number of descriptors of the file waiting to be closed.
#[cfg(test)]
pub(crate) fn state(key: FileKey, byte: u32) -> (Option<LockKind>, usize) {
    let t = table();
    t.iter().find(|f| f.key == key).map_or((None, 0), |f| {
        (f.get(byte).and_then(|b| b.applied), f.deferred.len())
    })
}

/// Whether a thread waits in `F_SETLKW` to raise the mirror of `byte`.
#[cfg(test)]
pub(crate) fn busy(key: FileKey, byte: u32) -> bool {
    let t = table();
    t.iter()
        .find(|f| f.key == key)
        .and_then(|f| f.get(byte))
        .is_some_and(|b| b.busy)
}

#[cfg(test)]
mod tests;

//! The mirror table on real lock files (no System V objects are made). The kernel's view is
//! read with `F_OFD_GETLK` from a separate open file description: an OFD request conflicts
//! with every classic lock, this process's included, so it sees exactly what another
//! process would.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use shmfits_core::shm::{ErrorKind, LockKind, LockRange, PlatformError, SharedMem, Wait};

use super::*;
use crate::config::Config;
use crate::sysv::SysV;

/// Key base of the platform tests below (no objects are created under it).
const KEYS: i32 = 0x5349_9100;

struct Lockfile {
    _dir: tempfile::TempDir,
    key: FileKey,
    fd: OwnedFd,
    probe: OwnedFd,
}

fn lockfile() -> Lockfile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lock");
    let fd = sys::open_lock_file(&path, 0o600).unwrap();
    let probe = sys::open_lock_file(&path, 0o600).unwrap();
    let st = sys::fstat(fd.as_fd()).unwrap();
    Lockfile {
        _dir: dir,
        key: FileKey {
            dev: st.dev,
            ino: st.ino,
        },
        fd,
        probe,
    }
}

impl Lockfile {
    /// The strongest lock any other owner (this process's classic locks included) holds on
    /// the mirror of `byte`, as another process would see it.
    fn kernel(&self, byte: u32) -> Option<LockKind> {
        sys::ofd_getlk(
            self.probe.as_fd(),
            MIRROR_BASE + u64::from(byte),
            1,
            LockKind::Exclusive,
        )
        .unwrap()
    }

    fn acquire(&self, byte: u32, kind: LockKind) -> Result<(), SysError> {
        acquire(
            self.key,
            self.fd.as_fd(),
            LockRange::slot(byte),
            kind,
            MirrorWait::Try,
        )
    }

    fn release(&self, byte: u32, kind: LockKind) {
        release(self.key, self.fd.as_fd(), LockRange::slot(byte), kind).unwrap();
    }

    fn another_fd(&self) -> OwnedFd {
        sys::reopen(self.fd.as_fd()).unwrap()
    }
}

#[test]
fn holders_of_one_process_share_one_mirror_at_the_strongest_kind() {
    let f = lockfile();
    assert_eq!(f.kernel(3), None);
    f.acquire(3, LockKind::Shared).unwrap();
    f.acquire(3, LockKind::Shared).unwrap();
    assert_eq!(f.kernel(3), Some(LockKind::Shared));
    assert_eq!(state(f.key, 3), (Some(LockKind::Shared), 0));
    f.release(3, LockKind::Shared);
    assert_eq!(f.kernel(3), Some(LockKind::Shared), "one reader is left");
    f.acquire(3, LockKind::Exclusive).unwrap();
    assert_eq!(
        f.kernel(3),
        Some(LockKind::Exclusive),
        "raised for the writer"
    );
    f.release(3, LockKind::Exclusive);
    assert_eq!(f.kernel(3), Some(LockKind::Shared), "lowered to the reader");
    f.release(3, LockKind::Shared);
    assert_eq!(f.kernel(3), None, "no holder left");
    assert_eq!(state(f.key, 3), (None, 0));
    assert_eq!(f.kernel(2), None);
    assert_eq!(f.kernel(4), None);
}

#[test]
fn a_refused_range_leaves_every_mirror_as_it_was() {
    let f = lockfile();
    f.acquire(1, LockKind::Shared).unwrap();
    // "another process": an OFD lock of another description on the mirror of byte 3
    let other = f.another_fd();
    sys::ofd_setlk_at(other.as_fd(), MIRROR_BASE + 3, 1, Some(LockKind::Shared)).unwrap();
    let all = LockRange { start: 0, len: 5 };
    let e = acquire(
        f.key,
        f.fd.as_fd(),
        all,
        LockKind::Exclusive,
        MirrorWait::Try,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    assert_eq!(f.kernel(0), None);
    assert_eq!(
        f.kernel(1),
        Some(LockKind::Shared),
        "the reader's mirror stays shared"
    );
    assert_eq!(f.kernel(2), None);
    assert_eq!(state(f.key, 1), (Some(LockKind::Shared), 0));
    // a shared range is granted next to the other reader
    acquire(f.key, f.fd.as_fd(), all, LockKind::Shared, MirrorWait::Try).unwrap();
    for b in 0..5 {
        assert_eq!(state(f.key, b).0, Some(LockKind::Shared), "byte {b}");
    }
    release(f.key, f.fd.as_fd(), all, LockKind::Shared).unwrap();
    assert_eq!(f.kernel(1), Some(LockKind::Shared));
    f.release(1, LockKind::Shared);
    assert_eq!(f.kernel(1), None);
    drop(other);
    for b in 0..5 {
        assert_eq!(f.kernel(b), None, "byte {b}");
    }
}

#[test]
fn closing_a_descriptor_waits_for_the_last_mirror() {
    let f = lockfile();
    // the hazard: a plain close of any descriptor drops the process's classic locks
    let plain = f.another_fd();
    sys::posix_setlk(
        f.fd.as_fd(),
        MIRROR_BASE + 9,
        1,
        Some(LockKind::Shared),
        false,
    )
    .unwrap();
    assert_eq!(f.kernel(9), Some(LockKind::Shared));
    drop(plain);
    assert_eq!(f.kernel(9), None, "a plain close dropped the classic lock");

    f.acquire(5, LockKind::Exclusive).unwrap();
    close_or_defer(f.key, f.another_fd()).unwrap();
    close_or_defer(f.key, f.another_fd()).unwrap();
    assert_eq!(state(f.key, 5), (Some(LockKind::Exclusive), 2));
    assert_eq!(
        f.kernel(5),
        Some(LockKind::Exclusive),
        "kept across the close"
    );
    f.release(5, LockKind::Exclusive);
    assert_eq!(state(f.key, 5), (None, 0), "closed with the last mirror");
    assert_eq!(f.kernel(5), None);
    // without mirrors a close happens at once
    close_or_defer(f.key, f.another_fd()).unwrap();
    assert_eq!(state(f.key, 5), (None, 0));
}

fn platform(dir: &Path) -> SysV {
    SysV::new(Config {
        key_base: KEYS,
        slots: 16,
        lock_dir: dir.to_path_buf(),
        ..Config::default()
    })
    .unwrap()
}

fn probe_of(sysv: &SysV) -> (FileKey, OwnedFd) {
    let fd = sys::open_lock_file(sysv.lock_file_path(), 0o600).unwrap();
    let st = sys::fstat(fd.as_fd()).unwrap();
    (
        FileKey {
            dev: st.dev,
            ino: st.ino,
        },
        fd,
    )
}

fn kernel(probe: &OwnedFd, byte: u32) -> Option<LockKind> {
    sys::ofd_getlk(
        probe.as_fd(),
        MIRROR_BASE + u64::from(byte),
        1,
        LockKind::Exclusive,
    )
    .unwrap()
}

#[test]
fn sysv_owners_of_one_process_share_the_mirror_of_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let a = platform(dir.path());
    let (key, probe) = probe_of(&a);
    let slot = LockRange::slot(2);
    let o1 = a.lock_owner_new().unwrap();
    let o2 = a.lock_owner_new().unwrap();
    a.lock(o1, slot, LockKind::Shared, Wait::No).unwrap();
    a.lock(o2, slot, LockKind::Shared, Wait::Forever).unwrap();
    assert_eq!(kernel(&probe, 2), Some(LockKind::Shared));
    a.unlock(o1, slot).unwrap();
    assert_eq!(kernel(&probe, 2), Some(LockKind::Shared), "o2 still reads");
    // o1 converts nothing now; o2 upgrades to exclusive and back
    a.lock(o2, slot, LockKind::Exclusive, Wait::No).unwrap();
    assert_eq!(kernel(&probe, 2), Some(LockKind::Exclusive));
    a.lock(o2, slot, LockKind::Shared, Wait::No).unwrap();
    assert_eq!(kernel(&probe, 2), Some(LockKind::Shared));
    // a second platform on the same file: its owner adds to the same mirror
    let b = platform(dir.path());
    let o3 = b.lock_owner_new().unwrap();
    b.lock(o3, slot, LockKind::Shared, Wait::No).unwrap();
    // releasing an owner that still holds its lock releases both lock and mirror count
    a.lock_owner_release(o2).unwrap();
    assert_eq!(kernel(&probe, 2), Some(LockKind::Shared), "o3 still reads");
    // dropping platform `a` closes its descriptors: deferred while o3's mirror is held
    drop(a);
    assert_eq!(
        kernel(&probe, 2),
        Some(LockKind::Shared),
        "kept across a's drop"
    );
    assert!(
        state(key, 2).1 >= 1,
        "a's descriptors wait: {:?}",
        state(key, 2)
    );
    b.lock_owner_release(o3).unwrap();
    assert_eq!(kernel(&probe, 2), None);
    assert_eq!(state(key, 2), (None, 0), "deferred descriptors closed");
}

#[test]
fn sysv_refused_slot_lock_returns_the_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let a = platform(dir.path());
    let (key, probe) = probe_of(&a);
    let slot = LockRange::slot(7);
    let o1 = a.lock_owner_new().unwrap();
    let o2 = a.lock_owner_new().unwrap();
    a.lock(o1, slot, LockKind::Shared, Wait::No).unwrap();
    // o2's exclusive slot lock conflicts with o1's (another description): the mirror, raised
    // to exclusive for the attempt, goes back to shared
    let e = a.lock(o2, slot, LockKind::Exclusive, Wait::No).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert_eq!(kernel(&probe, 7), Some(LockKind::Shared));
    let e = a
        .lock(
            o2,
            slot,
            LockKind::Exclusive,
            Wait::Timeout(std::time::Duration::from_millis(20)),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert_eq!(kernel(&probe, 7), Some(LockKind::Shared));
    a.lock_owner_release(o1).unwrap();
    a.lock_owner_release(o2).unwrap();
    assert_eq!(kernel(&probe, 7), None);
    assert_eq!(state(key, 7), (None, 0));
}

#[test]
fn kept_descriptors_are_reused_not_piled_up() {
    let dir = tempfile::tempdir().unwrap();
    let b = platform(dir.path());
    let (key, probe) = probe_of(&b);
    let held = b.lock_owner_new().unwrap();
    b.lock(held, LockRange::slot(4), LockKind::Shared, Wait::No)
        .unwrap();
    // platforms made and dropped while `held` keeps a mirror on the file, each with more
    // owners at once than it keeps spare: 11 descriptors at most are open at once
    for round in 0..20 {
        let a = platform(dir.path());
        let owners: Vec<_> = (0..10).map(|_| a.lock_owner_new().unwrap()).collect();
        for (i, &o) in owners.iter().enumerate() {
            let slot = LockRange::slot(5 + i as u32);
            a.lock(o, slot, LockKind::Exclusive, Wait::No).unwrap();
            a.unlock(o, slot).unwrap();
        }
        for o in owners {
            a.lock_owner_release(o).unwrap();
        }
        drop(a);
        let kept = state(key, 4).1;
        assert!(kept <= 11, "round {round}: {kept} descriptors kept");
    }
    assert_eq!(kernel(&probe, 4), Some(LockKind::Shared));
    b.lock_owner_release(held).unwrap();
    assert_eq!(state(key, 4), (None, 0));
    assert_eq!(kernel(&probe, 4), None);
}

#[test]
fn threads_of_one_process_never_race_a_blocked_raise() {
    let f = lockfile();
    // "another process" reads byte 6's mirror (an OFD lock of another description)
    let other = f.another_fd();
    sys::ofd_setlk_at(other.as_fd(), MIRROR_BASE + 6, 1, Some(LockKind::Shared)).unwrap();
    let block = |kind| {
        acquire(
            f.key,
            f.fd.as_fd(),
            LockRange::slot(6),
            kind,
            MirrorWait::Block,
        )
    };
    std::thread::scope(|s| {
        let writer = s.spawn(|| block(LockKind::Exclusive));
        while !busy(f.key, 6) {
            std::thread::yield_now();
        }
        // a reader of this process needing a system call on the busy byte must not set it
        // to shared under the writer's feet: without waiting it is refused...
        let e = f.acquire(6, LockKind::Shared).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        // ...and waiting, it waits for the writer and is then counted on its mirror
        let reader = s.spawn(|| block(LockKind::Shared));
        sys::ofd_setlk_at(other.as_fd(), MIRROR_BASE + 6, 1, None).unwrap();
        writer.join().unwrap().unwrap();
        reader.join().unwrap().unwrap();
    });
    assert_eq!(f.kernel(6), Some(LockKind::Exclusive));
    f.release(6, LockKind::Exclusive);
    assert_eq!(f.kernel(6), Some(LockKind::Shared), "the reader is left");
    f.release(6, LockKind::Shared);
    assert_eq!(f.kernel(6), None);
    assert!(!busy(f.key, 6));
}

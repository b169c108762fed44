//! The System V adapter on the real kernel.
//!
//! Each test uses its own key base in 0x53481000..0x53483FFF (step 0x100, 16 slots → keys
//! base..base+48) and its own temporary lock directory, and removes every segment and
//! semaphore under its keys that belongs to us, even when it fails (the `Fixture` guard).
//!
//! Tests that need another process re-execute this test binary with `--exact <test>` and
//! `SHMFITS_TEST_ROLE` set; the test function then acts as the child and never returns.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmfits_core::shm::{
    CounterId, ErrorKind, LockKind, LockRange, PlatformError, SharedMem, Wait,
};
use shmfits_unix::{Config, Detail, ExpectedOwner, LockFileProblem, SetupError, SysV};

const SLOTS: u32 = 16;
const ROLE: &str = "SHMFITS_TEST_ROLE";
const BASE: &str = "SHMFITS_TEST_BASE";
const DIR: &str = "SHMFITS_TEST_DIR";
const ARG: &str = "SHMFITS_TEST_ARG";

// ------------------------------------------------------------------------------ fixture

/// A private platform: key base `base`, 16 slots, lock file in a temporary directory.
/// Dropping it removes every segment and counter under keys `base .. base + 48` that we own.
struct Fixture {
    sysv: SysV,
    base: i32,
    dir: tempfile::TempDir,
}

fn config(base: i32, dir: &Path) -> Config {
    Config {
        key_base: base,
        slots: SLOTS,
        lock_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

impl Fixture {
    fn new(base: i32) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sysv = SysV::new(config(base, dir.path())).expect("platform");
        let f = Fixture { sysv, base, dir };
        f.cleanup();
        f
    }

    fn keys(&self) -> std::ops::Range<i32> {
        self.base..self.base + 3 * SLOTS as i32
    }

    fn cleanup(&self) {
        let me = self.sysv.current_uid();
        for key in self.keys() {
            if let Ok(id) = self.sysv.segment_find(key) {
                if let Ok(info) = self.sysv.segment_info(id) {
                    if info.owner_uid == me && info.key == Some(key) {
                        let _ = self.sysv.segment_remove(id);
                    }
                }
            }
            if let Ok(Some(id)) = self.sysv.counter_find(key) {
                if let Ok(info) = self.sysv.counter_info(id) {
                    if info.owner_uid == me && info.key == Some(key) {
                        let _ = self.sysv.counter_remove(id);
                    }
                }
            }
        }
    }

    fn spawn(&self, test: &str, role: &str, arg: &str) -> ChildGuard {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(BASE, self.base.to_string())
            .env(DIR, self.dir.path())
            .env(ARG, arg)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut guard = ChildGuard { child };
        wait_ready(stdout, &mut guard, role);
        guard
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Wait (at most 60 s) until the child prints a line ending in READY; kill it otherwise.
fn wait_ready(stdout: std::process::ChildStdout, guard: &mut ChildGuard, role: &str) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim_end().ends_with("READY") {
                let _ = tx.send(());
                break;
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        guard.kill();
        panic!("child {role} did not get READY within 60 s (or ended)");
    }
}

/// A child process we spawned; killed (SIGKILL, by its pid) and reaped on drop.
struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// When this process is a child spawned by a test: the platform it should use and its
/// argument. The child then does its part, prints READY and waits to be killed.
fn child_role() -> Option<(String, SysV, String)> {
    let role = std::env::var(ROLE).ok()?;
    let base: i32 = std::env::var(BASE).ok()?.parse().ok()?;
    let dir = PathBuf::from(std::env::var_os(DIR)?);
    let arg = std::env::var(ARG).unwrap_or_default();
    let sysv = SysV::new(config(base, &dir)).expect("child platform");
    Some((role, sysv, arg))
}

fn ready_and_wait() -> ! {
    println!("READY");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn kind<T: std::fmt::Debug>(r: Result<T, shmfits_unix::SysError>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

// ------------------------------------------------------------------------------ segments

#[test]
fn segment_create_find_attach_read_write_remove() {
    let f = Fixture::new(0x5348_1000);
    let p = &f.sysv;
    let key = f.base + 5;
    let id = p.segment_create(key, 5000).unwrap();
    assert_eq!(kind(p.segment_create(key, 5000)), ErrorKind::AlreadyExists);
    assert_eq!(p.segment_find(key).unwrap(), id);

    let info = p.segment_info(id).unwrap();
    assert_eq!(info.key, Some(key));
    assert_eq!(info.size, 5000);
    assert_eq!(info.attach_count, 0);
    assert_eq!(info.owner_uid, p.current_uid());
    assert_eq!(info.mode, 0o600);
    assert!(!info.removed);

    let m = p.segment_attach(id).unwrap();
    assert_eq!(p.mapping_len(&m), 5000);
    assert_eq!(p.mapping_id(&m), id);
    assert_eq!(p.segment_info(id).unwrap().attach_count, 1);

    let mut buf = [0xAAu8; 16];
    p.read(&m, 4984, &mut buf).unwrap();
    assert_eq!(buf, [0; 16], "new segments are zero");
    p.write(&m, 4990, b"0123456789").unwrap();
    let m2 = p.segment_attach(p.segment_find(key).unwrap()).unwrap();
    let mut back = [0u8; 10];
    p.read(&m2, 4990, &mut back).unwrap();
    assert_eq!(&back, b"0123456789", "second attachment sees the write");

    // out of range: errors, copies nothing
    let mut big = [7u8; 11];
    let e = p.read(&m, 4990, &mut big).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(matches!(
        e.detail(),
        Detail::OutOfRange {
            offset: 4990,
            len: 11,
            available: 5000
        }
    ));
    assert_eq!(big, [7u8; 11]);
    assert_eq!(
        kind(p.write(&m, usize::MAX, b"x")),
        ErrorKind::InvalidArgument
    );
    assert_eq!(kind(p.read(&m, 5001, &mut [])), ErrorKind::InvalidArgument);
    p.read(&m, 5000, &mut []).unwrap();

    p.segment_detach(m2).unwrap();
    p.segment_detach(m).unwrap();
    assert_eq!(p.segment_info(id).unwrap().attach_count, 0);
    p.segment_remove(id).unwrap();
    assert_eq!(kind(p.segment_find(key)), ErrorKind::NotFound);
    assert_eq!(kind(p.segment_info(id)), ErrorKind::NotFound);
    assert_eq!(kind(p.segment_attach(id)), ErrorKind::NotFound);
    assert_eq!(kind(p.segment_remove(id)), ErrorKind::NotFound);
}

#[test]
fn segment_removal_is_deferred_until_last_detach() {
    let f = Fixture::new(0x5348_1100);
    let p = &f.sysv;
    let key = f.base + 7;
    let id = p.segment_create(key, 100).unwrap();
    let m = p.segment_attach(id).unwrap();
    p.write(&m, 0, b"kept").unwrap();
    p.segment_remove(id).unwrap();

    let info = p.segment_info(id).unwrap();
    assert!(info.removed, "{info:?}");
    assert_eq!(info.key, None);
    assert_eq!(info.attach_count, 1);
    assert_eq!(kind(p.segment_find(key)), ErrorKind::NotFound);
    // the key is free at once
    let id2 = p.segment_create(key, 100).unwrap();
    assert_ne!(id, id2);
    // the old memory is still there for the old mapping
    let mut buf = [0u8; 4];
    p.read(&m, 0, &mut buf).unwrap();
    assert_eq!(&buf, b"kept");
    p.segment_detach(m).unwrap();
    assert_eq!(kind(p.segment_info(id)), ErrorKind::NotFound);
    p.segment_remove(id2).unwrap();
}

#[test]
fn segment_arguments_and_limits() {
    let f = Fixture::new(0x5348_1200);
    let p = &f.sysv;
    assert_eq!(kind(p.segment_create(0, 100)), ErrorKind::InvalidArgument);
    assert_eq!(kind(p.segment_find(0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(p.counter_create(0)), ErrorKind::InvalidArgument);
    assert_eq!(
        kind(p.segment_create(f.base + 1, 0)),
        ErrorKind::InvalidArgument
    );
    // larger than SHMMAX: a limit, named
    let e = p.segment_create(f.base + 2, usize::MAX).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitReached, "{e}");
    assert!(e.to_string().contains("SHMMAX"), "{e}");
    assert_eq!(e.errno(), libc::EINVAL);
}

#[test]
fn group_mode_is_honoured_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let base = 0x5348_1300;
    let mut cfg = config(base, dir.path());
    cfg.create_mode = 0o640;
    let sysv = SysV::new(cfg).unwrap();
    let f = Fixture {
        sysv: sysv.clone(),
        base,
        dir,
    };
    let id = sysv.segment_create(base + 1, 10).unwrap();
    assert_eq!(sysv.segment_info(id).unwrap().mode, 0o640);
    let c = sysv.counter_create(base + 1).unwrap();
    assert_eq!(sysv.counter_info(c).unwrap().mode, 0o640);
    drop(f);
    assert_eq!(kind(sysv.segment_info(id)), ErrorKind::NotFound);
    assert_eq!(kind(sysv.counter_info(c)), ErrorKind::NotFound);
}

// ------------------------------------------------------------------------------ counters

#[test]
fn counter_create_add_remove() {
    let f = Fixture::new(0x5348_1400);
    let p = &f.sysv;
    let key = f.base + 3;
    let c = p.counter_create(key).unwrap();
    assert_eq!(kind(p.counter_create(key)), ErrorKind::AlreadyExists);
    assert_eq!(p.counter_find(key).unwrap(), Some(c));
    let info = p.counter_info(c).unwrap();
    assert_eq!(
        (info.key, info.value, info.owner_uid, info.mode),
        (Some(key), 0, p.current_uid(), 0o600)
    );
    p.counter_add(c, 2).unwrap();
    p.counter_add(c, -1).unwrap();
    p.counter_add(c, 0).unwrap();
    assert_eq!(p.counter_info(c).unwrap().value, 1);
    assert_eq!(kind(p.counter_add(c, -2)), ErrorKind::WouldBlock);
    assert_eq!(
        p.counter_info(c).unwrap().value,
        1,
        "failed add changes nothing"
    );
    p.counter_add(c, -1).unwrap();
    p.counter_remove(c).unwrap();
    assert_eq!(kind(p.counter_info(c)), ErrorKind::NotFound);
    assert_eq!(kind(p.counter_add(c, 1)), ErrorKind::NotFound);
    assert_eq!(kind(p.counter_add(c, 0)), ErrorKind::NotFound);
    assert_eq!(kind(p.counter_remove(c)), ErrorKind::NotFound);
    assert_eq!(p.counter_find(key).unwrap(), None);
}

#[test]
fn counter_increment_is_undone_when_the_child_dies() {
    if let Some((_, sysv, arg)) = child_role() {
        let id = CounterId(arg.parse().expect("counter id"));
        sysv.counter_add(id, 1).expect("child add");
        ready_and_wait();
    }
    let f = Fixture::new(0x5348_1500);
    let c = f.sysv.counter_create(f.base + 9).unwrap();
    let mut child = f.spawn(
        "counter_increment_is_undone_when_the_child_dies",
        "counter",
        &c.0.to_string(),
    );
    assert_eq!(f.sysv.counter_info(c).unwrap().value, 1);
    child.kill();
    assert_eq!(
        f.sysv.counter_info(c).unwrap().value,
        0,
        "kernel took back the dead child's increment"
    );
    f.sysv.counter_remove(c).unwrap();
}

// ------------------------------------------------------------------------------ locks

#[test]
fn two_owners_in_one_process_conflict() {
    let f = Fixture::new(0x5348_1600);
    let p = &f.sysv;
    let a = p.lock_owner_new().unwrap();
    let b = p.lock_owner_new().unwrap();
    let s3 = LockRange::slot(3);

    p.lock(a, s3, LockKind::Shared, Wait::No).unwrap();
    p.lock(b, s3, LockKind::Shared, Wait::No).unwrap();
    assert_eq!(
        kind(p.lock(b, s3, LockKind::Exclusive, Wait::No)),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        p.lock_probe(b, s3, LockKind::Exclusive).unwrap(),
        Some(LockKind::Shared)
    );
    p.unlock(a, s3).unwrap();
    assert_eq!(p.lock_probe(b, s3, LockKind::Exclusive).unwrap(), None);
    p.lock(b, s3, LockKind::Exclusive, Wait::No).unwrap(); // conversion
    assert_eq!(
        kind(p.lock(a, s3, LockKind::Shared, Wait::No)),
        ErrorKind::WouldBlock
    );
    // other slots are independent; the whole range is not
    p.lock(a, LockRange::slot(4), LockKind::Exclusive, Wait::No)
        .unwrap();
    assert_eq!(
        kind(p.lock(a, LockRange::all(SLOTS), LockKind::Exclusive, Wait::No)),
        ErrorKind::WouldBlock
    );
    // unlocking what is not held is fine
    p.unlock(a, LockRange::slot(9)).unwrap();

    // release frees b's lock
    p.lock_owner_release(b).unwrap();
    p.lock(a, s3, LockKind::Exclusive, Wait::No).unwrap();
    assert_eq!(
        kind(p.lock(b, s3, LockKind::Shared, Wait::No)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(kind(p.unlock(b, s3)), ErrorKind::InvalidArgument);
    assert_eq!(kind(p.lock_owner_release(b)), ErrorKind::InvalidArgument);

    // ranges outside the lock file's slots
    for bad in [
        LockRange::slot(SLOTS),
        LockRange { start: 0, len: 0 },
        LockRange {
            start: u32::MAX,
            len: 2,
        },
    ] {
        assert_eq!(
            kind(p.lock(a, bad, LockKind::Shared, Wait::No)),
            ErrorKind::InvalidArgument
        );
    }
    p.lock_owner_release(a).unwrap();
}

#[test]
fn timeout_and_forever() {
    let f = Fixture::new(0x5348_1700);
    let p = &f.sysv;
    let a = p.lock_owner_new().unwrap();
    let b = p.lock_owner_new().unwrap();
    let s = LockRange::slot(1);
    p.lock(a, s, LockKind::Exclusive, Wait::No).unwrap();

    let start = Instant::now();
    let e = p
        .lock(
            b,
            s,
            LockKind::Shared,
            Wait::Timeout(Duration::from_millis(60)),
        )
        .unwrap_err();
    let waited = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(matches!(e.detail(), Detail::TimedOut { .. }));
    assert!(waited >= Duration::from_millis(60), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(
        kind(p.lock(b, s, LockKind::Shared, Wait::No)),
        ErrorKind::WouldBlock
    );

    // Forever in another thread, granted once a unlocks
    let p2 = p.clone();
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        p2.lock(b, s, LockKind::Exclusive, Wait::Forever)
            .map(|()| t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    p.unlock(a, s).unwrap();
    let waited = waiter.join().unwrap().unwrap();
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert_eq!(
        kind(p.lock(a, s, LockKind::Shared, Wait::No)),
        ErrorKind::WouldBlock
    );

    // a timed wait that is granted in time
    let p3 = p.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        p3.unlock(b, s)
    });
    p.lock(
        a,
        s,
        LockKind::Shared,
        Wait::Timeout(Duration::from_secs(5)),
    )
    .unwrap();
    releaser.join().unwrap().unwrap();
    p.lock_owner_release(a).unwrap();
    p.lock_owner_release(b).unwrap();
}

#[test]
fn lock_is_released_when_the_holder_is_killed() {
    if let Some((_, sysv, arg)) = child_role() {
        let slot: u32 = arg.parse().expect("slot");
        let o = sysv.lock_owner_new().expect("child owner");
        sysv.lock(o, LockRange::slot(slot), LockKind::Exclusive, Wait::No)
            .expect("child lock");
        ready_and_wait();
    }
    let f = Fixture::new(0x5348_1800);
    let p = &f.sysv;
    let mut child = f.spawn("lock_is_released_when_the_holder_is_killed", "lock", "5");
    let o = p.lock_owner_new().unwrap();
    let s = LockRange::slot(5);
    assert_eq!(
        kind(p.lock(o, s, LockKind::Shared, Wait::No)),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        p.lock_probe(o, s, LockKind::Shared).unwrap(),
        Some(LockKind::Exclusive)
    );
    p.lock(o, LockRange::slot(6), LockKind::Exclusive, Wait::No)
        .unwrap();
    child.kill();
    p.lock(
        o,
        s,
        LockKind::Exclusive,
        Wait::Timeout(Duration::from_secs(5)),
    )
    .unwrap();
    p.lock_owner_release(o).unwrap();
}

#[test]
fn ofd_locks_conflict_with_classic_fcntl_locks_of_another_process() {
    // A classic POSIX record lock (what CFITSIO takes) held by another process.
    let f = Fixture::new(0x5348_1900);
    let script = "import fcntl,sys,time\n\
        f=open(sys.argv[1],'r+b')\n\
        fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,1,2)\n\
        print('READY',flush=True)\n\
        time.sleep(600)\n";
    let spawned = Command::new("python3")
        .args(["-c", script])
        .arg(f.sysv.lock_file_path())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        eprintln!("SKIPPED ofd_locks_conflict_with_classic_fcntl_locks: python3 not found");
        return;
    };
    let stdout = child.stdout.take().unwrap();
    let mut guard = ChildGuard { child };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY");
    let p = &f.sysv;
    let o = p.lock_owner_new().unwrap();
    assert_eq!(
        kind(p.lock(o, LockRange::slot(2), LockKind::Shared, Wait::No)),
        ErrorKind::WouldBlock
    );
    p.lock(o, LockRange::slot(3), LockKind::Shared, Wait::No)
        .unwrap();
    guard.kill();
    p.lock(o, LockRange::slot(2), LockKind::Exclusive, Wait::No)
        .unwrap();
    p.lock_owner_release(o).unwrap();
}

#[test]
fn pinned_locks_give_views_and_cannot_be_released() {
    let f = Fixture::new(0x5348_1A00);
    let p = &f.sysv;
    let o = p.lock_owner_new().unwrap();
    let s = LockRange::slot(2);
    let id = p.segment_create(f.base + 2, 64).unwrap();
    let m = p.segment_attach(id).unwrap();
    p.write(&m, 8, b"FITS").unwrap();

    // no lock held: no pin
    assert_eq!(kind(p.pin(o, s)), ErrorKind::InvalidArgument);
    p.lock(o, s, LockKind::Shared, Wait::No).unwrap();
    {
        let pin = p.pin(o, s).unwrap();
        assert_eq!(pin.kind(), LockKind::Shared);
        let v = pin.view(&m, 8, 4).unwrap();
        assert_eq!(v, b"FITS");
        assert_eq!(kind(pin.view(&m, 60, 5)), ErrorKind::InvalidArgument);
        let e = p.unlock(o, s).unwrap_err();
        assert!(matches!(e.detail(), Detail::Pinned { byte: 2 }), "{e}");
        assert_eq!(kind(p.lock_owner_release(o)), ErrorKind::InvalidArgument);
        // other bytes are not pinned
        p.lock(o, LockRange::slot(3), LockKind::Shared, Wait::No)
            .unwrap();
        p.unlock(o, LockRange::slot(3)).unwrap();
    }
    p.unlock(o, s).unwrap();
    p.lock_owner_release(o).unwrap();
    p.segment_detach(m).unwrap();
    p.segment_remove(id).unwrap();
}

// ------------------------------------------------------------------------------ lock file

fn setup_error(r: Result<SysV, SetupError>) -> SetupError {
    r.expect_err("the lock file must be refused")
}

#[test]
fn lock_file_symlink_is_refused_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(0x5348_1B00, dir.path());
    let target = dir.path().join("victim");
    std::fs::write(&target, b"precious").unwrap();
    std::os::unix::fs::symlink(&target, cfg.lock_file_path()).unwrap();
    let e = setup_error(SysV::new(cfg.clone()));
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{text}");
    assert!(
        text.contains(&cfg.lock_file_path().display().to_string()),
        "{text}"
    );
    assert!(text.contains("symbolic link"), "{text}");
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
}

#[test]
fn lock_file_is_created_owner_only_and_never_truncated() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(0x5348_1C00, dir.path());
    let sysv = SysV::new(cfg.clone()).unwrap();
    let meta = std::fs::metadata(cfg.lock_file_path()).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o077, 0, "owner-only");
    std::fs::write(cfg.lock_file_path(), b"content").unwrap();
    let o = sysv.lock_owner_new().unwrap();
    drop(SysV::new(cfg.clone()).unwrap());
    assert_eq!(std::fs::read(cfg.lock_file_path()).unwrap(), b"content");
    sysv.lock_owner_release(o).unwrap();
}

#[test]
fn lock_file_writable_by_others_is_refused_unless_configured() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(0x5348_1D00, dir.path());
    let path = cfg.lock_file_path();
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = setup_error(SysV::new(cfg.clone()));
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("mode 666"), "{text}");
    assert!(text.contains("writable"), "{text}");
    let SetupError::LockFile { error, .. } = e else {
        panic!("{text}")
    };
    assert!(matches!(
        error.detail(),
        Detail::LockFile {
            problem: LockFileProblem::Writable,
            ..
        }
    ));
    cfg.create_mode = 0o666;
    SysV::new(cfg).unwrap();
}

#[test]
fn lock_file_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(0x5348_1E00, dir.path());
    std::fs::create_dir(cfg.lock_file_path()).unwrap();
    let e = setup_error(SysV::new(cfg));
    assert_eq!(e.kind(), ErrorKind::Other, "{e}"); // open(O_RDWR) of a directory: EISDIR
    assert!(e.to_string().contains(".shmem-lockfile"), "{e}");
}

#[test]
fn lock_file_of_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(0x5348_1F00, dir.path());
    let path = cfg.lock_file_path();
    std::fs::write(&path, b"").unwrap();
    if let Err(e) = std::os::unix::fs::chown(&path, Some(4242), Some(4242)) {
        eprintln!("SKIPPED lock_file_of_another_user_is_refused: cannot chown ({e}); run as root");
        return;
    }
    let e = setup_error(SysV::new(cfg.clone()));
    let text = e.to_string();
    assert!(text.contains("uid 4242"), "{text}");
    assert!(text.contains("unexpected user"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    cfg.lock_file_owner = ExpectedOwner::Uid(4242);
    SysV::new(cfg).unwrap();
}

#[test]
fn owners_keep_locking_the_checked_file_when_its_path_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(0x5348_2000, dir.path());
    let sysv = SysV::new(cfg.clone()).unwrap();
    let a = sysv.lock_owner_new().unwrap();
    sysv.lock(a, LockRange::slot(0), LockKind::Exclusive, Wait::No)
        .unwrap();
    std::fs::remove_file(cfg.lock_file_path()).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", cfg.lock_file_path()).unwrap();
    // a new owner is a new description of the checked inode, not of the planted link
    let b = sysv.lock_owner_new().unwrap();
    assert_eq!(
        kind(sysv.lock(b, LockRange::slot(0), LockKind::Shared, Wait::No)),
        ErrorKind::WouldBlock
    );
    // a new platform refuses the link
    let e = setup_error(SysV::new(cfg));
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    sysv.lock_owner_release(a).unwrap();
    sysv.lock_owner_release(b).unwrap();
}

#[test]
fn invalid_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(0, dir.path());
    assert!(matches!(SysV::new(cfg.clone()), Err(SetupError::Config(_))));
    cfg.key_base = i32::MAX - 10;
    let e = setup_error(SysV::new(cfg));
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn platform_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}
    check::<SysV>();
    send_sync::<shmfits_unix::SysMapping>();
}

#[test]
fn config_from_the_real_environment() {
    if std::env::var_os("SHMFITS_TEST_ENV_CHILD").is_some() {
        match Config::from_env() {
            Ok(c) => println!("OK {} {} {}", c.key_base, c.slots, c.lock_dir.display()),
            Err(e) => println!("ERR {e}"),
        }
        return;
    }
    let run = |vars: &[(&str, &str)]| -> String {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "config_from_the_real_environment",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SHMFITS_TEST_ENV_CHILD", "1")
            .env_remove("SHMEM_LIB_KEYBASE")
            .env_remove("SHMEM_LIB_MAXSEG")
            .env_remove("SHMFITS_LOCK_DIR")
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.find("OK ").or(l.find("ERR ")).map(|i| l[i..].to_string()))
            .unwrap_or(text)
    };
    assert_eq!(run(&[]), "OK 14011963 16 /tmp");
    assert_eq!(
        run(&[
            ("SHMEM_LIB_KEYBASE", "1397231616"),
            ("SHMEM_LIB_MAXSEG", "4")
        ]),
        "OK 1397231616 4 /tmp"
    );
    let e = run(&[("SHMEM_LIB_KEYBASE", "abc")]);
    assert!(
        e.starts_with("ERR") && e.contains("SHMEM_LIB_KEYBASE") && e.contains("abc"),
        "{e}"
    );
    let e = run(&[("SHMEM_LIB_MAXSEG", "-5")]);
    assert!(
        e.starts_with("ERR") && e.contains("SHMEM_LIB_MAXSEG") && e.contains("-5"),
        "{e}"
    );
}

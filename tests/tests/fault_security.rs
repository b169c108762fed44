//! Issue 5 rows 10 and 11 on the real kernel, with a second user. Run as root, the test makes
//! one: a user id that no account names and no process runs as (the kernel knows users by
//! number, so nothing needs to be added to /etc/passwd and nothing is left behind), and runs
//! the hostile side as it through `CommandExt::uid/gid`; as any other user it skips loudly
//! (CI runs as root).
//!
//! Key bases 0x5348D200.. (0x100 per test).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use shmfits_core::shm::{CounterId, Error, Mode, SegmentId, SharedMem, Wait};
use shmfits_tests::fault::env::FaultEnv;
use shmfits_tests::fault::proc::Proc;
use shmfits_tests::fault::{content, write_through, Drv};
use shmfits_unix::{SetupError, SysV};

const KEYS_PERMS: i32 = 0x5348_D200;
const KEYS_SQUAT: i32 = 0x5348_D300;
const KEYS_LOCKFILE: i32 = 0x5348_D400;
const KEYS_EDIT: i32 = 0x5348_D500;
/// First user id tried for the second user.
const OTHER_UID_FIRST: u32 = 53_480;

/// The second user: the first uid from [`OTHER_UID_FIRST`] on that no account in
/// /etc/passwd names and no process runs as (so no one else on the machine is that user).
fn other_uid() -> u32 {
    static UID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let accounts: Vec<u32> = passwd
            .lines()
            .filter_map(|l| l.split(':').nth(2)?.parse().ok())
            .collect();
        let running: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
            .flat_map(|status| {
                status
                    .lines()
                    .filter(|l| l.starts_with("Uid:"))
                    .flat_map(|l| l.split_whitespace().skip(1).filter_map(|v| v.parse().ok()))
                    .collect::<Vec<u32>>()
            })
            .collect();
        (OTHER_UID_FIRST..OTHER_UID_FIRST + 1000)
            .find(|u| !accounts.contains(u) && !running.contains(u))
            .expect("a free user id")
    })
}

/// The tests of this file run one at a time. `Command::uid` makes `Command` `fork` (not
/// `posix_spawn`), and a forked child holds a copy of every System V attachment of this
/// process until it execs: a sibling test's shutdown would see its global table attached
/// twice and rightly keep it (CFITSIO's rule), which the test would report as a leak.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn root_or_skip(test: &str) -> bool {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if uid != 0 {
        eprintln!("SKIPPED {test}: needs root to act as a second user; CI runs as root");
        return false;
    }
    true
}

fn create(d: &mut Drv, name: &str, version: u64, len: usize) {
    let h = d.create(name).unwrap();
    write_through(d, h, &content::file(version, len), 4096).unwrap();
    d.close(h).unwrap();
}

/// A world-writable sticky directory (like /tmp) that the other user can use.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

fn as_other_user(cmd: &mut Command) -> &mut Command {
    cmd.uid(other_uid()).gid(other_uid())
}

/// Row 10: objects are owner-only (0600) by default; another user can neither read, write
/// nor delete the file (refused with a clear error), and nothing of ours changes.
#[test]
fn another_user_cannot_touch_our_files() {
    let _serial = one_at_a_time();
    if !root_or_skip("another_user_cannot_touch_our_files") {
        return;
    }
    let env = FaultEnv::new(KEYS_PERMS, 16);
    std::fs::set_permissions(env.lock_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 3000);
    let p = d.platform();
    let table = p
        .segment_info(p.segment_find(env.keybase()).unwrap())
        .unwrap();
    assert_eq!(table.mode & 0o777, 0o600, "global table");
    let lock = std::fs::metadata(p.lock_file_path()).unwrap();
    assert_eq!(lock.mode() & 0o077, 0, "lock file mode {:o}", lock.mode());
    for o in env.objects() {
        let out = Command::new("ipcs")
            .arg(format!("-{}", o.class))
            .arg("-i")
            .arg(o.id.to_string())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("mode=0600") || text.contains("mode=600"),
            "{o:?}: {text}"
        );
    }
    for args in [
        vec!["read", "shmem://h1"],
        vec!["delete", "shmem://h1"],
        vec!["rewrite", "shmem://h1", "9", "100", "shadow", "100"],
        vec!["recover"],
    ] {
        let out = as_other_user(&mut env.child_command(&args, None))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} as uid {}: {text}",
            other_uid()
        );
        assert!(
            text.contains("ermission denied") || text.contains("owned by"),
            "{args:?}: a clear error: {text}"
        );
    }
    let h = d.open("shmem://h1", Mode::ReadOnly, Wait::No).unwrap();
    let mut buf = vec![0u8; 2880 * 3];
    let n = d.read(h, &mut buf).unwrap();
    d.close(h).unwrap();
    assert_eq!(content::verify(&buf[..n]), Ok(1), "unchanged");
    d.delete("shmem://h1").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 10: another user squatting the global table's key or the data keys gives a clear
/// error naming the owner (or that no key is free), never a hang, and their objects are
/// never removed.
#[test]
fn squatted_keys_are_clear_errors_and_never_removed() {
    let _serial = one_at_a_time();
    if !root_or_skip("squatted_keys_are_clear_errors_and_never_removed") {
        return;
    }
    let env = FaultEnv::new(KEYS_SQUAT, 4);
    let squat_dir = shared_dir();
    let squat = |keys: Vec<String>| {
        let mut args = vec!["squat".to_string()];
        args.extend(keys);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = env.child_command(&refs, None);
        cmd.env("SHMFITS_SQUAT_DIR", squat_dir.path());
        as_other_user(&mut cmd);
        let mut p = Proc::spawn(cmd);
        p.expect("squatted");
        p
    };
    // 1. the global table's key
    let mut p = squat(vec![env.keybase().to_string()]);
    let sysv = SysV::new(env.platform_config()).unwrap();
    match Drv::new(sysv, shmfits_core::shm::Config::new(env.keybase(), 4)) {
        Err(e @ Error::ForeignOwner { uid, .. }) if uid == other_uid() => {
            assert!(e.to_string().contains(&uid.to_string()), "{e}");
        }
        Err(Error::TableMismatch { .. }) => {}
        r => panic!("table squatted: {r:?}"),
    }
    assert_eq!(
        env.objects().len(),
        1,
        "their segment stays: {:?}",
        env.objects()
    );
    p.send("done");
    assert!(p.finish().success());
    // 2. every data key
    let mut d = env.driver();
    let keys: Vec<String> = (1..=12).map(|j| (env.keybase() + j).to_string()).collect();
    let mut p = squat(keys);
    match d.create("shmem://h1") {
        Err(Error::NoKey { slot: 1 }) => {}
        r => panic!("data keys squatted: {r:?}"),
    }
    d.recover(None).unwrap();
    assert_eq!(
        env.file_objects(),
        (12, 0),
        "their segments stay: {:?}",
        env.objects()
    );
    p.send("done");
    assert!(p.finish().success());
    assert_eq!(env.file_objects(), (0, 0));
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Rows 10 and 11: the lock file. A symlink planted at its path is refused (never followed,
/// the target is not truncated); a lock file made by another user, or writable by others,
/// is refused naming the owner or the mode; nothing hangs.
#[test]
fn planted_lock_files_are_refused() {
    let _serial = one_at_a_time();
    if !root_or_skip("planted_lock_files_are_refused") {
        return;
    }
    let env = FaultEnv::new(KEYS_LOCKFILE, 4);
    let dir = shared_dir();
    let mut config = env.platform_config();
    config.lock_dir = dir.path().to_path_buf();
    let path = config.lock_file_path();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    // a symlink to the victim's file
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    let e = SysV::new(config.clone()).unwrap_err();
    assert!(matches!(e, SetupError::LockFile { .. }), "{e}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "not truncated"
    );
    std::fs::remove_file(&path).unwrap();
    // a lock file planted by the other user (their umask, their file)
    let st = as_other_user(Command::new("touch").arg(&path))
        .status()
        .unwrap();
    assert!(st.success());
    let e = SysV::new(config.clone()).unwrap_err();
    assert!(
        e.to_string().contains("unexpected user")
            || e.to_string().contains(&other_uid().to_string()),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
    // our own lock file made writable by others: accepted by default, since CFITSIO makes
    // its lock file 0666 for our own user; refused when the strict check is asked for
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    drop(SysV::new(config.clone()).unwrap());
    let strict = shmfits_unix::Config {
        accept_cfitsio_lock_file: false,
        ..config.clone()
    };
    let e = SysV::new(strict).unwrap_err();
    assert!(e.to_string().contains("writable by group or others"), "{e}");
    std::fs::remove_file(&path).unwrap();
    // a directory in its place
    std::fs::create_dir(&path).unwrap();
    let e = SysV::new(config.clone()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("not a regular file") || text.contains("Is a directory"),
        "{text}"
    );
    std::fs::remove_dir(&path).unwrap();
    // and with the path clean, it works and creates it 0600
    let s = SysV::new(config).unwrap();
    let m = std::fs::symlink_metadata(s.lock_file_path()).unwrap();
    assert_eq!(m.mode() & 0o777, 0o600);
    assert!(Path::new(&victim).exists());
    assert!(env.objects().is_empty());
}

/// Row 10: a table entry edited to name an unrelated semaphore and segment (as a hostile
/// user with write access to the table could) never makes delete or recover remove them.
#[test]
fn edited_table_never_removes_unrelated_objects() {
    let _serial = one_at_a_time();
    let env = FaultEnv::new(KEYS_EDIT, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 3000);
    // unrelated objects: ours, under keys outside the range
    let p = SysV::new(env.platform_config()).unwrap();
    let other_key = env.keybase() + 0xF0;
    // They lie outside the range `env` sweeps, so this guard removes them, also on failure.
    struct Unrelated<'a>(&'a SysV, Option<CounterId>, Option<SegmentId>);
    impl Drop for Unrelated<'_> {
        fn drop(&mut self) {
            if let Some(sem) = self.1 {
                let _ = self.0.counter_remove(sem);
            }
            if let Some(seg) = self.2 {
                let _ = self.0.segment_remove(seg);
            }
        }
    }
    let mut unrelated = Unrelated(&p, None, None);
    let sem = p.counter_create(other_key).unwrap();
    unrelated.1 = Some(sem);
    let seg = p.segment_create(other_key, 100).unwrap();
    unrelated.2 = Some(seg);
    let id = p.segment_find(env.keybase()).unwrap();
    let m = p.segment_attach(id).unwrap();
    p.write(&m, 28, &sem.0.to_ne_bytes()).unwrap(); // sem
    p.write(&m, 28 + 12, &seg.0.to_ne_bytes()).unwrap(); // handle
    p.segment_detach(m).unwrap();
    let _ = d.delete("shmem://h1");
    let _ = d.open("shmem://h1", Mode::ReadOnly, Wait::No);
    let _ = d.recover(None);
    let _ = d.recover_slot(1);
    assert!(
        p.counter_info(CounterId(sem.0)).is_ok(),
        "unrelated semaphore removed"
    );
    assert!(p.segment_info(seg).is_ok(), "unrelated segment removed");
    drop(unrelated);
    d.shutdown().unwrap();
    // the file's own objects are left for cleanup (the table was corrupted on purpose)
    drop(env);
}

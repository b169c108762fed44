//! Issue 5 rows 5 and 6 on the real kernel: readers share (even with a stopped reader in the
//! slot), opens that would wait have non-blocking and timeout forms with distinct errors,
//! lock cycles inside one driver and between processes are `Deadlock`, and delete returns at
//! once while readers hold the file — new opens fail, ours and CFITSIO's, and the last close
//! frees it.
//!
//! Key bases 0x5348C800.., 0x53499000 and 0x5349B000.. (0x100 per test).

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use shmfits_core::shm::{Error, Handle, Mode, Wait};
use shmfits_tests::cfitsio;
use shmfits_tests::fault::env::FaultEnv;
use shmfits_tests::fault::proc::Proc;
use shmfits_tests::fault::{content, read_file, write_through, Drv};

const KEYS_SHARE: i32 = 0x5348_C800;
const KEYS_DELETE: i32 = 0x5348_C900;
const KEYS_CFITSIO: i32 = 0x5348_CA00;
const KEYS_CYCLE: i32 = 0x5348_CB00;
const KEYS_DEADLOCK: i32 = 0x5349_9000;
const KEYS_MARK: i32 = 0x5349_B000;
const KEYS_RACE: i32 = 0x5349_B100;

fn create(d: &mut Drv, name: &str, version: u64, len: usize) {
    let h = d.create(name).unwrap();
    write_through(d, h, &content::file(version, len), 4096).unwrap();
    d.close(h).unwrap();
}

/// Row 5: a reader stopped (SIGSTOP by the step hook) while holding the file does not block
/// other readers; writers get `WouldBlock` at once or `TimedOut` after the timeout, never a
/// hang and never a generic IPC error; one driver's own lock cycle is `Deadlock`.
#[test]
fn readers_share_and_blocked_opens_say_why() {
    let env = FaultEnv::new(KEYS_SHARE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 5000);
    // stopped right after its open counted itself: it holds the shared lock
    let mut stopped = env.spawn(&["hold", "shmem://h1", "ro"], Some("after-counter-add"));
    assert!(stopped.wait_stop().is_some());

    let h = d
        .open("shmem://h1", Mode::ReadOnly, Wait::No)
        .expect("a reader opens without waiting next to a stopped reader");
    let (ok, out, err) = env.run(&["read", "shmem://h1"]);
    assert!(
        ok && out.trim() == "ok 1",
        "another process reads too: {out} {err}"
    );

    let mut other = env.driver();
    match other.open("shmem://h1", Mode::ReadWrite, Wait::No) {
        Err(Error::WouldBlock { slot: 1 }) => {}
        r => panic!("writer without waiting: {r:?}"),
    }
    match other.open(
        "shmem://h1",
        Mode::ReadWrite,
        Wait::Timeout(Duration::from_millis(200)),
    ) {
        Err(Error::TimedOut { slot: 1 }) => {}
        r => panic!("writer with a timeout: {r:?}"),
    }
    // this driver holds h1 read-only: waiting for read-write would wait for itself
    match d.open("shmem://h1", Mode::ReadWrite, Wait::Forever) {
        Err(Error::Deadlock { slot: 1 }) => {}
        r => panic!("own lock cycle: {r:?}"),
    }

    stopped.kill();
    d.close(h).unwrap();
    // the killed reader's count was undone: a writer gets in at once now
    let w = other.open("shmem://h1", Mode::ReadWrite, Wait::No).unwrap();
    other.close(w).unwrap();
    other.shutdown().unwrap();
    d.delete("shmem://h1").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// A lock cycle's start: files h1 and h2; a child (`cycle`, with `extra` arguments) holds
/// h2 read-only and waits for "go" to ask for h1 read-write; we hold h1 read-only.
fn start_cycle(env: &FaultEnv, extra: &[&str]) -> (Drv, Proc, Handle) {
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 100);
    create(&mut d, "shmem://h2", 2, 100);
    let mut args = vec!["cycle", "shmem://h2", "shmem://h1"];
    args.extend_from_slice(extra);
    let mut other = env.spawn(&args, None);
    other.expect("held");
    let h1 = d.open("shmem://h1", Mode::ReadOnly, Wait::No).unwrap();
    (d, other, h1)
}

/// A lock cycle's end: both files deleted, nothing left.
fn end_cycle(env: &FaultEnv, mut d: Drv) {
    d.delete("shmem://h1").unwrap();
    d.delete("shmem://h2").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 5 across processes, timeout form: two processes each holding one file read-only and
/// asking for the other read-write with a timeout both get `TimedOut` (timed waits poll, so
/// the kernel's deadlock detector never sees them), and neither hangs.
#[test]
fn cross_process_lock_cycle_times_out() {
    let env = FaultEnv::new(KEYS_CYCLE, 16);
    let (mut d, mut other, h1) = start_cycle(&env, &[]);
    // the child wants h1 read-write while we hold it; we want h2 read-write while it holds it
    other.send("go");
    match d.open(
        "shmem://h2",
        Mode::ReadWrite,
        Wait::Timeout(Duration::from_millis(100)),
    ) {
        Err(Error::TimedOut { slot: 2 }) => {}
        r => panic!("{r:?}"),
    }
    let answer = other.line();
    assert!(answer.contains("timed out"), "{answer}");
    assert!(other.finish().success());
    d.close(h1).unwrap();
    end_cycle(&env, d);
}

/// Row 5 across processes, waiting form: this process holds h1 and the child h2 (read-only),
/// then each asks for the other's file read-write with `Wait::Forever`. The wait that closes
/// the cycle (the kernel decides which, through the mirror locks) fails with
/// `Deadlock { slot }`; that side closes its file, and the other side's open completes.
/// A watchdog kills the child if the cycle hangs.
#[test]
fn cross_process_lock_cycle_reports_deadlock() {
    let env = FaultEnv::new(KEYS_DEADLOCK, 16);
    let (mut d, mut other, h1) = start_cycle(&env, &["forever"]);

    let (done, watch) = mpsc::channel::<()>();
    let pid = other.pid().to_string();
    let watchdog = std::thread::spawn(move || {
        let hung =
            watch.recv_timeout(Duration::from_secs(30)) == Err(mpsc::RecvTimeoutError::Timeout);
        if hung {
            // our own child, by its pid: its death releases its locks and ends our wait
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        hung
    });
    other.send("go");
    let ours = d.open("shmem://h2", Mode::ReadWrite, Wait::Forever);
    let _ = done.send(());
    let hung = watchdog.join().unwrap();
    assert!(
        !hung,
        "the lock cycle hung for 30 s (child killed); ours: {ours:?}"
    );

    match ours {
        Err(Error::Deadlock { slot: 2 }) => {
            // we closed the cycle: give up h1, the child's wait completes
            d.close(h1).unwrap();
            let answer = other.line();
            assert_eq!(answer, "got it", "the child after our Deadlock");
        }
        Ok(h2) => {
            // the child closed the cycle: it got Deadlock for h1 and closed h2
            let answer = other.line();
            assert_eq!(answer, "deadlock 1", "the child's answer");
            assert_eq!(other.line(), "closed");
            d.close(h2).unwrap();
            d.close(h1).unwrap();
        }
        r => panic!("our side of the cycle: {r:?}"),
    }
    assert!(other.finish().success(), "{}", other.stderr_now());
    end_cycle(&env, d);
}

/// Row 6: delete returns at once while (stopped) readers hold the file; new opens fail;
/// the readers keep reading the whole file; the last close frees every object.
#[test]
fn delete_returns_at_once_and_the_last_close_frees() {
    let env = FaultEnv::new(KEYS_DELETE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 20_000);
    let mut reader = env.spawn(&["hold", "shmem://h1", "ro"], None);
    reader.expect("held");
    let mut stopped = env.spawn(&["hold", "shmem://h1", "ro"], Some("after-counter-add"));
    assert!(stopped.wait_stop().is_some());
    let h = d.open("shmem://h1", Mode::ReadOnly, Wait::No).unwrap();

    let (ok, out, err) = env.run(&["delete", "shmem://h1"]);
    assert!(
        ok && out.contains("deleted"),
        "delete with readers in: {out} {err}"
    );
    match d.open("shmem://h1", Mode::ReadOnly, Wait::No) {
        Err(Error::NotFound { slot: 1 }) => {}
        r => panic!("open after delete: {r:?}"),
    }
    let (ok, out, _) = env.run(&["read", "shmem://h1"]);
    assert!(!ok && out.contains("no such file"), "{out}");
    // an open handle still reads the whole file
    let mut buf = vec![0u8; 2880 * 8];
    let mut got = 0;
    loop {
        let n = d.read(h, &mut buf[got..]).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    assert_eq!(content::verify(&buf[..got]), Ok(1));

    stopped.kill(); // dies holding it: its count is undone
    d.close(h).unwrap();
    assert_eq!(
        env.file_objects(),
        (1, 1),
        "one reader left: {:?}",
        env.objects()
    );
    reader.send("close");
    reader.expect("closed");
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "freed by the last close: {:?}",
        env.objects()
    );
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Rows 6 and 7 with CFITSIO. CFITSIO's open takes the slot's exclusive lock (waiting)
/// before it looks at anything, so while any reader holds a deleted file a CFITSIO open
/// waits, and once the last close has freed it, it fails. A CFITSIO reader's own close frees
/// a file we deleted. A deleted file whose last holder died is freed by our next open of it
/// (and CFITSIO's open of it fails: see the test after this one, where CFITSIO comes first).
#[test]
fn cfitsio_cannot_open_a_deleted_file_and_its_close_frees_it() {
    let Some(c) = cfitsio::require("cfitsio_cannot_open_a_deleted_file_and_its_close_frees_it")
    else {
        return;
    };
    let env = FaultEnv::for_cfitsio(KEYS_CFITSIO, 16);
    let mut d = env.driver();
    let envs = env.env();
    let envs_ref: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cf_open_fails = |what: &str| {
        let l = c.listhdus_env(Path::new("shmem://h1"), &envs_ref).unwrap();
        assert!(
            l.error.is_some(),
            "{what}: CFITSIO opened a deleted file: {}",
            l.summary()
        );
    };

    // 1. our reader closes a file we deleted: freed, CFITSIO's open fails
    create(&mut d, "shmem://h1", 1, 20_000);
    let before = c.listhdus_env(Path::new("shmem://h1"), &envs_ref).unwrap();
    assert_eq!(before.error, None, "CFITSIO reads it before the delete");
    let mut reader = env.spawn(&["hold", "shmem://h1", "ro"], None);
    reader.expect("held");
    d.delete("shmem://h1").unwrap();
    reader.send("close");
    reader.expect("closed");
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "freed by the last close: {:?}",
        env.objects()
    );
    cf_open_fails("after the last close");

    // 2. our reader dies holding it: our next open fails and frees it; then CFITSIO's fails
    create(&mut d, "shmem://h1", 2, 20_000);
    let mut reader = env.spawn(&["hold", "shmem://h1", "ro"], None);
    reader.expect("held");
    d.delete("shmem://h1").unwrap();
    reader.kill();
    match d.open("shmem://h1", Mode::ReadOnly, Wait::No) {
        Err(Error::NotFound { slot: 1 }) => {}
        r => panic!("{r:?}"),
    }
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "our failed open freed it: {:?}",
        env.objects()
    );
    cf_open_fails("after a holder died and our open freed it");

    // 3. a CFITSIO reader holds a file we delete: delete returns at once, its close frees it
    create(&mut d, "shmem://h1", 3, 20_000);
    let mut cmd = std::process::Command::new(&c.shmlock);
    cmd.args(["shmem://h1", "ro"])
        .envs(envs_ref.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut cf = Proc::spawn(cmd);
    cf.expect("locked");
    d.delete("shmem://h1").unwrap();
    assert!(read_file(&mut d, "shmem://h1", Wait::No).is_err());
    assert_eq!(
        env.file_objects(),
        (1, 1),
        "still held by CFITSIO: {:?}",
        env.objects()
    );
    let status = cf.finish();
    assert!(status.success(), "CFITSIO close: {}", cf.stderr_now());
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "CFITSIO's close freed it: {:?}",
        env.objects()
    );
    cf_open_fails("after CFITSIO's close");
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Whether `pid` is waiting for a classic `fcntl` lock (a `->` line of `/proc/locks`).
fn waits_for_lock(pid: u32) -> bool {
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let pid = pid.to_string();
    locks.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&"->") && w.get(5) == Some(&pid.as_str())
    })
}

/// Row 6, CFITSIO's side: a deleted file that processes hold carries the delete mark in its
/// file header, which CFITSIO's open checks once it has the slot lock (and its close never
/// reads). So a CFITSIO open after the last holder *died* fails — and frees the file, since
/// its failed open runs its close — and a CFITSIO open that waited for our reader (its attach
/// takes the exclusive lock, as for any held file) fails when the reader closes.
#[test]
fn cfitsio_open_of_a_deleted_file_fails_once_it_gets_the_lock() {
    let Some(c) = cfitsio::require("cfitsio_open_of_a_deleted_file_fails_once_it_gets_the_lock")
    else {
        return;
    };
    let env = FaultEnv::for_cfitsio(KEYS_MARK, 16);
    let mut d = env.driver();
    let envs = env.env();
    let envs_ref: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let name = Path::new("shmem://h2");

    // 1. the last holder died: CFITSIO comes first, fails, and frees the file
    create(&mut d, "shmem://h2", 1, 20_000);
    let mut reader = env.spawn(&["hold", "shmem://h2", "ro"], None);
    reader.expect("held");
    d.delete("shmem://h2").unwrap();
    reader.kill();
    assert_eq!(
        env.file_objects(),
        (1, 1),
        "nobody freed it yet: {:?}",
        env.objects()
    );
    let l = c.listhdus_env(name, &envs_ref).unwrap();
    assert!(
        l.error.is_some(),
        "CFITSIO opened a deleted file: {}",
        l.summary()
    );
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "CFITSIO's failed open freed it: {:?}",
        env.objects()
    );

    // 2. CFITSIO's open waits for our reader, then fails; the file is freed
    create(&mut d, "shmem://h2", 2, 20_000);
    let mut reader = env.spawn(&["hold", "shmem://h2", "ro"], None);
    reader.expect("held");
    d.delete("shmem://h2").unwrap();
    let mut cf = Proc::spawn(c.listhdus_command(name, &envs_ref));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !waits_for_lock(cf.pid()) {
        assert!(
            std::time::Instant::now() < deadline,
            "CFITSIO's open never waited for the slot lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    reader.send("close");
    reader.expect("closed");
    let l = cfitsio::Listing::from_output(cf.output()).unwrap();
    assert!(
        l.error.is_some(),
        "CFITSIO opened a deleted file after waiting: {}",
        l.summary()
    );
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "freed by our close or CFITSIO's failed open: {:?}",
        env.objects()
    );
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 6, an open racing a delete: the opener read the entry (a live file) and is stopped
/// there (step hook); a delete then clears PERSIST and marks the header; the opener, resumed,
/// finds the mark, re-reads the entry and fails with "no such file" (not a corrupt-file
/// error), and its failed open frees the deleted file.
#[test]
fn an_open_that_races_a_delete_fails_as_not_found() {
    let env = FaultEnv::new(KEYS_RACE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 5000);
    let mut opener = env.spawn(&["hold", "shmem://h1", "ro"], Some("after-entry-read"));
    assert!(
        opener.wait_stop().is_some(),
        "stopped after reading the entry"
    );
    d.delete("shmem://h1").unwrap();
    assert_eq!(env.file_objects(), (1, 1), "held by the stopped opener");
    opener.resume();
    let answer = opener.line();
    assert!(
        answer.starts_with("error") && answer.contains("no such file"),
        "{answer}"
    );
    assert!(!opener.finish().success());
    assert_eq!(
        env.file_objects(),
        (0, 0),
        "the failed open freed it: {:?}",
        env.objects()
    );
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

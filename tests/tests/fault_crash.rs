//! Issue 5 rows 1–4 on the real kernel: child processes (`fault_child`) are stopped at every
//! named driver step with the test-only hook (`SHMFITS_TEST_STOP_AT`) and `SIGKILL`ed there;
//! then the test checks that the last committed version is intact, that `recover` removes
//! exactly the orphans, that healthy files are untouched and that nothing leaks.
//!
//! Key bases 0x5348C000.. (0x100 per test); the lock file is in a private temp dir.

use shmfits_core::shm::{Driver, Mode, SharedMem, SlotStatus, Step, Wait};
use shmfits_tests::fault::env::FaultEnv;
use shmfits_tests::fault::{content, read_file, Drv};

const KEYS_SHADOW: i32 = 0x5348_C000;
const KEYS_INPLACE: i32 = 0x5348_C100;
const KEYS_CREATE: i32 = 0x5348_C200;
const KEYS_RECOVER: i32 = 0x5348_C300;
const KEYS_EXIT: i32 = 0x5348_C400;
const KEYS_BADWRITE: i32 = 0x5348_C500;
const KEYS_DELETE: i32 = 0x5348_C600;

/// Bytes of data in version 1 (fits the first segment) and version 2 (forces growth).
const V1_LEN: usize = 3000;
const V2_LEN: usize = 40_000;

fn create(d: &mut Drv, name: &str, version: u64, len: usize) {
    let h = d.create(name).unwrap();
    shmfits_tests::fault::write_through(d, h, &content::file(version, len), 4096).unwrap();
    d.close(h).unwrap();
}

fn version_of(d: &mut Drv, name: &str) -> Result<u64, String> {
    let bytes = read_file(d, name, Wait::No)?;
    content::verify(&bytes)
}

fn status(d: &Drv) -> Vec<SlotStatus> {
    let mut out = [SlotStatus::EMPTY; 16];
    let n = d.list(&mut out).unwrap();
    out[..n].to_vec()
}

/// Every used slot is healthy: no process, no write lock claimed, not corrupt.
fn assert_settled(d: &Drv, what: &str) {
    for s in status(d) {
        assert_eq!(s.processes, Some(0), "{what}: slot h{}: {s:?}", s.slot);
        assert_eq!(s.nprocdebug, 0, "{what}: slot h{}: {s:?}", s.slot);
        assert!(s.corrupt.is_none(), "{what}: slot h{}: {s:?}", s.slot);
    }
}

/// Run `args` in a child armed to stop at `step` (first hit), and kill it there.
/// Returns whether the step was reached.
fn kill_at(env: &FaultEnv, args: &[&str], step: Step) -> bool {
    kill_at_spec(env, args, step.name())
}

/// As [`kill_at`] with a `<step>[:<n>]` spec.
fn kill_at_spec(env: &FaultEnv, args: &[&str], spec: &str) -> bool {
    let mut p = env.spawn(args, Some(spec));
    let stopped = p.wait_stop();
    p.kill();
    stopped.is_some()
}

/// Row 1 (and 2 for growth): a writer killed at any step of a shadow rewrite that grows the
/// file leaves exactly version 1 (before the publish store) or exactly version 2 (after it),
/// never a torn file; recover removes the orphan and nothing else.
#[test]
fn killed_shadow_writer_leaves_a_whole_version() {
    let env = FaultEnv::new(KEYS_SHADOW, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h2", 7, 1234); // bystander: must never change
                                           // Version 2 is written in 5000-byte writes: the first makes the shadow (16 KiB), the
                                           // 4th and 7th grow it (32 KiB, 64 KiB, each removing the previous shadow), close
                                           // publishes (one store) and removes the published segment (hit 3 of after-old-remove).
    let cases = [
        ("after-lock", 1),
        ("after-counter-add", 1),
        ("after-segment-create:1", 1),
        ("after-copy:1", 1),
        ("after-data-write:1", 1),
        ("after-segment-create:2", 1),
        ("after-copy:2", 1),
        ("after-old-remove:1", 1),
        ("after-data-write:4", 1),
        ("after-old-remove:2", 1),
        ("after-data-write:9", 1),
        ("before-publish", 1),
        ("after-publish", 2),
        ("after-old-remove:3", 2),
        ("after-counter-release", 2),
    ];
    for (step, want) in cases {
        create(&mut d, "shmem://h1", 1, V1_LEN);
        let v2 = V2_LEN.to_string();
        let reached = kill_at_spec(
            &env,
            &["rewrite", "shmem://h1", "2", &v2, "shadow", "5000"],
            step,
        );
        assert!(reached, "{step}: the rewrite never reached it");
        // Before any repair: a reader sees one whole version.
        assert_eq!(version_of(&mut d, "shmem://h1"), Ok(want), "{step}");
        let report = d.recover(None).unwrap();
        assert_eq!(
            version_of(&mut d, "shmem://h1"),
            Ok(want),
            "{step}: after recover"
        );
        assert_eq!(version_of(&mut d, "shmem://h2"), Ok(7), "{step}: bystander");
        assert_settled(&d, step);
        assert_eq!(
            env.file_objects(),
            (2, 2),
            "{step}: two files, no orphan left ({report:?}; {:?})",
            env.objects()
        );
        d.delete("shmem://h1").unwrap();
        assert_eq!(env.file_objects(), (1, 1), "{step}: delete freed h1");
    }
    d.delete("shmem://h2").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 2 with in-place writes: a writer killed at any step of growth leaves the name usable
/// (old or new segment reachable, never "unusable forever"), and recover removes the orphan
/// segment (ours, with our marker) and nothing else.
#[test]
fn killed_in_place_grower_leaves_the_name_usable() {
    let env = FaultEnv::new(KEYS_INPLACE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h2", 7, 1234);
    for step in [
        Step::AfterSegmentCreate,
        Step::AfterCopy,
        Step::BeforePublish,
        Step::AfterPublish,
        Step::AfterOldRemove,
        Step::AfterDataWrite,
    ] {
        create(&mut d, "shmem://h1", 1, V1_LEN);
        let v2 = V2_LEN.to_string();
        // the growth is the write that crosses the first segment (hit 1 of the step)
        let reached = kill_at(
            &env,
            &["rewrite", "shmem://h1", "2", &v2, "inplace", "5000"],
            step,
        );
        assert!(reached, "{step}: never reached");
        let bytes = read_file(&mut d, "shmem://h1", Wait::No)
            .unwrap_or_else(|e| panic!("{step}: h1 unusable after the crash: {e}"));
        assert!(
            bytes.len() >= 2880 + V1_LEN,
            "{step}: {} bytes",
            bytes.len()
        );
        d.recover(None).unwrap();
        assert_eq!(version_of(&mut d, "shmem://h2"), Ok(7), "{step}: bystander");
        assert_settled(&d, &format!("{step}"));
        assert_eq!(env.file_objects(), (2, 2), "{step}: {:?}", env.objects());
        // The name is writable again: a full rewrite succeeds and reads back whole.
        let (ok, out, err) = env.run(&["rewrite", "shmem://h1", "3", &v2, "inplace", "5000"]);
        assert!(ok, "{step}: rewrite after crash: {out} {err}");
        assert_eq!(version_of(&mut d, "shmem://h1"), Ok(3), "{step}");
        d.delete("shmem://h1").unwrap();
    }
    d.delete("shmem://h2").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Rows 2 and 3 for create: a creator killed at every step leaves either no file or a whole
/// one; recover removes the leftovers (segment without entry, counter without entry) and
/// leaves healthy files alone.
#[test]
fn killed_creator_leaves_no_file_or_a_whole_one() {
    let env = FaultEnv::new(KEYS_CREATE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h2", 7, 1234);
    for step in [
        Step::AfterSegmentCreate,
        Step::AfterHeaders,
        Step::AfterCounterCreate,
        Step::AfterCounterAdd,
        Step::AfterEntryStore,
        Step::AfterSegmentCreate, // hit 1 is create's; see below for the shadow's
        Step::AfterDataWrite,
        Step::BeforePublish,
        Step::AfterPublish,
    ] {
        assert!(
            kill_at(&env, &["create", "shmem://h3", "5", "2000"], step),
            "{step}: never reached"
        );
        d.recover(None).unwrap();
        assert_eq!(version_of(&mut d, "shmem://h2"), Ok(7), "{step}: bystander");
        assert_settled(&d, &format!("{step}"));
        let exists = status(&d).iter().any(|s| s.slot == 3);
        if exists {
            // created: either still the empty new file or the published version 5
            let bytes = read_file(&mut d, "shmem://h3", Wait::No).unwrap();
            match content::verify(&bytes) {
                Ok(v) => assert_eq!(v, 5, "{step}"),
                Err(_) => assert!(
                    bytes.len() == 2880 && step <= Step::BeforePublish,
                    "{step}: torn new file of {} bytes",
                    bytes.len()
                ),
            }
            assert_eq!(env.file_objects(), (2, 2), "{step}: {:?}", env.objects());
            d.delete("shmem://h3").unwrap();
        } else {
            assert!(step < Step::AfterEntryStore, "{step}: file vanished");
        }
        assert_eq!(env.file_objects(), (1, 1), "{step}: {:?}", env.objects());
    }
    d.delete("shmem://h2").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 3: recover repairs only what is broken. Healthy closed files survive any number of
/// recovers; write locks left by killed writers do not drift `nprocdebug` up; a recover that
/// is itself killed mid-way changes nothing.
#[test]
fn recover_repairs_only_what_is_broken() {
    let env = FaultEnv::new(KEYS_RECOVER, 16);
    let mut d = env.driver();
    for i in 0..4u64 {
        create(
            &mut d,
            &format!("shmem://h{i}"),
            10 + i,
            1000 * (i as usize + 1),
        );
    }
    for round in 0..5 {
        // a writer dies holding h1 read-write, a reader dies holding h2
        for (name, mode) in [("shmem://h1", "rw"), ("shmem://h2", "ro")] {
            let mut p = env.spawn(&["hold", name, mode], None);
            p.expect("held");
            p.kill();
        }
        let s1 = status(&d).into_iter().find(|s| s.slot == 1).unwrap();
        assert!(
            s1.nprocdebug <= 1,
            "round {round}: nprocdebug drifted: {s1:?}"
        );
        assert_eq!(
            s1.processes,
            Some(0),
            "round {round}: counter undone by the kernel"
        );
        // a recover killed with the slot locked changes nothing
        assert!(kill_at(&env, &["recover"], Step::RecoverLocked));
        let r = d.recover(None).unwrap();
        assert_settled(&d, &format!("round {round}: {r:?}"));
        for i in 0..4u64 {
            assert_eq!(
                version_of(&mut d, &format!("shmem://h{i}")),
                Ok(10 + i),
                "round {round}: h{i}"
            );
        }
        assert_eq!(env.file_objects(), (4, 4), "round {round}");
    }
    for i in 0..4 {
        d.delete(&format!("shmem://h{i}")).unwrap();
    }
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 4: exiting without close — after writing, after a failed write, or killed while
/// holding it read-write — never deletes a persistent file; what was committed stays.
#[test]
fn exit_without_close_keeps_the_committed_version() {
    let env = FaultEnv::new(KEYS_EXIT, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, V1_LEN);
    let v2 = V2_LEN.to_string();
    let (ok, out, err) = env.run(&["exitnoclose", "shmem://h1", "2", &v2]);
    assert!(ok && out.contains("written"), "{out} {err}");
    assert_eq!(
        version_of(&mut d, "shmem://h1"),
        Ok(1),
        "unflushed shadow not published"
    );
    let mut p = env.spawn(&["hold", "shmem://h1", "rw"], None);
    p.expect("held");
    p.send("exit");
    assert!(p.finish().success());
    assert_eq!(version_of(&mut d, "shmem://h1"), Ok(1));
    d.recover(None).unwrap();
    assert_eq!(version_of(&mut d, "shmem://h1"), Ok(1));
    assert_settled(&d, "after exits");
    assert_eq!(env.file_objects(), (1, 1), "{:?}", env.objects());
    d.delete("shmem://h1").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Rows 4 and 12: a write past what the format can express fails before anything changes,
/// and exiting after it keeps the file.
#[test]
fn failed_write_then_exit_keeps_the_file() {
    let env = FaultEnv::new(KEYS_BADWRITE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, V1_LEN);
    let before = read_file(&mut d, "shmem://h1", Wait::No).unwrap();
    let (ok, out, err) = env.run(&["badwrite", "shmem://h1"]);
    assert!(ok, "{out} {err}");
    assert!(out.contains("refused"), "{out}");
    assert!(out.contains("2147483631"), "names the limit: {out}");
    assert_eq!(read_file(&mut d, "shmem://h1", Wait::No).unwrap(), before);
    assert_eq!(
        env.file_objects(),
        (1, 1),
        "no segment was made: {:?}",
        env.objects()
    );
    d.delete("shmem://h1").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 3/6 for delete and free: a deleter or last closer killed between marking and freeing
/// leaves a deleted file that the next open or recover frees; nothing leaks.
#[test]
fn killed_deleter_or_last_closer_leaves_nothing_behind() {
    let env = FaultEnv::new(KEYS_DELETE, 16);
    let mut d = env.driver();
    for step in [Step::AfterMarkDeleted, Step::AfterFreeSegment] {
        create(&mut d, "shmem://h1", 1, V1_LEN);
        assert!(
            kill_at(&env, &["delete", "shmem://h1"], step),
            "{step}: never reached"
        );
        assert!(
            read_file(&mut d, "shmem://h1", Wait::No).is_err(),
            "{step}: deleted file opened"
        );
        d.recover(None).unwrap();
        assert!(status(&d).is_empty(), "{step}: {:?}", status(&d));
        assert_eq!(env.file_objects(), (0, 0), "{step}: {:?}", env.objects());
    }
    // the last closer of a file deleted under a reader dies before freeing it
    create(&mut d, "shmem://h1", 1, V1_LEN);
    let mut reader = env.spawn(&["hold", "shmem://h1", "ro"], Some("after-counter-release"));
    reader.expect("held");
    d.delete("shmem://h1").unwrap();
    reader.send("close");
    assert!(reader.wait_stop().is_some());
    reader.kill();
    d.recover(None).unwrap();
    assert!(status(&d).is_empty(), "{:?}", status(&d));
    assert_eq!(env.file_objects(), (0, 0), "{:?}", env.objects());
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// The step hook is inert in the parent: checkpoint on a platform without the variable does
/// nothing (also a compile check that `SharedMem::checkpoint` is reachable).
#[test]
fn checkpoint_without_the_variable_is_a_no_op() {
    let env = FaultEnv::new(0x5348_C700, 4);
    let d: Driver<_, 8> = env.driver();
    d.platform().checkpoint(Step::BeforePublish);
    let _ = Mode::ReadOnly;
    d.shutdown().unwrap();
}

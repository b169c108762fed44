//! Issue 5 rows 7, 8 and 9 on the real kernel: values read from shared memory are checked
//! against the kernel's objects; names are strict; the table's real size and the environment
//! are checked. (Row 13, kernel limits, is `fault_limits.rs`.)
//!
//! Key bases 0x5348CC00.. (0x100 per test).

use shmfits_core::shm::{Error, ErrorKind, Mode, PlatformError, SharedMem, Wait};
use shmfits_tests::fault::env::FaultEnv;
use shmfits_tests::fault::{content, read_file, write_through, Drv};
use shmfits_unix::SysV;

const KEYS_TABLE: i32 = 0x5348_CC00;
const KEYS_NAMES: i32 = 0x5348_CD00;
const KEYS_MAXSEG: i32 = 0x5348_CE00;
const KEYS_ENV: i32 = 0x5348_CF00;

fn create(d: &mut Drv, name: &str, version: u64, len: usize) {
    let h = d.create(name).unwrap();
    write_through(d, h, &content::file(version, len), 4096).unwrap();
    d.close(h).unwrap();
}

/// Overwrite bytes of the global table, as a hostile or buggy process would.
fn poke_table(env: &FaultEnv, offset: usize, bytes: &[u8]) {
    let p = SysV::new(env.platform_config()).unwrap();
    let id = p.segment_find(env.keybase()).unwrap();
    let m = p.segment_attach(id).unwrap();
    p.write(&m, offset, bytes).unwrap();
    p.segment_detach(m).unwrap();
}

fn table_bytes(env: &FaultEnv, slot: usize) -> [u8; 28] {
    let p = SysV::new(env.platform_config()).unwrap();
    let id = p.segment_find(env.keybase()).unwrap();
    let m = p.segment_attach(id).unwrap();
    let mut b = [0u8; 28];
    p.read(&m, slot * 28, &mut b).unwrap();
    p.segment_detach(m).unwrap();
    b
}

/// Row 7: a table `size` beyond the segment, a `key` of 0 and an `attr` of 0 are clean
/// errors; nothing is created, nothing is deleted by a read-only operation, and the real
/// segment is never read out of bounds.
#[test]
fn inconsistent_table_values_are_clean_errors() {
    let env = FaultEnv::new(KEYS_TABLE, 16);
    let mut d = env.driver();
    create(&mut d, "shmem://h1", 1, 5000);
    let good = table_bytes(&env, 1);
    let base = 28;
    for (what, off, val) in [
        ("size beyond the segment", 16, 1_000_000i32),
        ("size near 2 GiB", 16, i32::MAX),
        ("negative size", 16, -5),
        ("key 0", 8, 0),
        ("handle of another segment", 12, 1),
    ] {
        poke_table(&env, base + off, &val.to_ne_bytes());
        for mode in [Mode::ReadOnly, Mode::ReadWrite] {
            match d.open("shmem://h1", mode, Wait::No) {
                Err(Error::Corrupt(c)) => assert_eq!(c.slot, 1, "{what}"),
                r => panic!("{what} ({mode:?}): {r:?}"),
            }
        }
        assert_eq!(
            env.file_objects(),
            (1, 1),
            "{what}: nothing made or removed"
        );
        poke_table(&env, base, &good);
        assert_eq!(
            read_file(&mut d, "shmem://h1", Wait::No).map(|b| content::verify(&b)),
            Ok(Ok(1))
        );
    }
    // attr 0 (CFITSIO: a READONLY close deletes the file): refused, never acted on
    poke_table(&env, base + 24, &[0]);
    assert!(d.open("shmem://h1", Mode::ReadOnly, Wait::No).is_err());
    assert_eq!(env.file_objects(), (1, 1), "attr 0: nothing deleted");
    poke_table(&env, base, &good);
    // the platform refuses key 0 outright: no private segment can ever be made
    let p = SysV::new(env.platform_config()).unwrap();
    let e = p.segment_create(0, 100).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    d.delete("shmem://h1").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 8: CFITSIO's lenient names are rejected through the real adapter, with the name in
/// the message, and nothing is created.
#[test]
fn names_are_strict_on_the_real_adapter() {
    let env = FaultEnv::new(KEYS_NAMES, 16);
    let mut d = env.driver();
    for bad in [
        "shmem://h03",
        "shmem://h3abc",
        "shmem://h 3",
        "shmem://h3.fits",
        "shmem://h4294967299",
        "shmem://h4294967300",
        "shmem://h16",
        "shmem://h-1",
        "shmem://",
    ] {
        match d.create(bad) {
            Err(e @ Error::BadName(_)) => {
                let text = e.to_string();
                let shown = bad.trim_start_matches("shmem://");
                assert!(
                    text.contains(shown),
                    "{bad}: message {text:?} does not name it"
                );
            }
            r => panic!("{bad}: {r:?}"),
        }
        assert!(d.open(bad, Mode::ReadOnly, Wait::No).is_err(), "{bad}");
    }
    assert_eq!(env.file_objects(), (0, 0));
    // the strict form with an HDU selector is accepted
    let h = d.create("shmem://h3[1]").unwrap();
    d.close(h).unwrap();
    d.delete("shmem://h3").unwrap();
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 9: a table made with another slot count is a clear error (its real size comes from
/// the kernel), for a driver in this process and for a child.
#[test]
fn table_with_another_maxseg_is_refused() {
    let env = FaultEnv::new(KEYS_MAXSEG, 16);
    let d = env.driver();
    let mut cfg = env.platform_config();
    cfg.slots = 8;
    let sysv = SysV::new(cfg).unwrap();
    match shmfits_core::shm::Driver::<SysV, 4>::new(
        sysv,
        shmfits_core::shm::Config::new(env.keybase(), 8),
    ) {
        Err(Error::TableMismatch { expected, actual }) => {
            assert_eq!((expected, actual), (8 * 28, 16 * 28));
        }
        r => panic!("{r:?}"),
    }
    let out = env
        .child_command(&["recover"], None)
        .env("SHMEM_LIB_MAXSEG", "20")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("560") && text.contains("448"),
        "{text}"
    );
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

/// Row 9: an invalid `SHMEM_LIB_KEYBASE` / `SHMEM_LIB_MAXSEG` is an error naming the
/// variable (CFITSIO falls back to the default silently).
#[test]
fn invalid_environment_is_an_error_naming_the_variable() {
    let env = FaultEnv::new(KEYS_ENV, 16);
    for (var, val) in [
        ("SHMEM_LIB_KEYBASE", "abc"),
        ("SHMEM_LIB_KEYBASE", "0"),
        ("SHMEM_LIB_KEYBASE", "-5"),
        ("SHMEM_LIB_KEYBASE", "99999999999"),
        ("SHMEM_LIB_KEYBASE", "2147483600"),
        ("SHMEM_LIB_MAXSEG", "0"),
        ("SHMEM_LIB_MAXSEG", "16x"),
        ("SHMEM_LIB_MAXSEG", "9999999"),
        ("SHMEM_LIB_MAXSEG", ""),
    ] {
        let out = env
            .child_command(&["recover"], None)
            .env(var, val)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{var}={val:?}: {text}");
        assert!(
            text.contains(var),
            "{var}={val:?}: message does not name it: {text}"
        );
    }
    assert!(
        env.objects().is_empty(),
        "nothing made: {:?}",
        env.objects()
    );
}

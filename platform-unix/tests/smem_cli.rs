//! `smem` as a shell script runs it: the real binary, with `SHMEM_LIB_KEYBASE` in the smem
//! helper's key range (one base per test, 0x53494100 + n·0x100) and `SHMFITS_LOCK_DIR` a
//! temporary directory. Every test removes every object under its keys, even on failure.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use shmfits_core::fits::HeaderBuilder;
use shmfits_core::shm::SharedMem;
use shmfits_unix::{Config, Mode, Shm, SysV};

const SLOTS: u32 = 8;

/// One test's key range and lock directory; removes our objects in the range on drop.
struct Env {
    base: i32,
    dir: tempfile::TempDir,
    sysv: SysV,
}

impl Env {
    fn new(base: i32) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let sysv = SysV::new(config(base, dir.path())).unwrap();
        let env = Env { base, dir, sysv };
        assert_eq!(env.objects(), 0, "key range {base:#x} already in use");
        env
    }

    fn config(&self) -> Config {
        config(self.base, self.dir.path())
    }

    fn shm(&self) -> Shm {
        Shm::new(self.config()).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Our segments and semaphores under this range's keys.
    fn objects(&self) -> usize {
        let p = &self.sysv;
        let me = p.current_uid();
        let mut n = 0;
        for key in self.base..=self.base + 3 * SLOTS as i32 {
            if let Ok(id) = p.segment_find(key) {
                n += usize::from(p.segment_info(id).is_ok_and(|i| i.owner_uid == me));
            }
            if let Ok(Some(id)) = p.counter_find(key) {
                n += usize::from(p.counter_info(id).is_ok_and(|i| i.owner_uid == me));
            }
        }
        n
    }

    fn cleanup(&self) {
        let p = &self.sysv;
        let me = p.current_uid();
        for key in self.base..=self.base + 3 * SLOTS as i32 {
            if let Ok(id) = p.segment_find(key) {
                if p.segment_info(id).is_ok_and(|i| i.owner_uid == me) {
                    let _ = p.segment_remove(id);
                }
            }
            if let Ok(Some(id)) = p.counter_find(key) {
                if p.counter_info(id).is_ok_and(|i| i.owner_uid == me) {
                    let _ = p.counter_remove(id);
                }
            }
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_smem"));
        c.args(args)
            .env("SHMEM_LIB_KEYBASE", self.base.to_string())
            .env("SHMEM_LIB_MAXSEG", SLOTS.to_string())
            .env("SHMFITS_LOCK_DIR", self.dir.path());
        c
    }

    fn smem(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    fn smem_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        out
    }

    /// `smem` that must succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.smem(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "smem {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn put(&self, file: &Path, name: &str) {
        self.ok(&["put", file.to_str().unwrap(), name]);
    }

    fn list_json(&self) -> Vec<Value> {
        let out = self.ok(&["list", "--json"]);
        serde_json::from_str::<Value>(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn config(base: i32, dir: &Path) -> Config {
    Config {
        key_base: base,
        slots: SLOTS,
        lock_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A valid FITS file: a primary BITPIX 8 image of `n` bytes (pattern from `seed`), padded.
fn fits(n: usize, seed: u8) -> Vec<u8> {
    let padded = n.div_ceil(2880) * 2880;
    let mut file = vec![0u8; 2880 + padded];
    let mut b = HeaderBuilder::new(&mut file[..2880]);
    b.logical("SIMPLE", true, None).unwrap();
    b.integer("BITPIX", 8, None).unwrap();
    b.integer("NAXIS", 1, None).unwrap();
    b.integer("NAXIS1", n as i64, None).unwrap();
    b.integer("SEED", i64::from(seed), None).unwrap();
    b.finish().unwrap();
    let mut x = u32::from(seed) | 1;
    for byte in &mut file[2880..2880 + n] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
    file
}

fn write_file(env: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let p = env.path(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    while t.elapsed() < within {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn list_as_text_and_json() {
    let env = Env::new(0x5349_4100);
    assert!(env.ok(&["list"]).contains("(no shmem:// files)"));
    assert_eq!(env.list_json(), Vec::<Value>::new());
    let a = fits(10_000, 1);
    let b = fits(100, 2);
    env.put(&write_file(&env, "a.fits", &a), "h2");
    env.put(&write_file(&env, "b.fits", &b), "shmem://h5");

    let list = env.list_json();
    assert_eq!(list.len(), 2);
    for s in &list {
        assert_eq!(
            keys(s),
            ["flags", "key", "lock", "processes", "size", "slot"]
        );
        assert!(s["key"].is_i64(), "keys are integers: {s}");
        assert_eq!(s["flags"], serde_json::json!(["resize", "persist"]));
        assert_eq!(
            (s["lock"].as_str(), s["processes"].as_u64()),
            (Some("none"), Some(0))
        );
    }
    assert_eq!(
        (list[0]["slot"].as_u64(), list[1]["slot"].as_u64()),
        (Some(2), Some(5))
    );
    assert_eq!(
        list[0]["size"].as_u64(),
        Some(a.len() as u64),
        "size is FITS bytes"
    );
    assert_eq!(list[1]["size"].as_u64(), Some(b.len() as u64));
    let key = list[0]["key"].as_i64().unwrap();
    assert!((i64::from(env.base)..=i64::from(env.base) + 3 * 8).contains(&key));

    // a reader in this process: one process attached, read lock
    let shm = env.shm();
    let r = shm.try_open("h2", Mode::ReadOnly).unwrap();
    let list = env.list_json();
    assert_eq!(
        (list[0]["lock"].as_str(), list[0]["processes"].as_u64()),
        (Some("read"), Some(1))
    );
    let w = shm.try_open("h5", Mode::ReadWrite).unwrap();
    assert_eq!(env.list_json()[1]["lock"], "write");

    // text: `smem`, `smem list`, `smem -l` (long: write-lock count column)
    for args in [&[][..], &["list"][..], &["-l"][..], &["list", "--long"][..]] {
        let out = env.ok(args);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("SLOT") && lines[0].contains("FLAGS"),
            "{out}"
        );
        assert_eq!(
            lines[0].contains("WLOCKS"),
            args.len() == 1 && args[0] == "-l" || args.len() == 2,
            "{out}"
        );
        assert!(
            lines[1].starts_with("h2 ") && lines[1].contains("read"),
            "{out}"
        );
        assert!(
            lines[1].contains(&format!("{key:#x}")) && lines[1].contains("RESIZE PERSIST"),
            "{out}"
        );
        assert!(
            lines[2].starts_with("h5 ") && lines[2].contains("write"),
            "{out}"
        );
    }
    r.close().unwrap();
    w.close().unwrap();
    env.ok(&["rm", "h2", "h5"]);
    drop(shm);
    assert_eq!(env.objects(), 0);
}

#[test]
fn put_get_cat_round_trip_of_a_multi_megabyte_file() {
    let env = Env::new(0x5349_4200);
    let data = fits(5_000_000, 3);
    let src = write_file(&env, "in.fits", &data);
    env.put(&src, "h1");
    let out = env.path("out.fits");
    env.ok(&["get", "h1", out.to_str().unwrap()]);
    assert!(
        std::fs::read(&out).unwrap() == data,
        "get gives the bytes put stored"
    );
    let cat = env.smem(&["cat", "shmem://h1"]);
    assert_eq!(cat.status.code(), Some(0));
    assert!(cat.stdout == data, "cat");
    let dash = env.smem(&["get", "h1", "-"]);
    assert!(dash.stdout == data, "get -");
    // `cmp` agrees
    let cmp = Command::new("cmp").arg(&src).arg(&out).status().unwrap();
    assert!(cmp.success());
    // info works on hN
    let info = env.ok(&["info", "h1"]);
    assert!(
        info.contains("h1: 1 HDU") && info.contains("primary"),
        "{info}"
    );
    // get over an existing file replaces it; no temporary file is left
    std::fs::write(&out, b"old").unwrap();
    env.ok(&["get", "h1", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap().len(), data.len());
    let left: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    env.ok(&["rm", "h1"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn put_get_round_trip_of_100_mb() {
    let env = Env::new(0x5349_4300);
    let data = fits(100_000_000, 4);
    let src = write_file(&env, "big.fits", &data);
    let t = Instant::now();
    env.put(&src, "h0");
    let out = env.path("big-out.fits");
    env.ok(&["get", "h0", out.to_str().unwrap()]);
    let cmp = Command::new("cmp").arg(&src).arg(&out).status().unwrap();
    assert!(cmp.success(), "cmp after put/get of 100 MB");
    assert_eq!(env.list_json()[0]["size"].as_u64(), Some(data.len() as u64));
    eprintln!("100 MB put + get: {:?}", t.elapsed());
    env.ok(&["rm", "h0"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn put_from_standard_input_and_replace_with_a_shorter_file() {
    let env = Env::new(0x5349_4400);
    let long = fits(300_000, 5);
    let out = env.smem_stdin(&["put", "-", "h3"], &long);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "no progress when stderr is not a terminal"
    );
    assert!(env.smem(&["cat", "h3"]).stdout == long);
    // a shorter file replaces it: the length shrinks
    let short = fits(10, 6);
    let out = env.smem_stdin(&["put", "-", "h3"], &short);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(env.smem(&["cat", "h3"]).stdout == short);
    assert_eq!(
        env.list_json()[0]["size"].as_u64(),
        Some(short.len() as u64)
    );
    // not FITS: exit 1, the old content stays; --no-check stores it anyway
    let out = env.smem_stdin(&["put", "-", "h3"], b"hello");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not valid FITS"),
        "{}",
        text(&out.stderr)
    );
    assert!(env.smem(&["cat", "h3"]).stdout == short);
    let out = env.smem_stdin(&["put", "-", "h4"], b"");
    assert_eq!(out.status.code(), Some(1), "empty input is not FITS");
    assert_eq!(
        env.list_json().len(),
        1,
        "the slot put created is removed again"
    );
    let out = env.smem_stdin(&["put", "--no-check", "-", "h3"], b"hello");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(env.smem(&["cat", "h3"]).stdout, b"hello");
    env.ok(&["rm", "h3"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn put_replaces_atomically_while_a_reader_holds_the_old_version() {
    let env = Env::new(0x5349_4500);
    let old = fits(2_000_000, 7);
    let new = fits(1_000, 8);
    env.put(&write_file(&env, "old.fits", &old), "h2");
    let new_path = write_file(&env, "new.fits", &new);

    let shm = env.shm();
    let reader = shm.try_open("h2", Mode::ReadOnly).unwrap();
    // --no-wait: busy at once, naming the slot and the reader
    let out = env.smem(&["put", "--no-wait", new_path.to_str().unwrap(), "h2"]);
    assert_eq!(out.status.code(), Some(5));
    let err = text(&out.stderr);
    assert!(err.contains("shmem://h2 is locked by a reader"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "names the holder: {err}"
    );

    // a put that waits: the reader keeps seeing the old version until it closes
    let mut put = env
        .command(&["put", "--wait", "30", new_path.to_str().unwrap(), "h2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        put.try_wait().unwrap().is_none(),
        "put waits for the reader"
    );
    assert!(
        reader.as_bytes().unwrap() == old,
        "reader sees the old version"
    );
    reader.close().unwrap();
    let status = wait_exit(&mut put, Duration::from_secs(20)).expect("put finishes");
    let mut err = String::new();
    put.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{err}");
    // a reader after the put sees the new version, whole
    let r = shm.try_open("h2", Mode::ReadOnly).unwrap();
    assert!(r.as_bytes().unwrap() == new);
    r.close().unwrap();
    drop(shm);
    env.ok(&["rm", "h2"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn a_killed_put_leaves_the_old_version_and_recover_cleans_up() {
    let env = Env::new(0x5349_4600);
    let old = fits(50_000, 9);
    env.put(&write_file(&env, "old.fits", &old), "h1");
    // a put from a pipe that dies half-way (SIGKILL): nothing of it is published
    let mut put = env
        .command(&["put", "-", "h1"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = put.stdin.take().unwrap();
    stdin.write_all(&fits(3_000_000, 10)[..2_000_000]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    put.kill().unwrap();
    put.wait().unwrap();
    drop(stdin);
    assert!(env.smem(&["cat", "h1"]).stdout == old, "old version intact");

    let out = env.ok(&["recover"]);
    assert!(
        out.contains("h1: repaired"),
        "dead writer's lock count reset: {out}"
    );
    assert!(out.contains("orphan"), "its shadow segment removed: {out}");
    assert!(out.contains("8 slot(s) checked"), "{out}");
    let out = env.ok(&["recover", "h1"]);
    assert!(out.contains("h1: nothing to repair"), "{out}");
    assert!(
        env.smem(&["cat", "h1"]).stdout == old,
        "recover keeps healthy files"
    );
    // CFITSIO's -r, with and without an id
    assert!(env.ok(&["-r"]).contains("8 slot(s) checked"));
    assert!(env.ok(&["-r", "1"]).contains("h1: nothing to repair"));
    // recovering a slot in use: 5
    let shm = env.shm();
    let w = shm.try_open("h1", Mode::ReadWrite).unwrap();
    let out = env.smem(&["recover", "h1"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    w.close().unwrap();
    drop(shm);
    env.ok(&["rm", "h1"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn rm_returns_at_once_while_a_reader_still_reads() {
    let env = Env::new(0x5349_4700);
    let data = fits(1_000_000, 11);
    env.put(&write_file(&env, "f.fits", &data), "h6");
    let shm = env.shm();
    let mut reader = shm.try_open("h6", Mode::ReadOnly).unwrap();
    let t = Instant::now();
    env.ok(&["rm", "h6"]);
    assert!(t.elapsed() < Duration::from_secs(3), "rm does not wait");
    // the reader still reads everything
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert!(got == data);
    // it is listed as deleted, and new opens find nothing
    let list = env.list_json();
    assert_eq!(list[0]["flags"], serde_json::json!(["resize"]));
    assert!(env.ok(&["list"]).contains("(deleted)"));
    let out = env.smem(&["cat", "h6"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(env.smem(&["rm", "h6"]).status.code(), Some(4));
    // the last close frees it
    reader.close().unwrap();
    assert_eq!(env.list_json(), Vec::<Value>::new());
    drop(shm);
    assert_eq!(env.objects(), 0, "slot gone after the reader closed");

    // a writer holds it: rm says busy (5) at once
    env.put(&write_file(&env, "g.fits", &fits(10, 1)), "h6");
    let shm = env.shm();
    let w = shm.try_open("h6", Mode::ReadWrite).unwrap();
    let t = Instant::now();
    let out = env.smem(&["rm", "h6"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(t.elapsed() < Duration::from_secs(3));
    w.close().unwrap();
    drop(shm);
    env.ok(&["rm", "shmem://h6"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn legacy_flags_delete_list_and_help() {
    let env = Env::new(0x5349_4800);
    for (i, slot) in ["h0", "h3", "h7"].iter().enumerate() {
        env.put(
            &write_file(&env, &format!("{i}.fits"), &fits(100, i as u8)),
            slot,
        );
    }
    let out = env.ok(&["-d", "3"]);
    assert_eq!(out.trim(), "handle 3: deleted");
    let out = env.smem(&["-d", "h3"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stdout).contains("handle 3: no such handle"));
    assert_eq!(env.list_json().len(), 2);
    let out = env.ok(&["-d"]);
    assert!(
        out.contains("handle 0: deleted") && out.contains("handle 7: deleted"),
        "{out}"
    );
    assert_eq!(env.list_json().len(), 0);
    assert_eq!(env.ok(&["-d"]), "", "nothing to delete");
    // -h and --help: exit 0, the flags and the exit codes
    for h in ["-h", "--help"] {
        let help = env.ok(&[h]);
        for want in [
            "-d",
            "-r",
            "-l",
            "put",
            "get",
            "watch",
            "5 busy",
            "4 no such",
        ] {
            assert!(help.contains(want), "{h}: no {want:?} in {help}");
        }
    }
    // flags and subcommands do not mix; unknown flags are usage errors
    assert_eq!(env.smem(&["-d", "1", "list"]).status.code(), Some(2));
    assert_eq!(env.smem(&["-x"]).status.code(), Some(2));
    assert_eq!(env.objects(), 0);
}

#[test]
fn watch_count_is_finite_and_plain_when_not_a_terminal() {
    let env = Env::new(0x5349_4900);
    env.put(&write_file(&env, "f.fits", &fits(100, 1)), "h4");
    let t = Instant::now();
    let out = env.ok(&["watch", "--interval", "0.2", "--count", "2"]);
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert_eq!(out.matches("smem watch: every 0.2 s").count(), 2, "{out}");
    assert_eq!(out.matches("\nh4 ").count(), 2, "{out}");
    assert!(
        !out.contains('\x1b'),
        "no ANSI codes when stdout is not a terminal"
    );
    assert_eq!(
        env.smem(&["watch", "--interval", "0"]).status.code(),
        Some(2)
    );
    env.ok(&["rm", "h4"]);
    assert_eq!(env.objects(), 0);
}

#[test]
fn bad_names_and_io_errors_have_their_exit_codes() {
    let env = Env::new(0x5349_4A00);
    let f = write_file(&env, "f.fits", &fits(10, 1));
    let fs = f.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["get", "h99", "x"],
        &["get", "foo", "x"],
        &["put", fs, "hx"],
        &["put", fs, "shmem://h8"],
        &["cat", "h1[2]"],
        &["rm", "h1", "nope"],
        &["recover", "h-1"],
        &["-d", "abc"],
        &["-r", "12"],
        &["info", "h8"],
    ];
    for args in cases {
        let out = env.smem(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "smem {args:?}: {}",
            text(&out.stderr)
        );
        let bad = args
            .iter()
            .find(|a| {
                [
                    "h99",
                    "foo",
                    "hx",
                    "shmem://h8",
                    "h1[2]",
                    "nope",
                    "h-1",
                    "abc",
                    "12",
                    "h8",
                ]
                .contains(a)
            })
            .unwrap();
        assert!(
            text(&out.stderr).contains(bad),
            "smem {args:?} must name {bad}: {}",
            text(&out.stderr)
        );
    }
    // nothing was deleted by the rm with a bad name among good ones
    env.put(&f, "h1");
    assert_eq!(env.smem(&["rm", "h1", "nope"]).status.code(), Some(2));
    assert_eq!(env.list_json().len(), 1);
    // I/O: input missing, output directory missing
    let out = env.smem(&["put", "/nonexistent/shmfits.fits", "h2"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("/nonexistent/shmfits.fits"));
    let out = env.smem(&["get", "h1", "/nonexistent/dir/out.fits"]);
    assert_eq!(out.status.code(), Some(3));
    // not found
    assert_eq!(env.smem(&["get", "h2", "-"]).status.code(), Some(4));
    // a bad environment value is a usage error naming the variable
    let out = env
        .command(&["list"])
        .env("SHMEM_LIB_MAXSEG", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("SHMEM_LIB_MAXSEG"));
    env.ok(&["rm", "h1"]);
    assert_eq!(env.objects(), 0);
}

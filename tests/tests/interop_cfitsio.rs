//! Our `shmem://` driver on System V and real CFITSIO processes on the same segments at the
//! same time (issue 4, item 6): each side reads what the other wrote, byte for byte and HDU
//! for HDU; a read-write open on either side keeps the other out; files grown by either side
//! are readable by the other; CFITSIO's view agrees after we delete.
//!
//! Every test has its own key base (range 0x53484000.., 0x100 per test) passed to CFITSIO as
//! `SHMEM_LIB_KEYBASE`; [`CfitsioKeys`] removes every object in that range and the lock file
//! when the test ends, even on failure. CFITSIO's lock file is always in `/tmp`, so ours is
//! there too for these tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shmfits_core::shm::{Config as DriverConfig, Driver, Error, Mode, SlotStatus, Wait};
use shmfits_tests::cfitsio::{self, Cfitsio};
use shmfits_tests::compare;
use shmfits_tests::ipc::CfitsioKeys;
use shmfits_unix::cli::info::Report;
use shmfits_unix::cli::source;
use shmfits_unix::{Config, SysV};

type Drv = Driver<SysV, 8>;

const SLOTS: i32 = 16;

/// The platform configuration for `keys`: lock file in /tmp like CFITSIO's, everything else
/// our defaults (owner-only objects). CFITSIO makes its lock file 0666; the default config
/// accepts that file because it is our own user's, so both sides meet without setup.
fn platform_config(keys: &CfitsioKeys) -> Config {
    Config {
        key_base: keys.keybase(),
        slots: keys.maxseg() as u32,
        lock_dir: PathBuf::from("/tmp"),
        ..Config::default()
    }
}

/// Our driver on `keys`.
fn driver(keys: &CfitsioKeys) -> Drv {
    let sysv = SysV::new(platform_config(keys)).expect("SysV platform");
    Driver::new(
        sysv,
        DriverConfig::new(keys.keybase(), keys.maxseg() as u32),
    )
    .expect("driver")
}

fn env(keys: &CfitsioKeys) -> Vec<(&'static str, String)> {
    keys.env().to_vec()
}

/// Runs a CFITSIO program with the key range's environment; panics with its stderr on failure.
fn run(keys: &CfitsioKeys, program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .envs(env(keys))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads a whole file through our driver.
fn read_all(d: &mut Drv, name: &str) -> Vec<u8> {
    let h = d
        .open(name, Mode::ReadOnly, Wait::Timeout(Duration::from_secs(10)))
        .unwrap();
    let size = d.size(h).unwrap();
    let mut buf = vec![0u8; usize::try_from(size).unwrap()];
    let mut got = 0;
    while got < buf.len() {
        let n = d.read(h, &mut buf[got..]).unwrap();
        assert!(n > 0, "read returned 0 at {got} of {size}");
        got += n;
    }
    d.close(h).unwrap();
    buf
}

/// Creates `name` through our driver and writes `bytes` in `chunk`-byte writes.
fn write_all(d: &mut Drv, name: &str, bytes: &[u8], chunk: usize) {
    let h = d.create(name).unwrap();
    for part in bytes.chunks(chunk) {
        let mut done = 0;
        while done < part.len() {
            done += d.write(h, &part[done..]).unwrap();
        }
    }
    d.close(h).unwrap();
}

/// Our parser on `bytes` against `listhdus` on the shared-memory file.
fn agree(c: &Cfitsio, keys: &CfitsioKeys, name: &str, bytes: &[u8]) {
    let ours = Report::from_bytes(name, bytes);
    let env = env(keys);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let theirs = c.listhdus_env(Path::new(name), &envs).unwrap();
    if let Err(e) = compare::file(&ours, &theirs) {
        panic!("{name}: our view and CFITSIO's differ:\n{e}");
    }
}

/// Kills and reaps a child this test started, if it is still running when the test ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Starts `shmlock NAME MODE`; returns the child and a channel of its stdout lines.
fn shmlock(
    c: &Cfitsio,
    keys: &CfitsioKeys,
    name: &str,
    mode: &str,
) -> (Reap, mpsc::Receiver<String>) {
    let mut child = Command::new(&c.shmlock)
        .args([name, mode])
        .envs(env(keys))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Reap(child), rx)
}

const SECS_10: Duration = Duration::from_secs(10);

#[test]
fn cfitsio_writes_we_read() {
    let Some(c) = cfitsio::require("cfitsio_writes_we_read") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4300, SLOTS);
    // fitscopy a multi-extension file into h2: identical bytes and HDUs on our side
    if let Some(fitscopy) = c.require_fitscopy("cfitsio_writes_we_read (fitscopy)") {
        let src = c.corpus().join("image_ext.fits");
        run(&keys, fitscopy, &[src.to_str().unwrap(), "shmem://h2"]);
        let mut d = driver(&keys);
        let bytes = read_all(&mut d, "shmem://h2");
        assert!(
            bytes == std::fs::read(&src).unwrap(),
            "h2 differs from {}",
            src.display()
        );
        agree(c, &keys, "shmem://h2", &bytes);
        d.shutdown().unwrap();
    }
    // a file CFITSIO grew (primary + 3 extensions, reallocated on each): pixels as written
    let out = run(&keys, &c.shmwrite, &["shmem://h3", "100", "80", "3"]);
    assert_eq!(out.trim(), "written\t132480");
    let mut d = driver(&keys);
    let bytes = read_all(&mut d, "shmem://h3");
    assert_eq!(bytes.len(), 132_480);
    agree(c, &keys, "shmem://h3", &bytes);
    let report = Report::from_bytes("h3", &bytes);
    let data = usize::try_from(report.hdus[0].data_start).unwrap();
    for (y, x) in [(0usize, 0usize), (0, 99), (79, 0), (79, 99), (40, 17)] {
        let at = data + 2 * (y * 100 + x);
        let v = i16::from_be_bytes([bytes[at], bytes[at + 1]]);
        assert_eq!(
            i64::from(v),
            ((x + 3 * y) % 32768) as i64,
            "pixel ({x}, {y})"
        );
    }
    d.shutdown().unwrap();
}

#[test]
fn we_write_cfitsio_reads() {
    let Some(c) = cfitsio::require("we_write_cfitsio_reads") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4400, SLOTS);
    let src = c.corpus().join("many_ext.fits");
    let bytes = std::fs::read(&src).unwrap();
    let mut d = driver(&keys);
    // 1000-byte writes: the file grows from one block to 290880 bytes
    write_all(&mut d, "shmem://h4", &bytes, 1000);
    // a second file written in one go
    let small = std::fs::read(c.corpus().join("bintable_vla.fits")).unwrap();
    write_all(&mut d, "shmem://h5", &small, small.len());
    agree(c, &keys, "shmem://h4", &bytes);
    agree(c, &keys, "shmem://h5", &small);
    if let Some(fitscopy) = c.require_fitscopy("we_write_cfitsio_reads (fitscopy)") {
        let dir = tempfile::tempdir().unwrap();
        for (name, want) in [("shmem://h4", &bytes), ("shmem://h5", &small)] {
            let out = dir.path().join("out.fits");
            let _ = std::fs::remove_file(&out);
            run(&keys, fitscopy, &[name, out.to_str().unwrap()]);
            assert!(
                &std::fs::read(&out).unwrap() == want,
                "fitscopy {name} differs"
            );
            if cfitsio::require_fitsverify("we_write_cfitsio_reads (fitsverify)").is_some() {
                let v = c.fitsverify(&out).unwrap();
                assert_eq!(v.errors, 0, "fitsverify {name}:\n{}", v.report);
            }
        }
    }
    d.shutdown().unwrap();
}

#[test]
fn our_readwrite_open_blocks_cfitsio() {
    let Some(c) = cfitsio::require("our_readwrite_open_blocks_cfitsio") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4500, SLOTS);
    let mut d = driver(&keys);
    let bytes = std::fs::read(c.corpus().join("img_bp16_n2.fits")).unwrap();
    write_all(&mut d, "shmem://h1", &bytes, bytes.len());
    let h = d.open("shmem://h1", Mode::ReadWrite, Wait::No).unwrap();
    let (mut reader, lines) = shmlock(c, &keys, "shmem://h1", "ro");
    assert!(
        lines.recv_timeout(Duration::from_millis(500)).is_err(),
        "CFITSIO opened the file while we held it READWRITE"
    );
    d.close(h).unwrap();
    let got = lines
        .recv_timeout(SECS_10)
        .expect("CFITSIO never got the file after our close");
    assert_eq!(got, format!("locked\t{}", bytes.len()));
    drop(reader.0.stdin.take());
    assert_eq!(lines.recv_timeout(SECS_10).unwrap(), "closed");
    assert!(reader.0.wait().unwrap().success());
    d.shutdown().unwrap();
}

#[test]
fn cfitsio_readwrite_open_blocks_us() {
    let Some(c) = cfitsio::require("cfitsio_readwrite_open_blocks_us") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4600, SLOTS);
    run(&keys, &c.shmwrite, &["shmem://h7", "10", "10"]);
    let (mut writer, lines) = shmlock(c, &keys, "shmem://h7", "rw");
    assert!(lines.recv_timeout(SECS_10).unwrap().starts_with("locked\t"));
    let mut d = driver(&keys);
    for mode in [Mode::ReadOnly, Mode::ReadWrite] {
        match d.open("shmem://h7", mode, Wait::No) {
            Err(Error::WouldBlock { slot: 7 }) => {}
            other => panic!("{mode:?} open while CFITSIO holds h7 READWRITE: {other:?}"),
        }
        match d.open(
            "shmem://h7",
            mode,
            Wait::Timeout(Duration::from_millis(200)),
        ) {
            Err(Error::TimedOut { slot: 7 }) => {}
            other => panic!("{mode:?} open with timeout: {other:?}"),
        }
    }
    drop(writer.0.stdin.take());
    assert_eq!(lines.recv_timeout(SECS_10).unwrap(), "closed");
    assert!(writer.0.wait().unwrap().success());
    let h = d
        .open("shmem://h7", Mode::ReadWrite, Wait::No)
        .expect("free after CFITSIO closed");
    assert_eq!(d.size(h).unwrap(), 5760);
    d.close(h).unwrap();
    d.shutdown().unwrap();
}

#[test]
fn list_shows_cfitsio_files_and_delete_is_seen_by_cfitsio() {
    let Some(c) = cfitsio::require("list_shows_cfitsio_files_and_delete_is_seen_by_cfitsio") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4700, SLOTS);
    run(&keys, &c.shmwrite, &["shmem://h6", "20", "20"]);
    run(&keys, &c.shmwrite, &["shmem://h9", "30", "30", "1"]);
    let mut d = driver(&keys);
    let blank = SlotStatus::EMPTY;
    let mut slots = [blank; 16];
    let n = d.list(&mut slots).unwrap();
    let listed: Vec<(u32, u64)> = slots[..n].iter().map(|s| (s.slot, s.size)).collect();
    assert_eq!(listed, [(6, 2880 * 2), (9, 2880 * 2 + 2880 * 3)]);
    d.delete("shmem://h6").unwrap();
    let env = env(&keys);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gone = c.listhdus_env(Path::new("shmem://h6"), &envs).unwrap();
    assert!(
        gone.error.is_some(),
        "CFITSIO still opens h6 after our delete: {}",
        gone.summary()
    );
    let kept = c.listhdus_env(Path::new("shmem://h9"), &envs).unwrap();
    assert_eq!(kept.error, None);
    assert_eq!(kept.hdus.len(), 2);
    let n = d.list(&mut slots).unwrap();
    assert_eq!(slots[..n].iter().map(|s| s.slot).collect::<Vec<_>>(), [9]);
    d.shutdown().unwrap();
}

#[test]
fn readers_share_with_cfitsio_readers() {
    let Some(c) = cfitsio::require("readers_share_with_cfitsio_readers") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4800, SLOTS);
    run(&keys, &c.shmwrite, &["shmem://h2", "16", "16"]);
    let mut d = driver(&keys);
    // CFITSIO holds h2 READONLY (shared lock): our reader gets in at once, a writer does not
    let (mut reader, lines) = shmlock(c, &keys, "shmem://h2", "ro");
    assert!(lines.recv_timeout(SECS_10).unwrap().starts_with("locked\t"));
    let h = d
        .open("shmem://h2", Mode::ReadOnly, Wait::No)
        .expect("two readers share");
    assert!(matches!(
        d.open("shmem://h2", Mode::ReadWrite, Wait::No),
        Err(Error::WouldBlock { slot: 2 } | Error::Deadlock { slot: 2 })
    ));
    // CFITSIO's own close waits for the exclusive lock to detach (its readers serialize,
    // a known CFITSIO defect): it finishes only after our reader has closed too
    drop(reader.0.stdin.take());
    assert!(
        lines.recv_timeout(Duration::from_millis(300)).is_err(),
        "CFITSIO closed while our reader held the shared lock"
    );
    d.close(h).unwrap();
    assert_eq!(lines.recv_timeout(SECS_10).unwrap(), "closed");
    assert!(reader.0.wait().unwrap().success());
    d.shutdown().unwrap();
}

#[test]
fn cfitsio_writer_killed_leaves_a_readable_file() {
    let Some(c) = cfitsio::require("cfitsio_writer_killed_leaves_a_readable_file") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4900, SLOTS);
    run(&keys, &c.shmwrite, &["shmem://h4", "10", "10"]);
    let (mut writer, lines) = shmlock(c, &keys, "shmem://h4", "rw");
    assert!(lines.recv_timeout(SECS_10).unwrap().starts_with("locked\t"));
    let mut d = driver(&keys);
    assert!(matches!(
        d.open("shmem://h4", Mode::ReadOnly, Wait::No),
        Err(Error::WouldBlock { slot: 4 })
    ));
    // SIGKILL: no atexit handler runs; the kernel drops the lock and undoes the counter
    writer.0.kill().unwrap();
    writer.0.wait().unwrap();
    let bytes = read_all(&mut d, "shmem://h4");
    assert_eq!(bytes.len(), 5760);
    agree(c, &keys, "shmem://h4", &bytes);
    let h = d
        .open("shmem://h4", Mode::ReadWrite, Wait::No)
        .expect("writable again");
    d.close(h).unwrap();
    d.shutdown().unwrap();
}

/// `smem info shmem://hN[ext]`'s loader on files CFITSIO made: the same view as CFITSIO's.
#[test]
fn smem_info_loader_reads_cfitsio_files() {
    let Some(c) = cfitsio::require("smem_info_loader_reads_cfitsio_files") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5348_4C00, SLOTS);
    run(&keys, &c.shmwrite, &["shmem://h8", "64", "48", "2"]);
    let no_wait = shmfits_unix::cli::context::WaitArgs::no_wait();
    let load = |name: &str| source::load_shmem(name, &platform_config(&keys), &no_wait);
    let loaded = load("shmem://h8").unwrap();
    assert_eq!(loaded.selected, None);
    agree(c, &keys, "shmem://h8", &loaded.bytes);
    let loaded = load("shmem://h8[EXT2]").unwrap();
    assert_eq!(loaded.selected, Some(source::Selected::Name("EXT2".into())));
    let mut report = Report::from_bytes("shmem://h8[EXT2]", &loaded.bytes);
    report.select(loaded.selected.as_ref().unwrap()).unwrap();
    assert_eq!(report.hdus.len(), 1);
    assert_eq!(report.hdus[0].index, 2);
    assert_eq!(report.hdus[0].naxis, vec![64, 48]);
    // missing slot (4) and bad name (2)
    assert_eq!(load("shmem://h1").unwrap_err().exit, 4);
    assert_eq!(load("shmem://h16").unwrap_err().exit, 2);
    // the loader leaves nothing of its own behind: only CFITSIO's table, segment, semaphore
    assert_eq!(keys.objects().len(), 3, "{:?}", keys.objects());
}

//! The std API on the real kernel: each test has its own key base in
//! 0x53482100..0x53483FFF (step 0x100) and a temporary lock directory, and removes every
//! segment and semaphore under its keys that belongs to us, even when it fails.

use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmfits_core::fits::HduKind;
use shmfits_core::shm::ErrorKind;
use shmfits_unix::{Config, Error, Mode, Shm, ShmFile, SysV};
use zerocopy::byteorder::{BigEndian, I16};

mod support;
use support::{config, Cleanup, SLOTS};

const ROLE: &str = "SHMFITS_FILE_TEST_ROLE";
const BASE: &str = "SHMFITS_FILE_TEST_BASE";
const DIR: &str = "SHMFITS_FILE_TEST_DIR";

/// A FITS file: primary image BITPIX 16, NAXIS1 = 4, values 1, -2, 300, -32768.
fn fits_file() -> Vec<u8> {
    support::fits_file([1, -2, 300, -32768])
}

fn driver_err(r: Result<ShmFile, Error>) -> Error {
    r.expect_err("expected an error")
}

#[test]
fn write_then_read_zero_copy_with_hdus_and_typed_values() {
    let c = Cleanup::new(0x5348_2100);
    let shm = c.shm();
    let file = fits_file();
    let mut w = shm.create("shmem://h2").unwrap();
    assert_eq!(w.len().unwrap(), 2880, "a new file is one blank block");
    w.write_all(&file).unwrap();
    assert_eq!(w.len().unwrap(), 5760);
    assert_eq!(
        w.as_bytes().unwrap(),
        &file[..],
        "writer sees its own bytes"
    );
    w.close().unwrap();

    let mut r = shm.open("shmem://h2", Mode::ReadOnly).unwrap();
    assert_eq!(r.len().unwrap(), 5760);
    assert_eq!(r.as_bytes().unwrap(), &file[..]);
    let hdus: Vec<_> = r.hdus().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(hdus.len(), 1);
    assert_eq!(hdus[0].kind(), HduKind::Primary);
    assert_eq!(hdus[0].data_start(), 2880);
    assert_eq!(r.hdu_data(&hdus[0]).unwrap().len(), 8);
    let v: &[I16<BigEndian>] = r.values(hdus[0].data_start(), 4).unwrap();
    let v: Vec<i16> = v.iter().map(|x| x.get()).collect();
    assert_eq!(v, [1, -2, 300, -32768]);
    assert!(matches!(
        r.values::<I16<BigEndian>>(5759, 1),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        r.values::<I16<BigEndian>>(usize::MAX, 2),
        Err(Error::OutOfRange { .. })
    ));

    // Read + Seek copy the same bytes
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert_eq!(back, file);
    assert_eq!(r.seek(SeekFrom::End(-2880)).unwrap(), 2880);
    let mut two = [0u8; 2];
    r.read_exact(&mut two).unwrap();
    assert_eq!(two, 1i16.to_be_bytes());
    assert_eq!(r.seek(SeekFrom::Current(2)).unwrap(), 2884);
    assert!(r.seek(SeekFrom::Current(-10_000)).is_err());
    // writing through a read-only handle fails
    assert!(r.write(b"x").is_err());
    r.close().unwrap();

    shm.remove("shmem://h2").unwrap();
    let e = driver_err(shm.open("shmem://h2", Mode::ReadOnly));
    assert_eq!(e.io_kind(), std::io::ErrorKind::NotFound, "{e}");
    assert_eq!(e.code(), 158, "{e}");
}

#[test]
fn readers_share_writers_exclude_with_distinct_errors() {
    let c = Cleanup::new(0x5348_2200);
    let shm = c.shm();
    let w = shm.create("h3").unwrap();
    w.close().unwrap();

    let r1 = shm.open("h3", Mode::ReadOnly).unwrap();
    let r2 = shm.try_open("h3", Mode::ReadOnly).unwrap();
    let _bytes = r1.as_bytes().unwrap();
    let e = driver_err(shm.try_open("h3", Mode::ReadWrite));
    assert_eq!(e.io_kind(), std::io::ErrorKind::WouldBlock, "{e}");
    assert_eq!(e.code(), 157);
    // waiting for a lock this Shm's own handle holds would never end
    let e = driver_err(shm.open("h3", Mode::ReadWrite));
    assert!(e.to_string().to_lowercase().contains("deadlock"), "{e}");
    let e = driver_err(shm.open_timeout("h3", Mode::ReadWrite, Duration::from_millis(50)));
    assert!(e.to_string().to_lowercase().contains("deadlock"), "{e}");
    // another Shm (another lock-owner table: like another process) times out
    let t = Instant::now();
    let e = driver_err(
        c.shm()
            .open_timeout("h3", Mode::ReadWrite, Duration::from_millis(50)),
    );
    assert_eq!(e.io_kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(t.elapsed() >= Duration::from_millis(50));
    drop(r1);
    drop(r2);

    // a second Shm (another lock owner table, same kernel objects) behaves like a process
    let other = c.shm();
    let w = other.try_open("h3", Mode::ReadWrite).unwrap();
    let e = driver_err(shm.try_open("h3", Mode::ReadOnly));
    assert_eq!(e.io_kind(), std::io::ErrorKind::WouldBlock, "{e}");
    // a writer waiting forever is let in when the other closes
    let shm2 = shm.clone();
    let waiter = std::thread::spawn(move || shm2.open("h3", Mode::ReadWrite).map(|f| f.slot()));
    std::thread::sleep(Duration::from_millis(100));
    w.close().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), 3);
    shm.remove("h3").unwrap();
}

#[test]
fn writes_are_published_on_flush_and_views_follow_growth() {
    let c = Cleanup::new(0x5348_2300);
    let shm = c.shm();
    let mut w = shm.create("h0").unwrap();
    w.write_all(&fits_file()).unwrap();
    w.flush().unwrap();
    let v1 = w.as_bytes().unwrap().to_vec();
    // grow well past the first segment
    w.seek(SeekFrom::End(0)).unwrap();
    let big = vec![7u8; 100_000];
    w.write_all(&big).unwrap();
    assert_eq!(w.len().unwrap(), 5760 + 100_000);
    assert_eq!(&w.as_bytes().unwrap()[..5760], &v1[..]);
    assert_eq!(&w.as_bytes().unwrap()[5760..], &big[..]);
    w.flush().unwrap();
    assert_eq!(w.write_mode().unwrap(), shmfits_unix::WriteMode::Shadow);
    w.set_write_mode(shmfits_unix::WriteMode::InPlace).unwrap();
    w.seek(SeekFrom::Start(5760)).unwrap();
    w.write_all(&[7u8; 10]).unwrap();
    assert_eq!(w.write_mode().unwrap(), shmfits_unix::WriteMode::InPlace);
    drop(w); // close by drop
    let r = shm.open("h0", Mode::ReadOnly).unwrap();
    assert_eq!(r.len().unwrap(), 105_760);
    assert_eq!(&r.as_bytes().unwrap()[5760..], &big[..]);
    r.remove().unwrap();
    assert!(shm.open("h0", Mode::ReadOnly).is_err());
}

#[test]
fn bad_names_and_kinds() {
    let c = Cleanup::new(0x5348_2400);
    let shm = c.shm();
    for bad in ["h16", "h03", "shmem://x1", "h1abc", ""] {
        let e = shm.create(bad).unwrap_err();
        assert_eq!(e.code(), 151, "{bad:?}: {e}");
        assert_eq!(
            e.io_kind(),
            std::io::ErrorKind::InvalidInput,
            "{bad:?}: {e}"
        );
    }
    let e = driver_err(shm.open("h5", Mode::ReadOnly));
    assert_eq!(e.code(), 158, "{e}");
    let w = shm.create("h5").unwrap();
    let e = driver_err(Shm::new(config(c.base, c.dir.path())).unwrap().create("h5"));
    assert!(
        matches!(
            e.io_kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::AlreadyExists
        ),
        "{e}"
    );
    w.remove().unwrap();
}

#[test]
fn handles_are_send() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<ShmFile>();
    send_sync::<Shm>();
    send_sync::<Error>();
    let _ = ErrorKind::NotFound;
}

/// A writer in another process holding `h1` read-write keeps our opens out; when it is
/// killed, the lock goes and the last committed version is intact.
#[test]
fn killed_writer_releases_lock_and_keeps_committed_version() {
    if let Ok(role) = std::env::var(ROLE) {
        let base: i32 = std::env::var(BASE).unwrap().parse().unwrap();
        let dir = std::path::PathBuf::from(std::env::var_os(DIR).unwrap());
        let shm = Shm::new(config(base, &dir)).unwrap();
        assert_eq!(role, "writer");
        let mut w = shm.open("h1", Mode::ReadWrite).unwrap();
        w.seek(SeekFrom::Start(2880)).unwrap();
        w.write_all(&[0xEE; 4000]).unwrap(); // not flushed: must not be seen
        println!("READY");
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let c = Cleanup::new(0x5348_2500);
    let shm = c.shm();
    let file = fits_file();
    let mut w = shm.create("h1").unwrap();
    w.write_all(&file).unwrap();
    w.close().unwrap();

    let mut child: Child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_writer_releases_lock_and_keeps_committed_version",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, "writer")
        .env(BASE, c.base.to_string())
        .env(DIR, c.dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines() {
            if line.is_ok_and(|l| l.trim_end().ends_with("READY")) {
                let _ = tx.send(());
                return;
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(60));
    if ready.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("writer child never got ready");
    }
    let e = driver_err(shm.try_open("h1", Mode::ReadOnly));
    assert_eq!(e.io_kind(), std::io::ErrorKind::WouldBlock, "{e}");
    child.kill().unwrap();
    child.wait().unwrap();
    let r = shm
        .open_timeout("h1", Mode::ReadOnly, Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.as_bytes().unwrap(), &file[..], "committed version intact");
    drop(r);
    shm.remove("h1").unwrap();
}

/// CFITSIO (`fitscopy`) and we share files both ways. CFITSIO's lock file is always
/// `/tmp/.shmem-lockfile.K.M` and world-writable, so this test asks for mode 0666.
#[test]
fn cfitsio_interop_both_directions() {
    let have = Command::new("fitscopy")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !have {
        assert!(
            std::env::var_os("SHMFITS_REQUIRE_CFITSIO").is_none(),
            "SHMFITS_REQUIRE_CFITSIO is set but fitscopy is missing"
        );
        eprintln!("SKIPPED cfitsio_interop_both_directions: fitscopy not found");
        return;
    }
    let base = 0x5348_3000;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        key_base: base,
        slots: SLOTS,
        lock_dir: "/tmp".into(),
        create_mode: 0o666,
        ..Config::default()
    };
    let lock_file = cfg.lock_file_path();
    let c = Cleanup {
        sysv: SysV::new(cfg.clone()).unwrap(),
        base,
        dir,
    };
    c.run();
    struct RmLockFile(std::path::PathBuf);
    impl Drop for RmLockFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _rm = RmLockFile(lock_file);

    let file = fits_file();
    let input = c.dir.path().join("in.fits");
    std::fs::write(&input, &file).unwrap();
    let fitscopy = |from: &str, to: &str| {
        let out = Command::new("fitscopy")
            .arg(from)
            .arg(to)
            .env("SHMEM_LIB_KEYBASE", base.to_string())
            .env("SHMEM_LIB_MAXSEG", SLOTS.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "fitscopy {from} {to}: {out:?}");
    };

    // CFITSIO writes, we read the same bytes and HDUs
    fitscopy(input.to_str().unwrap(), "shmem://h2");
    let shm = Shm::new(cfg).unwrap();
    let r = shm.open("h2", Mode::ReadOnly).unwrap();
    assert_eq!(r.as_bytes().unwrap(), &file[..]);
    assert_eq!(r.hdus().unwrap().count(), 1);
    r.close().unwrap();

    // we write, CFITSIO reads the same bytes
    let mut w = shm.create("h4").unwrap();
    w.write_all(&file).unwrap();
    w.close().unwrap();
    let output = c.dir.path().join("out.fits");
    fitscopy("shmem://h4", output.to_str().unwrap());
    assert_eq!(std::fs::read(&output).unwrap(), file);

    // our write lock keeps CFITSIO out: its open waits (F_SETLKW) until we close
    let w = shm.open("h4", Mode::ReadWrite).unwrap();
    let output2 = c.dir.path().join("out2.fits");
    let mut reader = Command::new("fitscopy")
        .arg("shmem://h4")
        .arg(&output2)
        .env("SHMEM_LIB_KEYBASE", base.to_string())
        .env("SHMEM_LIB_MAXSEG", SLOTS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let still_waiting = reader.try_wait().unwrap().is_none();
    w.close().unwrap();
    let status = reader.wait().unwrap();
    assert!(still_waiting, "CFITSIO got past our write lock");
    assert!(status.success());
    assert_eq!(std::fs::read(&output2).unwrap(), file);

    shm.remove("h2").unwrap();
    shm.remove("h4").unwrap();
}

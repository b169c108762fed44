//! The C side of the `shmem://` interop tests works on its own: CFITSIO processes create,
//! grow, read and lock shared-memory files under a test's own key base, and everything they
//! made is removed afterwards. (The tests against our driver build on these programs.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shmfits_tests::cfitsio;
use shmfits_tests::ipc::CfitsioKeys;

/// Key bases of this file (range 0x53484000.., 0x100 per test).
const KEYS_WRITE: i32 = 0x5348_4100;
const KEYS_LOCK: i32 = 0x5348_4200;

fn env_of(keys: &CfitsioKeys) -> Vec<(&'static str, String)> {
    keys.env().to_vec()
}

#[test]
fn cfitsio_writes_grows_and_reads_shmem() {
    let Some(c) = cfitsio::require("cfitsio_writes_grows_and_reads_shmem") else {
        return;
    };
    let keys = CfitsioKeys::new(KEYS_WRITE, 16);
    let env = env_of(&keys);
    // 1 primary + 3 extensions: each extension grows the file past the segment's capacity
    let out = Command::new(&c.shmwrite)
        .args(["shmem://h3", "100", "80", "3"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "shmwrite: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = String::from_utf8_lossy(&out.stdout);
    let size: u64 = written
        .trim()
        .strip_prefix("written\t")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(size, 132_480);

    // the slot outlives the writer: a data segment and a semaphore exist in our range
    let objects = keys.objects();
    assert!(
        objects
            .iter()
            .any(|o| o.class == 'm' && o.key != KEYS_WRITE),
        "{objects:?}"
    );
    assert!(objects.iter().any(|o| o.class == 's'), "{objects:?}");

    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let l = c.listhdus_env(Path::new("shmem://h3"), &envs).unwrap();
    assert_eq!(l.error, None);
    assert_eq!(l.hdus.len(), 4, "{}", l.summary());
    assert_eq!(l.hdus[3].dataend, size);
    assert_eq!(l.hdus[0].image, Some((16, vec![100, 80])));
    assert_eq!(l.hdus[2].image, Some((-32, vec![100, 80])));

    if let Some(fitscopy) = c.require_fitscopy("cfitsio_writes_grows_and_reads_shmem (fitscopy)") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("copy.fits");
        let st = Command::new(fitscopy)
            .arg("shmem://h3")
            .arg(&file)
            .envs(envs.iter().copied())
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
        let disk = c.listhdus(&file).unwrap();
        assert_eq!(
            disk.hdus, l.hdus,
            "the disk copy differs from the shared-memory file"
        );
    }

    let removed = keys.cleanup();
    assert!(
        removed.len() >= 3,
        "expected table, segment and semaphore: {removed:?}"
    );
    assert!(keys.objects().is_empty());
    assert!(!keys.lock_file().exists());
}

/// Kills and reaps a child this test started if the test fails before it exits (declared
/// after the key guard, so it runs before the IPC objects are removed).
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Reads a child's stdout lines into a channel, so the test can wait with a timeout.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
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
    rx
}

#[test]
fn cfitsio_readwrite_open_blocks_another_open() {
    let Some(c) = cfitsio::require("cfitsio_readwrite_open_blocks_another_open") else {
        return;
    };
    let keys = CfitsioKeys::new(KEYS_LOCK, 16);
    let env = env_of(&keys);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let st = Command::new(&c.shmwrite)
        .args(["shmem://h5", "10", "10"])
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());

    let spawn = |mode: &str| {
        Command::new(&c.shmlock)
            .args(["shmem://h5", mode])
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut writer = Reap(spawn("rw"));
    let writer_lines = lines_of(&mut writer.0);
    let first = writer_lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.starts_with("locked\t"), "{first}");

    let mut reader = Reap(spawn("ro"));
    let reader_lines = lines_of(&mut reader.0);
    // CFITSIO waits for the write lock to go away: no "locked" while the writer holds it
    assert!(
        reader_lines
            .recv_timeout(Duration::from_millis(500))
            .is_err(),
        "a READONLY open succeeded while another process held the file READWRITE"
    );
    drop(writer.0.stdin.take()); // end of input: the writer closes the file
                                 // The writer's unlock lets the reader in. CFITSIO's close then takes the exclusive lock
                                 // again (waiting) to detach, so the writer's "closed" comes only after the reader has
                                 // closed too: a known CFITSIO defect (shared/docs/cfitsio-shmem-protocol.md), seen here.
    let got = reader_lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(got.starts_with("locked\t"), "{got}");
    drop(reader.0.stdin.take());
    assert_eq!(
        reader_lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "closed"
    );
    assert!(reader.0.wait().unwrap().success());
    assert_eq!(
        writer_lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "closed"
    );
    assert!(writer.0.wait().unwrap().success());
    drop(keys);
}

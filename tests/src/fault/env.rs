//! [`FaultEnv`]: one test's private key range and lock directory, its driver, and the
//! children it starts; removes every kernel object in the range when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shmfits_core::shm::{Config as DriverConfig, Driver};
use shmfits_unix::{Config, SysV};

use super::proc::Proc;
use super::Drv;
use crate::ipc::{CfitsioKeys, IpcObject};

/// One test's key range (`keybase .. keybase + 3·slots`) and lock directory.
#[derive(Debug)]
pub struct FaultEnv {
    // dropped first: children are killed by their own guards before this runs
    keys: CfitsioKeys,
    dir: Option<tempfile::TempDir>,
    lock_dir: PathBuf,
    slots: u32,
}

impl FaultEnv {
    /// A private lock directory (a temp dir) and the key base `keybase` with `slots` slots.
    ///
    /// # Panics
    /// When the key range is already in use, or no temp dir can be made.
    pub fn new(keybase: i32, slots: u32) -> FaultEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock_dir = dir.path().to_path_buf();
        FaultEnv {
            keys: CfitsioKeys::new(keybase, slots as i32),
            dir: Some(dir),
            lock_dir,
            slots,
        }
    }

    /// As [`FaultEnv::new`] with the lock file in `/tmp`, where CFITSIO looks for it.
    ///
    /// # Panics
    /// As [`FaultEnv::new`].
    pub fn for_cfitsio(keybase: i32, slots: u32) -> FaultEnv {
        FaultEnv {
            keys: CfitsioKeys::new(keybase, slots as i32),
            dir: None,
            lock_dir: PathBuf::from("/tmp"),
            slots,
        }
    }

    /// The key base.
    pub fn keybase(&self) -> i32 {
        self.keys.keybase()
    }

    /// The slot count.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// The lock directory.
    pub fn lock_dir(&self) -> &Path {
        &self.lock_dir
    }

    /// The platform configuration (owner-only objects).
    pub fn platform_config(&self) -> Config {
        Config {
            key_base: self.keybase(),
            slots: self.slots,
            lock_dir: self.lock_dir.clone(),
            create_mode: if self.dir.is_none() { 0o666 } else { 0o600 },
            ..Config::default()
        }
    }

    /// A driver of this test process on the range.
    ///
    /// # Panics
    /// When the driver cannot be made.
    pub fn driver(&self) -> Drv {
        let sysv = SysV::new(self.platform_config()).expect("SysV platform");
        Driver::new(sysv, DriverConfig::new(self.keybase(), self.slots)).expect("driver")
    }

    /// The environment a child (ours or CFITSIO) needs for this range.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .keys
            .env()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        v.push((
            "SHMFITS_LOCK_DIR".into(),
            self.lock_dir.to_string_lossy().into_owned(),
        ));
        v
    }

    /// A command for the fault child with this range's environment, optionally armed to stop
    /// at a driver step (`SHMFITS_TEST_STOP_AT`).
    pub fn child_command(&self, args: &[&str], stop_at: Option<&str>) -> Command {
        let mut c = Command::new(child_exe());
        c.args(args)
            .envs(self.env())
            .env_remove("SHMFITS_TEST_STOP_AT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = stop_at {
            c.env("SHMFITS_TEST_STOP_AT", s);
        }
        c
    }

    /// Start the fault child (see `src/bin/fault_child.rs`).
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn spawn(&self, args: &[&str], stop_at: Option<&str>) -> Proc {
        Proc::spawn(self.child_command(args, stop_at))
    }

    /// Run the fault child to the end; returns (success, stdout, stderr).
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .child_command(args, None)
            .stdin(Stdio::null())
            .output()
            .expect("fault_child");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The kernel objects in the range.
    pub fn objects(&self) -> Vec<IpcObject> {
        self.keys.objects()
    }

    /// Segments in the range other than the global table, and semaphore sets.
    pub fn file_objects(&self) -> (usize, usize) {
        let o = self.objects();
        let segs = o
            .iter()
            .filter(|o| o.class == 'm' && o.key != self.keybase())
            .count();
        let sems = o.iter().filter(|o| o.class == 's').count();
        (segs, sems)
    }
}

/// The `fault_child` binary: `$SHMFITS_FAULT_CHILD`, else next to the test's `deps/`
/// directory (where cargo puts the package's binaries for its integration tests).
///
/// # Panics
/// When it does not exist.
pub fn child_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("SHMFITS_FAULT_CHILD") {
        return PathBuf::from(p);
    }
    bin_exe("fault_child")
}

/// The package's binary `name`, next to the test's `deps/` directory.
///
/// # Panics
/// When it does not exist.
pub fn bin_exe(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built (cargo builds it for the integration tests of shmfits-tests)",
        p.display()
    );
    p
}

impl Drop for FaultEnv {
    fn drop(&mut self) {
        self.keys.cleanup();
        if self.dir.is_none() {
            let _ = std::fs::remove_file(self.platform_config().lock_file_path());
        }
    }
}

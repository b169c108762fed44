//! [`UnixWorld`]: the conformance suite on System V, with real child processes.
//!
//! A process of this world is the test binary itself, started again with
//! `--exact <child test> --nocapture` and [`ENV_ROLE`] set: its `#[test]` calls
//! [`child_main`], which serves the [`SharedMem`] calls of a
//! [`Remote`] on its own [`shmfits_unix::SysV`] (protocol in [`wire`]). A crash is `SIGKILL`
//! of that child (only children this world started, by their pid).
//!
//! Each world has its own key base (objects already in its range make [`UnixWorld::new`]
//! panic rather than adopt them) and its own lock-file directory (a temporary directory).
//! Dropping the world kills its remaining children and removes every segment and semaphore
//! set in its key range.

mod remote;
mod server;
pub mod wire;

pub use remote::{Remote, RemoteError, RemoteMapping, RemoteOwner, REPLY_TIMEOUT};
pub use server::child_main;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shmfits_core::shm::{
    Config as DriverConfig, CounterId, LockKind, LockRange, SegmentId, SharedMem,
};
use shmfits_unix::{Config, SysV};

use super::{Leftover, Proc, World};
use remote::Link;

/// Environment variable that makes the test binary a child of a [`UnixWorld`].
pub const ENV_ROLE: &str = "SHMFITS_CONFORMANCE_ROLE";
/// The one role there is: serve `SharedMem` calls.
pub const ROLE_SHAREDMEM: &str = "sharedmem";
/// Key base of the child's platform.
pub const ENV_KEYBASE: &str = "SHMFITS_CONFORMANCE_KEYBASE";
/// Slot count of the child's platform.
pub const ENV_SLOTS: &str = "SHMFITS_CONFORMANCE_SLOTS";
/// Lock-file directory of the child's platform.
pub const ENV_LOCKDIR: &str = "SHMFITS_CONFORMANCE_LOCKDIR";

/// Slots of every Unix world (keys `base ..= base + 48`).
pub const SLOTS: u32 = 16;

/// How long a clean exit of a child may take before it is killed and the test fails.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

struct Kid {
    child: Child,
    link: Arc<Link>,
    ended: bool,
}

/// System V with real processes: see the [module docs](self).
pub struct UnixWorld {
    config: DriverConfig,
    sysv: SysV,
    child_test: String,
    kids: Vec<Kid>,
    // Declared last: removed after the lock file's users are gone.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for UnixWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixWorld")
            .field("config", &self.config)
            .field("children", &self.kids.len())
            .field("lock_dir", &self.dir.path())
            .finish()
    }
}

impl UnixWorld {
    /// A world on keys `key_base ..= key_base + 48` whose children run the test named
    /// `child_test` of the current test binary (a `#[test]` that calls [`child_main`]).
    ///
    /// # Panics
    /// If the temporary directory or the platform cannot be made, or if objects already
    /// exist in the key range (a previous run left them, or two tests share a base: remove
    /// them with `ipcrm` after checking whose they are).
    pub fn new(key_base: i32, child_test: &str) -> Self {
        let dir = tempfile::tempdir().expect("lock-file directory");
        let sysv = SysV::new(Config {
            key_base,
            slots: SLOTS,
            lock_dir: dir.path().to_owned(),
            ..Config::default()
        })
        .expect("System V platform");
        let keys = key_base..=key_base + 3 * SLOTS as i32;
        let existing = scan(&sysv, keys.clone());
        assert!(
            existing.is_empty(),
            "key range {keys:#x?} is already in use: {existing:?}"
        );
        UnixWorld {
            config: DriverConfig::new(key_base, SLOTS),
            sysv,
            child_test: child_test.to_owned(),
            kids: Vec::new(),
            dir,
        }
    }

    fn keys(&self) -> std::ops::RangeInclusive<i32> {
        let base = self.config.key_base;
        base..=base + 3 * SLOTS as i32
    }

    /// Segments and semaphore sets in the key range.
    fn objects(&self) -> Vec<Leftover> {
        scan(&self.sysv, self.keys())
    }

    /// Whether any byte of the lock file is locked (by anyone).
    fn locked(&self) -> Option<Leftover> {
        let owner = self.sysv.lock_owner_new().ok()?;
        let range = LockRange::all(SLOTS);
        let held = self.sysv.lock_probe(owner, range, LockKind::Exclusive);
        let _ = self.sysv.lock_owner_release(owner);
        match held {
            Ok(None) => None,
            _ => Some(Leftover::Lock {
                start: range.start,
                len: range.len,
            }),
        }
    }

    fn kid(&mut self, pid: u32) -> &mut Kid {
        self.kids
            .iter_mut()
            .find(|k| k.link.pid() == pid && !k.ended)
            .unwrap_or_else(|| panic!("no live child with pid {pid}"))
    }

    fn kill_kid(kid: &mut Kid) {
        kid.link.hang_up();
        // Child::kill sends SIGKILL to this child's pid only.
        let _ = kid.child.kill();
        let _ = kid.child.wait();
        kid.ended = true;
    }
}

impl World for UnixWorld {
    type P = Remote;

    fn config(&self) -> DriverConfig {
        self.config
    }

    fn spawn(&mut self) -> Proc<Remote> {
        let exe = std::env::current_exe().expect("path of the test binary");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                &self.child_test,
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_ROLE, ROLE_SHAREDMEM)
            .env(ENV_KEYBASE, self.config.key_base.to_string())
            .env(ENV_SLOTS, SLOTS.to_string())
            .env(ENV_LOCKDIR, self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a child process");
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child without pipes");
        };
        let link = match Link::connect(stdin, stdout) {
            Ok(link) => link,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child process: {e}");
            }
        };
        assert_eq!(link.pid(), child.id(), "the child reports another pid");
        let pid = link.pid();
        self.kids.push(Kid {
            child,
            link: Arc::clone(&link),
            ended: false,
        });
        Proc {
            pid,
            platform: Remote::new(link),
        }
    }

    fn kill(&mut self, pid: u32) {
        Self::kill_kid(self.kid(pid));
    }

    fn exit(&mut self, pid: u32) {
        let kid = self.kid(pid);
        kid.link.hang_up();
        let start = Instant::now();
        loop {
            match kid.child.try_wait() {
                Ok(Some(status)) => {
                    kid.ended = true;
                    assert!(status.success(), "child {pid} exited with {status}");
                    return;
                }
                Ok(None) if start.elapsed() < EXIT_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => {
                    Self::kill_kid(kid);
                    panic!("child {pid} did not exit within {EXIT_TIMEOUT:?}");
                }
            }
        }
    }

    fn leftovers(&self) -> Vec<Leftover> {
        let mut left: Vec<Leftover> = self
            .kids
            .iter()
            .filter(|k| !k.ended)
            .map(|k| Leftover::Process { pid: k.link.pid() })
            .collect();
        left.extend(self.objects());
        left.extend(self.locked());
        left
    }

    fn cleanup(&mut self) -> Vec<Leftover> {
        let left = self.leftovers();
        for kid in self.kids.iter_mut().filter(|k| !k.ended) {
            Self::kill_kid(kid);
        }
        for o in self.objects() {
            match o {
                Leftover::Segment { id, .. } => {
                    let _ = self.sysv.segment_remove(SegmentId(id));
                }
                Leftover::Counter { id, .. } => {
                    let _ = self.sysv.counter_remove(CounterId(id));
                }
                Leftover::Lock { .. } | Leftover::Process { .. } => {}
            }
        }
        left
    }
}

impl Drop for UnixWorld {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Segments and semaphore sets under `keys`.
fn scan(sysv: &SysV, keys: std::ops::RangeInclusive<i32>) -> Vec<Leftover> {
    let mut found = Vec::new();
    for key in keys {
        if let Ok(id) = sysv.segment_find(key) {
            found.push(Leftover::Segment {
                key: Some(key),
                id: id.0,
            });
        }
        if let Ok(Some(id)) = SharedMem::counter_find(sysv, key) {
            found.push(Leftover::Counter {
                key: Some(key),
                id: id.0,
            });
        }
    }
    found
}

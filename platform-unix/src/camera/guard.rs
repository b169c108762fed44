//! Drop guards of the parent: its private lock directory, the System V objects under its
//! keys, and its two children. Declared in that order, they drop in reverse: children
//! killed first, then kernel objects removed, then the directory.

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};

use shmfits_core::shm::{CounterId, SegmentId, SharedMem};

use super::error::CameraError;
use super::options::Role;
use crate::config::Config;
use crate::sysv::SysV;

/// A fresh directory `$TMPDIR/shmfits-camera-<pid>-<n>`, mode 0700, removed on drop.
#[derive(Debug)]
pub(crate) struct PrivateDir(PathBuf);

/// The prefix of the private directories of process `pid`.
pub(crate) fn private_dir_prefix(pid: u32) -> String {
    format!("shmfits-camera-{pid}-")
}

impl PrivateDir {
    pub(crate) fn new() -> Result<Self, CameraError> {
        let base = std::env::temp_dir();
        let prefix = private_dir_prefix(std::process::id());
        let mut last = None;
        for n in 0..1000 {
            let path = base.join(format!("{prefix}{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(CameraError::io(format!("create {}", path.display()))(e)),
            }
        }
        let e = last.unwrap_or_else(|| std::io::Error::other("no free name"));
        Err(CameraError::io(format!(
            "create a directory in {}",
            base.display()
        ))(e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A System V object found under the job's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Object {
    key: i32,
    kind: Kind,
    uid: u32,
    /// Attached by a process (segment) or counting one (semaphore).
    in_use: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Segment(SegmentId),
    Counter(CounterId),
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, id, flag) = match self.kind {
            Kind::Segment(id) => ("segment", id.0, 'm'),
            Kind::Counter(id) => ("semaphore", id.0, 's'),
        };
        write!(
            f,
            "{what} key {:#x} id {id} uid {}{} (ipcrm -{flag} {id})",
            self.key,
            self.uid,
            if self.in_use { " in use" } else { "" }
        )
    }
}

/// The keys `K .. K + 3M` of the job. Made only when nothing alive exists under them, so
/// that everything found there later is the job's; on drop it removes what belongs to us.
#[derive(Debug)]
pub(crate) struct IpcGuard {
    sysv: SysV,
    keys: std::ops::Range<i32>,
    /// Objects an interrupted run had left, removed when the guard was made.
    pub(crate) stale_removed: usize,
}

impl IpcGuard {
    /// Take the keys of `config`. Objects already there are removed if they are all ours and
    /// unused (no process attached or counted: what a run killed by Ctrl-C leaves); if any
    /// is someone else's or in use, the keys are refused.
    pub(crate) fn new(config: Config) -> Result<Self, CameraError> {
        let base = config.key_base;
        let keys = base..base.saturating_add(config.key_range() as i32);
        let sysv = SysV::new(config).map_err(|e| CameraError::Shm {
            what: "set up the private lock file".to_string(),
            source: e.into(),
        })?;
        let found = objects(&sysv, keys.clone());
        let me = sysv.current_uid();
        if found.iter().any(|o| o.in_use || o.uid != me) {
            return Err(CameraError::KeyBaseInUse {
                key_base: base,
                objects: found.iter().map(ToString::to_string).collect(),
            });
        }
        let guard = IpcGuard {
            sysv,
            keys,
            stale_removed: found.len(),
        };
        guard.remove_own();
        if !guard.objects().is_empty() {
            return Err(CameraError::KeyBaseInUse {
                key_base: base,
                objects: guard.objects().iter().map(ToString::to_string).collect(),
            });
        }
        Ok(guard)
    }

    /// What exists under the keys now.
    pub(crate) fn objects(&self) -> Vec<Object> {
        objects(&self.sysv, self.keys.clone())
    }

    /// Remove what exists under the keys and belongs to us.
    pub(crate) fn remove_own(&self) {
        let me = self.sysv.current_uid();
        for o in self.objects().into_iter().filter(|o| o.uid == me) {
            let _ = match o.kind {
                Kind::Segment(id) => self.sysv.segment_remove(id),
                Kind::Counter(id) => self.sysv.counter_remove(id),
            };
        }
    }
}

impl Drop for IpcGuard {
    fn drop(&mut self) {
        self.remove_own();
    }
}

fn objects(sysv: &SysV, keys: std::ops::Range<i32>) -> Vec<Object> {
    let mut found = Vec::new();
    for key in keys {
        if let Ok(id) = sysv.segment_find(key) {
            if let Ok(info) = sysv.segment_info(id) {
                found.push(Object {
                    key,
                    kind: Kind::Segment(id),
                    uid: info.owner_uid,
                    in_use: info.attach_count > 0,
                });
            }
        }
        if let Ok(Some(id)) = sysv.counter_find(key) {
            if let Ok(info) = sysv.counter_info(id) {
                found.push(Object {
                    key,
                    kind: Kind::Counter(id),
                    uid: info.owner_uid,
                    in_use: info.value > 0,
                });
            }
        }
    }
    found
}

/// The children; any still running when this drops are killed (by their pid) and reaped.
#[derive(Debug, Default)]
pub(crate) struct Children(Vec<(Role, Child)>);

impl Children {
    pub(crate) fn push(&mut self, role: Role, child: Child) {
        self.0.push((role, child));
    }

    /// Kill every child still running and reap all of them.
    pub(crate) fn kill_all(&mut self) {
        for (_, child) in &mut self.0 {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Wait for every child (they have closed their pipes, so they are exiting) and check
    /// that each succeeded.
    pub(crate) fn wait_all(&mut self) -> Result<(), CameraError> {
        let mut first = None;
        for (role, child) in &mut self.0 {
            let pid = child.id();
            let failed = match child.wait() {
                Ok(status) if status.success() => None,
                Ok(status) => Some(describe(status)),
                Err(e) => Some(format!("wait: {e}")),
            };
            if let Some(status) = failed {
                first.get_or_insert(CameraError::ChildFailed {
                    role: *role,
                    pid,
                    status,
                });
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill_all();
    }
}

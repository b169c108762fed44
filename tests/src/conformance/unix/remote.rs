//! [`Remote`]: a [`SharedMem`] whose every call is made by a child process.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use shmfits_core::shm::{
    CounterId, CounterInfo, ErrorKind, Key, LockKind, LockRange, PlatformError, SegmentId,
    SegmentInfo, SharedMem, Wait,
};

use super::wire::{self, REPLY};

/// How long a call waits for the child's answer before the child counts as hung (the
/// scenarios never wait for a lock longer than a fraction of this).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// An error of a [`Remote`] call: the child's platform error (kind and errno), or the child
/// is gone (killed, exited, hung, or it answered something unreadable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// The portable kind ([`ErrorKind::Other`] when the child is gone).
    pub kind: ErrorKind,
    /// The errno the child's platform reported (0 for its own checks or when gone).
    pub errno: i32,
    /// Whether the child is gone rather than its call having failed.
    pub gone: bool,
}

impl RemoteError {
    fn gone() -> Self {
        RemoteError {
            kind: ErrorKind::Other,
            errno: 0,
            gone: true,
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.gone {
            f.write_str("child process gone")
        } else {
            write!(
                f,
                "{} (errno {}) in the child process",
                self.kind, self.errno
            )
        }
    }
}

impl std::error::Error for RemoteError {}

impl PlatformError for RemoteError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// A segment attached in the child: its token there, id and length.
#[derive(Debug)]
pub struct RemoteMapping {
    token: u64,
    id: SegmentId,
    len: usize,
}

/// A lock owner in the child (its token there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteOwner(u64);

struct Io {
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
}

/// The connection to one child; shared by every clone of its [`Remote`] and by the world.
pub(super) struct Link {
    pid: u32,
    uid: u32,
    io: Mutex<Option<Io>>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("pid", &self.pid)
            .field("uid", &self.uid)
            .finish()
    }
}

impl Link {
    /// Connect to a child that was just started: wait for its hello.
    pub(super) fn connect(stdin: ChildStdin, stdout: ChildStdout) -> Result<Arc<Link>, String> {
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness may have printed "test name ... " on the same line.
                if let Some((_, reply)) = line.split_once(REPLY) {
                    if tx.send(reply.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        let hello = replies
            .recv_timeout(REPLY_TIMEOUT)
            .map_err(|e| format!("no hello from the child: {e}"))?;
        let mut words = hello.split(' ');
        let (Some("hello"), Some(pid), Some(uid)) = (words.next(), words.next(), words.next())
        else {
            return Err(format!("child said {hello:?} instead of hello"));
        };
        Ok(Arc::new(Link {
            pid: pid.parse().map_err(|_| format!("bad pid in {hello:?}"))?,
            uid: uid.parse().map_err(|_| format!("bad uid in {hello:?}"))?,
            io: Mutex::new(Some(Io { stdin, replies })),
        }))
    }

    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    fn io(&self) -> MutexGuard<'_, Option<Io>> {
        self.io.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drop the connection: the child sees end of input and exits; later calls fail as
    /// "gone".
    pub(super) fn hang_up(&self) {
        self.io().take();
    }

    /// One request, one reply: the reply's words after `ok`.
    fn call(&self, request: &str) -> Result<Vec<String>, RemoteError> {
        let mut guard = self.io();
        let io = guard.as_mut().ok_or(RemoteError::gone())?;
        let sent = io
            .stdin
            .write_all(request.as_bytes())
            .and_then(|()| io.stdin.write_all(b"\n"))
            .and_then(|()| io.stdin.flush());
        if sent.is_err() {
            guard.take();
            return Err(RemoteError::gone());
        }
        let Ok(reply) = io.replies.recv_timeout(REPLY_TIMEOUT) else {
            guard.take();
            return Err(RemoteError::gone());
        };
        let mut words = reply.split(' ').map(str::to_owned);
        match words.next().as_deref() {
            Some("ok") => Ok(words.collect()),
            Some("err") => {
                let kind = wire::kind_from_name(words.next().as_deref().unwrap_or(""));
                let errno = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                Err(RemoteError {
                    kind,
                    errno,
                    gone: false,
                })
            }
            _ => {
                guard.take();
                Err(RemoteError::gone())
            }
        }
    }
}

/// A [`SharedMem`] that acts as one child process: every call is sent to the child, which
/// makes it on its own [`shmfits_unix::SysV`] and answers. Locks, counter undo and
/// attachments therefore belong to the child, and `SIGKILL` of the child has exactly the
/// kernel's effects. Clones talk to the same child (two lock owners in one process).
#[derive(Clone, Debug)]
pub struct Remote {
    link: Arc<Link>,
}

fn word<T: std::str::FromStr>(words: &[String], i: usize) -> Result<T, RemoteError> {
    words
        .get(i)
        .and_then(|w| w.parse().ok())
        .ok_or(RemoteError::gone())
}

fn opt_key(words: &[String], i: usize) -> Result<Option<Key>, RemoteError> {
    match words.get(i).map(String::as_str) {
        Some("-") => Ok(None),
        _ => word(words, i).map(Some),
    }
}

impl Remote {
    pub(super) fn new(link: Arc<Link>) -> Self {
        Remote { link }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.link.pid
    }

    fn call(&self, request: &str) -> Result<Vec<String>, RemoteError> {
        self.link.call(request)
    }
}

impl SharedMem for Remote {
    type Error = RemoteError;
    type Mapping = RemoteMapping;
    type LockOwner = RemoteOwner;

    fn segment_create(&self, key: Key, size: usize) -> Result<SegmentId, RemoteError> {
        let w = self.call(&format!("seg_create {key} {size}"))?;
        Ok(SegmentId(word(&w, 0)?))
    }

    fn segment_find(&self, key: Key) -> Result<SegmentId, RemoteError> {
        let w = self.call(&format!("seg_find {key}"))?;
        Ok(SegmentId(word(&w, 0)?))
    }

    fn segment_info(&self, id: SegmentId) -> Result<SegmentInfo, RemoteError> {
        let w = self.call(&format!("seg_info {}", id.0))?;
        Ok(SegmentInfo {
            key: opt_key(&w, 0)?,
            size: word(&w, 1)?,
            attach_count: word(&w, 2)?,
            owner_uid: word(&w, 3)?,
            mode: word(&w, 4)?,
            removed: word::<u8>(&w, 5)? != 0,
        })
    }

    fn segment_attach(&self, id: SegmentId) -> Result<RemoteMapping, RemoteError> {
        let w = self.call(&format!("seg_attach {}", id.0))?;
        Ok(RemoteMapping {
            token: word(&w, 0)?,
            id,
            len: word(&w, 1)?,
        })
    }

    fn segment_detach(&self, mapping: RemoteMapping) -> Result<(), RemoteError> {
        self.call(&format!("seg_detach {}", mapping.token))
            .map(drop)
    }

    fn segment_remove(&self, id: SegmentId) -> Result<(), RemoteError> {
        self.call(&format!("seg_remove {}", id.0)).map(drop)
    }

    fn mapping_id(&self, mapping: &RemoteMapping) -> SegmentId {
        mapping.id
    }

    fn mapping_len(&self, mapping: &RemoteMapping) -> usize {
        mapping.len
    }

    fn read(
        &self,
        mapping: &RemoteMapping,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), RemoteError> {
        let w = self.call(&format!("read {} {offset} {}", mapping.token, buf.len()))?;
        let bytes = w
            .first()
            .and_then(|h| wire::unhex(h))
            .filter(|b| b.len() == buf.len())
            .ok_or(RemoteError::gone())?;
        buf.copy_from_slice(&bytes);
        Ok(())
    }

    fn write(
        &self,
        mapping: &RemoteMapping,
        offset: usize,
        data: &[u8],
    ) -> Result<(), RemoteError> {
        self.call(&format!(
            "write {} {offset} {}",
            mapping.token,
            wire::hex(data)
        ))
        .map(drop)
    }

    fn counter_create(&self, key: Key) -> Result<CounterId, RemoteError> {
        let w = self.call(&format!("ctr_create {key}"))?;
        Ok(CounterId(word(&w, 0)?))
    }

    fn counter_info(&self, id: CounterId) -> Result<CounterInfo, RemoteError> {
        let w = self.call(&format!("ctr_info {}", id.0))?;
        Ok(CounterInfo {
            key: opt_key(&w, 0)?,
            value: word(&w, 1)?,
            owner_uid: word(&w, 2)?,
            mode: word(&w, 3)?,
        })
    }

    fn counter_add(&self, id: CounterId, delta: i16) -> Result<(), RemoteError> {
        self.call(&format!("ctr_add {} {delta}", id.0)).map(drop)
    }

    fn counter_remove(&self, id: CounterId) -> Result<(), RemoteError> {
        self.call(&format!("ctr_remove {}", id.0)).map(drop)
    }

    fn counter_find(&self, key: Key) -> Result<Option<CounterId>, RemoteError> {
        let w = self.call(&format!("ctr_find {key}"))?;
        Ok(opt_key(&w, 0)?.map(CounterId))
    }

    fn lock_owner_new(&self) -> Result<RemoteOwner, RemoteError> {
        let w = self.call("owner_new")?;
        Ok(RemoteOwner(word(&w, 0)?))
    }

    fn lock_owner_release(&self, owner: RemoteOwner) -> Result<(), RemoteError> {
        self.call(&format!("owner_release {}", owner.0)).map(drop)
    }

    fn lock(
        &self,
        owner: RemoteOwner,
        range: LockRange,
        kind: LockKind,
        wait: Wait,
    ) -> Result<(), RemoteError> {
        let kind = match kind {
            LockKind::Shared => "S",
            LockKind::Exclusive => "X",
        };
        let wait = match wait {
            Wait::No => "no".to_owned(),
            Wait::Forever => "forever".to_owned(),
            Wait::Timeout(d) => d.as_millis().to_string(),
        };
        self.call(&format!(
            "lock {} {} {} {kind} {wait}",
            owner.0, range.start, range.len
        ))
        .map(drop)
    }

    fn unlock(&self, owner: RemoteOwner, range: LockRange) -> Result<(), RemoteError> {
        self.call(&format!("unlock {} {} {}", owner.0, range.start, range.len))
            .map(drop)
    }

    fn current_uid(&self) -> u32 {
        self.link.uid
    }
}

//! [`CameraError`]: everything that can stop the camera job, with what it was waiting for.

use std::fmt;
use std::io;
use std::time::Duration;

use super::options::Role;
use super::protocol::Peer;
use crate::file_error::Error;

/// Why the camera job failed. Every variant says where: which process, which frame, which
/// value.
#[derive(Debug)]
#[non_exhaustive]
pub enum CameraError {
    /// An option value was refused.
    Options {
        /// The option.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// An operating-system call of the job itself failed (spawning, pipes, temp directory).
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// The shared-memory API failed.
    Shm {
        /// What was being done.
        what: String,
        /// The error.
        source: Error,
    },
    /// System V objects under the job's keys are in use or not ours (another run?).
    KeyBaseInUse {
        /// The key base.
        key_base: i32,
        /// The objects found, one description each.
        objects: Vec<String>,
    },
    /// A process sent a line that does not fit the handshake.
    Protocol {
        /// Which process sent it.
        peer: Peer,
        /// What was expected.
        expected: String,
        /// What came.
        got: String,
    },
    /// The reader found a frame that differs from what the writer must have written.
    Mismatch {
        /// The frame number.
        frame: u32,
        /// The first difference.
        detail: String,
    },
    /// The other end closed its pipe (exited or crashed) in the middle of the handshake.
    PeerGone {
        /// Which process went away.
        peer: Peer,
        /// What this process was waiting for.
        waiting_for: String,
    },
    /// A child finished the handshake but exited unsuccessfully.
    ChildFailed {
        /// Which child.
        role: Role,
        /// Its process id.
        pid: u32,
        /// Its exit status, as text.
        status: String,
    },
    /// No step completed within the timeout; the children were killed.
    TimedOut {
        /// The timeout.
        after: Duration,
        /// The last step that did complete.
        last: String,
    },
    /// After a successful run, System V objects were still there (they are removed now).
    LeftBehind(Vec<String>),
}

impl CameraError {
    pub(crate) fn options(what: &'static str, reason: impl Into<String>) -> Self {
        CameraError::Options {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| CameraError::Io { what, source }
    }

    pub(crate) fn shm(what: impl Into<String>) -> impl FnOnce(Error) -> Self {
        let what = what.into();
        move |source| CameraError::Shm { what, source }
    }
}

impl fmt::Display for CameraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraError::Options { what, reason } => write!(f, "invalid {what}: {reason}"),
            CameraError::Io { what, source } => write!(f, "{what}: {source}"),
            CameraError::Shm { what, source } => write!(f, "{what}: {source}"),
            CameraError::KeyBaseInUse { key_base, objects } => {
                write!(
                    f,
                    "key base {key_base:#x} is in use ({}); is another camera job running? \
                     Pass another --key-base, or remove them with ipcrm if they are stale",
                    objects.join(", ")
                )
            }
            CameraError::Protocol {
                peer,
                expected,
                got,
            } => write!(f, "the {peer} sent {got:?}, expected {expected}"),
            CameraError::Mismatch { frame, detail } => {
                write!(f, "frame {frame} is wrong: {detail}")
            }
            CameraError::PeerGone {
                peer: Peer::Parent,
                waiting_for,
            } => write!(
                f,
                "the parent ended the handshake while this process waited for {waiting_for}"
            ),
            CameraError::PeerGone { peer, waiting_for } => write!(
                f,
                "the {peer} went away while the parent waited for {waiting_for} \
                 (its message, if any, is above)"
            ),
            CameraError::ChildFailed { role, pid, status } => {
                write!(f, "the {role} process (pid {pid}) failed: {status}")
            }
            CameraError::TimedOut { after, last } => write!(
                f,
                "no progress for {:.1} s after {last}; both children were killed",
                after.as_secs_f64()
            ),
            CameraError::LeftBehind(objects) => write!(
                f,
                "System V objects were left behind (now removed): {}",
                objects.join(", ")
            ),
        }
    }
}

impl std::error::Error for CameraError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CameraError::Io { source, .. } => Some(source),
            CameraError::Shm { source, .. } => Some(source),
            _ => None,
        }
    }
}

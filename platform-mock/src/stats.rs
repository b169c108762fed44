//! What tests can assert about the kernel: call counters per [`CallKind`] ([`Stats`]) and a
//! listing of every kernel object ([`Objects`]).

use alloc::vec::Vec;

use shmfits_core::shm::{CounterId, Key, SegmentId};

use crate::error::CallKind;
use crate::locks::{LockEntry, MockLockOwner};
use crate::state::{KernelState, ProcessState};

/// Counters of one [`CallKind`] since the kernel was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls made (by live and dead processes).
    pub calls: u64,
    /// Calls that returned an error (injected ones included).
    pub failures: u64,
    /// Failures injected by the fault plan.
    pub injected: u64,
}

/// How many kernel objects exist right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectCounts {
    /// Processes alive.
    pub processes_alive: usize,
    /// Segments that can be found by key or id and attached.
    pub segments_live: usize,
    /// Segments marked for removal whose memory stays until their last detach.
    pub segments_removed_attached: usize,
    /// Counters.
    pub counters: usize,
    /// Lock owners of live processes.
    pub lock_owners: usize,
    /// Held lock ranges (after merging).
    pub locks_held: usize,
    /// Attachments of all processes.
    pub mappings: usize,
}

impl ObjectCounts {
    /// Whether no segment, counter, lock owner, lock or mapping exists ("nothing leaked").
    /// Processes are not counted.
    pub fn is_clean(&self) -> bool {
        self.segments_live == 0
            && self.segments_removed_attached == 0
            && self.counters == 0
            && self.lock_owners == 0
            && self.locks_held == 0
            && self.mappings == 0
    }
}

/// A snapshot of [`crate::MockKernel::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Per call kind, indexed by [`CallKind::index`].
    pub calls: [CallStats; CallKind::COUNT],
    /// Objects existing now.
    pub objects: ObjectCounts,
}

impl Stats {
    /// The counters of one call kind.
    pub fn call(&self, kind: CallKind) -> CallStats {
        self.calls.get(kind.index()).copied().unwrap_or_default()
    }

    /// All call kinds added up.
    pub fn total(&self) -> CallStats {
        self.calls
            .iter()
            .fold(CallStats::default(), |a, c| CallStats {
                calls: a.calls + c.calls,
                failures: a.failures + c.failures,
                injected: a.injected + c.injected,
            })
    }
}

/// A segment as [`crate::MockKernel::objects`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentObject {
    /// Its id.
    pub id: SegmentId,
    /// Its key (`None` once removed, or private).
    pub key: Option<Key>,
    /// Size asked for at creation.
    pub size: usize,
    /// Length of its memory (page-rounded).
    pub mem_len: usize,
    /// Current attachments.
    pub attach_count: u32,
    /// Marked for removal (then it exists only because it is still attached).
    pub removed: bool,
    /// Owner uid.
    pub owner_uid: u32,
    /// Permission bits.
    pub mode: u32,
    /// The process that created it.
    pub creator_pid: u32,
}

/// A counter as [`crate::MockKernel::objects`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterObject {
    /// Its id.
    pub id: CounterId,
    /// Its key (`None` if private).
    pub key: Option<Key>,
    /// Current value.
    pub value: u32,
    /// Owner uid.
    pub owner_uid: u32,
    /// Permission bits.
    pub mode: u32,
    /// Pending undo adjustments: (pid, adjustment applied when that process ends).
    pub undo: Vec<(u32, i32)>,
}

/// A process as [`crate::MockKernel::objects`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessObject {
    /// Its pid.
    pub pid: u32,
    /// Its uid.
    pub uid: u32,
    /// Alive, killed or exited.
    pub state: ProcessState,
    /// The segments it has attached, one entry per attachment.
    pub mappings: Vec<SegmentId>,
    /// Its lock owners.
    pub lock_owners: Vec<MockLockOwner>,
}

/// Every kernel object, sorted by id (locks by owner and start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Objects {
    /// Processes, dead ones included.
    pub processes: Vec<ProcessObject>,
    /// Segments, removed-but-attached ones included.
    pub segments: Vec<SegmentObject>,
    /// Counters.
    pub counters: Vec<CounterObject>,
    /// Held locks.
    pub locks: Vec<LockEntry>,
}

impl Objects {
    /// The live (not removed) segment under `key`.
    pub fn segment_by_key(&self, key: Key) -> Option<&SegmentObject> {
        self.segments
            .iter()
            .find(|s| !s.removed && s.key == Some(key))
    }

    /// The counter under `key`.
    pub fn counter_by_key(&self, key: Key) -> Option<&CounterObject> {
        self.counters.iter().find(|c| c.key == Some(key))
    }
}

impl KernelState {
    pub(crate) fn object_counts(&self) -> ObjectCounts {
        let alive = self
            .processes
            .values()
            .filter(|p| p.state == ProcessState::Alive);
        let (mut processes_alive, mut lock_owners, mut mappings) = (0, 0, 0);
        for p in alive {
            processes_alive += 1;
            lock_owners += p.owners.len();
            mappings += p.mappings.len();
        }
        let removed = self.segments.values().filter(|s| s.removed).count();
        ObjectCounts {
            processes_alive,
            segments_live: self.segments.len() - removed,
            segments_removed_attached: removed,
            counters: self.counters.len(),
            lock_owners,
            locks_held: self.locks.entries().len(),
            mappings,
        }
    }

    pub(crate) fn objects(&self) -> Objects {
        Objects {
            processes: self
                .processes
                .iter()
                .map(|(&pid, p)| ProcessObject {
                    pid,
                    uid: p.uid,
                    state: p.state,
                    mappings: p.mappings.values().copied().collect(),
                    lock_owners: p
                        .owners
                        .iter()
                        .map(|&index| MockLockOwner { pid, index })
                        .collect(),
                })
                .collect(),
            segments: self
                .segments
                .iter()
                .map(|(&id, s)| SegmentObject {
                    id: SegmentId(id),
                    key: s.key,
                    size: s.size,
                    mem_len: s.mem.len(),
                    attach_count: s.attach_count,
                    removed: s.removed,
                    owner_uid: s.owner_uid,
                    mode: s.mode,
                    creator_pid: s.creator_pid,
                })
                .collect(),
            counters: self
                .counters
                .iter()
                .map(|(&id, c)| CounterObject {
                    id: CounterId(id),
                    key: c.key,
                    value: u32::try_from(c.value).unwrap_or(0),
                    owner_uid: c.owner_uid,
                    mode: c.mode,
                    undo: c.undo.iter().map(|(&p, &a)| (p, a)).collect(),
                })
                .collect(),
            locks: self.locks.entries().to_vec(),
        }
    }
}

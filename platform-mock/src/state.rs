//! The simulated kernel's state: processes, segments, counters, the lock table, the fault
//! plan and the call statistics, all behind one lock so every call is atomic.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use shmfits_core::shm::{Key, SegmentId};

use crate::config::MockConfig;
use crate::error::{CallKind, Fail, MockErrno};
use crate::faults::FaultPlan;
use crate::locks::LockTable;
use crate::stats::CallStats;

/// Counter values and undo adjustments stay within `0..=SEMVMX` / `±SEMAEM` (Linux: 32767).
pub(crate) const SEMVMX: i32 = 32767;

/// How a simulated process stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// Running: its calls are carried out.
    Alive,
    /// Ended by [`crate::MockKernel::kill`].
    Killed,
    /// Ended by [`crate::MockProcess::exit`].
    Exited,
}

/// A simulated process.
#[derive(Clone, Debug)]
pub(crate) struct Process {
    pub uid: u32,
    pub create_mode: u32,
    pub state: ProcessState,
    /// mapping number → segment
    pub mappings: BTreeMap<u64, SegmentId>,
    /// indices of live lock owners
    pub owners: BTreeSet<u32>,
    pub next_owner: u32,
    pub next_mapping: u64,
    /// Test hook: die at the `n`-th checkpoint of this step ([`crate::MockProcess::crash_at_step`]).
    pub crash_at: Option<(shmfits_core::shm::Step, u32)>,
    /// Checkpoints of `crash_at`'s step reached so far.
    pub step_hits: u32,
}

/// A segment, live or removed-but-attached.
#[derive(Clone, Debug)]
pub(crate) struct Segment {
    /// `None` once removed, or when created under `IPC_PRIVATE` (key 0).
    pub key: Option<Key>,
    pub size: usize,
    /// Page-rounded memory, zero-filled at creation.
    pub mem: Vec<u8>,
    pub owner_uid: u32,
    pub creator_uid: u32,
    pub creator_pid: u32,
    pub mode: u32,
    pub attach_count: u32,
    pub removed: bool,
}

/// A counter with its per-process undo adjustments.
#[derive(Clone, Debug)]
pub(crate) struct Counter {
    pub key: Option<Key>,
    pub value: i32,
    pub owner_uid: u32,
    pub creator_uid: u32,
    pub mode: u32,
    /// pid → adjustment applied when that process ends (the negated sum of its deltas).
    pub undo: BTreeMap<u32, i32>,
}

/// Everything the simulated kernel knows.
#[derive(Debug)]
pub(crate) struct KernelState {
    pub config: MockConfig,
    pub next_pid: u32,
    pub next_ipc_id: i32,
    pub processes: BTreeMap<u32, Process>,
    pub segments: BTreeMap<i32, Segment>,
    pub counters: BTreeMap<i32, Counter>,
    pub locks: LockTable,
    pub faults: FaultPlan,
    pub calls: [CallStats; CallKind::COUNT],
    /// Sum of the page-rounded lengths of all segments (for `SHMALL`).
    pub total_bytes: usize,
}

impl KernelState {
    pub(crate) fn new(config: MockConfig) -> Self {
        KernelState {
            config,
            next_pid: 100,
            next_ipc_id: 1,
            processes: BTreeMap::new(),
            segments: BTreeMap::new(),
            counters: BTreeMap::new(),
            locks: LockTable::default(),
            faults: FaultPlan::default(),
            calls: [CallStats::default(); CallKind::COUNT],
            total_bytes: 0,
        }
    }

    /// A fresh id for a segment or a counter; ids are never reused, so a stale id is always
    /// detected.
    pub(crate) fn new_ipc_id(&mut self) -> Result<i32, Fail> {
        let id = self.next_ipc_id;
        self.next_ipc_id = id
            .checked_add(1)
            .ok_or(Fail::new(MockErrno::NoSpace, "IPC identifiers exhausted"))?;
        Ok(id)
    }

    pub(crate) fn spawn(&mut self, uid: u32) -> u32 {
        let pid = self.next_pid;
        self.next_pid = self.next_pid.wrapping_add(1);
        self.processes.insert(
            pid,
            Process {
                uid,
                create_mode: self.config.default_mode,
                state: ProcessState::Alive,
                mappings: BTreeMap::new(),
                owners: BTreeSet::new(),
                next_owner: 0,
                next_mapping: 0,
                crash_at: None,
                step_hits: 0,
            },
        );
        pid
    }

    /// The live process `pid`, or `ESRCH`.
    pub(crate) fn alive(&self, pid: u32) -> Result<&Process, Fail> {
        match self.processes.get(&pid) {
            Some(p) if p.state == ProcessState::Alive => Ok(p),
            _ => Err(Fail::new(
                MockErrno::Srch,
                "the calling process is dead (killed or exited)",
            )),
        }
    }

    pub(crate) fn alive_mut(&mut self, pid: u32) -> Result<&mut Process, Fail> {
        match self.processes.get_mut(&pid) {
            Some(p) if p.state == ProcessState::Alive => Ok(p),
            _ => Err(Fail::new(
                MockErrno::Srch,
                "the calling process is dead (killed or exited)",
            )),
        }
    }

    /// What the kernel does when a process ends, all at once: release its owners' locks,
    /// apply its counter undo (clamped to `0..=SEMVMX`), detach its mappings (performing
    /// deferred removals). Returns `false` if `pid` was not alive.
    pub(crate) fn end_process(&mut self, pid: u32, how: ProcessState) -> bool {
        let Some(p) = self.processes.get_mut(&pid) else {
            return false;
        };
        if p.state != ProcessState::Alive {
            return false;
        }
        p.state = how;
        let mappings = core::mem::take(&mut p.mappings);
        p.owners.clear();
        self.locks.release_pid(pid);
        for c in self.counters.values_mut() {
            if let Some(adj) = c.undo.remove(&pid) {
                c.value = (c.value + adj).clamp(0, SEMVMX);
            }
        }
        for seg in mappings.into_values() {
            self.drop_attachment(seg);
        }
        true
    }

    /// One attachment of `seg` is gone; free the segment if it was removed and this was
    /// the last one.
    pub(crate) fn drop_attachment(&mut self, seg: SegmentId) {
        let free = match self.segments.get_mut(&seg.0) {
            Some(s) => {
                s.attach_count = s.attach_count.saturating_sub(1);
                s.removed && s.attach_count == 0
            }
            None => false,
        };
        if free {
            self.free_segment(seg);
        }
    }

    pub(crate) fn free_segment(&mut self, seg: SegmentId) {
        if let Some(s) = self.segments.remove(&seg.0) {
            self.total_bytes = self.total_bytes.saturating_sub(s.mem.len());
        }
    }
}

/// Whether `uid` may access an object of `owner`/`creator` with `mode` for `need`
/// (`0o4` read, `0o2` write, `0o6` both). Root (uid 0) may do anything; the owner class
/// applies to the owner and the creator; the mock has no groups, so everyone else gets the
/// "other" bits.
pub(crate) fn permits(uid: u32, owner: u32, creator: u32, mode: u32, need: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let bits = if uid == owner || uid == creator {
        (mode >> 6) & 0o7
    } else {
        mode & 0o7
    };
    bits & need == need
}

/// Whether `uid` may remove an object (`IPC_RMID`): root, the owner or the creator.
pub(crate) fn may_control(uid: u32, owner: u32, creator: u32) -> bool {
    uid == 0 || uid == owner || uid == creator
}

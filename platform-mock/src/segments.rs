//! Shared-memory segments and mappings: `shmget`, `shmctl`, `shmat`, `shmdt` as the Linux
//! kernel does them, reduced to the trait.
//!
//! Rules enforced here:
//! * creation is exclusive (`IPC_CREAT | IPC_EXCL`): a live segment under the key is `EEXIST`;
//!   key 0 (`IPC_PRIVATE`) always makes a new segment that cannot be found by key;
//! * memory is zero-filled and rounded up to whole pages: a mapping is `mapping_len` =
//!   rounded size long, while [`shmfits_core::shm::SegmentInfo::size`] is the size asked for;
//! * removal is deferred: the key is free at once (a new segment may be created under it,
//!   `segment_find` no longer sees the old one, `segment_info` says `removed: true, key: None`)
//!   but the memory stays, readable and writable through the existing mappings, until the last
//!   detach; a removed segment cannot be attached again (`EIDRM`);
//! * permissions: attaching needs read and write permission, `segment_info` read permission,
//!   removal needs to be the owner, the creator or root (`EPERM`). `segment_find` checks none
//!   (like `shmget(key, 0, 0)`);
//! * limits: `SHMMAX`, `SHMALL`, `SHMMNI`, `SHMSEG` (attachments per process).

use alloc::vec;

use shmfits_core::shm::{Key, SegmentId, SegmentInfo};

use crate::error::{Fail, MockErrno};
use crate::state::{may_control, permits, KernelState, Segment};

/// The mock's [`shmfits_core::shm::SharedMem::Mapping`]: an owned token for one attachment.
/// Detaching consumes it; it is only valid in the process that attached it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MockMapping {
    pub(crate) pid: u32,
    pub(crate) seg: SegmentId,
    pub(crate) number: u64,
    pub(crate) len: usize,
}

impl MockMapping {
    /// The process that attached it.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

const GONE: Fail = Fail::new(
    MockErrno::IdRemoved,
    "no segment with this id (removed or never made)",
);
const NOT_MINE: Fail = Fail::new(MockErrno::Inval, "the mapping belongs to another process");
const NOT_ATTACHED: Fail = Fail::new(MockErrno::Inval, "the mapping is not attached");

impl KernelState {
    fn segment(&self, id: SegmentId) -> Result<&Segment, Fail> {
        self.segments.get(&id.0).ok_or(GONE)
    }

    pub(crate) fn segment_create(
        &mut self,
        pid: u32,
        key: Key,
        size: usize,
    ) -> Result<SegmentId, Fail> {
        let (uid, mode) = {
            let p = self.alive(pid)?;
            (p.uid, p.create_mode)
        };
        if key != 0 && self.segments.values().any(|s| s.key == Some(key)) {
            return Err(Fail::new(
                MockErrno::Exists,
                "a segment exists under this key",
            ));
        }
        if size == 0 {
            return Err(Fail::new(MockErrno::Inval, "segment size 0"));
        }
        let limits = self.config.limits;
        if size > limits.shmmax {
            return Err(Fail::new(
                MockErrno::TooBig,
                "limit SHMMAX (segment size) reached",
            ));
        }
        let page = self.config.page_size.max(1);
        let rounded = size.div_ceil(page).checked_mul(page).ok_or(Fail::new(
            MockErrno::TooBig,
            "limit SHMMAX (segment size) reached",
        ))?;
        if self.total_bytes.saturating_add(rounded) > limits.shmall {
            return Err(Fail::new(
                MockErrno::NoSpace,
                "limit SHMALL (total segment memory) reached",
            ));
        }
        if self.segments.len() >= limits.shmmni {
            return Err(Fail::new(
                MockErrno::NoSpace,
                "limit SHMMNI (number of segments) reached",
            ));
        }
        let id = self.new_ipc_id()?;
        self.segments.insert(
            id,
            Segment {
                key: if key == 0 { None } else { Some(key) },
                size,
                mem: vec![0; rounded],
                owner_uid: uid,
                creator_uid: uid,
                creator_pid: pid,
                mode,
                attach_count: 0,
                removed: false,
            },
        );
        self.total_bytes += rounded;
        Ok(SegmentId(id))
    }

    pub(crate) fn segment_find(&self, pid: u32, key: Key) -> Result<SegmentId, Fail> {
        self.alive(pid)?;
        if key == 0 {
            return Err(Fail::new(
                MockErrno::NoEntry,
                "key 0 (IPC_PRIVATE) names no segment",
            ));
        }
        self.segments
            .iter()
            .find(|(_, s)| s.key == Some(key))
            .map(|(&id, _)| SegmentId(id))
            .ok_or(Fail::new(MockErrno::NoEntry, "no segment under this key"))
    }

    pub(crate) fn segment_info(&self, pid: u32, id: SegmentId) -> Result<SegmentInfo, Fail> {
        let uid = self.alive(pid)?.uid;
        let s = self.segment(id)?;
        if !permits(uid, s.owner_uid, s.creator_uid, s.mode, 0o4) {
            return Err(Fail::new(
                MockErrno::Access,
                "no read permission on the segment",
            ));
        }
        Ok(SegmentInfo {
            key: if s.removed { None } else { s.key },
            size: s.size,
            attach_count: s.attach_count,
            owner_uid: s.owner_uid,
            mode: s.mode,
            removed: s.removed,
        })
    }

    pub(crate) fn segment_attach(&mut self, pid: u32, id: SegmentId) -> Result<MockMapping, Fail> {
        let max = self.config.limits.max_attachments;
        let (uid, count) = {
            let p = self.alive(pid)?;
            (p.uid, p.mappings.len())
        };
        let s = self.segment(id)?;
        if s.removed {
            return Err(Fail::new(
                MockErrno::IdRemoved,
                "the segment is marked for removal",
            ));
        }
        if !permits(uid, s.owner_uid, s.creator_uid, s.mode, 0o6) {
            return Err(Fail::new(
                MockErrno::Access,
                "no read-write permission on the segment",
            ));
        }
        if count >= max {
            return Err(Fail::new(
                MockErrno::TooManyFiles,
                "limit SHMSEG (attachments per process) reached",
            ));
        }
        let len = s.mem.len();
        let p = self.alive_mut(pid)?;
        let number = p.next_mapping;
        p.next_mapping += 1;
        p.mappings.insert(number, id);
        if let Some(s) = self.segments.get_mut(&id.0) {
            s.attach_count += 1;
        }
        Ok(MockMapping {
            pid,
            seg: id,
            number,
            len,
        })
    }

    pub(crate) fn segment_detach(&mut self, pid: u32, mapping: MockMapping) -> Result<(), Fail> {
        let p = self.alive_mut(pid)?;
        if mapping.pid != pid {
            return Err(NOT_MINE);
        }
        if p.mappings.remove(&mapping.number).is_none() {
            return Err(NOT_ATTACHED);
        }
        self.drop_attachment(mapping.seg);
        Ok(())
    }

    pub(crate) fn segment_remove(&mut self, pid: u32, id: SegmentId) -> Result<(), Fail> {
        let uid = self.alive(pid)?.uid;
        let s = self.segments.get_mut(&id.0).ok_or(GONE)?;
        if !may_control(uid, s.owner_uid, s.creator_uid) {
            return Err(Fail::new(
                MockErrno::Perm,
                "only the owner, the creator or root may remove the segment",
            ));
        }
        s.removed = true;
        s.key = None;
        if s.attach_count == 0 {
            self.free_segment(id);
        }
        Ok(())
    }

    /// The memory behind a mapping of process `pid`, checked.
    fn mapped(&mut self, pid: u32, mapping: &MockMapping) -> Result<&mut [u8], Fail> {
        let p = self.alive(pid)?;
        if mapping.pid != pid {
            return Err(NOT_MINE);
        }
        if !p.mappings.contains_key(&mapping.number) {
            return Err(NOT_ATTACHED);
        }
        self.segments
            .get_mut(&mapping.seg.0)
            .map(|s| s.mem.as_mut_slice())
            .ok_or(NOT_ATTACHED)
    }

    pub(crate) fn read(
        &mut self,
        pid: u32,
        mapping: &MockMapping,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), Fail> {
        let mem = self.mapped(pid, mapping)?;
        let src = offset
            .checked_add(buf.len())
            .and_then(|end| mem.get(offset..end))
            .ok_or(Fail::new(
                MockErrno::Inval,
                "read range passes the end of the mapping",
            ))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    pub(crate) fn write(
        &mut self,
        pid: u32,
        mapping: &MockMapping,
        offset: usize,
        data: &[u8],
    ) -> Result<(), Fail> {
        let mem = self.mapped(pid, mapping)?;
        let dst = offset
            .checked_add(data.len())
            .and_then(|end| mem.get_mut(offset..end))
            .ok_or(Fail::new(
                MockErrno::Inval,
                "write range passes the end of the mapping",
            ))?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

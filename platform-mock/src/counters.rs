//! Counters: one System V semaphore per set, changed with `SEM_UNDO | IPC_NOWAIT`.
//!
//! Rules enforced here:
//! * creation is exclusive under the key (key 0 always makes a new, unfindable counter);
//!   the value starts at 0;
//! * `counter_add` records the negated delta as the calling process's undo adjustment; when
//!   the process ends, the adjustment is added to the value, clamped to `0..=32767` (Linux);
//! * a change below zero is `EAGAIN` ([`shmfits_core::shm::ErrorKind::WouldBlock`]) and
//!   changes nothing; above `SEMVMX` (32767), or an undo adjustment beyond `±SEMAEM`, is
//!   `ERANGE`; a delta of 0 (System V's "wait for zero") is not an addition and is refused
//!   with `EINVAL`;
//! * permissions: `counter_info` needs read, `counter_add` write ("alter") permission,
//!   `counter_remove` the owner, the creator or root;
//! * removal is immediate: later calls on the id are `EIDRM`, the undo entries vanish;
//! * `counter_find` answers for every key (`None` for key 0 and for keys without a counter),
//!   checking no permission, like `semget(key, 0, 0)`.

use alloc::collections::BTreeMap;

use shmfits_core::shm::{CounterId, CounterInfo, Key};

use crate::error::{Fail, MockErrno};
use crate::state::{may_control, permits, Counter, KernelState, SEMVMX};

const GONE: Fail = Fail::new(
    MockErrno::IdRemoved,
    "no counter with this id (removed or never made)",
);

impl KernelState {
    pub(crate) fn counter_create(&mut self, pid: u32, key: Key) -> Result<CounterId, Fail> {
        let (uid, mode) = {
            let p = self.alive(pid)?;
            (p.uid, p.create_mode)
        };
        if key != 0 && self.counters.values().any(|c| c.key == Some(key)) {
            return Err(Fail::new(
                MockErrno::Exists,
                "a counter exists under this key",
            ));
        }
        if self.counters.len() >= self.config.limits.semmni {
            return Err(Fail::new(
                MockErrno::NoSpace,
                "limit SEMMNI (number of counters) reached",
            ));
        }
        let id = self.new_ipc_id()?;
        self.counters.insert(
            id,
            Counter {
                key: if key == 0 { None } else { Some(key) },
                value: 0,
                owner_uid: uid,
                creator_uid: uid,
                mode,
                undo: BTreeMap::new(),
            },
        );
        Ok(CounterId(id))
    }

    pub(crate) fn counter_find(&self, pid: u32, key: Key) -> Result<Option<CounterId>, Fail> {
        self.alive(pid)?;
        if key == 0 {
            return Ok(None);
        }
        Ok(self
            .counters
            .iter()
            .find(|(_, c)| c.key == Some(key))
            .map(|(&id, _)| CounterId(id)))
    }

    pub(crate) fn counter_info(&self, pid: u32, id: CounterId) -> Result<CounterInfo, Fail> {
        let uid = self.alive(pid)?.uid;
        let c = self.counters.get(&id.0).ok_or(GONE)?;
        if !permits(uid, c.owner_uid, c.creator_uid, c.mode, 0o4) {
            return Err(Fail::new(
                MockErrno::Access,
                "no read permission on the counter",
            ));
        }
        Ok(CounterInfo {
            key: c.key,
            value: u32::try_from(c.value).unwrap_or(0),
            owner_uid: c.owner_uid,
            mode: c.mode,
        })
    }

    pub(crate) fn counter_add(&mut self, pid: u32, id: CounterId, delta: i16) -> Result<(), Fail> {
        let uid = self.alive(pid)?.uid;
        let c = self.counters.get_mut(&id.0).ok_or(GONE)?;
        if !permits(uid, c.owner_uid, c.creator_uid, c.mode, 0o2) {
            return Err(Fail::new(
                MockErrno::Access,
                "no alter permission on the counter",
            ));
        }
        if delta == 0 {
            return Err(Fail::new(
                MockErrno::Inval,
                "delta 0 is not an addition (System V would wait for zero)",
            ));
        }
        let delta = i32::from(delta);
        let value = c.value + delta;
        if value < 0 {
            return Err(Fail::new(
                MockErrno::Again,
                "the counter would go below zero",
            ));
        }
        if value > SEMVMX {
            return Err(Fail::new(
                MockErrno::Range,
                "limit SEMVMX (counter value) reached",
            ));
        }
        let adj = c.undo.get(&pid).copied().unwrap_or(0) - delta;
        if !(-SEMVMX - 1..=SEMVMX).contains(&adj) {
            return Err(Fail::new(
                MockErrno::Range,
                "limit SEMAEM (undo adjustment) reached",
            ));
        }
        c.value = value;
        if adj == 0 {
            c.undo.remove(&pid);
        } else {
            c.undo.insert(pid, adj);
        }
        Ok(())
    }

    pub(crate) fn counter_remove(&mut self, pid: u32, id: CounterId) -> Result<(), Fail> {
        let uid = self.alive(pid)?.uid;
        let c = self.counters.get(&id.0).ok_or(GONE)?;
        if !may_control(uid, c.owner_uid, c.creator_uid) {
            return Err(Fail::new(
                MockErrno::Perm,
                "only the owner, the creator or root may remove the counter",
            ));
        }
        self.counters.remove(&id.0);
        Ok(())
    }
}

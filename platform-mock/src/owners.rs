//! Lock owners and the lock calls: `open` of the lock file (one open file description per
//! owner) and `fcntl(F_OFD_SETLK / F_OFD_SETLKW)` on it.
//!
//! The mock never waits. A lock that cannot be granted fails at once:
//! * [`Wait::No`] with `EAGAIN` ([`shmfits_core::shm::ErrorKind::WouldBlock`]);
//! * [`Wait::Forever`] with `EAGAIN` too, as the trait allows for a simulated platform: a
//!   deterministic simulation has no other thread that could release the lock while the
//!   caller waits, so waiting would hang the test. The detail says so. When *every*
//!   conflicting lock belongs to another owner of the calling process itself, the wait could
//!   never end (a simulated process is single-threaded; a real one would hang, since the
//!   kernel does not detect deadlocks between open file descriptions): the mock reports
//!   `EDEADLK` ([`shmfits_core::shm::ErrorKind::Deadlock`]);
//! * [`Wait::Timeout`] with `ETIMEDOUT` ([`shmfits_core::shm::ErrorKind::TimedOut`]), as
//!   if the whole timeout had passed (no simulated time passes).
//!
//! A refused lock changes nothing: a converting owner keeps the lock it had.

use shmfits_core::shm::{LockKind, LockRange, Wait};

use crate::error::{Fail, MockErrno};
use crate::locks::{bounds, MockLockOwner};
use crate::state::KernelState;

const BAD_OWNER: Fail = Fail::new(
    MockErrno::BadF,
    "the lock owner is not open in this process (released, or another process's)",
);
const EMPTY: Fail = Fail::new(MockErrno::Inval, "lock range of length 0");

impl KernelState {
    fn check_owner(&self, pid: u32, owner: MockLockOwner) -> Result<(), Fail> {
        let p = self.alive(pid)?;
        if owner.pid != pid || !p.owners.contains(&owner.index) {
            return Err(BAD_OWNER);
        }
        Ok(())
    }

    pub(crate) fn lock_owner_new(&mut self, pid: u32) -> Result<MockLockOwner, Fail> {
        let max = self.config.limits.max_lock_owners;
        let p = self.alive_mut(pid)?;
        if p.owners.len() >= max {
            return Err(Fail::new(
                MockErrno::TooManyFiles,
                "limit on lock owners per process (RLIMIT_NOFILE) reached",
            ));
        }
        let index = p.next_owner;
        p.next_owner = p.next_owner.checked_add(1).ok_or(Fail::new(
            MockErrno::TooManyFiles,
            "lock owner numbers exhausted",
        ))?;
        p.owners.insert(index);
        Ok(MockLockOwner { pid, index })
    }

    pub(crate) fn lock_owner_release(
        &mut self,
        pid: u32,
        owner: MockLockOwner,
    ) -> Result<(), Fail> {
        self.check_owner(pid, owner)?;
        self.locks.release_owner(owner);
        if let Some(p) = self.processes.get_mut(&pid) {
            p.owners.remove(&owner.index);
        }
        Ok(())
    }

    pub(crate) fn lock(
        &mut self,
        pid: u32,
        owner: MockLockOwner,
        range: LockRange,
        kind: LockKind,
        wait: Wait,
    ) -> Result<(), Fail> {
        self.check_owner(pid, owner)?;
        let (start, end) = bounds(range).ok_or(EMPTY)?;
        if self.locks.conflict(owner, start, end, kind).is_some() {
            if wait == Wait::Forever
                && self
                    .locks
                    .only_own_process_conflicts(owner, start, end, kind)
            {
                return Err(Fail::new(
                    MockErrno::Deadlock,
                    "waiting forever for a lock held by another owner of the same process would never end",
                ));
            }
            return Err(match wait {
                Wait::No => Fail::new(MockErrno::Again, "the range is locked by another owner"),
                Wait::Forever => Fail::new(
                    MockErrno::Again,
                    "the range is locked by another owner (the mock reports a wait that would block instead of hanging)",
                ),
                Wait::Timeout(_) => Fail::new(MockErrno::TimedOut, "the range stayed locked by another owner for the whole timeout"),
            });
        }
        self.locks.set(owner, start, end, kind);
        Ok(())
    }

    pub(crate) fn unlock(
        &mut self,
        pid: u32,
        owner: MockLockOwner,
        range: LockRange,
    ) -> Result<(), Fail> {
        self.check_owner(pid, owner)?;
        let (start, end) = bounds(range).ok_or(EMPTY)?;
        self.locks.clear(owner, start, end);
        Ok(())
    }
}

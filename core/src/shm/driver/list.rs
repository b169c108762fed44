//! List the table with lock states probed without waiting.

use core::fmt;

use super::{Driver, Res};
use crate::shm::error::{lock_error, plat};
use crate::shm::layout::{check_entry, Corrupt, RawEntry, ATTR_PERSIST};
use crate::shm::platform::{ErrorKind, Key, LockKind, LockRange, PlatformError, SharedMem, Wait};

/// Lock state of a slot, probed without waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockState {
    /// Nobody holds the slot lock.
    Unlocked,
    /// Readers hold it (shared).
    ReadLocked,
    /// A writer (or a CFITSIO attach/create/close in progress) holds it exclusively.
    WriteLocked,
}

impl fmt::Display for LockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockState::Unlocked => "unlocked",
            LockState::ReadLocked => "read-locked",
            LockState::WriteLocked => "write-locked",
        })
    }
}

/// One used slot as [`Driver::list`] saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotStatus {
    /// Slot index.
    pub slot: u32,
    /// Data segment key (as the table says).
    pub key: Key,
    /// Processes attached (the counter's value), if the counter could be read.
    pub processes: Option<u32>,
    /// FITS bytes (table size − 16).
    pub size: u64,
    /// Attribute flags (`RESIZE` = 4, `PERSIST` = 8).
    pub attr: u8,
    /// Write locks the table claims (`nprocdebug`).
    pub nprocdebug: i32,
    /// Lock state, probed without waiting.
    pub lock: LockState,
    /// Why the entry is inconsistent, if it is.
    pub corrupt: Option<Corrupt>,
}

impl SlotStatus {
    /// A blank status to fill an output buffer for [`Driver::list`] with:
    /// `let mut out = [SlotStatus::EMPTY; 16];`
    pub const EMPTY: SlotStatus = SlotStatus {
        slot: 0,
        key: -1,
        processes: None,
        size: 0,
        attr: 0,
        nprocdebug: 0,
        lock: LockState::Unlocked,
        corrupt: None,
    };

    /// Whether the file is deleted and waits for its last close.
    pub fn deleted(&self) -> bool {
        self.attr & ATTR_PERSIST == 0
    }
}

impl<P: SharedMem, const N: usize> Driver<P, N> {
    /// List the used slots into `out` (at most `out.len()`), returning how many were written.
    /// Entries are read without a lock (a snapshot); each slot's lock state is probed with a
    /// temporary lock owner without waiting.
    ///
    /// # Errors
    /// Platform errors reading the table or creating the probe owner.
    pub fn list(&self, out: &mut [SlotStatus]) -> Res<usize, P> {
        let mut n = 0;
        for slot in 0..self.config.slots {
            if n >= out.len() {
                break;
            }
            let raw = self.read_raw(slot)?;
            if raw == RawEntry::CLEARED {
                continue;
            }
            let corrupt = check_entry(&raw, slot, &self.keys).err();
            let processes = if raw.sem >= 0 {
                self.platform
                    .counter_info(crate::shm::platform::CounterId(raw.sem))
                    .ok()
                    .filter(|c| c.key == Some(raw.semkey))
                    .map(|c| c.value)
            } else {
                None
            };
            let status = SlotStatus {
                slot,
                key: raw.key,
                processes,
                size: u64::try_from(raw.size).unwrap_or(0).saturating_sub(16),
                attr: raw.attr,
                nprocdebug: raw.nprocdebug,
                lock: self.probe_lock(slot)?,
                corrupt,
            };
            if let Some(o) = out.get_mut(n) {
                *o = status;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Probe a slot's lock state without waiting, with a temporary owner.
    ///
    /// # Errors
    /// Platform errors other than "would block".
    pub fn probe_lock(&self, slot: u32) -> Res<LockState, P> {
        let owner = self
            .platform
            .lock_owner_new()
            .map_err(plat(slot, "lock owner"))?;
        let range = LockRange::slot(slot);
        let r = (|| {
            match self
                .platform
                .lock(owner, range, LockKind::Exclusive, Wait::No)
            {
                Ok(()) => return Ok(LockState::Unlocked),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(lock_error(slot, "probe lock", e)),
            }
            match self.platform.lock(owner, range, LockKind::Shared, Wait::No) {
                Ok(()) => Ok(LockState::ReadLocked),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(LockState::WriteLocked),
                Err(e) => Err(lock_error(slot, "probe lock", e)),
            }
        })();
        self.drop_owner(owner, slot);
        r
    }
}

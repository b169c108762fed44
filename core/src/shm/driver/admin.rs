//! Delete, list, recover and shutdown. The protocol reasoning is in the
//! [driver module docs](super).

use core::fmt;

use zerocopy::FromBytes;

use super::{Driver, Handle, Mode, Res};
use crate::shm::error::{lock_error, plat, Error};
use crate::shm::layout::{
    check_against_segment, check_block_header, check_entry, BlockHeader, Corrupt, Entry,
    EntryState, RawEntry, ATTR_PERSIST, ATTR_RESIZE, BLOCK_HEADER_SIZE, GRANULE,
};
use crate::shm::platform::{
    ErrorKind, Key, LockKind, LockRange, PlatformError, SegmentId, SharedMem, Wait,
};
use crate::shm::state::State;

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
    /// Whether the file is deleted and waits for its last close.
    pub fn deleted(&self) -> bool {
        self.attr & ATTR_PERSIST == 0
    }
}

/// What [`Driver::recover`] did with one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverAction {
    /// Healthy (or free): left alone.
    Healthy,
    /// Someone holds the slot lock: skipped.
    Busy,
    /// Repaired in place, data kept (what was wrong).
    Repaired(&'static str),
    /// Broken beyond repair, or deleted with nobody attached: removed (why).
    Removed(&'static str),
}

/// Summary of a [`Driver::recover`] run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoverReport {
    /// Slots looked at.
    pub checked: u32,
    /// Slots left alone because they are healthy or free.
    pub healthy: u32,
    /// Slots skipped because their lock was held.
    pub busy: u32,
    /// Slots repaired in place.
    pub repaired: u32,
    /// Slots whose file was removed.
    pub removed: u32,
    /// Orphan data segments and counters (ours, named by no entry) removed.
    pub orphans_removed: u32,
}

impl<P: SharedMem, const N: usize> Driver<P, N> {
    /// Delete the file `name`: mark it deleted at once (new opens fail with
    /// [`Error::NotFound`]), free it now if nobody has it attached, otherwise the last close
    /// frees it. Never waits.
    ///
    /// If a handle of this driver holds the file read-write, the mark is made through it and
    /// its close frees the file.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an empty or already deleted slot; [`Error::WouldBlock`] if
    /// another process holds the file read-write; [`Error::Corrupt`]; platform errors.
    pub fn delete(&mut self, name: &str) -> Res<(), P> {
        let slot = self.parse(name)?.slot;
        if let Some(i) = self
            .locals
            .iter()
            .position(|l| l.slot == slot && l.state == State::WriteLocked)
        {
            return self.delete_through(i, slot);
        }
        let owner = self
            .platform
            .lock_owner_new()
            .map_err(plat(slot, "lock owner"))?;
        let range = LockRange::slot(slot);
        let result = (|| {
            let exclusive = match self
                .platform
                .lock(owner, range, LockKind::Exclusive, Wait::No)
            {
                Ok(()) => true,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.platform
                        .lock(owner, range, LockKind::Shared, Wait::No)
                        .map_err(|e| lock_error(slot, "lock slot to delete", e))?;
                    false
                }
                Err(e) => return Err(lock_error(slot, "lock slot to delete", e)),
            };
            let mut e = match self.read_entry(slot)? {
                EntryState::Used(e) if e.persistent() => e,
                _ => return Err(Error::NotFound { slot }),
            };
            e.attr = ATTR_RESIZE;
            if exclusive {
                self.write_raw(slot, &RawEntry::used(&e))?;
                let count = self
                    .platform
                    .counter_info(e.sem)
                    .map_err(plat(slot, "read counter"))?;
                if count.value == 0 {
                    self.destroy(slot, &e)?;
                }
                Ok(None)
            } else {
                // Only the attribute byte: readers hold the slot, nothing else may change.
                self.write_attr(slot, ATTR_RESIZE)?;
                let count = self
                    .platform
                    .counter_info(e.sem)
                    .map_err(plat(slot, "read counter"))?;
                Ok((count.value == 0).then_some(e))
            }
        })();
        self.drop_owner(owner, slot);
        if let Some(e) = result? {
            self.try_reap(slot, Some(&e))?;
        }
        Ok(())
    }

    fn delete_through(&mut self, index: usize, slot: u32) -> Res<(), P> {
        let l = self.locals.get(index).ok_or(Error::BadHandle)?;
        let e = l.entry.ok_or(Error::LogicBug {
            what: "open handle without entry",
        })?;
        if !e.persistent() {
            return Err(Error::NotFound { slot });
        }
        // Only the attribute byte: a pending shadow must not be published by this.
        self.write_attr(slot, ATTR_RESIZE)?;
        if let Some(l) = self.locals.get_mut(index) {
            for x in [&mut l.entry, &mut l.committed].into_iter().flatten() {
                x.attr = ATTR_RESIZE;
            }
        }
        Ok(())
    }

    fn write_attr(&self, slot: u32, attr: u8) -> Res<(), P> {
        let off = self.entry_offset(slot)? + 24;
        self.platform
            .write(self.table()?, off, &[attr])
            .map_err(plat(slot, "write attributes"))
    }

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

    /// Repair or remove what is really broken, in one slot or (with `None`) in all slots,
    /// plus orphan data segments. Slots whose lock is held are skipped. Healthy persistent
    /// files with no process attached are left alone.
    ///
    /// # Errors
    /// Platform errors creating lock owners or reading the table; per-slot failures are
    /// returned as the first error after all slots were tried.
    pub fn recover(&mut self, slot: Option<u32>) -> Res<RecoverReport, P> {
        let mut report = RecoverReport::default();
        let (lo, hi) = match slot {
            Some(s) if s < self.config.slots => (s, s + 1),
            Some(s) => {
                return Err(Error::BadConfig {
                    what: "slot beyond the slot count",
                    value: i64::from(s),
                })
            }
            None => (0, self.config.slots),
        };
        let mut first = None;
        for s in lo..hi {
            report.checked += 1;
            if self
                .locals
                .iter()
                .any(|l| l.slot == s && l.state != State::Free)
            {
                report.busy += 1;
                continue;
            }
            match self.recover_slot(s) {
                Ok(RecoverAction::Healthy) => report.healthy += 1,
                Ok(RecoverAction::Busy) => report.busy += 1,
                Ok(RecoverAction::Repaired(_)) => report.repaired += 1,
                Ok(RecoverAction::Removed(_)) => report.removed += 1,
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if slot.is_none() {
            match self.remove_orphans() {
                Ok(n) => report.orphans_removed = n,
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Recover one slot; see [`Driver::recover`].
    ///
    /// # Errors
    /// Platform errors.
    pub fn recover_slot(&mut self, slot: u32) -> Res<RecoverAction, P> {
        let owner = self
            .platform
            .lock_owner_new()
            .map_err(plat(slot, "lock owner"))?;
        let r = (|| {
            match self
                .platform
                .lock(owner, LockRange::slot(slot), LockKind::Exclusive, Wait::No)
            {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(RecoverAction::Busy),
                Err(e) => return Err(lock_error(slot, "lock slot to recover", e)),
            }
            self.recover_locked(slot)
        })();
        self.drop_owner(owner, slot);
        r
    }

    fn recover_locked(&mut self, slot: u32) -> Res<RecoverAction, P> {
        let raw = self.read_raw(slot)?;
        let e = match check_entry(&raw, slot, &self.keys) {
            Ok(EntryState::Free) => return Ok(RecoverAction::Healthy),
            Ok(EntryState::Used(e)) => e,
            Err(c) => {
                // Remove only kernel objects that match the entry by key and id.
                self.remove_matching(&raw);
                self.write_raw(slot, &RawEntry::CLEARED)?;
                return Ok(RecoverAction::Removed(c.what));
            }
        };
        // The segment: found by key, same id, sizes and headers consistent.
        if let Err(err) = self.check_segment(slot, &e) {
            match err {
                Error::Corrupt(c) => {
                    self.remove_matching(&raw);
                    self.write_raw(slot, &RawEntry::CLEARED)?;
                    return Ok(RecoverAction::Removed(c.what));
                }
                other => return Err(other),
            }
        }
        let mut fixed = e;
        let mut what = None;
        // The counter: recreate it if it is gone.
        let count = match self.platform.counter_info(e.sem) {
            Ok(c) if c.key == Some(e.semkey) => {
                self.check_owner(slot, "counter", c.owner_uid)?;
                c.value
            }
            Ok(_) | Err(_) => match self.platform.counter_create(e.semkey) {
                Ok(id) => {
                    fixed.sem = id;
                    what = Some("counter recreated");
                    0
                }
                Err(err) => return Err(plat(slot, "recreate counter")(err)),
            },
        };
        if fixed.nprocdebug != 0 {
            // We hold the exclusive lock: no writer is alive.
            fixed.nprocdebug = 0;
            what = Some(what.map_or("nprocdebug of a dead writer reset", |_| {
                "counter recreated, nprocdebug reset"
            }));
        }
        if !fixed.persistent() && count == 0 {
            self.destroy(slot, &fixed)?;
            return Ok(RecoverAction::Removed("deleted, no process attached"));
        }
        match what {
            Some(w) => {
                self.write_raw(slot, &RawEntry::used(&fixed))?;
                Ok(RecoverAction::Repaired(w))
            }
            None => Ok(RecoverAction::Healthy),
        }
    }

    fn check_segment(&self, slot: u32, e: &Entry) -> Res<(), P> {
        let corrupt = |what, value: i64| Error::Corrupt(Corrupt { slot, what, value });
        match self.platform.segment_find(e.key) {
            Ok(id) if id == e.handle => {}
            Ok(_) => {
                return Err(corrupt(
                    "segment id (key finds another)",
                    i64::from(e.handle.0),
                ))
            }
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(corrupt("segment gone", i64::from(e.key)))
            }
            Err(err) => return Err(plat(slot, "find segment")(err)),
        }
        let info = self
            .platform
            .segment_info(e.handle)
            .map_err(plat(slot, "stat segment"))?;
        self.check_owner(slot, "data segment", info.owner_uid)?;
        check_against_segment(e, slot, info.size)?;
        let m = self
            .platform
            .segment_attach(e.handle)
            .map_err(plat(slot, "attach segment"))?;
        let r = self.read_block_header(slot, &m).and_then(|bh| {
            check_block_header(&bh, slot)?;
            Ok(())
        });
        let _ = self.platform.segment_detach(m);
        r
    }

    fn read_block_header(&self, slot: u32, m: &P::Mapping) -> Res<BlockHeader, P> {
        let mut b = [0u8; BLOCK_HEADER_SIZE];
        self.platform
            .read(m, 0, &mut b)
            .map_err(plat(slot, "read block header"))?;
        BlockHeader::read_from_bytes(&b[..]).map_err(|_| Error::LogicBug {
            what: "block header size",
        })
    }

    /// Remove the segment and counter a (possibly corrupt) raw entry names, but only those
    /// whose kernel key matches the entry and lies in our data key range.
    fn remove_matching(&self, raw: &RawEntry) {
        if self.keys.is_data_key(raw.key) && raw.handle >= 0 {
            if let Ok(id) = self.platform.segment_find(raw.key) {
                let mine =
                    matches!(self.platform.segment_info(id), Ok(i) if self.ours(i.owner_uid));
                if id == SegmentId(raw.handle) && mine {
                    let _ = self.platform.segment_remove(id);
                }
            }
        }
        if self.keys.is_data_key(raw.semkey) && raw.sem >= 0 {
            let id = crate::shm::platform::CounterId(raw.sem);
            if let Ok(c) = self.platform.counter_info(id) {
                if c.key == Some(raw.semkey) && c.value == 0 && self.ours(c.owner_uid) {
                    let _ = self.platform.counter_remove(id);
                }
            }
        }
    }

    /// Remove data segments under our key range that carry our block header, are named by no
    /// table entry, and have no attachment, each checked under its slot's exclusive lock
    /// (a growing writer holds that lock while its new segment is not yet published).
    fn remove_orphans(&mut self) -> Res<u32, P> {
        let mut removed = 0;
        for j in 1..u64::from(self.keys.range()) {
            let Some(key) = self.keys.key_at(j) else {
                continue;
            };
            let Ok(id) = self.platform.segment_find(key) else {
                continue;
            };
            let Ok(info) = self.platform.segment_info(id) else {
                continue;
            };
            if info.attach_count != 0 || info.key != Some(key) || !self.ours(info.owner_uid) {
                continue;
            }
            let Ok(m) = self.platform.segment_attach(id) else {
                continue;
            };
            let bh = self.read_block_header(0, &m);
            let _ = self.platform.segment_detach(m);
            let Ok(bh) = bh else { continue };
            // Which lock makes the decision safe: a marked segment belongs to the slot in its
            // header, whose creator or grower holds that slot's lock while the segment is not
            // yet published. An unmarked one (all-zero header, granule-sized: made, then the
            // process died before it wrote the header) may belong to any slot: take them all.
            let unmarked = bh.id == [0, 0]
                && bh.tflag == 0
                && bh.pad == 0
                && bh.slot == 0
                && info.size % GRANULE == 0;
            let (slot, range) = if unmarked {
                (0, LockRange::all(self.config.slots))
            } else {
                let Ok(slot) = u32::try_from(bh.slot) else {
                    continue;
                };
                if slot >= self.config.slots || check_block_header(&bh, slot).is_err() {
                    continue;
                }
                (slot, LockRange::slot(slot))
            };
            if self
                .locals
                .iter()
                .any(|l| (unmarked || l.slot == slot) && l.state != State::Free)
            {
                continue;
            }
            let owner = self
                .platform
                .lock_owner_new()
                .map_err(plat(slot, "lock owner"))?;
            let done = (|| -> Res<bool, P> {
                if self
                    .platform
                    .lock(owner, range, LockKind::Exclusive, Wait::No)
                    .is_err()
                {
                    return Ok(false);
                }
                for s in 0..self.config.slots {
                    let raw = self.read_raw(s)?;
                    if raw.key == key || raw.handle == id.0 {
                        return Ok(false);
                    }
                }
                match self.platform.segment_info(id) {
                    Ok(i) if i.attach_count == 0 && i.key == Some(key) => {}
                    _ => return Ok(false),
                }
                Ok(self.platform.segment_remove(id).is_ok())
            })();
            let _ = self.platform.unlock(owner, range);
            let _ = self.platform.lock_owner_release(owner);
            if done? {
                removed += 1;
            }
        }
        removed += self.remove_orphan_counters()?;
        Ok(removed)
    }

    /// Remove counters under our data keys that no entry names (`semkey`), that are ours and
    /// at 0, under the lock on all slots (every creator holds its slot's lock until its entry
    /// names its counter). Needs [`SharedMem::counter_find`]; without it, finds nothing.
    fn remove_orphan_counters(&mut self) -> Res<u32, P> {
        if self.locals.iter().any(|l| l.state != State::Free) {
            return Ok(0);
        }
        let owner = self
            .platform
            .lock_owner_new()
            .map_err(|error| Error::Platform {
                slot: None,
                step: "lock owner",
                error,
            })?;
        let all = LockRange::all(self.config.slots);
        let r = (|| -> Res<u32, P> {
            if self
                .platform
                .lock(owner, all, LockKind::Exclusive, Wait::No)
                .is_err()
            {
                return Ok(0);
            }
            let mut removed = 0;
            for j in 1..u64::from(self.keys.range()) {
                let Some(key) = self.keys.key_at(j) else {
                    continue;
                };
                let Ok(Some(id)) = self.platform.counter_find(key) else {
                    continue;
                };
                let mut named = false;
                for s in 0..self.config.slots {
                    let raw = self.read_raw(s)?;
                    if raw.semkey == key || raw.sem == id.0 {
                        named = true;
                        break;
                    }
                }
                if named {
                    continue;
                }
                match self.platform.counter_info(id) {
                    Ok(c)
                        if c.key == Some(key)
                            && c.value == 0
                            && self.ours(c.owner_uid)
                            && self.platform.counter_remove(id).is_ok() =>
                    {
                        removed += 1;
                    }
                    _ => {}
                }
            }
            Ok(removed)
        })();
        let _ = self.platform.unlock(owner, all);
        let _ = self.platform.lock_owner_release(owner);
        r
    }

    /// Close every open handle (keeping all written data), detach the global table, and
    /// remove the table if no slot is in use and no other process has it attached.
    ///
    /// # Errors
    /// The first error of the closes or the table detach; everything is attempted.
    pub fn shutdown(mut self) -> Res<(), P> {
        let mut first = None;
        for i in 0..N {
            let Some(l) = self.locals.get(i) else { break };
            if l.state == State::Free {
                continue;
            }
            let h = Handle {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                generation: l.generation,
            };
            let r = if l.state.is_open() {
                self.close(h)
            } else {
                if let Some(o) = l.owner {
                    self.drop_owner(o, l.slot);
                }
                self.force_free(h)
            };
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        if let Err(e) = self.detach_table() {
            first.get_or_insert(e);
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn detach_table(&mut self) -> Res<(), P> {
        let Some(table) = self.table.take() else {
            return Ok(());
        };
        let id = self.platform.mapping_id(&table);
        let tab_err = |step| {
            move |error: P::Error| Error::Platform {
                slot: None,
                step,
                error,
            }
        };
        let owner = match self.platform.lock_owner_new() {
            Ok(o) => o,
            Err(e) => {
                let _ = self.platform.segment_detach(table);
                return Err(tab_err("lock owner")(e));
            }
        };
        let all = LockRange::all(self.config.slots);
        let mut remove = false;
        if self
            .platform
            .lock(owner, all, LockKind::Exclusive, Wait::No)
            .is_ok()
        {
            let mut empty = true;
            for s in 0..self.config.slots {
                let mut buf = [0u8; crate::shm::layout::ENTRY_SIZE];
                let off = s as usize * crate::shm::layout::ENTRY_SIZE;
                match self.platform.read(&table, off, &mut buf) {
                    Ok(()) => {
                        if RawEntry::read_from_bytes(&buf[..]).ok() != Some(RawEntry::CLEARED) {
                            empty = false;
                            break;
                        }
                    }
                    Err(_) => {
                        empty = false;
                        break;
                    }
                }
            }
            if empty {
                remove = matches!(self.platform.segment_info(id), Ok(i) if i.attach_count <= 1);
            }
        }
        let detached = self
            .platform
            .segment_detach(table)
            .map_err(tab_err("global table detach"));
        let removed = if remove && detached.is_ok() {
            self.platform
                .segment_remove(id)
                .map_err(tab_err("global table remove"))
        } else {
            Ok(())
        };
        let _ = self.platform.unlock(owner, all);
        let _ = self.platform.lock_owner_release(owner);
        detached.and(removed)
    }

    /// Whether a handle of this driver is open on `slot` with `mode`.
    pub fn holds(&self, slot: u32, mode: Mode) -> bool {
        self.locals
            .iter()
            .any(|l| l.slot == slot && l.state.is_open() && l.mode == mode)
    }
}

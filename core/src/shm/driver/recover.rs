//! Recover: repair or remove only what is really broken, and sweep orphans. The protocol
//! reasoning is in the [driver module docs](super).

use zerocopy::{FromBytes, IntoBytes};

use super::{Driver, Res};
use crate::shm::error::{lock_error, plat, Error};
use crate::shm::layout::{
    check_against_segment, check_block_header, check_entry, check_file_header, BlockHeader,
    Corrupt, Entry, EntryState, FileHeader, RawEntry, BLOCK_HEADER_SIZE, FILE_HEADER_SIZE, FILE_ID,
    FILE_ID_DELETED, GRANULE,
};
use crate::shm::platform::{
    CounterId, ErrorKind, LockKind, LockRange, PlatformError, SegmentId, SharedMem, Wait,
};
use crate::shm::state::State;

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
            self.platform
                .checkpoint(crate::shm::step::Step::RecoverLocked);
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
        // The segment: found by key, same id, sizes and block header consistent.
        let header_fixed = match self.check_segment(slot, &e) {
            Ok(f) => f,
            Err(Error::Corrupt(c)) => {
                self.remove_matching(&raw);
                self.write_raw(slot, &RawEntry::CLEARED)?;
                return Ok(RecoverAction::Removed(c.what));
            }
            Err(other) => return Err(other),
        };
        let mut fixed = e;
        let mut counter_fixed = CounterFix::Healthy;
        // The counter: re-find it by its key if the entry's id is wrong, recreate it if it
        // is gone.
        let count = match self.platform.counter_info(e.sem) {
            Ok(c) if c.key == Some(e.semkey) => {
                self.check_owner(slot, "counter", c.owner_uid)?;
                c.value
            }
            Err(err) if err.kind() != ErrorKind::NotFound => {
                return Err(plat(slot, "read counter")(err))
            }
            _ => match self.counter_by_semkey(slot, &e)? {
                // The id was overwritten, the counter is still there under its key: name
                // it again, keeping its count of attached processes.
                Some((id, value)) => {
                    fixed.sem = id;
                    counter_fixed = CounterFix::Refound;
                    value
                }
                // Deleted and its counter gone: a free that removed the counter (first, as
                // CFITSIO does) and then died or failed. Its key may be another file's by
                // now, so finish the free without a counter; nobody can open a deleted file.
                None if !e.persistent() => {
                    self.destroy(slot, &fixed)?;
                    return Ok(RecoverAction::Removed("deleted, counter gone"));
                }
                None => {
                    let (semkey, id) = self.recreate_counter(slot, e.semkey)?;
                    fixed.semkey = semkey;
                    fixed.sem = id;
                    counter_fixed = CounterFix::Recreated;
                    0
                }
            },
        };
        // We hold the exclusive lock: no writer is alive.
        let nproc_fixed = fixed.nprocdebug != 0;
        fixed.nprocdebug = 0;
        if !fixed.persistent() && count == 0 {
            self.destroy(slot, &fixed)?;
            return Ok(RecoverAction::Removed("deleted, no process attached"));
        }
        // A deleted file whose counter says processes are attached while the kernel has no
        // attachment of its segment: every opener (ours, CFITSIO's) attaches before it
        // counts and counts down before it detaches, so the count drifted — a neighbour's
        // `semctl(SETVAL)` cleared the undo adjustments of processes that then exited.
        // Nobody can open a deleted file: free it rather than keep it forever.
        if !fixed.persistent() {
            let info = self
                .platform
                .segment_info(fixed.handle)
                .map_err(plat(slot, "stat segment"))?;
            if info.attach_count == 0 {
                self.destroy(slot, &fixed)?;
                return Ok(RecoverAction::Removed(
                    "deleted, counter drifted with no process attached",
                ));
            }
        }
        let what = repair_what(header_fixed, counter_fixed, nproc_fixed);
        let Some(what) = what else {
            return Ok(RecoverAction::Healthy);
        };
        self.write_raw(slot, &RawEntry::used(&fixed))?;
        Ok(RecoverAction::Repaired(what))
    }

    /// The counter an entry's `semkey` finds when its `sem` names none (or another key's):
    /// `(id, value)` if it is a counter under that key, ours, at 0 (we hold the slot's
    /// exclusive lock, so no live process is attached to this file: a counter above 0 is in
    /// use by someone else), named by no other entry, and its key holds no segment but this
    /// file's (our creators make the segment first, so a create in progress under that key
    /// is seen by its segment). These are the counters the orphan sweep would remove as
    /// ours; naming one again is the gentler repair. `None` if there is none or it may be
    /// someone else's.
    fn counter_by_semkey(&self, slot: u32, e: &Entry) -> Res<Option<(CounterId, u32)>, P> {
        let id = match self.platform.counter_find(e.semkey) {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(None),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(plat(slot, "find counter")(err)),
        };
        let c = match self.platform.counter_info(id) {
            Ok(c) if c.key == Some(e.semkey) && c.value == 0 && self.ours(c.owner_uid) => c,
            Ok(_) => return Ok(None),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(plat(slot, "read counter")(err)),
        };
        match self.platform.segment_find(e.semkey) {
            Ok(seg) if seg != e.handle => return Ok(None),
            Err(err) if err.kind() != ErrorKind::NotFound => {
                return Err(plat(slot, "find segment")(err))
            }
            _ => {}
        }
        for s in (0..self.config.slots).filter(|s| *s != slot) {
            let raw = self.read_raw(s)?;
            if raw.semkey == e.semkey || raw.sem == id.0 {
                return Ok(None);
            }
        }
        Ok(Some((id, c.value)))
    }

    /// A new counter for a file whose counter is gone: under its old key, or, if another
    /// file's counter took that key meanwhile, under the next free data key.
    fn recreate_counter(&mut self, slot: u32, semkey: i32) -> Res<(i32, CounterId), P> {
        let hash = self.next_hash(0, slot);
        let keys = core::iter::once(Some(semkey))
            .chain((0..u64::from(self.keys.range())).map(|j| self.keys.key_at(j + hash)));
        for key in keys.flatten() {
            match self.platform.counter_create(key) {
                Ok(id) => return Ok((key, id)),
                Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(plat(slot, "recreate counter")(err)),
            }
        }
        Err(Error::NoKey { slot })
    }

    /// Check the segment an entry names; returns whether its file header had to be rewritten
    /// (a damaged one, or a deleted file's missing delete mark).
    fn check_segment(&self, slot: u32, e: &Entry) -> Res<bool, P> {
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
            // The block header is ours: a missing or damaged file header (a CFITSIO creator
            // that died before writing it, a stray write) is rewritten; the data is kept.
            let mut fb = [0u8; FILE_HEADER_SIZE];
            self.platform
                .read(&m, BLOCK_HEADER_SIZE, &mut fb)
                .map_err(plat(slot, "read file header"))?;
            let fh = FileHeader::read_from_bytes(&fb[..]).map_err(|_| Error::LogicBug {
                what: "file header size",
            })?;
            // A deleted file that processes still hold carries the delete mark (so that a
            // CFITSIO open fails); a delete that died before making it is finished here.
            let want = if e.persistent() {
                FILE_ID
            } else {
                FILE_ID_DELETED
            };
            let mut fixed = FileHeader::new(slot);
            fixed.id = want;
            if fh.id == want && check_file_header(&FileHeader { id: FILE_ID, ..fh }, slot).is_ok() {
                return Ok(false);
            }
            if fh.size > 0 {
                fixed.size = fh.size;
            }
            self.platform
                .write(&m, BLOCK_HEADER_SIZE, fixed.as_bytes())
                .map_err(plat(slot, "write file header"))?;
            Ok(true)
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
            let id = CounterId(raw.sem);
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
}

/// What happened to a slot's counter in [`Driver::recover`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum CounterFix {
    /// Healthy.
    Healthy,
    /// The entry's id was wrong; the counter under its key is named again.
    Refound,
    /// Gone; a new one was made.
    Recreated,
}

/// The [`RecoverAction::Repaired`] text for what was fixed, or `None` if nothing was.
fn repair_what(header: bool, counter: CounterFix, nproc: bool) -> Option<&'static str> {
    use CounterFix::{Healthy, Recreated, Refound};
    Some(match (header, counter, nproc) {
        (false, Healthy, false) => return None,
        (false, Healthy, true) => "nprocdebug of a dead writer reset",
        (false, Recreated, false) => "counter recreated",
        (false, Recreated, true) => "counter recreated, nprocdebug reset",
        (false, Refound, false) => "counter id repaired",
        (false, Refound, true) => "counter id repaired, nprocdebug reset",
        (true, Healthy, false) => "file header rewritten",
        (true, Healthy, true) => "file header rewritten, nprocdebug reset",
        (true, Recreated, false) => "file header rewritten, counter recreated",
        (true, Recreated, true) => "file header rewritten, counter recreated, nprocdebug reset",
        (true, Refound, false) => "file header rewritten, counter id repaired",
        (true, Refound, true) => "file header rewritten, counter id repaired, nprocdebug reset",
    })
}

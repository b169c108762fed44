//! Create, open (one- and two-phase), close, and the attach/validate/free steps they share.
//! The protocol reasoning is in the [driver module docs](super).

use zerocopy::{FromBytes, IntoBytes};

use super::{Driver, Handle, Mode, Pending, Res};
use crate::shm::error::{lock_error, plat, Error};
use crate::shm::layout::{
    check_against_segment, check_block_header, check_file_header, segment_len_for, BlockHeader,
    Corrupt, Entry, EntryState, FileHeader, RawEntry, ATTR_PERSIST, ATTR_RESIZE, BLOCK_HEADER_SIZE,
    FILE_HEADER_SIZE, FILE_ID_DELETED, NEW_FILE_SIZE,
};
use crate::shm::platform::{
    CounterId, ErrorKind, LockKind, LockRange, PlatformError, SegmentId, SharedMem, Wait,
};
use crate::shm::state::State;
use crate::shm::step::Step;

impl<P: SharedMem, const N: usize> Driver<P, N> {
    /// Create the file `name` (`shmem://hN`): a new segment with an empty one-block FITS
    /// area, persistent, open read-write.
    ///
    /// # Errors
    /// [`Error::BadName`]; [`Error::WouldBlock`] if the slot is locked by anyone;
    /// [`Error::Exists`]; [`Error::Corrupt`] for an inconsistent entry; [`Error::NoKey`];
    /// [`Error::TooManyHandles`]; platform errors. On error nothing is left behind.
    pub fn create(&mut self, name: &str) -> Res<Handle, P> {
        let slot = self.parse(name)?.slot;
        let h = self.alloc_local(slot, Mode::ReadWrite, State::Opening)?;
        let owner = match self.platform.lock_owner_new() {
            Ok(o) => o,
            Err(e) => {
                self.set_state(h, State::Free)?;
                return Err(plat(slot, "lock owner")(e));
            }
        };
        match self.create_locked(h, slot, owner) {
            Ok(()) => Ok(h),
            Err(e) => {
                self.drop_owner(owner, slot);
                let _ = self.force_free(h);
                Err(e)
            }
        }
    }

    fn create_locked(&mut self, h: Handle, slot: u32, owner: P::LockOwner) -> Res<(), P> {
        self.platform
            .lock(owner, LockRange::slot(slot), LockKind::Exclusive, Wait::No)
            .map_err(|e| lock_error(slot, "lock slot for create", e))?;
        match self.read_entry(slot)? {
            EntryState::Free => {}
            EntryState::Used(_) => return Err(Error::Exists { slot }),
        }
        let seg_len = segment_len_for(NEW_FILE_SIZE).ok_or(Error::LogicBug {
            what: "new segment size",
        })?;
        let hash = self.next_hash(NEW_FILE_SIZE, slot);
        let (key, seg, mapping, sem) = self.create_objects(slot, seg_len, hash)?;
        let entry = Entry {
            sem,
            semkey: key,
            key,
            handle: seg,
            size: NEW_FILE_SIZE,
            nprocdebug: 1,
            attr: ATTR_RESIZE | ATTR_PERSIST,
        };
        let steps = (|| {
            self.platform
                .counter_add(sem, 1)
                .map_err(plat(slot, "count process"))?;
            self.platform.checkpoint(Step::AfterCounterAdd);
            self.write_raw(slot, &RawEntry::used(&entry))?;
            self.platform.checkpoint(Step::AfterEntryStore);
            Ok(())
        })();
        if let Err(e) = steps {
            let _ = self.platform.segment_detach(mapping);
            let _ = self.platform.counter_remove(sem);
            let _ = self.platform.segment_remove(seg);
            // The entry may or may not have been written; we hold the exclusive lock, so
            // put it back to free.
            let _ = self.write_raw(slot, &RawEntry::CLEARED);
            return Err(e);
        }
        self.set_state(h, State::Created)?;
        let l = self.local_mut(h)?;
        l.owner = Some(owner);
        l.mapping = Some(mapping);
        l.entry = Some(entry);
        l.counted = true;
        l.pos = 0;
        self.set_state(h, State::WriteLocked)
    }

    /// Create, under the first key `K + ((j + hash) mod R)` where both can be created
    /// exclusively, a data segment (attached, both headers written) and then a counter.
    /// The order keeps crash leftovers findable: a segment without headers is removed by the
    /// all-slots orphan sweep, one with headers by the slot's sweep; only a crash between
    /// the counter's creation and the entry store leaves a counter no entry names.
    pub(super) fn create_objects(
        &self,
        slot: u32,
        seg_len: usize,
        hash: u64,
    ) -> Res<(i32, SegmentId, P::Mapping, CounterId), P> {
        for j in 0..u64::from(self.keys.range()) {
            let Some(key) = self.keys.key_at(j + hash) else {
                continue;
            };
            let seg = match self.platform.segment_create(key, seg_len) {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(plat(slot, "create segment")(e)),
            };
            self.platform.checkpoint(Step::AfterSegmentCreate);
            let m = match self.platform.segment_attach(seg) {
                Ok(m) => m,
                Err(e) => {
                    let _ = self.platform.segment_remove(seg);
                    return Err(plat(slot, "attach new segment")(e));
                }
            };
            let headers = self
                .platform
                .write(&m, 0, BlockHeader::new(slot).as_bytes())
                .map_err(plat(slot, "write block header"))
                .and_then(|()| {
                    self.platform
                        .write(&m, BLOCK_HEADER_SIZE, FileHeader::new(slot).as_bytes())
                        .map_err(plat(slot, "write file header"))
                });
            let counter = headers.inspect(|()| self.platform.checkpoint(Step::AfterHeaders));
            let counter = counter.and_then(|()| match self.platform.counter_create(key) {
                Ok(sem) => {
                    self.platform.checkpoint(Step::AfterCounterCreate);
                    Ok(Some(sem))
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(plat(slot, "create counter")(e)),
            });
            match counter {
                Ok(Some(sem)) => return Ok((key, seg, m, sem)),
                Ok(None) => {
                    let _ = self.platform.segment_detach(m);
                    let _ = self.platform.segment_remove(seg);
                }
                Err(e) => {
                    let _ = self.platform.segment_detach(m);
                    let _ = self.platform.segment_remove(seg);
                    return Err(e);
                }
            }
        }
        Err(Error::NoKey { slot })
    }

    /// Open `name` read-only or read-write, waiting for the slot lock as `wait` says.
    ///
    /// If a handle of this driver already holds a conflicting lock on the slot and `wait` is
    /// not [`Wait::No`], this fails with [`Error::Deadlock`] instead of waiting for itself.
    ///
    /// # Errors
    /// [`Error::BadName`]; [`Error::WouldBlock`], [`Error::TimedOut`], [`Error::Deadlock`]
    /// from the lock; [`Error::NotFound`] for an empty or deleted slot; [`Error::Corrupt`]
    /// when the entry or headers disagree with the kernel's objects; platform errors.
    pub fn open(&mut self, name: &str, mode: Mode, wait: Wait) -> Res<Handle, P> {
        let slot = self.parse(name)?.slot;
        if wait != Wait::No && self.conflicts_locally(slot, mode) {
            return Err(Error::Deadlock { slot });
        }
        let pending = self.open_start(name, mode)?;
        if let Err(e) = self
            .platform
            .lock(pending.owner(), pending.range(), pending.kind(), wait)
        {
            let err = lock_error(slot, "lock slot", e);
            self.open_abort(pending)?;
            return Err(err);
        }
        self.open_finish(pending)
    }

    fn conflicts_locally(&self, slot: u32, mode: Mode) -> bool {
        self.locals.iter().any(|l| {
            l.slot == slot
                && matches!(
                    l.state,
                    State::Opening
                        | State::Created
                        | State::Attached
                        | State::ReadLocked
                        | State::WriteLocked
                )
                && (mode == Mode::ReadWrite || l.mode == Mode::ReadWrite)
        })
    }

    /// First half of a two-phase open: allocate a local entry and a lock owner. The caller
    /// then takes `pending.kind()` on `pending.range()` with `pending.owner()` (for example
    /// on a clone of the platform, without holding a mutex around this driver), and calls
    /// [`Driver::open_finish`], or [`Driver::open_abort`] if the lock failed.
    ///
    /// # Errors
    /// [`Error::BadName`], [`Error::TooManyHandles`], platform errors creating the owner.
    pub fn open_start(&mut self, name: &str, mode: Mode) -> Res<Pending<P::LockOwner>, P> {
        let slot = self.parse(name)?.slot;
        let handle = self.alloc_local(slot, mode, State::Opening)?;
        match self.platform.lock_owner_new() {
            Ok(owner) => {
                self.local_mut(handle)?.owner = Some(owner);
                Ok(Pending {
                    handle,
                    slot,
                    owner,
                    mode,
                })
            }
            Err(e) => {
                self.set_state(handle, State::Free)?;
                Err(plat(slot, "lock owner")(e))
            }
        }
    }

    /// Give up a two-phase open: release the lock (if taken) and the local entry.
    ///
    /// # Errors
    /// [`Error::BadHandle`] if `pending` is not an open in progress of this driver.
    pub fn open_abort(&mut self, pending: Pending<P::LockOwner>) -> Res<(), P> {
        let h = pending.handle;
        if self.local(h)?.state != State::Opening {
            return Err(Error::BadHandle);
        }
        self.drop_owner(pending.owner, pending.slot);
        self.set_state(h, State::Free)
    }

    /// Second half of a two-phase open, with the slot lock held by `pending.owner()`:
    /// check the entry and headers, attach, count the process.
    ///
    /// On error the lock, owner and local entry are released.
    ///
    /// # Errors
    /// As [`Driver::open`] after the lock.
    pub fn open_finish(&mut self, pending: Pending<P::LockOwner>) -> Res<Handle, P> {
        let h = pending.handle;
        if self.local(h)?.state != State::Opening {
            return Err(Error::BadHandle);
        }
        match self.open_locked(&pending) {
            Ok(()) => Ok(h),
            Err(e) => {
                let reap = matches!(e, Error::NotFound { .. });
                self.drop_owner(pending.owner, pending.slot);
                let _ = self.force_free(h);
                if reap {
                    // A deleted file nobody had open: free it if we can have the slot.
                    let _ = self.try_reap(pending.slot, None);
                }
                Err(e)
            }
        }
    }

    fn open_locked(&mut self, p: &Pending<P::LockOwner>) -> Res<(), P> {
        let slot = p.slot;
        self.platform.checkpoint(Step::AfterLock);
        let entry = match self.read_entry(slot)? {
            EntryState::Free => return Err(Error::NotFound { slot }),
            EntryState::Used(e) if !e.persistent() => return Err(Error::NotFound { slot }),
            EntryState::Used(e) => e,
        };
        self.platform.checkpoint(Step::AfterEntryRead);
        let mapping = self.attach_checked(slot, &entry, p.mode == Mode::ReadWrite)?;
        if let Err(e) = self.platform.counter_add(entry.sem, 1) {
            let _ = self.platform.segment_detach(mapping);
            return Err(plat(slot, "count process")(e));
        }
        self.platform.checkpoint(Step::AfterCounterAdd);
        let mut entry = entry;
        if p.mode == Mode::ReadWrite {
            // We hold the exclusive lock: ours is the only write lock, whatever dead writers
            // left in the count (CFITSIO would add to it).
            entry.nprocdebug = 1;
            if let Err(e) = self.write_raw(slot, &RawEntry::used(&entry)) {
                let _ = self.platform.counter_add(entry.sem, -1);
                let _ = self.platform.segment_detach(mapping);
                return Err(e);
            }
        }
        self.set_state(p.handle, State::Attached)?;
        let l = self.local_mut(p.handle)?;
        l.mapping = Some(mapping);
        l.entry = Some(entry);
        l.counted = true;
        l.pos = 0;
        self.set_state(
            p.handle,
            match p.mode {
                Mode::ReadOnly => State::ReadLocked,
                Mode::ReadWrite => State::WriteLocked,
            },
        )
    }

    /// Find, check and attach the segment an entry names. Checks: the key finds exactly the
    /// entry's segment id, the kernel's key and size of it, the counter's key, the logical
    /// size against the real length, both headers.
    pub(super) fn attach_checked(
        &self,
        slot: u32,
        e: &Entry,
        exclusive: bool,
    ) -> Res<P::Mapping, P> {
        let corrupt = |what, value: i64| Error::Corrupt(Corrupt { slot, what, value });
        let found = match self.platform.segment_find(e.key) {
            Ok(id) => id,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(corrupt("segment key (no segment)", i64::from(e.key)))
            }
            Err(err) => return Err(plat(slot, "find segment")(err)),
        };
        if found != e.handle {
            return Err(corrupt(
                "segment id (key finds another segment)",
                i64::from(e.handle.0),
            ));
        }
        let info = self
            .platform
            .segment_info(e.handle)
            .map_err(plat(slot, "stat segment"))?;
        if info.key != Some(e.key) || info.removed {
            return Err(corrupt("segment key (kernel disagrees)", i64::from(e.key)));
        }
        self.check_owner(slot, "data segment", info.owner_uid)?;
        check_against_segment(e, slot, info.size)?;
        match self.platform.counter_info(e.sem) {
            Ok(ci) if ci.key == Some(e.semkey) => {
                self.check_owner(slot, "counter", ci.owner_uid)?
            }
            Ok(_) => {
                return Err(corrupt(
                    "counter key (kernel disagrees)",
                    i64::from(e.semkey),
                ))
            }
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(corrupt("counter id (no counter)", i64::from(e.sem.0)))
            }
            Err(err) => return Err(plat(slot, "stat counter")(err)),
        }
        let m = self
            .platform
            .segment_attach(e.handle)
            .map_err(plat(slot, "attach segment"))?;
        match self.check_mapping(slot, e, &m, exclusive) {
            Ok(()) => Ok(m),
            Err(err) => {
                let _ = self.platform.segment_detach(m);
                Err(err)
            }
        }
    }

    /// Check length and headers of a mapped segment. With `exclusive` (we hold the slot's
    /// exclusive lock) a missing file header is written instead of reported.
    fn check_mapping(&self, slot: u32, e: &Entry, m: &P::Mapping, exclusive: bool) -> Res<(), P> {
        check_against_segment(e, slot, self.platform.mapping_len(m))?;
        let mut hb = [0u8; BLOCK_HEADER_SIZE + FILE_HEADER_SIZE];
        self.platform
            .read(m, 0, &mut hb)
            .map_err(plat(slot, "read headers"))?;
        let (b, f) = hb.split_at(BLOCK_HEADER_SIZE);
        let bh = BlockHeader::read_from_bytes(b).map_err(|_| Error::LogicBug {
            what: "block header size",
        })?;
        let fh = FileHeader::read_from_bytes(f).map_err(|_| Error::LogicBug {
            what: "file header size",
        })?;
        check_block_header(&bh, slot)?;
        if fh == FileHeader::ZEROED {
            // A CFITSIO creator writes the file header only after it released and re-took
            // the slot lock: a zero header is a create in progress (or one that died there;
            // `recover` or a read-write open writes the header then).
            if exclusive {
                return self
                    .platform
                    .write(m, BLOCK_HEADER_SIZE, FileHeader::new(slot).as_bytes())
                    .map_err(plat(slot, "write file header"));
            }
            return Err(Error::WouldBlock { slot });
        }
        if fh.id == FILE_ID_DELETED {
            // A delete ran between our read of the entry and this check (the mark comes
            // after PERSIST is cleared): the file is gone for new opens. With PERSIST still
            // set the mark is a stray write: corrupt (recover rewrites the header).
            if let EntryState::Used(now) = self.read_entry(slot)? {
                if !now.persistent() && now.handle == e.handle {
                    return Err(Error::NotFound { slot });
                }
            }
        }
        check_file_header(&fh, slot)?;
        Ok(())
    }

    /// Close a handle. A read-write handle's data is already in the segment; close releases
    /// the lock, and frees the file if it was deleted and this was the last process.
    ///
    /// The handle is released even if a step fails; the first error is returned.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::WriteFailed`] when an earlier shadow write failed (the
    /// handle is closed all the same, its unpublished version discarded); platform errors of
    /// the steps.
    pub fn close(&mut self, h: Handle) -> Res<(), P> {
        let l = self.local(h)?;
        if !l.state.is_open() {
            return Err(Error::IllegalTransition {
                from: l.state,
                to: State::Detached,
            });
        }
        let mut publish_error = None;
        if l.write_failed {
            publish_error = Some(Error::WriteFailed { slot: l.slot });
            let _ = self.discard_shadow(h);
        } else if l.committed.is_some() {
            if let Err(e) = self.flush(h) {
                publish_error = Some(e);
                // Not published: fall back to the published version.
                let _ = self.discard_shadow(h);
            }
        }
        let l = self.local(h)?;
        let slot = l.slot;
        let mode = l.mode;
        let owner = l.owner.ok_or(Error::LogicBug {
            what: "open handle without lock owner",
        })?;
        let entry = l.entry.ok_or(Error::LogicBug {
            what: "open handle without entry",
        })?;
        let mut first: Option<Error<P::Error>> = publish_error;
        let mut keep = |r: Res<(), P>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        if mode == Mode::ReadWrite {
            // Re-read: we hold the exclusive lock, but a corrupt neighbour may have written.
            let mut cur = match self.read_entry(slot) {
                Ok(EntryState::Used(c)) if c.handle == entry.handle && c.sem == entry.sem => c,
                Ok(_) => entry,
                Err(e) => {
                    keep(Err(e));
                    entry
                }
            };
            // We held the exclusive lock: no other writer is alive, whatever a crash left.
            cur.nprocdebug = 0;
            keep(self.write_raw(slot, &RawEntry::used(&cur)));
        }
        keep(
            self.platform
                .counter_add(entry.sem, -1)
                .map_err(plat(slot, "uncount process")),
        );
        self.platform.checkpoint(Step::AfterCounterRelease);
        // The attribute is read after our decrement and the counter only when the file is
        // deleted: a delete clears the attribute before it reads the counter, so at least
        // one of us sees both "deleted" and 0 (module docs, Close). A file that is not
        // deleted costs no counter read (two system calls on System V).
        let deleted = match self.read_entry(slot) {
            Ok(EntryState::Used(c)) => {
                c.handle == entry.handle && c.sem == entry.sem && c.attr == ATTR_RESIZE
            }
            _ => false,
        };
        let mapping = self.local_mut(h)?.mapping.take();
        if let Some(m) = mapping {
            if deleted {
                // Still under our lock: make sure the delete mark is there (a deleter that
                // died between clearing PERSIST and marking left it out), so that an open
                // waiting for our lock cannot open the deleted file.
                keep(self.ensure_delete_mark(slot, &m));
            }
            keep(
                self.platform
                    .segment_detach(m)
                    .map_err(plat(slot, "detach segment")),
            );
        }
        keep(self.set_state(h, State::Detached));
        let count = if deleted {
            self.platform
                .counter_info(entry.sem)
                .map(|c| c.value)
                .map_err(plat(slot, "read counter"))
        } else {
            Ok(u32::MAX)
        };
        let mut reap = false;
        if let (Ok(0), true) = (count, deleted) {
            if mode == Mode::ReadWrite {
                // We still hold the exclusive lock.
                keep(self.destroy(slot, &entry));
                keep(self.set_state(h, State::Removed));
            } else {
                reap = true;
            }
        }
        self.drop_owner(owner, slot);
        keep(self.set_state(h, State::Free));
        if reap {
            keep(self.try_reap(slot, Some(&entry)).map(|_| ()));
        }
        match first {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Remove the segment and counter of `e` and clear the entry. Caller holds the
    /// exclusive lock of `slot`.
    pub(super) fn destroy(&self, slot: u32, e: &Entry) -> Res<(), P> {
        // Only objects that are what the entry claims (key) and ours: an edited table must
        // not make us remove someone else's segment or semaphore. A removal that fails stops
        // here with the entry untouched, so the file stays deleted and findable and the next
        // close, delete or recover tries again (nothing is left that no entry names).
        match self.platform.counter_info(e.sem) {
            Ok(c) if c.key == Some(e.semkey) && self.ours(c.owner_uid) => {
                match self.platform.counter_remove(e.sem) {
                    Ok(()) => {}
                    Err(err) if err.kind() == ErrorKind::NotFound => {}
                    Err(err) => return Err(plat(slot, "remove counter")(err)),
                }
            }
            _ => {}
        }
        match self.platform.segment_info(e.handle) {
            Ok(i) if i.key == Some(e.key) && !i.removed && self.ours(i.owner_uid) => {
                match self.platform.segment_remove(e.handle) {
                    Ok(()) => {}
                    Err(err) if err.kind() == ErrorKind::NotFound => {}
                    Err(err) => return Err(plat(slot, "remove segment")(err)),
                }
                self.platform.checkpoint(Step::AfterFreeSegment);
            }
            _ => {}
        }
        self.write_raw(slot, &RawEntry::CLEARED)
    }

    /// Free a deleted file nobody has attached, if the slot's exclusive lock can be had
    /// without waiting. With `expect`, only if the entry still names that file.
    /// Returns whether it freed the file.
    pub(super) fn try_reap(&self, slot: u32, expect: Option<&Entry>) -> Res<bool, P> {
        let owner = self
            .platform
            .lock_owner_new()
            .map_err(plat(slot, "lock owner"))?;
        let result = (|| {
            match self
                .platform
                .lock(owner, LockRange::slot(slot), LockKind::Exclusive, Wait::No)
            {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(lock_error(slot, "lock slot to free", e)),
            }
            let EntryState::Used(cur) = self.read_entry(slot)? else {
                return Ok(false);
            };
            if let Some(x) = expect {
                if cur.handle != x.handle || cur.sem != x.sem || cur.key != x.key {
                    return Ok(false);
                }
            }
            if cur.attr != ATTR_RESIZE {
                return Ok(false);
            }
            let count = self
                .platform
                .counter_info(cur.sem)
                .map_err(plat(slot, "read counter"))?;
            if count.value != 0 || count.key != Some(cur.semkey) {
                return Ok(false);
            }
            self.destroy(slot, &cur)?;
            Ok(true)
        })();
        self.drop_owner(owner, slot);
        result
    }

    /// Release everything a half-done handle holds (mapping, counter increment) and free it.
    pub(super) fn force_free(&mut self, h: Handle) -> Res<(), P> {
        let (mapping, counted, sem) = {
            let l = self.local_mut(h)?;
            (l.mapping.take(), l.counted, l.entry.map(|e| e.sem))
        };
        if let Some(m) = mapping {
            let _ = self.platform.segment_detach(m);
        }
        if let (true, Some(sem)) = (counted, sem) {
            let _ = self.platform.counter_add(sem, -1);
        }
        self.local_mut(h)?.counted = false;
        // Every state may fall back to free after undoing its steps.
        self.set_state(h, State::Free)
    }
}

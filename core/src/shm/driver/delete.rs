//! Delete by name and remove through a handle: mark deleted at once, free at the last
//! close. The protocol reasoning is in the [driver module docs](super).

use super::{Driver, Handle, Res};
use crate::shm::error::{lock_error, plat, Error};
use crate::shm::layout::{
    Entry, EntryState, RawEntry, ATTR_RESIZE, FILE_ID_DELETED, FILE_ID_OFFSET,
};
use crate::shm::platform::{ErrorKind, LockKind, LockRange, PlatformError, SharedMem, Wait};
use crate::shm::state::State;
use crate::shm::step::Step;

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
                self.platform.checkpoint(Step::AfterMarkDeleted);
                let count = self
                    .platform
                    .counter_info(e.sem)
                    .map_err(plat(slot, "read counter"))?;
                if count.value == 0 {
                    self.destroy(slot, &e)?;
                } else {
                    // Attached without the lock: a CFITSIO open between its attach and its
                    // lock. The mark makes that open fail (and free the file).
                    self.mark_header_deleted(slot, &e, true)?;
                }
                Ok(None)
            } else {
                // Only the attribute byte: readers hold the slot, nothing else may change.
                self.write_attr(slot, ATTR_RESIZE)?;
                self.platform.checkpoint(Step::AfterMarkDeleted);
                // And the file header's id, which only an open reads: CFITSIO's open waits
                // for these readers and must then fail, not open a deleted file.
                self.mark_header_deleted(slot, &e, false)?;
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

    /// Delete the file open through `h` and close `h` (CFITSIO's `smem_remove` on an open
    /// file): it is marked deleted through the lock `h` holds, and freed by this close if no
    /// other process has it, else by the last close.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::NotFound`] if it was already deleted (`h` is closed
    /// all the same); the errors of [`Driver::close`].
    pub fn remove(&mut self, h: Handle) -> Res<(), P> {
        let l = self.local(h)?;
        if !l.state.is_open() {
            return Err(Error::BadHandle);
        }
        let slot = l.slot;
        let marked = self.delete_through(h.index(), slot);
        let closed = self.close(h);
        marked.and(closed)
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
        // The handle's segment: the published one, or the shadow that close publishes
        // (publishing a deleted file's shadow marks it too, see `publish`).
        let l = self.locals.get(index).ok_or(Error::BadHandle)?;
        match &l.mapping {
            Some(m) => self.ensure_delete_mark(slot, m),
            None => Ok(()),
        }
    }

    /// Store [`FILE_ID_DELETED`] in the file header of mapping `m` unless it is there. The
    /// caller holds the slot's lock and the file is deleted.
    pub(super) fn ensure_delete_mark(&self, slot: u32, m: &P::Mapping) -> Res<(), P> {
        let mut id = [0u8; 4];
        self.platform
            .read(m, FILE_ID_OFFSET, &mut id)
            .map_err(plat(slot, "read file header"))?;
        if i32::from_ne_bytes(id) == FILE_ID_DELETED {
            return Ok(());
        }
        self.platform
            .write(m, FILE_ID_OFFSET, &FILE_ID_DELETED.to_ne_bytes())
            .map_err(plat(slot, "mark file header deleted"))
    }

    /// Store [`FILE_ID_DELETED`] in the file header of the segment `e` names (checked as an
    /// open checks it; `exclusive`: the caller holds the exclusive lock). The caller holds
    /// the slot's lock and has cleared PERSIST already; if this fails the file is deleted all
    /// the same and `recover` makes the mark.
    pub(super) fn mark_header_deleted(&self, slot: u32, e: &Entry, exclusive: bool) -> Res<(), P> {
        let m = self.attach_checked(slot, e, exclusive)?;
        let marked = self.ensure_delete_mark(slot, &m);
        let detached = self
            .platform
            .segment_detach(m)
            .map_err(plat(slot, "detach segment"));
        marked.and(detached)
    }

    fn write_attr(&self, slot: u32, attr: u8) -> Res<(), P> {
        let off = self.entry_offset(slot)? + 24;
        self.platform
            .write(self.table()?, off, &[attr])
            .map_err(plat(slot, "write attributes"))
    }
}

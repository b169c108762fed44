//! Read, write (with geometric growth), seek, size, flush and zero-copy views of open
//! handles. The protocol reasoning is in the [driver module docs](super).

use core::ops::Range;

use super::{Driver, Handle, Mode, Res, WriteMode};
use crate::shm::error::{plat, Error};
use crate::shm::layout::{
    segment_len_for, Corrupt, Entry, EntryState, RawEntry, FILE_HEADER_SIZE, FITS_OFFSET, GRANULE,
    MAX_LOGICAL_SIZE,
};
use crate::shm::platform::SharedMem;
use crate::shm::state::State;
use crate::shm::step::Step;

/// Bytes copied per platform call when a file grows (on the stack: no allocation).
const COPY_CHUNK: usize = 4096;

impl<P: SharedMem, const N: usize> Driver<P, N> {
    fn open_local(&self, h: Handle) -> Res<(&P::Mapping, Entry, u64, u32), P> {
        let l = self.local(h)?;
        if !l.state.is_open() {
            return Err(Error::BadHandle);
        }
        let m = l.mapping.as_ref().ok_or(Error::LogicBug {
            what: "open handle without mapping",
        })?;
        let e = l.entry.ok_or(Error::LogicBug {
            what: "open handle without entry",
        })?;
        Ok((m, e, l.pos, l.slot))
    }

    /// Size of the file in FITS bytes.
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn size(&self, h: Handle) -> Res<u64, P> {
        Ok(self.open_local(h)?.1.fits_len() as u64)
    }

    /// Current position.
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn position(&self, h: Handle) -> Res<u64, P> {
        Ok(self.open_local(h)?.2)
    }

    /// Move the position to `pos` (FITS bytes from the start). A position past the end is
    /// allowed: reads there return 0 bytes, writes there extend the file with zeros between.
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn seek(&mut self, h: Handle, pos: u64) -> Res<(), P> {
        self.open_local(h)?;
        self.local_mut(h)?.pos = pos;
        Ok(())
    }

    /// Read at the position into `buf`; returns the number of bytes read (0 at or past the
    /// end) and advances the position.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; platform errors.
    pub fn read(&mut self, h: Handle, buf: &mut [u8]) -> Res<usize, P> {
        let (m, e, pos, slot) = self.open_local(h)?;
        let len = e.fits_len() as u64;
        let n = len.saturating_sub(pos).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let off = usize::try_from(pos)
            .ok()
            .and_then(|p| p.checked_add(FITS_OFFSET))
            .ok_or(Error::LogicBug {
                what: "read offset overflow",
            })?;
        let dst = buf.get_mut(..n).ok_or(Error::LogicBug {
            what: "read length",
        })?;
        self.platform
            .read(m, off, dst)
            .map_err(plat(slot, "read data"))?;
        self.local_mut(h)?.pos = pos + n as u64;
        Ok(n)
    }

    /// Write `data` at the position, growing the file (and, if needed, its segment) and
    /// advancing the position. The table's size is updated before this returns, so the
    /// bytes survive the death of this process.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::ReadOnly`]; [`Error::TooLarge`] (nothing changed)
    /// when the end would pass [`MAX_FITS_SIZE`](crate::shm::MAX_FITS_SIZE);
    /// [`Error::NoKey`] or platform errors while growing (the file stays as it was). With
    /// [`WriteMode::Shadow`], any such failure abandons the handle's unpublished version:
    /// later writes and flushes fail with [`Error::WriteFailed`] and close discards it (the
    /// committed version stays).
    pub fn write(&mut self, h: Handle, data: &[u8]) -> Res<usize, P> {
        let slot = self.open_local(h)?.3;
        if self.local(h)?.mode != Mode::ReadWrite || self.local(h)?.state != State::WriteLocked {
            return Err(Error::ReadOnly { slot });
        }
        if self.local(h)?.write_failed {
            return Err(Error::WriteFailed { slot });
        }
        let r = self.write_inner(h, data);
        if let Err(ref e) = r {
            // Shadow writes are all-or-nothing per published version: once a write failed
            // part-way, the shadow may hold a half-done update, so it must never be
            // published (TooLarge is refused before anything changes and does not count).
            let l = self.local_mut(h)?;
            if l.write_mode == WriteMode::Shadow && !matches!(e, Error::TooLarge { .. }) {
                l.write_failed = true;
            }
        }
        r
    }

    fn write_inner(&mut self, h: Handle, data: &[u8]) -> Res<usize, P> {
        let (_, e, pos, slot) = self.open_local(h)?;
        let end = pos
            .checked_add(data.len() as u64)
            .filter(|end| *end <= Self::fits_max())
            .ok_or(Error::TooLarge {
                slot,
                requested: pos.saturating_add(data.len() as u64),
                max: Self::fits_max(),
            })?;
        if data.is_empty() {
            return Ok(0);
        }
        // `end` ≤ MAX_FITS_SIZE < usize::MAX on every supported target.
        let end_us = usize::try_from(end).map_err(|_| Error::TooLarge {
            slot,
            requested: end,
            max: Self::fits_max(),
        })?;
        let shadow = self.local(h)?.write_mode == WriteMode::Shadow;
        let cap = {
            let (m, _, _, _) = self.open_local(h)?;
            self.platform.mapping_len(m).saturating_sub(FITS_OFFSET)
        };
        if shadow && self.local(h)?.committed.is_none() {
            self.make_shadow(h, end_us, cap)?;
        } else if end_us > cap {
            self.grow(h, end_us, shadow)?;
        }
        let (m, _, _, _) = self.open_local(h)?;
        let start = end_us - data.len();
        // A write past the end leaves a gap that must read as zeros; the segment may hold
        // bytes there from an earlier write that failed before it was recorded.
        let mut gap = e.fits_len()..start;
        let zeros = [0u8; COPY_CHUNK];
        while !gap.is_empty() {
            let n = COPY_CHUNK.min(gap.len());
            let chunk = zeros
                .get(..n)
                .ok_or(Error::LogicBug { what: "gap chunk" })?;
            self.platform
                .write(m, FITS_OFFSET + gap.start, chunk)
                .map_err(plat(slot, "zero the gap"))?;
            gap.start += n;
        }
        self.platform
            .write(m, FITS_OFFSET + start, data)
            .map_err(plat(slot, "write data"))?;
        self.platform.checkpoint(Step::AfterDataWrite);
        if end_us > e.fits_len() {
            let mut ne = self.open_local(h)?.1;
            ne.size = end_us + FILE_HEADER_SIZE;
            if !shadow {
                self.write_raw(slot, &RawEntry::used(&ne))?;
            }
            self.local_mut(h)?.entry = Some(ne);
        }
        self.local_mut(h)?.pos = end;
        Ok(data.len())
    }

    /// Size hint: make room for a file of `fits_len` FITS bytes now, so that writes up to
    /// that size never move the file again. The file's size and contents do not change.
    /// With [`WriteMode::Shadow`] this starts the shadow (the copy a first write would make
    /// anyway). A writer that knows the final size (e.g. from NAXIS after the header)
    /// streams with one small copy instead of `log n` growing ones, and its process touches
    /// only the pages it writes. Nothing happens when the segment is big enough.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::ReadOnly`]; [`Error::TooLarge`] past
    /// [`MAX_FITS_SIZE`](crate::shm::MAX_FITS_SIZE); [`Error::NoKey`] or platform errors
    /// while growing (the file stays as it was).
    pub fn reserve(&mut self, h: Handle, fits_len: u64) -> Res<(), P> {
        let (m, e, _, slot) = self.open_local(h)?;
        if self.local(h)?.mode != Mode::ReadWrite || self.local(h)?.state != State::WriteLocked {
            return Err(Error::ReadOnly { slot });
        }
        let too_large = Error::TooLarge {
            slot,
            requested: fits_len,
            max: Self::fits_max(),
        };
        if fits_len > Self::fits_max() {
            return Err(too_large);
        }
        let need = usize::try_from(fits_len)
            .map_err(|_| too_large)?
            .max(e.fits_len());
        let cap = self.platform.mapping_len(m).saturating_sub(FITS_OFFSET);
        if need <= cap {
            return Ok(());
        }
        let shadow = self.local(h)?.write_mode == WriteMode::Shadow;
        if shadow && self.local(h)?.committed.is_none() {
            self.make_shadow(h, need, cap)
        } else {
            self.grow(h, need, shadow)
        }
    }

    /// Segment length for `need` FITS bytes in a file whose segment is `old_len` long:
    /// at least twice `old_len` when it has to grow, rounded to the granule.
    fn next_len(slot: u32, need: usize, old_len: usize) -> Res<usize, P> {
        let too_large = Error::TooLarge {
            slot,
            requested: need as u64,
            max: Self::fits_max(),
        };
        let logical = need.checked_add(FILE_HEADER_SIZE).ok_or(too_large)?;
        let min_len = segment_len_for(logical).ok_or(too_large)?;
        let max_len = segment_len_for(MAX_LOGICAL_SIZE).ok_or(too_large)?;
        if min_len <= old_len {
            return Ok(old_len.min(max_len).max(min_len));
        }
        let doubled = old_len
            .checked_mul(2)
            .and_then(|d| d.checked_add(GRANULE - 1))
            .map(|d| d / GRANULE * GRANULE)
            .unwrap_or(max_len)
            .min(max_len);
        Ok(min_len.max(doubled))
    }

    /// Copy the file into a new segment of `new_len` bytes under a fresh key. Returns the new
    /// mapping and the handle's entry pointing at it; nothing is published or swapped.
    fn relocate(&mut self, h: Handle, new_len: usize) -> Res<(P::Mapping, Entry), P> {
        let (_, e, _, slot) = self.open_local(h)?;
        let hash = self.next_hash(e.size, slot);
        let (key, seg) = self.create_segment(slot, new_len, hash)?;
        let new_m = match self.platform.segment_attach(seg) {
            Ok(m) => m,
            Err(err) => {
                let _ = self.platform.segment_remove(seg);
                return Err(plat(slot, "attach new segment")(err));
            }
        };
        let copy_len = FITS_OFFSET + e.fits_len();
        let (old_m, _, _, _) = self.open_local(h)?;
        let mut buf = [0u8; COPY_CHUNK];
        let mut off = 0;
        while off < copy_len {
            let n = COPY_CHUNK.min(copy_len - off);
            let copied = match buf.get_mut(..n) {
                Some(chunk) => self
                    .platform
                    .read(old_m, off, chunk)
                    .map_err(plat(slot, "copy (read)"))
                    .and_then(|()| {
                        self.platform
                            .write(&new_m, off, chunk)
                            .map_err(plat(slot, "copy (write)"))
                    }),
                None => Err(Error::LogicBug { what: "copy chunk" }),
            };
            if let Err(err) = copied {
                let _ = self.platform.segment_detach(new_m);
                let _ = self.platform.segment_remove(seg);
                return Err(err);
            }
            off += n;
        }
        self.platform.checkpoint(Step::AfterCopy);
        let mut ne = e;
        ne.key = key;
        ne.handle = seg;
        Ok((new_m, ne))
    }

    /// Swap the handle's mapping for `new_m` / `ne` and detach the old mapping.
    fn swap_mapping(&mut self, h: Handle, new_m: P::Mapping, ne: Entry) -> Res<(), P> {
        let slot = self.local(h)?.slot;
        let l = self.local_mut(h)?;
        let old = l.mapping.replace(new_m);
        l.entry = Some(ne);
        match old {
            Some(old) => self
                .platform
                .segment_detach(old)
                .map_err(plat(slot, "detach old segment")),
            None => Ok(()),
        }
    }

    /// Start a shadow: copy the published file into a private segment with room for `need`
    /// FITS bytes; the table keeps naming the published one.
    fn make_shadow(&mut self, h: Handle, need: usize, cap: usize) -> Res<(), P> {
        let (m, e, _, slot) = self.open_local(h)?;
        let old_len = self.platform.mapping_len(m);
        let new_len = if need <= cap {
            Self::next_len(slot, need.max(e.fits_len()), old_len)?
        } else {
            Self::next_len(slot, need, old_len)?
        };
        let (new_m, ne) = self.relocate(h, new_len)?;
        // The handle is on the shadow once swapped, even if detaching the old mapping
        // fails: record the published entry first, or close could not publish.
        let detached = self.swap_mapping(h, new_m, ne);
        self.local_mut(h)?.committed = Some(e);
        detached
    }

    /// Move the file to a segment with room for `need` FITS bytes: at least twice the old
    /// segment, rounded to the granule. In place: publish the new segment, then remove the
    /// old. With a shadow: replace the shadow (the table is not touched).
    fn grow(&mut self, h: Handle, need: usize, shadow: bool) -> Res<(), P> {
        let (m, e, _, slot) = self.open_local(h)?;
        let new_len = Self::next_len(slot, need, self.platform.mapping_len(m))?;
        let (new_m, ne) = self.relocate(h, new_len)?;
        if !shadow {
            self.platform.checkpoint(Step::BeforePublish);
            if let Err(err) = self.write_raw(slot, &RawEntry::used(&ne)) {
                let _ = self.platform.segment_detach(new_m);
                let _ = self.platform.segment_remove(ne.handle);
                return Err(err);
            }
            self.platform.checkpoint(Step::AfterPublish);
        }
        // The new segment is the handle's file now. Retire the old one.
        let detached = self.swap_mapping(h, new_m, ne);
        let removed = self
            .platform
            .segment_remove(e.handle)
            .map_err(plat(slot, "remove old segment"));
        self.platform.checkpoint(Step::AfterOldRemove);
        detached.and(removed)
    }

    /// Publish a pending shadow: one store of the table entry (keeping the table's
    /// `nprocdebug` and attributes), then remove the previously published segment.
    fn publish(&mut self, h: Handle) -> Res<(), P> {
        let (_, e, _, slot) = self.open_local(h)?;
        let Some(old) = self.local(h)?.committed else {
            return Ok(());
        };
        let cur = match self.read_entry(slot)? {
            EntryState::Used(cur) if cur.handle == old.handle && cur.key == old.key => cur,
            EntryState::Used(cur) => {
                return Err(Error::Corrupt(Corrupt {
                    slot,
                    what: "entry changed behind the write lock (segment id)",
                    value: i64::from(cur.handle.0),
                }))
            }
            EntryState::Free => {
                return Err(Error::Corrupt(Corrupt {
                    slot,
                    what: "entry cleared behind the write lock (key)",
                    value: -1,
                }))
            }
        };
        let mut ne = e;
        ne.nprocdebug = cur.nprocdebug;
        ne.attr = cur.attr;
        ne.sem = cur.sem;
        ne.semkey = cur.semkey;
        if !ne.persistent() {
            // Deleted while we held it (delete through this handle): the version that
            // becomes visible carries the delete mark too (see `FILE_ID_DELETED`).
            let (m, _, _, _) = self.open_local(h)?;
            self.ensure_delete_mark(slot, m)?;
        }
        self.platform.checkpoint(Step::BeforePublish);
        self.write_raw(slot, &RawEntry::used(&ne))?;
        self.platform.checkpoint(Step::AfterPublish);
        let l = self.local_mut(h)?;
        l.entry = Some(ne);
        l.committed = None;
        let removed = self
            .platform
            .segment_remove(old.handle)
            .map_err(plat(slot, "remove old segment"));
        self.platform.checkpoint(Step::AfterOldRemove);
        removed
    }

    /// Drop a pending shadow without publishing it: the handle goes back to the published
    /// version (used when publishing failed on close).
    pub(super) fn discard_shadow(&mut self, h: Handle) -> Res<(), P> {
        let Some(old) = self.local(h)?.committed else {
            return Ok(());
        };
        let slot = self.local(h)?.slot;
        let l = self.local_mut(h)?;
        let shadow_m = l.mapping.take();
        let shadow_e = l.entry.replace(old);
        l.committed = None;
        if let Some(m) = shadow_m {
            let _ = self.platform.segment_detach(m);
        }
        match shadow_e {
            Some(se) => self
                .platform
                .segment_remove(se.handle)
                .map_err(plat(slot, "remove shadow segment")),
            None => Ok(()),
        }
    }

    /// Create a data segment (no counter) under the first free key from `hash` on.
    fn create_segment(
        &self,
        slot: u32,
        len: usize,
        hash: u64,
    ) -> Res<(i32, crate::shm::platform::SegmentId), P> {
        use crate::shm::platform::{ErrorKind, PlatformError};
        for j in 0..u64::from(self.keys.range()) {
            let Some(key) = self.keys.key_at(j + hash) else {
                continue;
            };
            match self.platform.segment_create(key, len) {
                Ok(s) => {
                    self.platform.checkpoint(Step::AfterSegmentCreate);
                    return Ok((key, s));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(plat(slot, "create grown segment")(e)),
            }
        }
        Err(Error::NoKey { slot })
    }

    /// Make everything written visible to the next opener and safe from this process's
    /// death: with [`WriteMode::Shadow`] publish the shadow (one table store, then the old
    /// segment is removed); in place, check that the table still names this handle's segment
    /// and size. Read-only handles have nothing to flush.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::Corrupt`] if the entry was changed behind our lock;
    /// platform errors (after a failed publish the shadow is kept and flush may be retried);
    /// [`Error::WriteFailed`] after a failed shadow write.
    pub fn flush(&mut self, h: Handle) -> Res<(), P> {
        let (_, e, _, slot) = self.open_local(h)?;
        if self.local(h)?.mode == Mode::ReadOnly {
            return Ok(());
        }
        if self.local(h)?.write_failed {
            return Err(Error::WriteFailed { slot });
        }
        if self.local(h)?.committed.is_some() {
            return self.publish(h);
        }
        match self.read_entry(slot)? {
            EntryState::Used(cur) if cur.handle == e.handle && cur.size == e.size => Ok(()),
            EntryState::Used(cur) => Err(Error::Corrupt(Corrupt {
                slot,
                what: "entry changed behind the write lock (size)",
                value: cur.size as i64,
            })),
            EntryState::Free => Err(Error::Corrupt(Corrupt {
                slot,
                what: "entry cleared behind the write lock (key)",
                value: -1,
            })),
        }
    }

    /// The mapping of an open handle and the byte range of its FITS data in it, for
    /// zero-copy views. Valid while the handle stays open (its lock is held); after a
    /// [`Driver::write`] that grows the file, ask again: the mapping changes.
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn view(&self, h: Handle) -> Res<(&P::Mapping, Range<usize>), P> {
        let (m, e, _, _) = self.open_local(h)?;
        Ok((m, FITS_OFFSET..FITS_OFFSET + e.fits_len()))
    }

    /// Where this handle's writes go (initially [`Config::write_mode`](super::Config)).
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn write_mode(&self, h: Handle) -> Res<WriteMode, P> {
        Ok(self.local(h)?.write_mode)
    }

    /// Change where this handle's writes go. Switching from [`WriteMode::Shadow`] publishes
    /// a pending shadow first (as [`Driver::flush`]).
    ///
    /// # Errors
    /// [`Error::BadHandle`]; the errors of [`Driver::flush`].
    pub fn set_write_mode(&mut self, h: Handle, mode: WriteMode) -> Res<(), P> {
        if self.local(h)?.committed.is_some() {
            self.flush(h)?;
        }
        self.local_mut(h)?.write_mode = mode;
        Ok(())
    }

    /// The slot of an open handle.
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn slot_of(&self, h: Handle) -> Res<u32, P> {
        Ok(self.local(h)?.slot)
    }

    /// The mode of an open handle.
    ///
    /// # Errors
    /// [`Error::BadHandle`].
    pub fn mode_of(&self, h: Handle) -> Res<Mode, P> {
        Ok(self.local(h)?.mode)
    }

    /// Set the file's length to `len` FITS bytes. Shrinking forgets the bytes past `len`;
    /// growing appends zeros. The position is not moved (it may end up past the end).
    ///
    /// With [`WriteMode::Shadow`] the change goes to the shadow like a write (a shrink that
    /// starts a shadow copies only the `len` bytes that stay, into a segment sized for them)
    /// and is published by [`Driver::flush`] or [`Driver::close`]; in place, the table's size
    /// is stored before this returns. The segment itself never shrinks in place: its spare
    /// room is reused by later writes (the bytes there read as zeros once the file grows over
    /// them again).
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::ReadOnly`]; [`Error::TooLarge`] (nothing changed) when
    /// `len` passes [`MAX_FITS_SIZE`](crate::shm::MAX_FITS_SIZE); the errors of
    /// [`Driver::write`] while growing.
    pub fn set_len(&mut self, h: Handle, len: u64) -> Res<(), P> {
        let (_, e, pos, slot) = self.open_local(h)?;
        if self.local(h)?.mode != Mode::ReadWrite || self.local(h)?.state != State::WriteLocked {
            return Err(Error::ReadOnly { slot });
        }
        let too_large = Error::TooLarge {
            slot,
            requested: len,
            max: Self::fits_max(),
        };
        if len > Self::fits_max() {
            return Err(too_large);
        }
        let len_us = usize::try_from(len).map_err(|_| too_large)?;
        let cur = e.fits_len();
        if len_us > cur {
            // A one-byte write at the new end: the write zero-fills the gap before it and
            // does the shadow, growth and table bookkeeping.
            self.local_mut(h)?.pos = len - 1;
            let written = self.write(h, &[0]);
            self.local_mut(h)?.pos = pos;
            return written.map(|_| ());
        }
        if len_us == cur {
            return Ok(());
        }
        let shadow = self.local(h)?.write_mode == WriteMode::Shadow;
        let mut ne = e;
        ne.size = len_us + FILE_HEADER_SIZE;
        if shadow && self.local(h)?.committed.is_none() {
            // Copy only what stays: the handle's entry says `len` while relocating.
            self.local_mut(h)?.entry = Some(ne);
            let moved = Self::next_len(slot, len_us, 0).and_then(|n| self.relocate(h, n));
            let (new_m, moved_e) = match moved {
                Ok(x) => x,
                Err(err) => {
                    self.local_mut(h)?.entry = Some(e);
                    return Err(err);
                }
            };
            let swapped = self.swap_mapping(h, new_m, moved_e);
            self.local_mut(h)?.committed = Some(e);
            return swapped;
        }
        if !shadow {
            self.write_raw(slot, &RawEntry::used(&ne))?;
        }
        self.local_mut(h)?.entry = Some(ne);
        Ok(())
    }

    /// Forget what this handle wrote since it was opened or last flushed: a pending shadow
    /// is removed and the handle reads the published version again (position kept). Nothing
    /// to do without a pending shadow (in place, writes are already published). A handle
    /// whose shadow write failed ([`Error::WriteFailed`]) can write again after this.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; platform errors attaching the published segment (the shadow is
    /// then kept) or removing the shadow.
    pub fn discard(&mut self, h: Handle) -> Res<(), P> {
        let Some(old) = self.local(h)?.committed else {
            self.local_mut(h)?.write_failed = false;
            return Ok(());
        };
        let slot = self.local(h)?.slot;
        let m = self
            .platform
            .segment_attach(old.handle)
            .map_err(plat(slot, "attach published segment"))?;
        let discarded = self.discard_shadow(h);
        let l = self.local_mut(h)?;
        l.mapping = Some(m);
        l.write_failed = false;
        discarded
    }
}

//! Read, write (with geometric growth), seek, size, flush and zero-copy views of open
//! handles. The protocol reasoning is in the [driver module docs](super).

use core::ops::Range;

use super::{Driver, Handle, Mode, Res};
use crate::shm::error::{plat, Error};
use crate::shm::layout::{
    segment_len_for, Entry, EntryState, RawEntry, FILE_HEADER_SIZE, FITS_OFFSET, GRANULE,
    MAX_LOGICAL_SIZE,
};
use crate::shm::platform::SharedMem;
use crate::shm::state::State;

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
    /// [`Error::NoKey`] or platform errors while growing (the file stays as it was).
    pub fn write(&mut self, h: Handle, data: &[u8]) -> Res<usize, P> {
        let (_, e, pos, slot) = self.open_local(h)?;
        if self.local(h)?.mode != Mode::ReadWrite || self.local(h)?.state != State::WriteLocked {
            return Err(Error::ReadOnly { slot });
        }
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
        let cap = {
            let (m, _, _, _) = self.open_local(h)?;
            self.platform.mapping_len(m).saturating_sub(FITS_OFFSET)
        };
        if end_us > cap {
            self.grow(h, end_us)?;
        }
        let (m, _, _, _) = self.open_local(h)?;
        let off = FITS_OFFSET + (end_us - data.len());
        self.platform
            .write(m, off, data)
            .map_err(plat(slot, "write data"))?;
        if end_us > e.fits_len() {
            let mut ne = self.open_local(h)?.1;
            ne.size = end_us + FILE_HEADER_SIZE;
            self.write_raw(slot, &RawEntry::used(&ne))?;
            self.local_mut(h)?.entry = Some(ne);
        }
        self.local_mut(h)?.pos = end;
        Ok(data.len())
    }

    /// Move the file to a segment with room for `need` FITS bytes: at least twice the old
    /// segment, rounded to the granule.
    fn grow(&mut self, h: Handle, need: usize) -> Res<(), P> {
        let (old_m, e, _, slot) = self.open_local(h)?;
        let old_len = self.platform.mapping_len(old_m);
        let too_large = Error::TooLarge {
            slot,
            requested: need as u64,
            max: Self::fits_max(),
        };
        let logical = need.checked_add(FILE_HEADER_SIZE).ok_or(too_large)?;
        let min_len = segment_len_for(logical).ok_or(too_large)?;
        let max_len = segment_len_for(MAX_LOGICAL_SIZE).ok_or(too_large)?;
        let doubled = old_len
            .checked_mul(2)
            .and_then(|d| d.checked_add(GRANULE - 1))
            .map(|d| d / GRANULE * GRANULE)
            .unwrap_or(max_len)
            .min(max_len);
        let new_len = min_len.max(doubled);
        let hash = self.next_hash(logical, slot);
        let (key, seg) = self.create_segment(slot, new_len, hash)?;
        let new_m = match self.platform.segment_attach(seg) {
            Ok(m) => m,
            Err(err) => {
                let _ = self.platform.segment_remove(seg);
                return Err(plat(slot, "attach grown segment")(err));
            }
        };
        let copy_len = FITS_OFFSET + e.fits_len();
        let (old_m, _, _, _) = self.open_local(h)?;
        let mut buf = [0u8; COPY_CHUNK];
        let mut off = 0;
        let mut copied = Ok(());
        while off < copy_len {
            let n = COPY_CHUNK.min(copy_len - off);
            let chunk = buf.get_mut(..n).ok_or(Error::LogicBug { what: "chunk" })?;
            copied = self
                .platform
                .read(old_m, off, chunk)
                .map_err(plat(slot, "copy (read)"))
                .and_then(|()| {
                    self.platform
                        .write(&new_m, off, chunk)
                        .map_err(plat(slot, "copy (write)"))
                });
            if copied.is_err() {
                break;
            }
            off += n;
        }
        let mut ne = e;
        ne.key = key;
        ne.handle = seg;
        let published = copied.and_then(|()| self.write_raw(slot, &RawEntry::used(&ne)));
        if let Err(err) = published {
            let _ = self.platform.segment_detach(new_m);
            let _ = self.platform.segment_remove(seg);
            return Err(err);
        }
        // Published: the new segment is the file. Retire the old one.
        let l = self.local_mut(h)?;
        let old = l.mapping.replace(new_m);
        l.entry = Some(ne);
        let mut first = Ok(());
        if let Some(old) = old {
            first = self
                .platform
                .segment_detach(old)
                .map_err(plat(slot, "detach old segment"));
        }
        let removed = self
            .platform
            .segment_remove(e.handle)
            .map_err(plat(slot, "remove old segment"));
        first.and(removed)
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
                Ok(s) => return Ok((key, s)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(plat(slot, "create grown segment")(e)),
            }
        }
        Err(Error::NoKey { slot })
    }

    /// Make everything written visible and durable for the next opener. Writes update the
    /// table as they happen, so this only checks that the entry still names this handle's
    /// segment with this handle's size.
    ///
    /// # Errors
    /// [`Error::BadHandle`]; [`Error::Corrupt`] if the entry was changed behind our lock.
    pub fn flush(&mut self, h: Handle) -> Res<(), P> {
        let (_, e, _, slot) = self.open_local(h)?;
        if self.local(h)?.mode == Mode::ReadOnly {
            return Ok(());
        }
        match self.read_entry(slot)? {
            EntryState::Used(cur) if cur.handle == e.handle && cur.size == e.size => Ok(()),
            EntryState::Used(cur) => Err(Error::Corrupt(crate::shm::layout::Corrupt {
                slot,
                what: "entry changed behind the write lock (size)",
                value: cur.size as i64,
            })),
            EntryState::Free => Err(Error::Corrupt(crate::shm::layout::Corrupt {
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
}

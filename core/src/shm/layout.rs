//! The on-memory layout of CFITSIO's shared-memory files, and its validation.
//!
//! Three wire structures, all in the host's native byte order with C `int` = `i32`:
//!
//! * [`RawEntry`] — one 28-byte entry of the global table (segment under the key base `K`);
//! * [`BlockHeader`] — the 8 bytes at the start of every data segment;
//! * [`FileHeader`] — the 16 bytes after it; the FITS bytes follow at [`FITS_OFFSET`].
//!
//! Raw copies are read out of shared memory and turned into checked values by
//! [`check_entry`], [`check_block_header`] and [`check_file_header`]: another process (or a
//! hostile neighbour) may have written anything there, so every field is range-checked with
//! checked arithmetic, against the real segment length the kernel reports, before use. A
//! failure is a [`Corrupt`] naming the slot, the field and the value.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::platform::{CounterId, Key, SegmentId};

/// Size of one global-table entry.
pub const ENTRY_SIZE: usize = 28;
/// Size of the block header at offset 0 of a data segment.
pub const BLOCK_HEADER_SIZE: usize = 8;
/// Size of the file header at offset 8 of a data segment.
pub const FILE_HEADER_SIZE: usize = 16;
/// Offset of the first FITS byte in a data segment.
pub const FITS_OFFSET: usize = BLOCK_HEADER_SIZE + FILE_HEADER_SIZE;
/// Allocation granule of data segments (CFITSIO's `SHARED_GRANUL`).
pub const GRANULE: usize = 16384;
/// Attribute flag: the segment may be reallocated (`SHARED_RESIZE`).
pub const ATTR_RESIZE: u8 = 4;
/// Attribute flag: the file survives its last close (`SHARED_PERSIST`).
pub const ATTR_PERSIST: u8 = 8;
/// Value of the file header's id field (`DAL_SHM_SEGHEAD_ID`).
pub const FILE_ID: i32 = 0x1963_0114;
/// Value a delete stores in the file header's id field of a file that processes still hold.
///
/// CFITSIO's `smem_open` checks this field after it has attached and locked the segment and
/// fails for any other value than [`FILE_ID`]; its read, write and close never look at it.
/// So the mark stops a CFITSIO open of a deleted file (which then frees the file, as its
/// failed open runs CFITSIO's close) while CFITSIO processes that already hold the file keep
/// reading and closing it. Our opens refuse a deleted file by its attributes already.
pub const FILE_ID_DELETED: i32 = 0x1963_01DE;
/// Offset of the file header's id field in a data segment.
pub const FILE_ID_OFFSET: usize = BLOCK_HEADER_SIZE;
/// Block header tag for a shared block (`BLOCK_SHARED`).
pub const BLOCK_SHARED: u8 = 1;
/// Logical size of a newly created file: file header + one FITS block.
pub const NEW_FILE_SIZE: usize = FILE_HEADER_SIZE + 2880;
/// Largest logical size (16 + FITS bytes) the `int` field can express.
pub const MAX_LOGICAL_SIZE: usize = i32::MAX as usize;
/// Largest FITS byte count a file can have.
pub const MAX_FITS_SIZE: usize = MAX_LOGICAL_SIZE - FILE_HEADER_SIZE;

/// One entry of the global table, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RawEntry {
    /// Counter (semaphore) id, -1 when free.
    pub sem: i32,
    /// Key the counter was created with.
    pub semkey: i32,
    /// Key of the current data segment, -1 when free.
    pub key: i32,
    /// Id of the current data segment.
    pub handle: i32,
    /// Logical size: 16 + FITS bytes.
    pub size: i32,
    /// Number of write locks held (CFITSIO's debug aid).
    pub nprocdebug: i32,
    /// [`ATTR_RESIZE`] | [`ATTR_PERSIST`].
    pub attr: u8,
    /// Padding, zero.
    pub pad: [u8; 3],
}

impl RawEntry {
    /// The cleared (free) entry.
    pub const CLEARED: RawEntry = RawEntry {
        sem: -1,
        semkey: -1,
        key: -1,
        handle: -1,
        size: 0,
        nprocdebug: 0,
        attr: 0,
        pad: [0; 3],
    };

    /// Decode the 28 bytes of an entry (native byte order).
    pub fn from_bytes(b: &[u8; ENTRY_SIZE]) -> RawEntry {
        let mut e = RawEntry::CLEARED;
        e.as_mut_bytes().copy_from_slice(b);
        e
    }

    /// Encode the entry as its 28 bytes (native byte order).
    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b.copy_from_slice(self.as_bytes());
        b
    }

    /// The entry of a file in use.
    pub fn used(e: &Entry) -> RawEntry {
        RawEntry {
            sem: e.sem.0,
            semkey: e.semkey,
            key: e.key,
            handle: e.handle.0,
            size: i32::try_from(e.size).unwrap_or(i32::MAX),
            nprocdebug: i32::try_from(e.nprocdebug).unwrap_or(i32::MAX),
            attr: e.attr,
            pad: [0; 3],
        }
    }
}

/// The block header at offset 0 of a data segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct BlockHeader {
    /// `b"JB"`.
    pub id: [u8; 2],
    /// [`BLOCK_SHARED`].
    pub tflag: u8,
    /// Padding.
    pub pad: u8,
    /// Slot index.
    pub slot: i32,
}

impl BlockHeader {
    /// The header of a data segment of `slot`.
    pub fn new(slot: u32) -> Self {
        BlockHeader {
            id: *b"JB",
            tflag: BLOCK_SHARED,
            pad: 0,
            slot: i32::try_from(slot).unwrap_or(-1),
        }
    }
}

/// The file header at offset 8 of a data segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct FileHeader {
    /// [`FILE_ID`].
    pub id: i32,
    /// Slot index.
    pub slot: i32,
    /// Logical size at creation.
    pub size: i32,
    /// Always -1.
    pub nodeidx: i32,
}

impl FileHeader {
    /// All zeros: not written yet.
    pub const ZEROED: FileHeader = FileHeader {
        id: 0,
        slot: 0,
        size: 0,
        nodeidx: 0,
    };

    /// The header of a new file of `slot`.
    pub fn new(slot: u32) -> Self {
        FileHeader {
            id: FILE_ID,
            slot: i32::try_from(slot).unwrap_or(-1),
            size: NEW_FILE_SIZE as i32,
            nodeidx: -1,
        }
    }
}

/// The key base and slot count, with the derived key range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpace {
    /// Key of the global table (`K`).
    pub base: Key,
    /// Number of slots (`M`).
    pub slots: u32,
}

impl KeySpace {
    /// Number of keys data segments are drawn from (`R = 3·M`).
    pub fn range(&self) -> u32 {
        self.slots.saturating_mul(3)
    }

    /// Whether `key` may name a data segment: `K+1 ..= K+R-1` (CFITSIO draws from
    /// `K + (n mod R)`; `K` itself is the table's key, so it never succeeds).
    pub fn is_data_key(&self, key: Key) -> bool {
        let lo = i64::from(self.base) + 1;
        let hi = i64::from(self.base) + i64::from(self.range()) - 1;
        (lo..=hi).contains(&i64::from(key)) && key != 0 && key != -1
    }

    /// The `n`-th key of the range, `K + (n mod R)`; `None` if it overflows or is not a
    /// data key.
    pub fn key_at(&self, n: u64) -> Option<Key> {
        let r = u64::from(self.range());
        if r == 0 {
            return None;
        }
        let off = i64::try_from(n % r).ok()?;
        let k = i32::try_from(i64::from(self.base).checked_add(off)?).ok()?;
        self.is_data_key(k).then_some(k)
    }

    /// Size in bytes of the global table (`28·M`).
    pub fn table_size(&self) -> Option<usize> {
        usize::try_from(self.slots).ok()?.checked_mul(ENTRY_SIZE)
    }
}

/// A checked entry of a slot in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Counter id.
    pub sem: CounterId,
    /// Key the counter was created with.
    pub semkey: Key,
    /// Key of the data segment.
    pub key: Key,
    /// Id of the data segment.
    pub handle: SegmentId,
    /// Logical size (16 + FITS bytes), at least 16.
    pub size: usize,
    /// Write locks held, as the table says.
    pub nprocdebug: u32,
    /// Attribute flags, `RESIZE` or `RESIZE|PERSIST`.
    pub attr: u8,
}

impl Entry {
    /// FITS bytes in the file.
    pub fn fits_len(&self) -> usize {
        self.size.saturating_sub(FILE_HEADER_SIZE)
    }

    /// Whether the file survives its last close (not deleted).
    pub fn persistent(&self) -> bool {
        self.attr & ATTR_PERSIST != 0
    }
}

/// A table entry, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    /// Exactly the cleared entry.
    Free,
    /// A file is in the slot.
    Used(Entry),
}

/// An inconsistent value found in shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Corrupt {
    /// Slot whose entry or segment is inconsistent.
    pub slot: u32,
    /// Which field, in words.
    pub what: &'static str,
    /// The value found.
    pub value: i64,
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "slot h{}: inconsistent shared state: {} = {}",
            self.slot, self.what, self.value
        )
    }
}

/// Check a raw entry read from the table (without the kernel objects: see
/// [`check_against_segment`]).
///
/// # Errors
/// [`Corrupt`] naming the first inconsistent field: a half-cleared entry, a key outside the
/// data key range or 0, a negative handle or counter id, a counter key outside the range, a
/// size below 16, a negative `nprocdebug`, unknown attribute bits or attributes without
/// `RESIZE`, non-zero padding.
pub fn check_entry(raw: &RawEntry, slot: u32, keys: &KeySpace) -> Result<EntryState, Corrupt> {
    let bad = |what, value: i64| Corrupt { slot, what, value };
    if raw.key == -1 {
        if *raw == RawEntry::CLEARED {
            return Ok(EntryState::Free);
        }
        let (what, v) = if raw.sem != -1 {
            ("counter id of a free entry", raw.sem)
        } else if raw.semkey != -1 {
            ("counter key of a free entry", raw.semkey)
        } else if raw.handle != -1 {
            ("segment id of a free entry", raw.handle)
        } else if raw.size != 0 {
            ("size of a free entry", raw.size)
        } else if raw.nprocdebug != 0 {
            ("nprocdebug of a free entry", raw.nprocdebug)
        } else {
            ("attributes of a free entry", i32::from(raw.attr))
        };
        return Err(bad(what, i64::from(v)));
    }
    if !keys.is_data_key(raw.key) {
        return Err(bad("segment key", i64::from(raw.key)));
    }
    if !keys.is_data_key(raw.semkey) {
        return Err(bad("counter key", i64::from(raw.semkey)));
    }
    if raw.handle < 0 {
        return Err(bad("segment id", i64::from(raw.handle)));
    }
    if raw.sem < 0 {
        return Err(bad("counter id", i64::from(raw.sem)));
    }
    let size = usize::try_from(raw.size)
        .ok()
        .filter(|s| *s >= FILE_HEADER_SIZE)
        .ok_or_else(|| bad("size", i64::from(raw.size)))?;
    let nprocdebug =
        u32::try_from(raw.nprocdebug).map_err(|_| bad("nprocdebug", i64::from(raw.nprocdebug)))?;
    if raw.attr != ATTR_RESIZE && raw.attr != ATTR_RESIZE | ATTR_PERSIST {
        return Err(bad("attributes", i64::from(raw.attr)));
    }
    Ok(EntryState::Used(Entry {
        sem: CounterId(raw.sem),
        semkey: raw.semkey,
        key: raw.key,
        handle: SegmentId(raw.handle),
        size,
        nprocdebug,
        attr: raw.attr,
    }))
}

/// Check that the logical size fits in a segment of `segment_len` bytes: the FITS bytes
/// `24 .. 24 + size - 16` must lie inside it.
///
/// # Errors
/// [`Corrupt`] "size larger than its segment" with the size.
pub fn check_against_segment(e: &Entry, slot: u32, segment_len: usize) -> Result<(), Corrupt> {
    let end = e
        .size
        .checked_add(BLOCK_HEADER_SIZE)
        .filter(|end| *end <= segment_len);
    match end {
        Some(_) => Ok(()),
        None => Err(Corrupt {
            slot,
            what: "size larger than its segment",
            value: i64::try_from(e.size).unwrap_or(i64::MAX),
        }),
    }
}

/// Check a block header read from offset 0 of a data segment.
///
/// # Errors
/// [`Corrupt`] for a wrong tag, flag or slot.
pub fn check_block_header(h: &BlockHeader, slot: u32) -> Result<(), Corrupt> {
    let bad = |what, value: i64| Corrupt { slot, what, value };
    if h.id != *b"JB" {
        return Err(bad("block header tag", i64::from(u16::from_be_bytes(h.id))));
    }
    if h.tflag != BLOCK_SHARED {
        return Err(bad("block header flag", i64::from(h.tflag)));
    }
    if i64::from(h.slot) != i64::from(slot) {
        return Err(bad("block header slot", i64::from(h.slot)));
    }
    Ok(())
}

/// Check a file header read from offset 8 of a data segment.
///
/// # Errors
/// [`Corrupt`] for a wrong id or slot.
pub fn check_file_header(h: &FileHeader, slot: u32) -> Result<(), Corrupt> {
    if h.id == FILE_ID_DELETED {
        return Err(Corrupt {
            slot,
            what: "file header id (marked deleted, entry not)",
            value: i64::from(h.id),
        });
    }
    if h.id != FILE_ID {
        return Err(Corrupt {
            slot,
            what: "file header id",
            value: i64::from(h.id),
        });
    }
    if i64::from(h.slot) != i64::from(slot) {
        return Err(Corrupt {
            slot,
            what: "file header slot",
            value: i64::from(h.slot),
        });
    }
    Ok(())
}

/// Segment length for a logical size: `size + 8` rounded up to the granule, as CFITSIO's
/// `shared_adjust_size`. `None` on overflow.
pub fn segment_len_for(size: usize) -> Option<usize> {
    let n = size.checked_add(BLOCK_HEADER_SIZE)?;
    n.checked_add(GRANULE - 1).map(|v| v / GRANULE * GRANULE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromBytes;

    const KS: KeySpace = KeySpace {
        base: 1000,
        slots: 16,
    };

    fn used() -> RawEntry {
        RawEntry {
            sem: 5,
            semkey: 1001,
            key: 1007,
            handle: 9,
            size: 2896,
            nprocdebug: 0,
            attr: ATTR_RESIZE | ATTR_PERSIST,
            pad: [0; 3],
        }
    }

    #[test]
    fn sizes_match_the_c_structs() {
        assert_eq!(core::mem::size_of::<RawEntry>(), ENTRY_SIZE);
        assert_eq!(core::mem::size_of::<BlockHeader>(), BLOCK_HEADER_SIZE);
        assert_eq!(core::mem::size_of::<FileHeader>(), FILE_HEADER_SIZE);
        assert_eq!(FITS_OFFSET, 24);
    }

    #[test]
    fn byte_layout_is_native_order() {
        let e = used();
        let b = e.as_bytes();
        assert_eq!(b.get(8..12), Some(&1007i32.to_ne_bytes()[..]));
        assert_eq!(b.get(24), Some(&12u8));
        let back = RawEntry::read_from_bytes(b).unwrap();
        assert_eq!(back, e);
        let h = BlockHeader::new(3);
        assert_eq!(h.as_bytes().get(..4), Some(&b"JB\x01\x00"[..]));
        assert_eq!(h.as_bytes().get(4..), Some(&3i32.to_ne_bytes()[..]));
    }

    #[test]
    fn cleared_is_free_and_half_cleared_is_corrupt() {
        assert_eq!(
            check_entry(&RawEntry::CLEARED, 0, &KS),
            Ok(EntryState::Free)
        );
        let mut r = RawEntry::CLEARED;
        r.sem = 4;
        assert_eq!(
            check_entry(&r, 2, &KS).unwrap_err().what,
            "counter id of a free entry"
        );
        let mut r = RawEntry::CLEARED;
        r.attr = 12;
        assert!(check_entry(&r, 2, &KS).is_err());
    }

    #[test]
    fn used_entry_checks() {
        assert!(matches!(
            check_entry(&used(), 1, &KS),
            Ok(EntryState::Used(_))
        ));
        type Case = (fn(&mut RawEntry), &'static str);
        let cases: &[Case] = &[
            (|r| r.key = 0, "segment key"),
            (|r| r.key = 1000, "segment key"),
            (|r| r.key = 1048, "segment key"),
            (|r| r.semkey = 999, "counter key"),
            (|r| r.handle = -5, "segment id"),
            (|r| r.sem = -1, "counter id"),
            (|r| r.size = 15, "size"),
            (|r| r.size = -1, "size"),
            (|r| r.nprocdebug = -1, "nprocdebug"),
            (|r| r.attr = 0, "attributes"),
            (|r| r.attr = 8, "attributes"),
            (|r| r.attr = 0xff, "attributes"),
        ];
        for (f, what) in cases {
            let mut r = used();
            f(&mut r);
            assert_eq!(check_entry(&r, 1, &KS).unwrap_err().what, *what);
        }
        let mut r = used();
        r.key = 1047;
        assert!(check_entry(&r, 1, &KS).is_ok());
    }

    #[test]
    fn size_against_segment() {
        let EntryState::Used(mut e) = check_entry(&used(), 1, &KS).unwrap() else {
            panic!()
        };
        assert!(check_against_segment(&e, 1, 16384).is_ok());
        e.size = 16384 - 8;
        assert!(check_against_segment(&e, 1, 16384).is_ok());
        e.size = 16384 - 7;
        assert!(check_against_segment(&e, 1, 16384).is_err());
        e.size = usize::MAX;
        assert!(check_against_segment(&e, 1, usize::MAX).is_err());
    }

    #[test]
    fn headers() {
        assert!(check_block_header(&BlockHeader::new(4), 4).is_ok());
        assert!(check_block_header(&BlockHeader::new(4), 5).is_err());
        let mut h = BlockHeader::new(4);
        h.tflag = 0;
        assert!(check_block_header(&h, 4).is_err());
        assert!(check_file_header(&FileHeader::new(4), 4).is_ok());
        let mut f = FileHeader::new(4);
        f.id = 0;
        assert_eq!(check_file_header(&f, 4).unwrap_err().what, "file header id");
    }

    #[test]
    fn key_space_and_rounding() {
        assert_eq!(KS.key_at(0), None);
        assert_eq!(KS.key_at(1), Some(1001));
        assert_eq!(KS.key_at(47), Some(1047));
        assert_eq!(KS.key_at(49), Some(1001));
        let top = KeySpace {
            base: i32::MAX - 10,
            slots: 16,
        };
        assert_eq!(top.key_at(20), None);
        assert_eq!(segment_len_for(NEW_FILE_SIZE), Some(16384));
        assert_eq!(segment_len_for(16384 - 8), Some(16384));
        assert_eq!(segment_len_for(16384 - 7), Some(32768));
        assert_eq!(segment_len_for(usize::MAX), None);
    }
}

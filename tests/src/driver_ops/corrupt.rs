//! Corruption of shared memory: what a hostile or buggy neighbour writes, and where.

use arbitrary::{Arbitrary, Unstructured};
use shmfits_core::shm::layout::ENTRY_SIZE;
use shmfits_core::shm::{CounterId, SegmentId};

use shmfits_mock::model::world::{World, KEY_BASE, SLOTS};

/// A hostile or buggy neighbour's write into shared memory (or a counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Overwrite field `field` (0..7: sem, semkey, key, handle, size, nprocdebug, attr) of
    /// slot `slot`'s global-table entry with `value` (host byte order).
    Table {
        /// The slot.
        slot: u32,
        /// Field index.
        field: u8,
        /// New value.
        value: i32,
    },
    /// Overwrite 4 bytes at `offset` (0..24: block header and file header) of the data
    /// segment the slot's entry names, if it exists.
    Header {
        /// The slot.
        slot: u32,
        /// Byte offset, a multiple of 4.
        offset: u8,
        /// New value.
        value: i32,
    },
    /// Overwrite 4 bytes of the live segment `nth` (modulo their number, by id, the global
    /// table excluded) at `offset` (modulo its length less 4): any file's segment, whoever
    /// has it open, including a writer's unpublished shadow and the data after the headers.
    Segment {
        /// Which segment.
        nth: u8,
        /// Byte offset.
        offset: u16,
        /// New value.
        value: i32,
    },
    /// Set the value of the counter (`semctl(SETVAL)`) under the key slot `slot`'s entry
    /// names in its `semkey` field, if it exists: the open count CFITSIO keeps as
    /// `nprocdebug` drifts, every undo adjustment is cleared.
    Counter {
        /// The slot.
        slot: u32,
        /// New value (the mock refuses values above 32767: nothing changes then).
        value: u16,
    },
}

/// One corruption and when it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Made once this many steps have run: 0 before the first step, the number of steps
    /// (or more) after the last. Several corruptions may share a place; they are made in
    /// their order in the input.
    pub after: usize,
    /// What is overwritten.
    pub what: Corruption,
}

/// Values that sit on the validation's edges.
const VALUES: [i32; 8] = [-1, 0, 1, 16, 2896, i32::MAX, i32::MIN, KEY_BASE];

impl<'a> Arbitrary<'a> for Corruption {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let slot = u.int_in_range(0..=SLOTS - 1)?;
        let value = if u.arbitrary()? {
            *u.choose(&VALUES)?
        } else {
            u.arbitrary()?
        };
        Ok(match u.int_in_range(0..=7u8)? {
            0..=2 => Corruption::Table {
                slot,
                field: u.int_in_range(0..=6u8)?,
                value,
            },
            3..=4 => Corruption::Header {
                slot,
                offset: u.int_in_range(0..=5u8)? * 4,
                value,
            },
            5..=6 => Corruption::Segment {
                nth: u.arbitrary()?,
                offset: if u.arbitrary()? {
                    u16::from(u.int_in_range(0..=7u8)?) * 4
                } else {
                    u.arbitrary()?
                },
                value,
            },
            _ => Corruption::Counter {
                slot,
                value: *u.choose(&[0, 1, 2, 5, 32767, value as u16 & 0x7fff])?,
            },
        })
    }
}

fn table_id(world: &World) -> Option<SegmentId> {
    world
        .kernel
        .objects()
        .segment_by_key(KEY_BASE)
        .map(|s| s.id)
}

/// Field `field` of slot `slot`'s table entry.
fn entry_field(world: &World, table: SegmentId, slot: u32, field: usize) -> Result<i32, String> {
    let bytes = world
        .kernel
        .segment_bytes(table)
        .map_err(|e| format!("table: {e}"))?;
    let at = slot as usize * ENTRY_SIZE + field * 4;
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .ok_or_else(|| "table shorter than its entries".to_owned())
}

/// What a corruption did that the final check must know.
#[derive(Debug, Default)]
pub(super) struct Made {
    /// The block header (bytes 0..8) of a data segment, as this corruption left it.
    pub(super) header: Option<[u8; 8]>,
    /// A counter whose value was set.
    pub(super) set: Option<CounterId>,
}

/// Make `c`. A corruption whose target does not exist (no table yet, a free slot, a segment
/// or counter gone, an offset past the end) changes nothing.
pub(super) fn apply(world: &World, c: Corruption) -> Result<Made, String> {
    let Some(table) = table_id(world) else {
        return Ok(Made::default());
    };
    let hit = |id: SegmentId, offset: usize, value: i32| {
        let ok = world
            .kernel
            .corrupt_segment(id, offset, &value.to_ne_bytes())
            .is_ok();
        if !ok || offset >= 8 || id == table {
            return None;
        }
        let bytes = world.kernel.segment_bytes(id).ok()?;
        bytes.get(..8)?.try_into().ok()
    };
    let header = |header| Made { header, set: None };
    Ok(match c {
        Corruption::Table { slot, field, value } => {
            let at = slot as usize * ENTRY_SIZE + usize::from(field) * 4;
            world
                .kernel
                .corrupt_segment(table, at, &value.to_ne_bytes())
                .map_err(|e| format!("{c:?}: {e}"))?;
            Made::default()
        }
        Corruption::Header {
            slot,
            offset,
            value,
        } => {
            let handle = entry_field(world, table, slot, 3)?;
            header(hit(SegmentId(handle), usize::from(offset), value))
        }
        Corruption::Segment { nth, offset, value } => {
            let mut live: Vec<_> = world
                .kernel
                .objects()
                .segments
                .into_iter()
                .filter(|s| !s.removed && s.id != table)
                .collect();
            live.sort_by_key(|s| s.id.0);
            if live.is_empty() {
                return Ok(Made::default());
            }
            let s = &live[usize::from(nth) % live.len()];
            let offset = usize::from(offset) % s.size.saturating_sub(3).max(1);
            header(hit(s.id, offset, value))
        }
        Corruption::Counter { slot, value } => {
            let key = entry_field(world, table, slot, 1)?;
            let o = world.kernel.objects();
            let counter = o.counter_by_key(key).map(|c| c.id);
            let set = counter.filter(|id| {
                world
                    .kernel
                    .set_counter_value(*id, u32::from(value))
                    .is_ok()
            });
            Made { header: None, set }
        }
    })
}

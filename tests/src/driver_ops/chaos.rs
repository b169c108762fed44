//! Corruption of shared memory after a sequence, and the checks that still hold then.

use arbitrary::{Arbitrary, Unstructured};
use shmfits_core::shm::layout::ENTRY_SIZE;
use shmfits_core::shm::{Mode, SegmentId, Wait};

use super::clean;
use shmfits_mock::model::world::{config, Drv, World, KEY_BASE, SLOTS};

/// A hostile or buggy neighbour's write into shared memory.
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
        Ok(if u.arbitrary()? {
            Corruption::Table {
                slot,
                field: u.int_in_range(0..=6u8)?,
                value,
            }
        } else {
            Corruption::Header {
                slot,
                offset: u.int_in_range(0..=5u8)? * 4,
                value,
            }
        })
    }
}

fn table_id(world: &World) -> Result<SegmentId, String> {
    world
        .kernel
        .objects()
        .segment_by_key(KEY_BASE)
        .map(|s| s.id)
        .ok_or_else(|| "global table gone before corruption".to_owned())
}

/// Apply `c`; returns the segment whose block header (bytes 0..8) it overwrote, if any.
fn apply(world: &World, c: Corruption) -> Result<Option<SegmentId>, String> {
    let table = table_id(world)?;
    match c {
        Corruption::Table { slot, field, value } => {
            let at = slot as usize * ENTRY_SIZE + usize::from(field) * 4;
            world
                .kernel
                .corrupt_segment(table, at, &value.to_ne_bytes())
                .map(|()| None)
                .map_err(|e| format!("{c:?}: {e}"))
        }
        Corruption::Header {
            slot,
            offset,
            value,
        } => {
            let bytes = world
                .kernel
                .segment_bytes(table)
                .map_err(|e| format!("{c:?}: {e}"))?;
            let at = slot as usize * ENTRY_SIZE + 12;
            let handle = bytes
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_ne_bytes)
                .ok_or("table shorter than its entries")?;
            // A free slot, or a segment gone: nothing to corrupt.
            let hit = world
                .kernel
                .corrupt_segment(SegmentId(handle), usize::from(offset), &value.to_ne_bytes())
                .is_ok();
            Ok((hit && offset < 8 && handle != table.0).then_some(SegmentId(handle)))
        }
    }
}

fn name(slot: u32) -> String {
    format!("shmem://h{slot}")
}

/// Corrupt, then let every process read, write and close what it holds and exit, then
/// recover and delete everything from a last process: every result must be clean, and no
/// kernel object may be left — except data segments whose block header was overwritten:
/// the driver recognises its segments by that header, so once no entry names such a segment
/// it is not the driver's to remove (it may be anyone's), and it stays.
pub(super) fn run(world: &mut World, corruptions: &[Corruption]) -> Result<(), String> {
    let mut unrecognisable = Vec::new();
    for c in corruptions {
        unrecognisable.extend(apply(world, *c)?);
    }
    let at = |what: &str, e: String| format!("after {corruptions:?}: {what}: {e}");
    for p in 0..world.procs.len() {
        let proc = &mut world.procs[p];
        let Some(mut d) = proc.driver.take() else {
            continue;
        };
        for (_, h) in std::mem::take(&mut proc.handles) {
            let mut buf = [0u8; 100];
            clean(&d.read(h, &mut buf)).map_err(|e| at("read", e))?;
            clean(&d.write(h, b"after corruption")).map_err(|e| at("write", e))?;
            clean(&d.close(h)).map_err(|e| at("close", e))?;
        }
        clean(&d.shutdown()).map_err(|e| at("shutdown", e))?;
        proc.process.exit();
    }
    let last = world.kernel.spawn();
    let mut d = Drv::new(last.clone(), config(world.mode))
        .map_err(|e| at("driver of the last process", e.to_string()))?;
    let mut list = vec![shmfits_core::shm::SlotStatus::EMPTY; SLOTS as usize];
    clean(&d.list(&mut list)).map_err(|e| at("list", e))?;
    for slot in 0..SLOTS {
        if let Ok(h) = d.open(&name(slot), Mode::ReadOnly, Wait::No) {
            let mut buf = vec![0u8; 4096];
            clean(&d.read(h, &mut buf)).map_err(|e| at("read", e))?;
            clean(&d.close(h)).map_err(|e| at("close", e))?;
        }
    }
    clean(&d.recover(None)).map_err(|e| at("recover", e))?;
    for slot in 0..SLOTS {
        clean(&d.delete(&name(slot))).map_err(|e| at("delete", e))?;
    }
    clean(&d.recover(None)).map_err(|e| at("second recover", e))?;
    clean(&d.shutdown()).map_err(|e| at("last shutdown", e))?;
    last.exit();
    let o = world.kernel.objects();
    let leaked = o.segments.iter().any(|s| !unrecognisable.contains(&s.id));
    if leaked || !o.counters.is_empty() || !o.locks.is_empty() {
        return Err(at("kernel objects left", format!("{o:?}")));
    }
    Ok(())
}

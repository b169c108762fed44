//! Byte-range locks on the one simulated lock file, with `fcntl` open-file-description
//! semantics: a lock belongs to an owner (not to a process), two owners conflict even in one
//! process, a new lock on a range replaces (converts) what the same owner held there, and
//! unlocking part of a range splits it. Adjacent ranges of one owner and one kind merge, as
//! the kernel does.

use alloc::vec::Vec;

use shmfits_core::shm::{LockKind, LockRange};

/// The mock's [`shmfits_core::shm::SharedMem::LockOwner`]: the process and the owner's index
/// in it (like an open file description of the lock file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MockLockOwner {
    pub(crate) pid: u32,
    pub(crate) index: u32,
}

impl MockLockOwner {
    /// The process that made this owner.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The owner's number within its process (never reused).
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// One held lock, `start .. end` (end exclusive), as listed by [`crate::MockKernel::objects`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockEntry {
    /// Who holds it.
    pub owner: MockLockOwner,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Shared or exclusive.
    pub kind: LockKind,
}

impl LockEntry {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }
}

/// `start .. end` of a range, or `None` when it is empty (len 0 is an invalid argument).
pub(crate) fn bounds(range: LockRange) -> Option<(u64, u64)> {
    if range.len == 0 {
        return None;
    }
    let start = u64::from(range.start);
    Some((start, start + u64::from(range.len)))
}

/// All locks on the lock file, kept normalized: one owner's entries never overlap, and
/// touching entries of one owner and one kind are merged.
#[derive(Clone, Debug, Default)]
pub(crate) struct LockTable {
    entries: Vec<LockEntry>,
}

impl LockTable {
    /// The first lock of another owner that keeps `owner` from taking `kind` on the range.
    pub(crate) fn conflict(
        &self,
        owner: MockLockOwner,
        start: u64,
        end: u64,
        kind: LockKind,
    ) -> Option<LockEntry> {
        self.entries
            .iter()
            .find(|e| {
                e.owner != owner
                    && e.overlaps(start, end)
                    && (kind == LockKind::Exclusive || e.kind == LockKind::Exclusive)
            })
            .copied()
    }

    /// Whether every lock that keeps `owner` from taking `kind` on the range belongs to
    /// another owner of the same process (`false` if nothing conflicts).
    pub(crate) fn only_own_process_conflicts(
        &self,
        owner: MockLockOwner,
        start: u64,
        end: u64,
        kind: LockKind,
    ) -> bool {
        let mut any = false;
        for e in &self.entries {
            if e.owner != owner
                && e.overlaps(start, end)
                && (kind == LockKind::Exclusive || e.kind == LockKind::Exclusive)
            {
                if e.owner.pid != owner.pid {
                    return false;
                }
                any = true;
            }
        }
        any
    }

    /// Give `owner` a `kind` lock on the range, replacing what it held there. The caller has
    /// checked [`LockTable::conflict`].
    pub(crate) fn set(&mut self, owner: MockLockOwner, start: u64, end: u64, kind: LockKind) {
        self.clear(owner, start, end);
        self.entries.push(LockEntry {
            owner,
            start,
            end,
            kind,
        });
        self.normalize();
    }

    /// Drop `owner`'s locks on the range, splitting entries that stick out of it.
    pub(crate) fn clear(&mut self, owner: MockLockOwner, start: u64, end: u64) {
        let mut kept = Vec::with_capacity(self.entries.len() + 1);
        for e in self.entries.drain(..) {
            if e.owner != owner || !e.overlaps(start, end) {
                kept.push(e);
                continue;
            }
            if e.start < start {
                kept.push(LockEntry { end: start, ..e });
            }
            if e.end > end {
                kept.push(LockEntry { start: end, ..e });
            }
        }
        self.entries = kept;
        self.normalize();
    }

    /// Drop every lock of `owner`.
    pub(crate) fn release_owner(&mut self, owner: MockLockOwner) {
        self.entries.retain(|e| e.owner != owner);
    }

    /// Drop every lock of every owner of process `pid`.
    pub(crate) fn release_pid(&mut self, pid: u32) {
        self.entries.retain(|e| e.owner.pid != pid);
    }

    /// Every held lock, sorted by owner then start.
    pub(crate) fn entries(&self) -> &[LockEntry] {
        &self.entries
    }

    /// Sort by (owner, start) and merge touching entries of one owner and kind.
    fn normalize(&mut self) {
        self.entries.sort_by_key(|e| (e.owner, e.start));
        let mut merged: Vec<LockEntry> = Vec::with_capacity(self.entries.len());
        for e in self.entries.drain(..) {
            match merged.last_mut() {
                Some(last)
                    if last.owner == e.owner && last.kind == e.kind && last.end >= e.start =>
                {
                    last.end = last.end.max(e.end);
                }
                _ => merged.push(e),
            }
        }
        self.entries = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MockLockOwner = MockLockOwner { pid: 1, index: 0 };
    const B: MockLockOwner = MockLockOwner { pid: 1, index: 1 };

    fn spans(t: &LockTable, owner: MockLockOwner) -> Vec<(u64, u64, LockKind)> {
        t.entries()
            .iter()
            .filter(|e| e.owner == owner)
            .map(|e| (e.start, e.end, e.kind))
            .collect()
    }

    #[test]
    fn conversion_in_the_middle_splits_into_three() {
        let mut t = LockTable::default();
        t.set(A, 0, 10, LockKind::Shared);
        t.set(A, 4, 6, LockKind::Exclusive);
        assert_eq!(
            spans(&t, A),
            [
                (0, 4, LockKind::Shared),
                (4, 6, LockKind::Exclusive),
                (6, 10, LockKind::Shared)
            ]
        );
        t.set(A, 4, 6, LockKind::Shared);
        assert_eq!(spans(&t, A), [(0, 10, LockKind::Shared)]);
    }

    #[test]
    fn partial_unlock_splits_and_adjacent_locks_merge() {
        let mut t = LockTable::default();
        t.set(A, 0, 3, LockKind::Exclusive);
        t.set(A, 3, 5, LockKind::Exclusive);
        assert_eq!(spans(&t, A), [(0, 5, LockKind::Exclusive)]);
        t.clear(A, 1, 2);
        assert_eq!(
            spans(&t, A),
            [(0, 1, LockKind::Exclusive), (2, 5, LockKind::Exclusive)]
        );
        t.clear(A, 0, 100);
        assert!(t.entries().is_empty());
    }

    #[test]
    fn conflicts_are_between_owners_not_processes() {
        let mut t = LockTable::default();
        t.set(A, 2, 3, LockKind::Shared);
        assert_eq!(t.conflict(B, 2, 3, LockKind::Shared), None);
        assert!(t.conflict(B, 0, 5, LockKind::Exclusive).is_some());
        assert_eq!(t.conflict(A, 0, 5, LockKind::Exclusive), None);
        assert_eq!(t.conflict(B, 3, 4, LockKind::Exclusive), None);
        t.release_owner(A);
        assert!(t.entries().is_empty());
    }

    #[test]
    fn empty_ranges_are_refused() {
        assert_eq!(bounds(LockRange { start: 5, len: 0 }), None);
        assert_eq!(
            bounds(LockRange {
                start: u32::MAX,
                len: u32::MAX
            }),
            Some((u64::from(u32::MAX), 2 * u64::from(u32::MAX)))
        );
    }
}

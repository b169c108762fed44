//! The lock table of one [`SysV`](crate::SysV) lock owner: its open file description of the
//! lock file, the bytes it holds and the bytes zero-copy views pin, in sorted vectors that
//! keep their capacity when the entry is reused.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use shmfits_core::shm::{LockKind, LockRange};

/// One lock owner: its own open file description of the lock file, what it holds and what
/// zero-copy views pin.
///
/// The byte tables are sorted vectors rather than maps so that a released entry, kept whole
/// in the spare pool of [`SysV`](crate::SysV) with its `Arc` and their capacity, makes a later owner without any
/// allocation (an owner usually locks one slot byte).
#[derive(Debug)]
pub(crate) struct OwnerEntry {
    pub(crate) fd: Arc<OwnedFd>,
    /// Locked bytes and the kind of each, sorted by byte, no byte twice.
    pub(crate) held: Vec<(u32, LockKind)>,
    /// Pin counts (never 0) of pinned bytes, sorted by byte, no byte twice.
    pub(crate) pins: Vec<(u32, u32)>,
}

impl OwnerEntry {
    pub(crate) fn new(fd: OwnedFd) -> OwnerEntry {
        OwnerEntry {
            fd: Arc::new(fd),
            held: Vec::new(),
            pins: Vec::new(),
        }
    }

    pub(crate) fn held(&self, byte: u32) -> Option<LockKind> {
        let i = self.held.binary_search_by_key(&byte, |&(b, _)| b).ok()?;
        self.held.get(i).map(|&(_, kind)| kind)
    }

    pub(crate) fn set_held(&mut self, range: LockRange, kind: LockKind) {
        for byte in bytes(range) {
            match self.held.binary_search_by_key(&byte, |&(b, _)| b) {
                Ok(i) => {
                    if let Some(e) = self.held.get_mut(i) {
                        e.1 = kind;
                    }
                }
                Err(i) => self.held.insert(i, (byte, kind)),
            }
        }
    }

    pub(crate) fn clear_held(&mut self, range: LockRange) {
        let (lo, hi) = span(&self.held, range, |&(b, _)| b);
        self.held.drain(lo..hi);
    }

    /// The first pinned byte of `range`, if any.
    pub(crate) fn first_pin(&self, range: LockRange) -> Option<u32> {
        let (lo, hi) = span(&self.pins, range, |&(b, _)| b);
        self.pins.get(lo..hi)?.first().map(|&(b, _)| b)
    }

    pub(crate) fn pin(&mut self, range: LockRange) {
        for byte in bytes(range) {
            match self.pins.binary_search_by_key(&byte, |&(b, _)| b) {
                Ok(i) => {
                    if let Some(e) = self.pins.get_mut(i) {
                        e.1 = e.1.saturating_add(1);
                    }
                }
                Err(i) => self.pins.insert(i, (byte, 1)),
            }
        }
    }

    pub(crate) fn unpin(&mut self, range: LockRange) {
        for byte in bytes(range) {
            if let Ok(i) = self.pins.binary_search_by_key(&byte, |&(b, _)| b) {
                if let Some(e) = self.pins.get_mut(i) {
                    e.1 = e.1.saturating_sub(1);
                    if e.1 == 0 {
                        self.pins.remove(i);
                    }
                }
            }
        }
    }
}

/// The index range of the entries of sorted `table` whose byte lies in `range`.
fn span<T>(table: &[T], range: LockRange, byte: impl Fn(&T) -> u32) -> (usize, usize) {
    let end = u64::from(range.start) + u64::from(range.len);
    let lo = table.partition_point(|e| byte(e) < range.start);
    let hi = table.partition_point(|e| u64::from(byte(e)) < end);
    (lo, hi.max(lo))
}

fn bytes(range: LockRange) -> impl Iterator<Item = u32> {
    (0..range.len).map(move |i| range.start.saturating_add(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> OwnerEntry {
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        OwnerEntry::new(fd)
    }

    fn range(start: u32, len: u32) -> LockRange {
        LockRange { start, len }
    }

    #[test]
    fn held_bytes_change_kind_and_split_on_unlock() {
        let mut e = entry();
        e.set_held(range(0, 8), LockKind::Shared);
        e.set_held(range(3, 2), LockKind::Exclusive);
        assert_eq!(e.held(2), Some(LockKind::Shared));
        assert_eq!(e.held(3), Some(LockKind::Exclusive));
        assert_eq!(e.held(4), Some(LockKind::Exclusive));
        assert_eq!(e.held(5), Some(LockKind::Shared));
        assert_eq!(e.held(8), None);
        e.clear_held(range(2, 4));
        let bytes: Vec<u32> = e.held.iter().map(|&(b, _)| b).collect();
        assert_eq!(bytes, [0, 1, 6, 7]);
        e.set_held(range(9, 1), LockKind::Exclusive);
        e.set_held(range(4, 1), LockKind::Shared);
        let bytes: Vec<u32> = e.held.iter().map(|&(b, _)| b).collect();
        assert_eq!(bytes, [0, 1, 4, 6, 7, 9]);
        e.clear_held(range(0, 10));
        assert!(e.held.is_empty());
    }

    #[test]
    fn pins_count_and_are_found_in_a_range() {
        let mut e = entry();
        e.pin(range(2, 3));
        e.pin(range(3, 1));
        assert_eq!(e.first_pin(range(0, 2)), None);
        assert_eq!(e.first_pin(range(0, 3)), Some(2));
        assert_eq!(e.first_pin(range(4, 10)), Some(4));
        assert_eq!(e.first_pin(range(5, 10)), None);
        e.unpin(range(2, 3));
        assert_eq!(e.first_pin(range(0, 16)), Some(3));
        e.unpin(range(3, 1));
        assert_eq!(e.first_pin(range(0, 16)), None);
        assert!(e.pins.is_empty());
        e.unpin(range(0, 4)); // unpinning what is not pinned changes nothing
        assert!(e.pins.is_empty());
    }

    #[test]
    fn span_ends_at_the_last_byte_of_the_type() {
        let mut e = entry();
        e.set_held(range(u32::MAX, 1), LockKind::Shared);
        e.pin(range(u32::MAX, 1));
        assert_eq!(e.first_pin(range(u32::MAX, 1)), Some(u32::MAX));
        e.unpin(range(u32::MAX, 1));
        assert_eq!(e.first_pin(range(u32::MAX, 1)), None);
        e.clear_held(range(u32::MAX, 1));
        assert!(e.held.is_empty());
    }
}

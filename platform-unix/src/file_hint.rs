//! The automatic size hint of [`ShmFile`](crate::ShmFile): a writer that streams a FITS file
//! from offset 0 tells us its size in the primary header (BITPIX, NAXISn, PCOUNT, GCOUNT).
//! [`HintTracker`] feeds the written bytes, block by block, to a
//! [`HeaderStream`]; once `END` has been written it yields header length + padded data
//! length of the primary HDU, which the file reserves at once (`Driver::reserve`), so that the
//! data land in their final segment instead of being copied by every doubling.
//!
//! The tracker gives up (and stays idle) at the first write that is not the continuation of
//! the previous one, or when the bytes are not a valid primary header: the hint is only an
//! optimization, never a check of what is written.

use shmfits_core::fits::{HeaderStream, Status, BLOCK_LEN};

/// Header bytes plus the block under assembly (one allocation per tracking writer).
#[derive(Debug)]
pub(crate) struct Tracking {
    stream: HeaderStream,
    block: [u8; BLOCK_LEN],
    /// Bytes of `block` filled so far.
    filled: usize,
    /// File offset the next write must start at to continue the stream.
    next: u64,
}

/// State of the automatic hint of one handle.
#[derive(Debug, Default)]
pub(crate) enum HintTracker {
    /// No write at offset 0 seen yet.
    #[default]
    Waiting,
    /// Streaming the primary header.
    Tracking(Box<Tracking>),
    /// Hint given, or given up (non-sequential write, not a FITS header).
    Done,
}

impl HintTracker {
    /// Note that `data` was written at file offset `pos`. Returns the size to reserve
    /// (header + padded data of the primary HDU, in FITS bytes) once, when the write
    /// completed the primary header.
    pub(crate) fn wrote(&mut self, pos: u64, data: &[u8]) -> Option<u64> {
        if data.is_empty() {
            return None;
        }
        let t = match self {
            HintTracker::Done => return None,
            HintTracker::Waiting if pos != 0 => {
                *self = HintTracker::Done;
                return None;
            }
            HintTracker::Waiting => {
                *self = HintTracker::Tracking(Box::new(Tracking {
                    stream: HeaderStream::new(0, 0),
                    block: [0; BLOCK_LEN],
                    filled: 0,
                    next: 0,
                }));
                match self {
                    HintTracker::Tracking(t) => t,
                    _ => return None,
                }
            }
            HintTracker::Tracking(t) => t,
        };
        if pos != t.next {
            *self = HintTracker::Done;
            return None;
        }
        let (result, keep) = t.feed(data);
        if !keep {
            *self = HintTracker::Done;
        }
        result
    }
}

impl Tracking {
    /// Feed `data`; returns the size to reserve (when the header completed) and whether to
    /// keep tracking.
    fn feed(&mut self, mut data: &[u8]) -> (Option<u64>, bool) {
        self.next = self.next.saturating_add(data.len() as u64);
        while !data.is_empty() {
            let room = BLOCK_LEN - self.filled;
            let n = room.min(data.len());
            let (head, rest) = data.split_at(n);
            if let Some(dst) = self.block.get_mut(self.filled..self.filled + n) {
                dst.copy_from_slice(head);
            }
            self.filled += n;
            data = rest;
            if self.filled < BLOCK_LEN {
                break;
            }
            self.filled = 0;
            match self.stream.push(&self.block) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(_)) => return (self.stream.next_header_start(), false),
                Err(_) => return (None, false),
            }
        }
        (None, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shmfits_core::fits::HeaderBuilder;

    fn header(naxis1: i64, naxis2: i64) -> [u8; BLOCK_LEN] {
        let mut buf = [0u8; BLOCK_LEN];
        let mut b = HeaderBuilder::new(&mut buf);
        b.logical("SIMPLE", true, None).unwrap();
        b.integer("BITPIX", 16, None).unwrap();
        b.integer("NAXIS", 2, None).unwrap();
        b.integer("NAXIS1", naxis1, None).unwrap();
        b.integer("NAXIS2", naxis2, None).unwrap();
        b.finish().unwrap();
        buf
    }

    #[test]
    fn header_in_small_pieces_gives_header_plus_padded_data_once() {
        let h = header(100, 3); // 600 data bytes → one 2880-byte block
        let mut t = HintTracker::default();
        let mut got = Vec::new();
        let mut pos = 0u64;
        for piece in h.chunks(7) {
            got.extend(t.wrote(pos, piece));
            pos += piece.len() as u64;
        }
        assert_eq!(got, vec![2 * BLOCK_LEN as u64]);
        assert_eq!(t.wrote(pos, &[0; 600]), None);
        assert!(matches!(t, HintTracker::Done));
    }

    #[test]
    fn header_and_data_in_one_write() {
        let mut bytes = header(1024, 4096).to_vec();
        bytes.extend(std::iter::repeat_n(0u8, 2048 * 4096));
        let mut t = HintTracker::default();
        let want = BLOCK_LEN as u64 + (2048u64 * 4096).div_ceil(2880) * 2880;
        assert_eq!(t.wrote(0, &bytes), Some(want));
    }

    #[test]
    fn non_sequential_or_non_fits_writes_give_up() {
        let h = header(10, 10);
        let mut t = HintTracker::default();
        assert_eq!(t.wrote(0, &h[..100]), None);
        assert_eq!(t.wrote(50, &h[100..]), None); // not where the last write ended
        assert!(matches!(t, HintTracker::Done));

        let mut t = HintTracker::default();
        assert_eq!(t.wrote(2880, &h), None); // did not start at 0
        assert!(matches!(t, HintTracker::Done));

        let mut t = HintTracker::default();
        assert_eq!(t.wrote(0, &[b'x'; BLOCK_LEN]), None); // not a primary header
        assert!(matches!(t, HintTracker::Done));
    }
}

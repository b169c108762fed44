//! Streaming header parser: feed one 2880-byte block at a time, learn when the header is
//! complete. For readers that do not map the whole file (e.g. reading through the shared
//! memory driver).
//!
//! The stream keeps only the layout under construction (see the memory bound in
//! [`layout`](super::layout)); blocks are not retained.
//!
//! ```
//! use shmfits_core::fits::{HeaderBuilder, HeaderStream, Status};
//!
//! let mut buf = [0u8; 2880];
//! let mut b = HeaderBuilder::new(&mut buf);
//! b.logical("SIMPLE", true, None).unwrap();
//! b.integer("BITPIX", -32, None).unwrap();
//! b.integer("NAXIS", 2, None).unwrap();
//! b.integer("NAXIS1", 4, None).unwrap();
//! b.integer("NAXIS2", 5, None).unwrap();
//! b.finish().unwrap();
//! let mut s = HeaderStream::new(0, 0);
//! match s.push(&buf).unwrap() {
//!     Status::Complete(layout) => assert_eq!(layout.data_len(), 80),
//!     Status::Partial => unreachable!(),
//! }
//! assert_eq!(s.header_len(), 2880);
//! ```

use super::error::{HduError, HduErrorKind};
use super::header::Scanner;
use super::layout::{Expect, HduLayout, MAX_NAXIS};
use super::BLOCK_LEN;

/// Result of pushing a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status<'s> {
    /// `END` has not been seen yet; push the next block.
    Partial,
    /// The header is complete; its layout. The data starts right after this block.
    Complete(&'s HduLayout),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Partial,
    Complete,
    Failed(HduError),
}

/// A header parsed one block at a time.
///
/// Fixed memory: about 8.2 KiB (the [`HduLayout`] under construction and the axis lengths
/// in a `[u64; 999]`), whatever the header length. After an error the stream stays failed and returns the same error.
#[derive(Clone)]
pub struct HeaderStream {
    scanner: Scanner,
    hdu: usize,
    start: u64,
    blocks: u64,
    state: State,
    axes: [u64; MAX_NAXIS],
}

impl core::fmt::Debug for HeaderStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeaderStream")
            .field("hdu", &self.hdu)
            .field("start", &self.start)
            .field("blocks", &self.blocks)
            .field("cards", &self.scanner.cards())
            .finish()
    }
}

impl HeaderStream {
    /// A stream for the header of HDU `hdu` (0 expects `SIMPLE`, others `XTENSION`) whose
    /// first byte is at offset `header_start` of the file (used to label errors).
    pub fn new(hdu: usize, header_start: u64) -> Self {
        let expect = if hdu == 0 {
            Expect::Primary
        } else {
            Expect::Extension
        };
        HeaderStream {
            scanner: Scanner::new(expect),
            hdu,
            start: header_start,
            blocks: 0,
            state: State::Partial,
            axes: [0; MAX_NAXIS],
        }
    }

    /// Pushes the next 2880-byte block of the header.
    ///
    /// # Errors
    /// [`HduError`] with the absolute byte offset, HDU index and card index: a block that is
    /// not 2880 bytes, a bad card, a mandatory keyword problem, size overflow, a non-blank
    /// card after `END`, or a push after the header was already complete.
    pub fn push(&mut self, block: &[u8]) -> Result<Status<'_>, HduError> {
        let at = self
            .start
            .saturating_add(self.blocks.saturating_mul(BLOCK_LEN as u64));
        match self.state {
            State::Failed(e) => return Err(e),
            State::Complete => {
                return Err(HduError::new(self.hdu, at, HduErrorKind::AfterEnd));
            }
            State::Partial => {}
        }
        let r = match <&[u8; BLOCK_LEN]>::try_from(block) {
            Ok(b) => self.scanner.block(b, self.hdu, at, &mut self.axes),
            Err(_) => Err(HduError::new(
                self.hdu,
                at,
                HduErrorKind::BlockLength(block.len()),
            )),
        };
        match r {
            Ok(done) => {
                self.blocks += 1;
                if done {
                    self.state = State::Complete;
                    Ok(Status::Complete(self.scanner.layout()))
                } else {
                    Ok(Status::Partial)
                }
            }
            Err(e) => {
                self.state = State::Failed(e);
                Err(e)
            }
        }
    }

    /// Whether `END` has been seen.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// The layout, once the header is complete.
    pub fn layout(&self) -> Option<&HduLayout> {
        match self.state {
            State::Complete => Some(self.scanner.layout()),
            _ => None,
        }
    }

    /// `NAXIS1`…`NAXISn`, once the header is complete (empty before).
    pub fn axes(&self) -> &[u64] {
        match self.layout() {
            Some(l) => self.axes.get(..usize::from(l.naxis())).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Header bytes accepted so far (a multiple of 2880; the header length once complete).
    pub const fn header_len(&self) -> u64 {
        self.blocks.saturating_mul(BLOCK_LEN as u64)
    }

    /// Number of cards before `END` seen so far.
    pub fn card_count(&self) -> usize {
        self.scanner.cards()
    }

    /// Offset of the next HDU's header, once complete: header start + header length +
    /// padded data length (`None` before completion or on overflow).
    pub fn next_header_start(&self) -> Option<u64> {
        let l = self.layout()?;
        self.start
            .checked_add(self.header_len())?
            .checked_add(l.padded_data_len())
    }
}

//! The HDU walk (FITS 4.0 §3): primary HDU, then extensions, each a header followed by its
//! data padded to a multiple of 2880 bytes. The walk reads headers only; data bytes are
//! never touched.
//!
//! Where to find what `smem info --json` prints, per HDU: `index` = [`Hdu::index`], `kind` =
//! [`Hdu::kind`]`.name()`, `bitpix` / `pcount` / `gcount` = [`Hdu::layout`], `naxis` =
//! [`Hdu::axes`], `header_start` = [`Hdu::header_start`], `data_start` =
//! [`Hdu::data_start`], `data_len` = [`Hdu::data_len`] (unpadded), `data_end` =
//! [`Hdu::padded_end`] (padded: where the next HDU starts; note that [`Hdu::data_end`] is
//! the *unpadded* end), `extname` = [`Hdu::extname`]; per card ([`Hdu::cards`]): `key` =
//! [`Card::keyword`](super::Card::keyword), `value` = [`Card::raw_value`](super::Card::raw_value),
//! `comment` = [`Card::comment`](super::Card::comment), `type` =
//! [`Card::type_name`](super::Card::type_name); on error ([`HduError`]): `offset`, `hdu`,
//! `card` fields and `kind` (its `Display` is the message without the location).
//!
//! ```
//! use shmfits_core::fits::{HeaderBuilder, Hdus, HduKind};
//!
//! let mut file = [0u8; 2 * 2880 + 2880];
//! let mut b = HeaderBuilder::new(&mut file[..2880]);
//! b.logical("SIMPLE", true, None).unwrap();
//! b.integer("BITPIX", 8, None).unwrap();
//! b.integer("NAXIS", 0, None).unwrap();
//! b.finish().unwrap();
//! let mut b = HeaderBuilder::new(&mut file[2880..5760]);
//! b.string("XTENSION", "IMAGE", None).unwrap();
//! b.integer("BITPIX", 8, None).unwrap();
//! b.integer("NAXIS", 1, None).unwrap();
//! b.integer("NAXIS1", 3, None).unwrap();
//! b.integer("PCOUNT", 0, None).unwrap();
//! b.integer("GCOUNT", 1, None).unwrap();
//! b.string("EXTNAME", "SCI", None).unwrap();
//! b.finish().unwrap();
//! let hdus: Vec<_> = Hdus::new(&file).collect::<Result<_, _>>().unwrap();
//! assert_eq!(hdus.len(), 2);
//! assert_eq!(hdus[1].layout().kind(), HduKind::Image);
//! assert_eq!(hdus[1].extname(), Some("SCI"));
//! assert_eq!(hdus[1].data_start(), 5760);
//! assert_eq!(hdus[1].data_end(), 5763);
//! assert_eq!(hdus[1].padded_end(), 8640);
//! ```

use core::ops::Range;

use super::error::{HduError, HduErrorKind};
use super::header::{scan, Cards, Header};
use super::layout::{Expect, HduKind, HduLayout};

/// One HDU of a file held in memory: where its header and data are, and its layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hdu<'a> {
    index: usize,
    header_start: usize,
    header: Header<'a>,
    data_end: usize,
    padded_end: usize,
}

impl<'a> Hdu<'a> {
    /// Index of the HDU in the file (0 = primary).
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The parsed header.
    pub const fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// The layout derived from the header.
    pub const fn layout(&self) -> &HduLayout {
        self.header.layout()
    }

    /// Shorthand for `self.layout().kind()`.
    pub const fn kind(&self) -> HduKind {
        self.header.layout().kind()
    }

    /// `EXTNAME`, if the header has a string `EXTNAME`.
    pub fn extname(&self) -> Option<&str> {
        self.header.layout().extname()
    }

    /// `NAXIS1`…`NAXISn` in order (read back from the header cards).
    pub fn axes(&self) -> super::header::Axes<'a> {
        self.header.axes()
    }

    /// The cards before `END` (borrowed; no allocation). For an HDU yielded by [`Hdus`]
    /// every card parses (the walk checked them), so the items are all `Ok`.
    pub fn cards(&self) -> Cards<'a> {
        self.header.cards()
    }

    /// Byte offset of the header's first block.
    pub const fn header_start(&self) -> usize {
        self.header_start
    }

    /// Byte range of the header blocks.
    pub const fn header_range(&self) -> Range<usize> {
        self.header_start..self.data_start()
    }

    /// Byte offset where the data starts (the end of the header blocks).
    pub const fn data_start(&self) -> usize {
        self.header_start + self.header.len()
    }

    /// Byte offset where the data ends, without padding.
    pub const fn data_end(&self) -> usize {
        self.data_end
    }

    /// Byte offset where the padded data ends: where the next HDU starts.
    pub const fn padded_end(&self) -> usize {
        self.padded_end
    }

    /// Data length without padding, in bytes.
    pub const fn data_len(&self) -> usize {
        self.data_end - self.data_start()
    }

    /// Byte range of the data without padding.
    pub const fn data_range(&self) -> Range<usize> {
        self.data_start()..self.data_end
    }

    /// Turns a card error from [`Hdu::cards`] into an [`HduError`] with this HDU's index and
    /// the absolute byte offset.
    pub fn card_error(&self, e: super::CardError) -> HduError {
        HduError::from_card(self.index, self.header_start as u64, e)
    }
}

/// Iterator over the HDUs of a FITS file in memory.
///
/// Yields each HDU in order. On the first error it yields `Err` (with the byte offset, the
/// HDU index and, where it concerns one card, the card index) and then ends; the HDUs
/// before it were yielded normally. An empty input yields one [`HduErrorKind::MissingEnd`]
/// error at offset 0.
#[derive(Debug, Clone)]
pub struct Hdus<'a> {
    input: &'a [u8],
    pos: usize,
    index: usize,
    done: bool,
}

impl<'a> Hdus<'a> {
    /// Walks the HDUs of `input`, which must start with the primary header.
    pub const fn new(input: &'a [u8]) -> Self {
        Hdus {
            input,
            pos: 0,
            index: 0,
            done: false,
        }
    }

    /// Byte offset where the next HDU would start.
    pub const fn position(&self) -> usize {
        self.pos
    }

    fn step(&mut self) -> Result<Hdu<'a>, HduError> {
        let expect = if self.index == 0 {
            Expect::Primary
        } else {
            Expect::Extension
        };
        let start = self.pos;
        let header = scan(self.input, start, self.index, expect)?;
        let data_start = start + header.len();
        let l = header.layout();
        let len = self.input.len() as u64;
        let past = |end| {
            HduError::new(
                self.index,
                data_start as u64,
                HduErrorKind::DataPastEnd { end, len },
            )
        };
        let padded_end =
            (data_start as u64)
                .checked_add(l.padded_data_len())
                .ok_or(HduError::new(
                    self.index,
                    data_start as u64,
                    HduErrorKind::Overflow,
                ))?;
        if padded_end > len {
            return Err(past(padded_end));
        }
        let padded_end = usize::try_from(padded_end).map_err(|_| past(padded_end))?;
        let data_end = usize::try_from(l.data_len())
            .ok()
            .and_then(|d| data_start.checked_add(d))
            .ok_or(past(padded_end as u64))?;
        Ok(Hdu {
            index: self.index,
            header_start: start,
            header,
            data_end,
            padded_end,
        })
    }
}

impl<'a> Iterator for Hdus<'a> {
    type Item = Result<Hdu<'a>, HduError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || (self.pos >= self.input.len() && self.index > 0) {
            return None;
        }
        match self.step() {
            Ok(h) => {
                self.pos = h.padded_end;
                self.index += 1;
                Some(Ok(h))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Hdus<'_> {}

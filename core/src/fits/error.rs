//! Errors of header parsing, the HDU walk and the streaming parser: what went wrong and where
//! (byte offset, HDU index, card index).

use core::fmt;

use super::card::{CardError, CardErrorKind};

/// A mandatory keyword (FITS 4.0 §4.4.1, §7), named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mandatory {
    /// `SIMPLE`, first keyword of the primary header.
    Simple,
    /// `XTENSION`, first keyword of an extension header.
    Xtension,
    /// `BITPIX`, second keyword.
    Bitpix,
    /// `NAXIS`, third keyword.
    Naxis,
    /// `NAXISn` (n from 1 to 999), following `NAXIS`.
    NaxisN(u16),
    /// `PCOUNT` (extensions; random groups).
    Pcount,
    /// `GCOUNT` (extensions; random groups).
    Gcount,
    /// `TFIELDS` (ASCII and binary tables).
    Tfields,
    /// `GROUPS = T` (random groups).
    Groups,
}

impl fmt::Display for Mandatory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Mandatory::Simple => f.write_str("SIMPLE"),
            Mandatory::Xtension => f.write_str("XTENSION"),
            Mandatory::Bitpix => f.write_str("BITPIX"),
            Mandatory::Naxis => f.write_str("NAXIS"),
            Mandatory::NaxisN(n) => write!(f, "NAXIS{n}"),
            Mandatory::Pcount => f.write_str("PCOUNT"),
            Mandatory::Gcount => f.write_str("GCOUNT"),
            Mandatory::Tfields => f.write_str("TFIELDS"),
            Mandatory::Groups => f.write_str("GROUPS"),
        }
    }
}

/// What is wrong with a header or an HDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HduErrorKind {
    /// A card could not be parsed.
    Card(CardErrorKind),
    /// The input ends inside a 2880-byte block.
    Truncated,
    /// The input ends (on a block boundary) before the `END` card.
    MissingEnd,
    /// A card after `END` in the last header block is not blank.
    NotBlankAfterEnd,
    /// A mandatory keyword is not where the standard requires it (another keyword is there).
    ExpectedKeyword(Mandatory),
    /// A mandatory keyword is missing before `END`.
    MissingKeyword(Mandatory),
    /// A mandatory keyword has a value the standard does not allow here.
    InvalidValue(Mandatory),
    /// `SIMPLE = F`: the file says it does not conform to the standard.
    NotConforming,
    /// The data size overflows 64-bit arithmetic.
    Overflow,
    /// The data (with padding) would end past the end of the input.
    DataPastEnd {
        /// Where the padded data would end.
        end: u64,
        /// Length of the input.
        len: u64,
    },
    /// A streaming block is not 2880 bytes long (its length is given).
    BlockLength(usize),
    /// A block was pushed to a stream whose header is already complete.
    AfterEnd,
}

impl fmt::Display for HduErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HduErrorKind::Card(k) => k.fmt(f),
            HduErrorKind::Truncated => f.write_str("input ends inside a 2880-byte block"),
            HduErrorKind::MissingEnd => f.write_str("input ends before the END card"),
            HduErrorKind::NotBlankAfterEnd => {
                f.write_str("card after END in the last header block is not blank")
            }
            HduErrorKind::ExpectedKeyword(m) => write!(f, "expected mandatory keyword {m} here"),
            HduErrorKind::MissingKeyword(m) => write!(f, "mandatory keyword {m} is missing"),
            HduErrorKind::InvalidValue(m) => write!(f, "value of {m} is not allowed here"),
            HduErrorKind::NotConforming => f.write_str("SIMPLE = F: file does not conform"),
            HduErrorKind::Overflow => f.write_str("data size overflows 64-bit arithmetic"),
            HduErrorKind::DataPastEnd { end, len } => write!(
                f,
                "data would end at byte {end}, past the end of the input ({len} bytes)"
            ),
            HduErrorKind::BlockLength(n) => write!(f, "block is {n} bytes long, not 2880"),
            HduErrorKind::AfterEnd => f.write_str("header is already complete"),
        }
    }
}

/// A header or HDU error: where (HDU index, card index, absolute byte offset) and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HduError {
    /// Index of the HDU (0 = primary).
    pub hdu: usize,
    /// Card index within that HDU's header (from 0), if the error concerns one card.
    pub card: Option<usize>,
    /// Byte offset from the start of the input (for a card error, of the offending byte).
    pub offset: u64,
    /// What is wrong.
    pub kind: HduErrorKind,
}

impl HduError {
    /// An error at `offset` in HDU `hdu`, not tied to a card.
    pub const fn new(hdu: usize, offset: u64, kind: HduErrorKind) -> Self {
        HduError {
            hdu,
            card: None,
            offset,
            kind,
        }
    }

    /// Turns a [`CardError`] of the header starting at `header_start` into an HDU error
    /// (the card index and in-card offset give the absolute offset).
    pub fn from_card(hdu: usize, header_start: u64, e: CardError) -> Self {
        let card_start = (e.card as u64).saturating_mul(80);
        HduError {
            hdu,
            card: Some(e.card),
            offset: header_start
                .saturating_add(card_start)
                .saturating_add(e.offset as u64),
            kind: HduErrorKind::Card(e.kind),
        }
    }
}

impl fmt::Display for HduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HDU {}", self.hdu)?;
        if let Some(c) = self.card {
            write!(f, ", card {c}")?;
        }
        write!(f, ", byte offset {}: {}", self.offset, self.kind)
    }
}

impl core::error::Error for HduError {}

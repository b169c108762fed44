//! A header (FITS 4.0 §4.4): 2880-byte blocks of 36 cards ending with `END`, the rest of the
//! last block blank. [`Header::parse`] checks every card, the mandatory keywords in order,
//! and derives the [`HduLayout`].
//!
//! ```
//! use shmfits_core::fits::{Header, HeaderBuilder, HduKind, Value};
//!
//! let mut buf = [0u8; 2880];
//! let mut b = HeaderBuilder::new(&mut buf);
//! b.logical("SIMPLE", true, None).unwrap();
//! b.integer("BITPIX", 16, None).unwrap();
//! b.integer("NAXIS", 1, None).unwrap();
//! b.integer("NAXIS1", 10, None).unwrap();
//! b.string("OBJECT", "M31", Some("target")).unwrap();
//! let n = b.finish().unwrap();
//! let header = Header::parse(&buf[..n]).unwrap();
//! assert_eq!(header.layout().kind(), HduKind::Primary);
//! assert_eq!(header.layout().data_len(), 20);
//! let obj = header.get("OBJECT").unwrap();
//! assert_eq!(obj.raw_value(), "'M31     '");
//! assert_eq!(header.cards().count(), 5);
//! ```

use super::card::{Card, CardError, CardErrorKind, CardKind, CARD_LEN};
use super::error::{HduError, HduErrorKind};
use super::layout::{Expect, HduLayout, LayoutBuilder};
use super::value::{skip_spaces, BufferTooSmall, FitsStr, Value};
use super::BLOCK_LEN;

/// Checks cards block by block and feeds the layout builder (shared by [`Header::parse`],
/// the HDU walk and the streaming parser).
#[derive(Clone)]
pub(crate) struct Scanner {
    builder: LayoutBuilder,
    /// Cards seen so far (before `END`).
    cards: usize,
    /// Whether `END` was seen.
    ended: bool,
    /// Blank cards seen after `END`.
    after: usize,
}

impl Scanner {
    pub(crate) fn new(expect: Expect) -> Self {
        Scanner {
            builder: LayoutBuilder::new(expect),
            cards: 0,
            ended: false,
            after: 0,
        }
    }

    /// Scans one block whose first byte is at absolute offset `at`. Returns `true` if it
    /// holds `END`.
    /// `NAXISn` values are stored in `axes[n - 1]` when `axes` is long enough.
    pub(crate) fn block(
        &mut self,
        block: &[u8; BLOCK_LEN],
        hdu: usize,
        at: u64,
        axes: &mut [u64],
    ) -> Result<bool, HduError> {
        for (k, raw) in block.chunks_exact(CARD_LEN).enumerate() {
            let card_at = at.saturating_add((k * CARD_LEN) as u64);
            if self.ended {
                if skip_spaces(raw, 0) < CARD_LEN {
                    return Err(HduError {
                        hdu,
                        card: Some(self.cards + 1 + self.after),
                        offset: card_at,
                        kind: HduErrorKind::NotBlankAfterEnd,
                    });
                }
                self.after += 1;
                continue;
            }
            let index = self.cards;
            let err = |kind| HduError {
                hdu,
                card: Some(index),
                offset: card_at,
                kind,
            };
            let raw: &[u8; CARD_LEN] = raw.try_into().map_err(|_| {
                HduError::new(
                    hdu,
                    card_at,
                    HduErrorKind::Card(CardErrorKind::Length(raw.len())),
                )
            })?;
            let card = Card::parse_inline(raw, index).map_err(|e| HduError {
                hdu,
                card: Some(index),
                offset: card_at.saturating_add(e.offset as u64),
                kind: HduErrorKind::Card(e.kind),
            })?;
            if card.kind() == CardKind::End {
                self.builder.finish(index).map_err(|(kind, at)| HduError {
                    hdu,
                    card: Some(at),
                    // `at` ≤ `index`: an earlier card of this header, whose offset follows.
                    offset: card_at.saturating_sub((index.saturating_sub(at) * CARD_LEN) as u64),
                    kind,
                })?;
                self.ended = true;
                continue;
            }
            self.builder.feed(index, &card, axes).map_err(err)?;
            self.cards += 1;
        }
        Ok(self.ended)
    }

    pub(crate) fn cards(&self) -> usize {
        self.cards
    }

    pub(crate) fn layout(&self) -> &HduLayout {
        self.builder.layout()
    }
}

/// Scans the header starting at `start` of `input`. Returns the header and its layout.
pub(crate) fn scan(
    input: &[u8],
    start: usize,
    hdu: usize,
    expect: Expect,
) -> Result<Header<'_>, HduError> {
    let mut s = Scanner::new(expect);
    let mut pos = start;
    loop {
        let Some(block) = input.get(pos..).and_then(|r| r.first_chunk::<BLOCK_LEN>()) else {
            let kind = if pos >= input.len() {
                HduErrorKind::MissingEnd
            } else {
                HduErrorKind::Truncated
            };
            return Err(HduError::new(hdu, pos as u64, kind));
        };
        let done = s.block(block, hdu, pos as u64, &mut [])?;
        pos += BLOCK_LEN;
        if done {
            break;
        }
    }
    Ok(Header {
        bytes: input.get(start..pos).unwrap_or(&[]),
        cards: s.cards(),
        layout: *s.layout(),
    })
}

/// A parsed header: its blocks (borrowed), the number of cards before `END`, and the layout.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Header<'a> {
    bytes: &'a [u8],
    cards: usize,
    layout: HduLayout,
}

impl<'a> Header<'a> {
    /// Parses the header at the start of `bytes` (primary or extension, told by its first
    /// keyword). Bytes after the header's last block are ignored.
    ///
    /// # Errors
    /// [`HduError`] (HDU index 0) with the byte offset and card index: a bad card, a
    /// mandatory keyword missing, misplaced or with a forbidden value, size overflow, a
    /// non-blank card after `END`, or the input ending before `END` / inside a block.
    pub fn parse(bytes: &'a [u8]) -> Result<Header<'a>, HduError> {
        scan(bytes, 0, 0, Expect::Any)
    }

    /// The header bytes: whole 2880-byte blocks through the one holding `END`.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Header length in bytes (a multiple of 2880).
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always `false`: a header has at least one block. (For API symmetry with `len`.)
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of cards before `END` (commentary cards included).
    pub const fn card_count(&self) -> usize {
        self.cards
    }

    /// The layout derived from the mandatory keywords.
    pub const fn layout(&self) -> &HduLayout {
        &self.layout
    }

    /// `NAXIS1`…`NAXISn` in order, read back from the header's cards (which the parse
    /// checked).
    pub fn axes(&self) -> Axes<'a> {
        Axes {
            cards: self.cards(),
            next: 0,
            naxis: usize::from(self.layout.naxis()),
        }
    }

    /// The cards before `END`, in order (borrowed; nothing is allocated).
    pub fn cards(&self) -> Cards<'a> {
        Cards::new(self.bytes, self.cards)
    }

    /// The first value card with this keyword.
    pub fn get(&self, keyword: &str) -> Option<Card<'a>> {
        self.cards()
            .flatten()
            .find(|c| c.kind() == CardKind::Value && c.keyword() == keyword)
    }

    /// The long string (`CONTINUE` convention) starting at the first value card with this
    /// keyword, if that card has a string value.
    pub fn long_string(&self, keyword: &str) -> Option<LongString<'a>> {
        let mut cards = self.cards();
        for c in cards.by_ref().flatten() {
            if c.kind() == CardKind::Value && c.keyword() == keyword {
                let first = c.value().and_then(Value::as_str)?;
                return Some(LongString { first, rest: cards });
            }
        }
        None
    }
}

/// Iterator over the axis lengths `NAXIS1`…`NAXISn` of a parsed header.
#[derive(Debug, Clone)]
pub struct Axes<'a> {
    cards: Cards<'a>,
    next: usize,
    naxis: usize,
}

impl Iterator for Axes<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.next >= self.naxis {
            return None;
        }
        // NAXISn is card 2 + n (checked by the parse).
        self.cards.next = 3 + self.next;
        self.next += 1;
        let card = self.cards.peek()?.ok()?;
        card.value()?.as_i64()?.try_into().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.naxis.saturating_sub(self.next);
        (0, Some(n))
    }
}

/// Iterator over the cards of a header, yielding each parsed card or its error.
#[derive(Debug, Clone)]
pub struct Cards<'a> {
    bytes: &'a [u8],
    next: usize,
    count: usize,
}

impl<'a> Cards<'a> {
    /// Iterates over the first `count` cards of `bytes` (a header's bytes).
    pub fn new(bytes: &'a [u8], count: usize) -> Self {
        Cards {
            bytes,
            next: 0,
            count: count.min(bytes.len() / CARD_LEN),
        }
    }

    fn peek(&self) -> Option<Result<Card<'a>, CardError>> {
        if self.next >= self.count {
            return None;
        }
        let start = self.next * CARD_LEN;
        let raw = self.bytes.get(start..start + CARD_LEN)?;
        Some(Card::parse(raw, self.next))
    }
}

impl<'a> Iterator for Cards<'a> {
    type Item = Result<Card<'a>, CardError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.peek()?;
        self.next += 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.count.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Cards<'_> {}

/// A string value continued over `CONTINUE` cards (FITS 4.0 §4.2.1.2): each part but the
/// last ends with `&`, which is not part of the value.
#[derive(Debug, Clone)]
pub struct LongString<'a> {
    first: FitsStr<'a>,
    rest: Cards<'a>,
}

impl<'a> LongString<'a> {
    /// The parts in order, each without its continuation `&` (escaped form).
    pub fn parts(&self) -> Parts<'a> {
        Parts {
            cur: Some(self.first),
            rest: self.rest.clone(),
        }
    }

    /// Iterates over the unescaped bytes of the whole string.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + 'a {
        self.parts().flat_map(|p| p.bytes())
    }

    /// Length of the whole unescaped string in bytes.
    pub fn unescaped_len(&self) -> usize {
        self.parts().map(|p| p.unescaped_len()).sum()
    }

    /// Copies the whole unescaped string into `buf`, returning its length.
    ///
    /// # Errors
    /// [`BufferTooSmall`] with the length needed if `buf` is too short.
    pub fn copy_unescaped(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let needed = self.unescaped_len();
        if needed > buf.len() {
            return Err(BufferTooSmall { needed });
        }
        for (d, s) in buf.iter_mut().zip(self.bytes()) {
            *d = s;
        }
        Ok(needed)
    }
}

/// Iterator over the parts of a [`LongString`].
#[derive(Debug, Clone)]
pub struct Parts<'a> {
    cur: Option<FitsStr<'a>>,
    rest: Cards<'a>,
}

impl<'a> Iterator for Parts<'a> {
    type Item = FitsStr<'a>;

    fn next(&mut self) -> Option<FitsStr<'a>> {
        let cur = self.cur.take()?;
        if let Some(stem) = cur.raw().strip_suffix('&') {
            if let Some(Ok(c)) = self.rest.peek() {
                if c.kind() == CardKind::Continue {
                    self.rest.next();
                    self.cur = c.value().and_then(Value::as_str);
                    return Some(FitsStr::from_escaped(stem));
                }
            }
        }
        Some(cur)
    }
}

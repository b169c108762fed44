//! Writing fixed-format cards (FITS 4.0 §4.2) into caller buffers, building whole headers,
//! and padding data.
//!
//! Logical values sit in byte 30, numbers are right-justified to byte 30, strings start in
//! byte 11 with at least 8 characters between the quotes, comments follow ` / `. Reals are
//! written in the shortest form that parses back to the same `f64` bits.
//!
//! ```
//! use shmfits_core::fits::{format_card, CardValue, Card, Value};
//!
//! let mut card = [0u8; 80];
//! format_card(&mut card, "EXPTIME", CardValue::Real(0.1), Some("s")).unwrap();
//! assert_eq!(&card[..36], b"EXPTIME =                  0.1 / s  ");
//! assert_eq!(Card::parse(&card, 0).unwrap().value(), Some(&Value::Real(0.1)));
//! ```

use core::fmt::{self, Write as _};

use super::card::CARD_LEN;
use super::layout::padded;
use super::BLOCK_LEN;

/// Longest escaped string content on one card (bytes 12–79, between the quotes).
pub const MAX_STRING_CONTENT: usize = 68;
/// Longest commentary text (bytes 9–80).
pub const MAX_COMMENTARY: usize = 72;

/// Why a card or header could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteError {
    /// The caller's buffer is too small; `needed` bytes would be required.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// The keyword is empty, longer than 8 bytes, has a byte outside `A`–`Z`, `0`–`9`, `-`,
    /// `_`, or is reserved (`END`, `COMMENT`, `HISTORY`, `CONTINUE`, `HIERARCH`) for this use.
    InvalidKeyword,
    /// A string, comment or commentary text has a byte outside printable ASCII.
    NotPrintable,
    /// The value does not fit on one card (use [`HeaderBuilder::long_string`] for strings).
    ValueTooLong,
    /// The comment does not fit on the card after the value.
    CommentTooLong,
    /// The real value is NaN or infinite, which FITS cannot write.
    NotFinite,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WriteError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            WriteError::InvalidKeyword => f.write_str("invalid or reserved keyword name"),
            WriteError::NotPrintable => f.write_str("text has a byte outside printable ASCII"),
            WriteError::ValueTooLong => f.write_str("value does not fit on one card"),
            WriteError::CommentTooLong => f.write_str("comment does not fit on the card"),
            WriteError::NotFinite => f.write_str("real value is NaN or infinite"),
        }
    }
}

impl core::error::Error for WriteError {}

/// A value to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CardValue<'v> {
    /// `T` or `F` in byte 30.
    Logical(bool),
    /// Right-justified to byte 30.
    Integer(i64),
    /// Right-justified to byte 30, shortest exact form, uppercase `E`.
    Real(f64),
    /// `(re, im)` with integer parts.
    ComplexInteger(i64, i64),
    /// `(re, im)` with real parts.
    ComplexReal(f64, f64),
    /// A string (unescaped; quotes are doubled when written). At most 68 bytes once escaped.
    String(&'v str),
    /// No value (blank value field).
    Undefined,
}

/// The keyword of a commentary card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commentary {
    /// `COMMENT`.
    Comment,
    /// `HISTORY`.
    History,
    /// A blank keyword.
    Blank,
}

/// A [`fmt::Write`] into a byte slice that fails when full.
#[derive(Debug)]
pub struct SliceWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> SliceWriter<'b> {
    /// Writes into `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        SliceWriter { buf, len: 0 }
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

fn check_keyword(key: &str) -> Result<(), WriteError> {
    let ok = !key.is_empty()
        && key.len() <= 8
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !matches!(key, "END" | "COMMENT" | "HISTORY" | "CONTINUE" | "HIERARCH");
    if ok {
        Ok(())
    } else {
        Err(WriteError::InvalidKeyword)
    }
}

/// Formats an `f64` in the shortest form that parses back to the same bits (uppercase `E`).
fn fmt_real(w: &mut SliceWriter<'_>, r: f64) -> Result<(), WriteError> {
    if !r.is_finite() {
        return Err(WriteError::NotFinite);
    }
    let start = w.len;
    write!(w, "{r:?}").map_err(|_| WriteError::ValueTooLong)?;
    if let Some(t) = w.buf.get_mut(start..w.len) {
        for b in t {
            if *b == b'e' {
                *b = b'E';
            }
        }
    }
    Ok(())
}

/// Formats the value text (not strings) into `w`.
fn fmt_value(w: &mut SliceWriter<'_>, v: CardValue<'_>) -> Result<(), WriteError> {
    let e = |_| WriteError::ValueTooLong;
    match v {
        CardValue::Logical(b) => w.write_str(if b { "T" } else { "F" }).map_err(e),
        CardValue::Integer(i) => write!(w, "{i}").map_err(e),
        CardValue::Real(r) => fmt_real(w, r),
        CardValue::ComplexInteger(a, b) => write!(w, "({a}, {b})").map_err(e),
        CardValue::ComplexReal(a, b) => {
            w.write_str("(").map_err(e)?;
            fmt_real(w, a)?;
            w.write_str(", ").map_err(e)?;
            fmt_real(w, b)?;
            w.write_str(")").map_err(e)
        }
        CardValue::String(_) | CardValue::Undefined => Ok(()),
    }
}

/// Writes `'escaped'` (padded to at least 8 characters) at `at`; returns the end offset.
fn put_string(
    card: &mut [u8; CARD_LEN],
    at: usize,
    s: &str,
    min8: bool,
) -> Result<usize, WriteError> {
    if !printable(s) {
        return Err(WriteError::NotPrintable);
    }
    let mut i = at;
    let mut put = |i: &mut usize, b: u8| -> Result<(), WriteError> {
        // The closing quote must still fit at or before byte 80.
        let slot = card
            .get_mut(*i)
            .filter(|_| *i < CARD_LEN - 1)
            .ok_or(WriteError::ValueTooLong)?;
        *slot = b;
        *i += 1;
        Ok(())
    };
    put(&mut i, b'\'')?;
    for b in s.bytes() {
        put(&mut i, b)?;
        if b == b'\'' {
            put(&mut i, b'\'')?;
        }
    }
    if min8 && !s.is_empty() {
        while i < at + 9 {
            put(&mut i, b' ')?;
        }
    }
    let slot = card.get_mut(i).ok_or(WriteError::ValueTooLong)?;
    *slot = b'\'';
    Ok(i + 1)
}

/// Writes ` / comment` after offset `end` (from byte 31 if the value ended before it and the
/// comment fits there).
fn put_comment(
    card: &mut [u8; CARD_LEN],
    end: usize,
    comment: Option<&str>,
) -> Result<(), WriteError> {
    let Some(c) = comment else { return Ok(()) };
    if !printable(c) {
        return Err(WriteError::NotPrintable);
    }
    // Comments start in byte 31 when they fit there, else right after the value.
    let at = if 30 + 3 + c.len() <= CARD_LEN {
        end.max(30)
    } else {
        end
    };
    let text_at = at + 3;
    let dst = card
        .get_mut(text_at..text_at + c.len())
        .ok_or(WriteError::CommentTooLong)?;
    dst.copy_from_slice(c.as_bytes());
    if let Some(sep) = card.get_mut(at..text_at) {
        sep.copy_from_slice(b" / ");
    }
    Ok(())
}

fn put_keyword(card: &mut [u8; CARD_LEN], key: &str) {
    card.fill(b' ');
    if let Some(dst) = card.get_mut(..key.len()) {
        dst.copy_from_slice(key.as_bytes());
    }
}

/// Formats a value card in fixed format into `card` (all 80 bytes are written).
///
/// # Errors
/// [`WriteError`]: invalid or reserved keyword, non-printable text, a value or comment that
/// does not fit, or a non-finite real. `card` may be partly written on error.
pub fn format_card(
    card: &mut [u8; CARD_LEN],
    keyword: &str,
    value: CardValue<'_>,
    comment: Option<&str>,
) -> Result<(), WriteError> {
    check_keyword(keyword)?;
    put_keyword(card, keyword);
    card[8] = b'=';
    let end = match value {
        CardValue::String(s) => put_string(card, 10, s, true)?,
        CardValue::Undefined => 10,
        v => {
            let mut tmp = [0u8; 72];
            let mut w = SliceWriter::new(&mut tmp);
            fmt_value(&mut w, v)?;
            let text = w.written();
            let start = if text.len() <= 20 {
                30 - text.len()
            } else {
                10
            };
            card.get_mut(start..start + text.len())
                .ok_or(WriteError::ValueTooLong)?
                .copy_from_slice(text);
            start + text.len()
        }
    };
    put_comment(card, end, comment)
}

/// Formats a commentary card (`COMMENT`, `HISTORY` or blank keyword) with `text` in bytes
/// 9–80.
///
/// # Errors
/// [`WriteError::NotPrintable`] or [`WriteError::ValueTooLong`] (more than 72 bytes).
pub fn format_commentary(
    card: &mut [u8; CARD_LEN],
    keyword: Commentary,
    text: &str,
) -> Result<(), WriteError> {
    if !printable(text) {
        return Err(WriteError::NotPrintable);
    }
    put_keyword(
        card,
        match keyword {
            Commentary::Comment => "COMMENT",
            Commentary::History => "HISTORY",
            Commentary::Blank => "",
        },
    );
    card.get_mut(8..8 + text.len())
        .ok_or(WriteError::ValueTooLong)?
        .copy_from_slice(text.as_bytes());
    Ok(())
}

/// Formats the `END` card.
pub fn format_end(card: &mut [u8; CARD_LEN]) {
    put_keyword(card, "END");
}

/// Escaped length of `s` (quotes doubled).
fn escaped_len(s: &str) -> usize {
    s.len() + s.bytes().filter(|&b| b == b'\'').count()
}

/// Byte length of the next part of a long string: the longest prefix whose escaped form
/// fits in 67 characters (leaving room for the `&` marker); never splits a quote from its
/// double.
fn split_part(s: &str) -> usize {
    let mut used = 0;
    let mut n = 0;
    for b in s.bytes() {
        let w = if b == b'\'' { 2 } else { 1 };
        if used + w > MAX_STRING_CONTENT - 1 {
            break;
        }
        used += w;
        n += 1;
    }
    n
}

/// Byte length of the next part of long string `s` whose last part may hold `last_cap`
/// escaped bytes (at least 2): all of `s` if it fits there; else as much as an `&` part
/// holds, but leaving a non-empty last part (the last card carries the comment).
fn next_part(s: &str, last_cap: usize) -> usize {
    if escaped_len(s) <= last_cap {
        return s.len();
    }
    let n = split_part(s);
    if n < s.len() {
        return n;
    }
    // All of `s` would fit on this `&` card: keep the longest tail that fits the last one.
    let mut tail = 0;
    let mut used = 0;
    for b in s.bytes().rev() {
        let w = if b == b'\'' { 2 } else { 1 };
        if used + w > last_cap {
            break;
        }
        used += w;
        tail += 1;
    }
    s.len() - tail
}

/// Whether ` / comment` fits after string content of `content` escaped bytes (padded to 8).
fn comment_fits(content: usize, comment: Option<&str>) -> bool {
    let content = if content == 0 { 0 } else { content.max(8) };
    match comment {
        None => true,
        Some(c) => 10 + 2 + content + 3 + c.len() <= CARD_LEN,
    }
}

/// Appends cards to a caller's buffer, then `END` and blank padding to a 2880 multiple.
///
/// ```
/// use shmfits_core::fits::{HeaderBuilder, WriteError};
///
/// let mut small = [0u8; 100];
/// let mut b = HeaderBuilder::new(&mut small);
/// b.logical("SIMPLE", true, None).unwrap();
/// assert_eq!(b.integer("BITPIX", 8, None), Err(WriteError::BufferTooSmall { needed: 160 }));
/// ```
#[derive(Debug)]
pub struct HeaderBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> HeaderBuilder<'b> {
    /// Starts a header at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        HeaderBuilder { buf, len: 0 }
    }

    /// Bytes written so far (a multiple of 80).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no card was written yet.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks that `n` more cards fit.
    fn reserve(&self, n: usize) -> Result<(), WriteError> {
        let needed = self.len.saturating_add(n.saturating_mul(CARD_LEN));
        if needed > self.buf.len() {
            Err(WriteError::BufferTooSmall { needed })
        } else {
            Ok(())
        }
    }

    /// Formats one card with `f` in a scratch buffer and appends it.
    fn push_with(
        &mut self,
        f: impl FnOnce(&mut [u8; CARD_LEN]) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        self.reserve(1)?;
        let mut card = [b' '; CARD_LEN];
        f(&mut card)?;
        self.raw(&card)
    }

    /// Appends an already formatted card.
    ///
    /// # Errors
    /// [`WriteError::BufferTooSmall`].
    pub fn raw(&mut self, card: &[u8; CARD_LEN]) -> Result<(), WriteError> {
        self.reserve(1)?;
        let end = self.len + CARD_LEN;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(WriteError::BufferTooSmall { needed: end })?;
        dst.copy_from_slice(card);
        self.len = end;
        Ok(())
    }

    /// Appends a value card (see [`format_card`]).
    ///
    /// # Errors
    /// As [`format_card`], or [`WriteError::BufferTooSmall`].
    pub fn card(
        &mut self,
        keyword: &str,
        value: CardValue<'_>,
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        self.push_with(|c| format_card(c, keyword, value, comment))
    }

    /// Appends a logical card.
    ///
    /// # Errors
    /// As [`HeaderBuilder::card`].
    pub fn logical(
        &mut self,
        keyword: &str,
        v: bool,
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        self.card(keyword, CardValue::Logical(v), comment)
    }

    /// Appends an integer card.
    ///
    /// # Errors
    /// As [`HeaderBuilder::card`].
    pub fn integer(
        &mut self,
        keyword: &str,
        v: i64,
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        self.card(keyword, CardValue::Integer(v), comment)
    }

    /// Appends a real card.
    ///
    /// # Errors
    /// As [`HeaderBuilder::card`].
    pub fn real(&mut self, keyword: &str, v: f64, comment: Option<&str>) -> Result<(), WriteError> {
        self.card(keyword, CardValue::Real(v), comment)
    }

    /// Appends a single-card string (at most 68 bytes escaped).
    ///
    /// # Errors
    /// As [`HeaderBuilder::card`].
    pub fn string(
        &mut self,
        keyword: &str,
        v: &str,
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        self.card(keyword, CardValue::String(v), comment)
    }

    /// Appends a commentary card.
    ///
    /// # Errors
    /// As [`format_commentary`], or [`WriteError::BufferTooSmall`].
    pub fn commentary(&mut self, keyword: Commentary, text: &str) -> Result<(), WriteError> {
        self.push_with(|c| format_commentary(c, keyword, text))
    }

    /// Appends a `COMMENT` card.
    ///
    /// # Errors
    /// As [`HeaderBuilder::commentary`].
    pub fn comment(&mut self, text: &str) -> Result<(), WriteError> {
        self.commentary(Commentary::Comment, text)
    }

    /// Appends a `HISTORY` card.
    ///
    /// # Errors
    /// As [`HeaderBuilder::commentary`].
    pub fn history(&mut self, text: &str) -> Result<(), WriteError> {
        self.commentary(Commentary::History, text)
    }

    /// Appends a string of any length: one card if it fits, otherwise a first card and
    /// `CONTINUE` cards, each part but the last ending with `&` (FITS 4.0 §4.2.1.2). The
    /// comment goes on the last card, which always carries the string's last characters
    /// (an empty final `CONTINUE  ''` part is read by CFITSIO 4.2.0 with the `&` kept).
    /// Nothing is written on error.
    ///
    /// # Errors
    /// [`WriteError::InvalidKeyword`], [`WriteError::NotPrintable`],
    /// [`WriteError::CommentTooLong`] (more than 63 bytes when the string needs more than
    /// one card: the last card must keep room for a character), or
    /// [`WriteError::BufferTooSmall`] with the bytes needed for all the cards.
    pub fn long_string(
        &mut self,
        keyword: &str,
        s: &str,
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        check_keyword(keyword)?;
        if !printable(s) || !comment.is_none_or(printable) {
            return Err(WriteError::NotPrintable);
        }
        // Trailing spaces are insignificant; dropping them keeps the last part from being
        // all spaces (which would read back as one space). A blank string stays one space.
        let s = match s.trim_end_matches(' ') {
            "" if !s.is_empty() => " ",
            t => t,
        };
        if escaped_len(s) <= MAX_STRING_CONTENT && comment_fits(escaped_len(s), comment) {
            return self.string(keyword, s, comment);
        }
        // `CONTINUE  '` + content + `' / ` + comment: at least 2 content bytes (a quote
        // doubled) must remain.
        let last_cap = match comment {
            None => MAX_STRING_CONTENT - 1,
            Some(c) if c.len() <= CARD_LEN - 17 => {
                (CARD_LEN - 15 - c.len()).min(MAX_STRING_CONTENT - 1)
            }
            Some(_) => return Err(WriteError::CommentTooLong),
        };
        // Pad the last part to 8 characters (as a single-card string) only if the comment
        // still fits after that.
        let pad_last = comment_fits(1, comment);
        // Count the cards first so that nothing is written if the buffer is too small.
        let mut parts = 0usize;
        let mut rest = s;
        while !rest.is_empty() || parts == 0 {
            let (_, r) = rest.split_at(next_part(rest, last_cap));
            parts += 1;
            rest = r;
        }
        self.reserve(parts)?;
        let mut rest = s;
        let mut first = true;
        while first || !rest.is_empty() {
            let (part, r) = rest.split_at(next_part(rest, last_cap));
            rest = r;
            let mut card = [b' '; CARD_LEN];
            if first {
                put_keyword(&mut card, keyword);
                card[8] = b'=';
            } else {
                put_keyword(&mut card, "CONTINUE");
            }
            if !rest.is_empty() {
                // The part followed by the `&` marker, without padding.
                let mut tmp = [0u8; MAX_STRING_CONTENT + 1];
                let mut w = SliceWriter::new(&mut tmp);
                write!(w, "{part}&").map_err(|_| WriteError::ValueTooLong)?;
                let n = w.len();
                let text = core::str::from_utf8(tmp.get(..n).unwrap_or(&[])).unwrap_or("");
                put_string(&mut card, 10, text, false)?;
            } else {
                let end = put_string(&mut card, 10, part, pad_last)?;
                put_comment(&mut card, end, comment)?;
            }
            self.raw(&card)?;
            first = false;
        }
        Ok(())
    }

    /// Writes `END` and pads with spaces to a multiple of 2880 bytes. Returns the header
    /// length in bytes.
    ///
    /// # Errors
    /// [`WriteError::BufferTooSmall`] with the total header length needed.
    pub fn finish(self) -> Result<usize, WriteError> {
        let with_end = self.len + CARD_LEN;
        let total = with_end.div_ceil(BLOCK_LEN) * BLOCK_LEN;
        let dst = self
            .buf
            .get_mut(self.len..total)
            .ok_or(WriteError::BufferTooSmall { needed: total })?;
        dst.fill(b' ');
        if let Some(end) = dst.first_chunk_mut::<3>() {
            *end = *b"END";
        }
        Ok(total)
    }
}

/// Fills `buf[len..]` up to the next multiple of 2880 with zeros (binary data padding).
/// Returns the padded length.
///
/// # Errors
/// [`WriteError::BufferTooSmall`] if `buf` is shorter than the padded length.
pub fn pad_data(buf: &mut [u8], len: usize) -> Result<usize, WriteError> {
    pad_data_with(buf, len, 0)
}

/// Like [`pad_data`] with a chosen fill byte (ASCII table data is padded with spaces,
/// `b' '`).
///
/// # Errors
/// [`WriteError::BufferTooSmall`] if `buf` is shorter than the padded length.
pub fn pad_data_with(buf: &mut [u8], len: usize, fill: u8) -> Result<usize, WriteError> {
    let total = padded(len as u64)
        .and_then(|t| usize::try_from(t).ok())
        .ok_or(WriteError::BufferTooSmall { needed: usize::MAX })?;
    buf.get_mut(len..total)
        .ok_or(WriteError::BufferTooSmall { needed: total })?
        .fill(fill);
    Ok(total)
}

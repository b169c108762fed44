//! One 80-byte header card (FITS 4.0 §4.1): keyword, value indicator, value, comment.
//!
//! [`Card::parse`] checks the length once; after that no accessor can panic. Everything is
//! borrowed from the input bytes.
//!
//! ```
//! use shmfits_core::fits::{Card, CardKind, Value};
//!
//! let mut raw = [b' '; 80];
//! raw[..30].copy_from_slice(b"NAXIS1  =                  100");
//! raw[30..43].copy_from_slice(b" / axis width");
//! let card = Card::parse(&raw, 0).unwrap();
//! assert_eq!(card.keyword(), "NAXIS1");
//! assert_eq!(card.kind(), CardKind::Value);
//! assert_eq!(card.value(), Some(&Value::Integer(100)));
//! assert_eq!(card.raw_value(), "100");
//! assert_eq!(card.comment(), Some("axis width"));
//! ```

use core::fmt;

use super::value::{skip_spaces, trim_end_at, FitsStr, Value};

/// Length of a header card in bytes.
pub const CARD_LEN: usize = 80;

/// Byte ranges of the fixed card fields (0-based, half-open).
pub mod field {
    use core::ops::Range;
    /// The keyword name, left-justified, space-padded (bytes 1–8 in the standard's 1-based
    /// columns).
    pub const KEYWORD: Range<usize> = 0..8;
    /// The value indicator `= ` (bytes 9–10).
    pub const INDICATOR: Range<usize> = 8..10;
    /// The value and comment (bytes 11–80).
    pub const VALUE: Range<usize> = 10..80;
}

/// What a card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    /// A keyword with the value indicator `= ` (or an ESO `HIERARCH` keyword with `=`).
    Value,
    /// Commentary: `COMMENT`, `HISTORY`, a blank keyword, or any keyword without `= `.
    Commentary,
    /// A `CONTINUE` card carrying the next part of a long string.
    Continue,
    /// The `END` card.
    End,
}

/// What is wrong with a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardErrorKind {
    /// The slice is not 80 bytes long (its length is given).
    Length(usize),
    /// A byte outside printable ASCII `0x20..=0x7E` (the byte is given).
    InvalidByte(u8),
    /// A keyword byte that is not `A`–`Z`, `0`–`9`, `-`, `_`, or a non-trailing space.
    InvalidKeyword(u8),
    /// A string value without its closing quote.
    UnterminatedString,
    /// The value text is not a valid logical, number, complex or string.
    InvalidValue,
    /// Text after a string value that is not a `/` comment.
    TextAfterString,
    /// The `END` card has something other than spaces after the keyword.
    EndNotBlank,
}

/// A card that cannot be parsed: which card, where in it, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardError {
    /// Card index as given by the caller (within its header, counting from 0).
    pub card: usize,
    /// Byte offset within the card (0..80) where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub kind: CardErrorKind,
}

impl fmt::Display for CardErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CardErrorKind::Length(n) => write!(f, "card is {n} bytes long, not 80"),
            CardErrorKind::InvalidByte(b) => {
                write!(f, "byte 0x{b:02X} is not printable ASCII (0x20..=0x7E)")
            }
            CardErrorKind::InvalidKeyword(b) => write!(
                f,
                "keyword character {:?} is not A-Z, 0-9, '-' or '_'",
                char::from(b)
            ),
            CardErrorKind::UnterminatedString => f.write_str("string value has no closing quote"),
            CardErrorKind::InvalidValue => {
                f.write_str("value is not a valid logical, integer, real, complex or string")
            }
            CardErrorKind::TextAfterString => {
                f.write_str("text after the string value is not a '/' comment")
            }
            CardErrorKind::EndNotBlank => f.write_str("END card is not blank after the keyword"),
        }
    }
}

impl fmt::Display for CardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "card {}, byte offset {}: {}",
            self.card, self.offset, self.kind
        )
    }
}

impl core::error::Error for CardError {}

/// A parsed header card, borrowing its 80 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Card<'a> {
    bytes: &'a [u8; CARD_LEN],
    index: usize,
    kind: CardKind,
    keyword: &'a str,
    value: Value<'a>,
    raw_value: &'a str,
    comment: Option<&'a str>,
    hierarch: bool,
}

/// `true` for bytes allowed in a keyword name.
const fn key_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = true;
        c += 1;
    }
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t[b'-' as usize] = true;
    t[b'_' as usize] = true;
    t
}
static KEY_CHAR: [bool; 256] = key_table();

/// Whether every byte is printable ASCII (branch-free, vectorizes).
#[inline]
pub(crate) fn all_printable(bytes: &[u8; CARD_LEN]) -> bool {
    let mut bad = 0u8;
    for &b in bytes {
        bad |= u8::from(b.wrapping_sub(0x20) > 0x5E);
    }
    bad == 0
}

fn first_unprintable(bytes: &[u8]) -> Option<(usize, u8)> {
    bytes
        .iter()
        .enumerate()
        .find(|(_, &b)| !(0x20..=0x7E).contains(&b))
        .map(|(i, &b)| (i, b))
}

/// Checks the keyword field; returns its length (0 for a blank keyword) or the offending
/// offset and byte.
#[inline]
fn keyword_len(key: &[u8; 8]) -> Result<usize, (usize, u8)> {
    let mut len = 0;
    while len < 8 && KEY_CHAR[usize::from(key[len])] {
        len += 1;
    }
    let mut i = len;
    while i < 8 {
        if key[i] != b' ' {
            return Err((i, key[i]));
        }
        i += 1;
    }
    Ok(len)
}

/// Value, raw value text and comment of a value field.
type Parsed<'a> = (Value<'a>, &'a str, Option<&'a str>);

/// Parses the value field starting at byte `start` of the card text: a value and an
/// optional comment.
#[inline(always)]
fn parse_value_field(text: &str, start: usize) -> Result<Parsed<'_>, (usize, CardErrorKind)> {
    let b = text.as_bytes();
    let pos = skip_spaces(b, start);
    let rest = text.get(pos..).unwrap_or("");
    match b.get(pos) {
        None => Ok((Value::Undefined, "", None)),
        Some(b'\'') => {
            let (s, used) =
                FitsStr::parse_prefix(rest).ok_or((pos, CardErrorKind::UnterminatedString))?;
            let raw = rest.get(..used).unwrap_or("");
            let at = skip_spaces(b, pos + used);
            let comment = match b.get(at) {
                None => None,
                Some(b'/') => Some(comment_text(text, at)),
                Some(_) => return Err((at, CardErrorKind::TextAfterString)),
            };
            Ok((Value::String(s), raw, comment))
        }
        Some(_) => {
            let (vend, comment) = match rest.find('/') {
                Some(p) => (pos + p, Some(comment_text(text, pos + p))),
                None => (b.len(), None),
            };
            let vend = trim_end_at(b, pos, vend);
            let raw = text.get(pos..vend).unwrap_or("");
            let value = Value::parse_trimmed(raw).ok_or((pos, CardErrorKind::InvalidValue))?;
            Ok((value, raw, comment))
        }
    }
}

/// The comment after the `/` at `slash`: one optional leading space removed, trailing
/// spaces trimmed (as CFITSIO does).
#[inline]
fn comment_text(text: &str, slash: usize) -> &str {
    let b = text.as_bytes();
    let mut s = slash + 1;
    if b.get(s) == Some(&b' ') {
        s += 1;
    }
    let e = trim_end_at(b, s, b.len());
    text.get(s..e).unwrap_or("")
}

impl<'a> Card<'a> {
    /// Parses one card. `index` is the card's number within its header (from 0); it is only
    /// used to label errors and is returned by [`Card::index`].
    ///
    /// # Errors
    /// [`CardError`] naming the card index, the byte offset within the card and the problem:
    /// wrong length, a byte outside `0x20..=0x7E`, a bad keyword, a malformed value, or a
    /// non-blank `END` card.
    pub fn parse(bytes: &'a [u8], index: usize) -> Result<Card<'a>, CardError> {
        let bytes: &'a [u8; CARD_LEN] = bytes.try_into().map_err(|_| CardError {
            card: index,
            offset: 0,
            kind: CardErrorKind::Length(bytes.len()),
        })?;
        Self::parse_array(bytes, index)
    }

    /// Like [`Card::parse`] on an array reference (no length check needed).
    ///
    /// # Errors
    /// As [`Card::parse`].
    pub fn parse_array(bytes: &'a [u8; CARD_LEN], index: usize) -> Result<Card<'a>, CardError> {
        Self::parse_inline(bytes, index)
    }

    /// [`Card::parse_array`], always inlined (the header scanner's hot loop).
    #[inline(always)]
    pub(crate) fn parse_inline(
        bytes: &'a [u8; CARD_LEN],
        index: usize,
    ) -> Result<Card<'a>, CardError> {
        let err = |offset, kind| CardError {
            card: index,
            offset,
            kind,
        };
        if !all_printable(bytes) {
            if let Some((off, b)) = first_unprintable(bytes) {
                return Err(err(off, CardErrorKind::InvalidByte(b)));
            }
        }
        // Printable ASCII is valid UTF-8, so this cannot fail.
        let text = core::str::from_utf8(bytes).map_err(|e| {
            let off = e.valid_up_to();
            err(
                off,
                CardErrorKind::InvalidByte(bytes.get(off).copied().unwrap_or(0)),
            )
        })?;
        let sub = |r: core::ops::Range<usize>| text.get(r).unwrap_or("");
        let key: &[u8; 8] = bytes
            .first_chunk::<8>()
            .ok_or(err(0, CardErrorKind::Length(0)))?;
        let mut hierarch = false;
        let keyword;
        let kind;
        let (mut value, mut raw_value, mut comment) = (Value::Undefined, "", None);
        // ESO HIERARCH convention: the name runs from byte 10 to the value indicator, the
        // first `=`, and cannot hold `=` itself. A `/` or `'` before that `=` means there
        // is no value indicator: the `=` is inside free text (`HIERARCH ESO NOTE / a=b`),
        // and the card is commentary. (CFITSIO 4.2.0 takes the first `=` regardless and
        // names the keyword `ESO NOTE / a`.)
        let hier_eq = if key == b"HIERARCH" && bytes[8] == b' ' {
            text.find('=')
                .filter(|&eq| !sub(9..eq).contains(['/', '\'']))
        } else {
            None
        };
        if let Some(eq) = hier_eq {
            (value, raw_value, comment) =
                parse_value_field(text, eq + 1).map_err(|(o, k)| err(o, k))?;
            keyword = sub(0..trim_end_at(bytes, 0, eq));
            kind = CardKind::Value;
            hierarch = true;
        } else {
            let klen =
                keyword_len(key).map_err(|(o, b)| err(o, CardErrorKind::InvalidKeyword(b)))?;
            keyword = sub(0..klen);
            let indicator = bytes[8] == b'=' && bytes[9] == b' ';
            match keyword {
                "END" => {
                    let p = skip_spaces(bytes, 8);
                    if p < CARD_LEN {
                        return Err(err(p, CardErrorKind::EndNotBlank));
                    }
                    kind = CardKind::End;
                }
                "CONTINUE" if bytes.get(skip_spaces(bytes, 8)) == Some(&b'\'') => {
                    (value, raw_value, comment) =
                        parse_value_field(text, 8).map_err(|(o, k)| err(o, k))?;
                    kind = CardKind::Continue;
                }
                "" | "COMMENT" | "HISTORY" | "CONTINUE" => {
                    raw_value = sub(8..trim_end_at(bytes, 8, CARD_LEN));
                    kind = CardKind::Commentary;
                }
                _ if indicator => {
                    (value, raw_value, comment) =
                        parse_value_field(text, 10).map_err(|(o, k)| err(o, k))?;
                    kind = CardKind::Value;
                }
                _ => {
                    raw_value = sub(8..trim_end_at(bytes, 8, CARD_LEN));
                    kind = CardKind::Commentary;
                }
            }
        }
        Ok(Card {
            bytes,
            index,
            kind,
            keyword,
            value,
            raw_value,
            comment,
            hierarch,
        })
    }

    /// The card's 80 bytes.
    pub const fn bytes(&self) -> &'a [u8; CARD_LEN] {
        self.bytes
    }

    /// The card index given to [`Card::parse`].
    pub const fn index(&self) -> usize {
        self.index
    }

    /// What kind of card this is.
    pub const fn kind(&self) -> CardKind {
        self.kind
    }

    /// The keyword name without trailing spaces (`""` for a blank keyword). For ESO
    /// `HIERARCH` cards, all text before `=` (e.g. `HIERARCH ESO DET CHIP`), trailing spaces
    /// removed; a `HIERARCH` card with a `/` or `'` before its first `=` has no value
    /// indicator and is commentary, keyword `HIERARCH`.
    pub const fn keyword(&self) -> &'a str {
        self.keyword
    }

    /// Whether this is an ESO `HIERARCH` card.
    pub const fn is_hierarch(&self) -> bool {
        self.hierarch
    }

    /// The typed value of a [`CardKind::Value`] or [`CardKind::Continue`] card; `None` for
    /// commentary and `END`.
    pub fn value(&self) -> Option<&Value<'a>> {
        match self.kind {
            CardKind::Value | CardKind::Continue => Some(&self.value),
            CardKind::Commentary | CardKind::End => None,
        }
    }

    /// The value text as written, trimmed (strings with their quotes, e.g. `'IMAGE   '`);
    /// for commentary cards the text after the keyword (bytes 9–80), trailing spaces
    /// removed; `""` for `END` and undefined values.
    pub const fn raw_value(&self) -> &'a str {
        self.raw_value
    }

    /// The comment after `/` (one leading space and trailing spaces removed), if any.
    /// Commentary cards have no comment; their text is [`Card::raw_value`].
    pub const fn comment(&self) -> Option<&'a str> {
        self.comment
    }

    /// The type name used by `smem info --json`: `logical`, `integer`, `real`, `complex`,
    /// `string`, `undefined`, `commentary`, `continue` (and `end` for the `END` card).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            CardKind::Value => self.value.type_name(),
            CardKind::Commentary => "commentary",
            CardKind::Continue => "continue",
            CardKind::End => "end",
        }
    }

    /// Whether this card's string value ends with `&`, i.e. continues on a `CONTINUE` card.
    pub fn continues(&self) -> bool {
        match (self.kind, self.value) {
            (CardKind::Value | CardKind::Continue, Value::String(s)) => s.raw().ends_with('&'),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;

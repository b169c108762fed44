//! Typed keyword values (FITS 4.0 §4.2): logical, integer, real, complex, string, undefined.
//!
//! Everything borrows from the card; strings keep their escaped form (`''` for a quote) and
//! are unescaped on demand, without allocation.
//!
//! ```
//! use shmfits_core::fits::Value;
//!
//! assert_eq!(Value::parse("42"), Some(Value::Integer(42)));
//! assert_eq!(Value::parse("1.5D2"), Some(Value::Real(150.0)));
//! assert_eq!(Value::parse("(1, 2)"), Some(Value::ComplexInteger(1, 2)));
//! let Some(Value::String(s)) = Value::parse("'O''HARA  '") else { panic!() };
//! let mut buf = [0u8; 16];
//! let n = s.copy_unescaped(&mut buf).unwrap();
//! assert_eq!(&buf[..n], b"O'HARA");
//! ```

use core::fmt;

/// Longest value text a card can hold (bytes 11–80 of a fixed-format card); also the size of
/// the stack buffer used to convert `D` exponents.
pub const MAX_VALUE_LEN: usize = 70;

/// A keyword value, borrowed from its card.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Logical `T` (true) or `F` (false).
    Logical(bool),
    /// An integer that fits in `i64`.
    Integer(i64),
    /// A syntactically valid integer beyond the `i64` range, kept as its text (never wrapped).
    BigInteger(&'a str),
    /// A real number (`E` or `D` exponent).
    Real(f64),
    /// A complex number whose two parts are integers that fit in `i64`.
    ComplexInteger(i64, i64),
    /// A complex number with at least one real (or out-of-`i64`-range) part.
    ComplexReal(f64, f64),
    /// A character string (escaped form; see [`FitsStr`]).
    String(FitsStr<'a>),
    /// No value: the value field is empty.
    Undefined,
}

impl<'a> Value<'a> {
    /// Parses a free-format value text (already stripped of any `/ comment`; surrounding
    /// spaces are allowed). Returns `None` if the text is not a valid FITS value.
    ///
    /// A string must be the whole text (`'abc'`); use [`FitsStr::parse_prefix`] to split a
    /// string from what follows it.
    pub fn parse(text: &'a str) -> Option<Value<'a>> {
        let b = text.as_bytes();
        let start = skip_spaces(b, 0);
        let end = trim_end_at(b, start, b.len());
        Self::parse_trimmed(text.get(start..end)?)
    }

    /// [`Value::parse`] on text without leading or trailing spaces.
    pub(crate) fn parse_trimmed(s: &'a str) -> Option<Value<'a>> {
        match s.as_bytes().first() {
            None => Some(Value::Undefined),
            Some(b'\'') => {
                let (fs, used) = FitsStr::parse_prefix(s)?;
                if used == s.len() {
                    Some(Value::String(fs))
                } else {
                    None
                }
            }
            Some(b'(') => parse_complex(s),
            _ => parse_scalar(s),
        }
    }

    /// The lower-case type name used by `smem info --json`: `logical`, `integer`, `real`,
    /// `complex`, `string` or `undefined`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Logical(_) => "logical",
            Value::Integer(_) | Value::BigInteger(_) => "integer",
            Value::Real(_) => "real",
            Value::ComplexInteger(..) | Value::ComplexReal(..) => "complex",
            Value::String(_) => "string",
            Value::Undefined => "undefined",
        }
    }

    /// The value as `i64` if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Integer(i) => Some(i),
            _ => None,
        }
    }

    /// The value as `f64` if it is a real or an integer (integers convert with rounding).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Real(r) => Some(r),
            Value::Integer(i) => Some(i as f64),
            _ => None,
        }
    }

    /// The value as `bool` if it is logical.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Logical(b) => Some(b),
            _ => None,
        }
    }

    /// The value as a string if it is one.
    pub fn as_str(&self) -> Option<FitsStr<'a>> {
        match *self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A FITS character string in its escaped form: the text between the quotes, with `''`
/// standing for one quote, trailing spaces removed (they are insignificant) — except that a
/// string of only spaces keeps one space, to stay distinct from the null string `''`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FitsStr<'a> {
    raw: &'a str,
}

/// The caller's buffer is too small for an unescaped string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes needed.
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer too small: {} bytes needed", self.needed)
    }
}

impl core::error::Error for BufferTooSmall {}

impl<'a> FitsStr<'a> {
    /// Wraps already-escaped text (the content between the quotes). The text is taken as is;
    /// a lone `'` is treated as one quote by the unescaping iterator.
    pub const fn from_escaped(raw: &'a str) -> Self {
        FitsStr { raw }
    }

    /// Parses a quoted string at the start of `s` (which must begin with `'`). Returns the
    /// string and the number of bytes used (through the closing quote), or `None` if the
    /// closing quote is missing.
    pub fn parse_prefix(s: &'a str) -> Option<(FitsStr<'a>, usize)> {
        let b = s.as_bytes();
        if b.first() != Some(&b'\'') {
            return None;
        }
        let mut i = 1;
        let close = loop {
            let q = i + s.get(i..)?.find('\'')?;
            if b.get(q + 1) == Some(&b'\'') {
                i = q + 2;
            } else {
                break q;
            }
        };
        let inner = s.get(1..close)?;
        Some((FitsStr::new_trimmed(inner), close + 1))
    }

    fn new_trimmed(inner: &'a str) -> Self {
        // Trailing spaces are insignificant, but a blank string stays one space.
        let end = trim_end_at(inner.as_bytes(), 1, inner.len());
        FitsStr {
            raw: inner.get(..end).unwrap_or(inner),
        }
    }

    /// The escaped text (quotes doubled), without the enclosing quotes.
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// Iterates over the unescaped bytes (`''` yields one `'`).
    pub fn bytes(&self) -> Unescaped<'a> {
        Unescaped {
            rest: self.raw.as_bytes(),
        }
    }

    /// Length of the unescaped string in bytes.
    pub fn unescaped_len(&self) -> usize {
        self.bytes().count()
    }

    /// Copies the unescaped string into `buf`, returning its length.
    ///
    /// # Errors
    /// [`BufferTooSmall`] with the length needed if `buf` is shorter than the string.
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

    /// Whether the unescaped string equals `s`.
    pub fn eq_unescaped(&self, s: &str) -> bool {
        self.bytes().eq(s.bytes())
    }

    /// Whether the string equals `s` after removing trailing spaces from both (FITS string
    /// comparison, e.g. for `XTENSION = 'IMAGE   '`).
    pub fn eq_trimmed(&self, s: &str) -> bool {
        let a = trim_end(self.raw.as_bytes());
        let b = trim_end(s.as_bytes());
        Unescaped { rest: a }.eq(b.iter().copied())
    }
}

impl fmt::Debug for FitsStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.raw)
    }
}

impl fmt::Display for FitsStr<'_> {
    /// Writes the unescaped string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.raw;
        while let Some(p) = rest.find("''") {
            f.write_str(rest.get(..=p).unwrap_or(""))?;
            rest = rest.get(p + 2..).unwrap_or("");
        }
        f.write_str(rest)
    }
}

/// Iterator over the unescaped bytes of a [`FitsStr`].
#[derive(Debug, Clone)]
pub struct Unescaped<'a> {
    rest: &'a [u8],
}

impl Iterator for Unescaped<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        if b == b'\'' {
            if let Some((&b'\'', r)) = self.rest.split_first() {
                self.rest = r;
            }
        }
        Some(b)
    }
}

const SPACES: u64 = u64::from_le_bytes([b' '; 8]);

/// Index of the first non-space byte at or after `i` (`b.len()` if none); eight bytes at a
/// time.
#[inline]
pub(crate) fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*w) ^ SPACES;
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i.min(b.len())
}

/// End of `b[start..end]` once trailing spaces are removed (never below `start`); eight
/// bytes at a time.
#[inline]
pub(crate) fn trim_end_at(b: &[u8], start: usize, mut end: usize) -> usize {
    end = end.min(b.len());
    while end >= start + 8 {
        let Some(w) = b.get(..end).and_then(<[u8]>::last_chunk::<8>) else {
            break;
        };
        let x = u64::from_le_bytes(*w) ^ SPACES;
        if x != 0 {
            return end - (x.leading_zeros() / 8) as usize;
        }
        end -= 8;
    }
    while end > start && b.get(end - 1) == Some(&b' ') {
        end -= 1;
    }
    end
}

pub(crate) fn trim(b: &[u8]) -> &[u8] {
    trim_end(trim_start(b))
}

pub(crate) fn trim_start(b: &[u8]) -> &[u8] {
    b.get(skip_spaces(b, 0)..).unwrap_or(&[])
}

pub(crate) fn trim_end(b: &[u8]) -> &[u8] {
    b.get(..trim_end_at(b, 0, b.len())).unwrap_or(&[])
}

/// A number recognized by the scalar grammar.
#[derive(Clone, Copy)]
enum Num<'a> {
    Int(i64),
    BigInt(&'a str),
    Real(f64),
}

fn parse_scalar(s: &str) -> Option<Value<'_>> {
    match s {
        "T" => return Some(Value::Logical(true)),
        "F" => return Some(Value::Logical(false)),
        _ => {}
    }
    Some(match parse_number(s)? {
        Num::Int(i) => Value::Integer(i),
        Num::BigInt(t) => Value::BigInteger(t),
        Num::Real(r) => Value::Real(r),
    })
}

fn parse_complex(s: &str) -> Option<Value<'_>> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    let (a, b) = inner.split_once(',')?;
    let a = core::str::from_utf8(trim(a.as_bytes())).ok()?;
    let b = core::str::from_utf8(trim(b.as_bytes())).ok()?;
    match (parse_number(a)?, parse_number(b)?) {
        (Num::Int(x), Num::Int(y)) => Some(Value::ComplexInteger(x, y)),
        (x, y) => Some(Value::ComplexReal(num_f64(x)?, num_f64(y)?)),
    }
}

fn num_f64(n: Num<'_>) -> Option<f64> {
    match n {
        Num::Int(i) => Some(i as f64),
        Num::Real(r) => Some(r),
        Num::BigInt(t) => t.parse::<f64>().ok(),
    }
}

/// Parses `[+-]digits` (integer) or `[+-](digits[.digits]|.digits)[(E|D)[+-]digits]` (real).
fn parse_number(s: &str) -> Option<Num<'_>> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'+') => {
            i = 1;
            false
        }
        Some(b'-') => {
            i = 1;
            true
        }
        _ => false,
    };
    let int_start = i;
    let mut acc: Option<i64> = Some(0);
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        let d = i64::from(c - b'0');
        acc = acc.and_then(|a| a.checked_mul(10)).and_then(|a| {
            if neg {
                a.checked_sub(d)
            } else {
                a.checked_add(d)
            }
        });
        i += 1;
    }
    let int_digits = i - int_start;
    if i == b.len() {
        if int_digits == 0 {
            return None;
        }
        return Some(match acc {
            Some(v) => Num::Int(v),
            None => Num::BigInt(s),
        });
    }
    // Real: optional fraction, optional exponent.
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            frac_digits += 1;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mut exp_at = None;
    if let Some(b'E' | b'D' | b'e' | b'd') = b.get(i) {
        exp_at = Some(i);
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let r = match exp_at {
        Some(e) if matches!(b.get(e), Some(b'D' | b'd')) => {
            let mut buf = [0u8; MAX_VALUE_LEN];
            let dst = buf.get_mut(..b.len())?;
            dst.copy_from_slice(b);
            if let Some(c) = dst.get_mut(e) {
                *c = b'E';
            }
            core::str::from_utf8(dst).ok()?.parse::<f64>().ok()?
        }
        _ => s.parse::<f64>().ok()?,
    };
    Some(Num::Real(r))
}

#[cfg(test)]
mod tests;

//! Slot names: `shmem://h7`, `h7`, `shmem://h7[2]`, `shmem://h7[EVENTS]`.
//!
//! CFITSIO parses names with `sscanf("h%d")`, so `h03`, `h3abc`, `"h 3"`, `h3.fits` and
//! `h4294967299` all open `h3` (issue 5 row 8). Here names are strict:
//!
//! * an optional `shmem://` prefix, then `h`;
//! * the slot number in decimal, without sign, without leading zeros (`h0` is fine), below the
//!   configured slot count;
//! * then nothing, or exactly one HDU selector `[…]`: a decimal HDU index (`[2]`) or an
//!   extension name (`[EVENTS]`) made of printable ASCII other than `[` and `]`.
//!
//! Every error carries a copy of the name (up to [`MAX_NAME_LEN`] bytes) and the byte offset
//! where parsing stopped, and its `Display` shows both.
//!
//! ```
//! use shmfits_core::shm::{parse_name, HduSelector};
//! let n = parse_name("shmem://h7[EVENTS]", 16).unwrap();
//! assert_eq!(n.slot, 7);
//! assert_eq!(n.hdu, Some(HduSelector::Name("EVENTS")));
//! assert!(parse_name("h03", 16).is_err());
//! assert!(parse_name("h16", 16).is_err());
//! ```

use core::fmt;

/// Longest name accepted, in bytes (prefix and selector included).
pub const MAX_NAME_LEN: usize = 68;

/// The URL prefix CFITSIO uses for its shared-memory driver.
pub const PREFIX: &str = "shmem://";

/// Which HDU of the file a name selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HduSelector<'a> {
    /// By position: `[0]` is the primary HDU.
    Index(u32),
    /// By `EXTNAME`, exactly as written between the brackets.
    Name(&'a str),
}

/// A parsed slot name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotName<'a> {
    /// The slot index (`h7` → 7), below the configured slot count.
    pub slot: u32,
    /// The HDU selector, if the name had one.
    pub hdu: Option<HduSelector<'a>>,
}

/// Why a name was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameErrorKind {
    /// The name is empty (or only the prefix).
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    TooLong,
    /// A byte is not printable ASCII.
    NonPrintable,
    /// The name does not start with `h` (after the optional prefix).
    MissingH,
    /// No digits follow the `h`.
    NoDigits,
    /// The slot number has a leading zero (`h03`).
    LeadingZero,
    /// The slot number does not fit in 32 bits.
    Overflow,
    /// The slot number is not below the slot count.
    OutOfRange {
        /// The configured slot count.
        slots: u32,
    },
    /// Something other than an HDU selector follows the slot number.
    Trailing,
    /// The HDU selector `[]` is empty.
    EmptySelector,
    /// The HDU selector has no closing `]`, or has bytes after it.
    BadSelector,
}

impl fmt::Display for NameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameErrorKind::Empty => f.write_str("empty name"),
            NameErrorKind::TooLong => write!(f, "longer than {MAX_NAME_LEN} bytes"),
            NameErrorKind::NonPrintable => f.write_str("byte is not printable ASCII"),
            NameErrorKind::MissingH => f.write_str("expected 'h' before the slot number"),
            NameErrorKind::NoDigits => f.write_str("expected a decimal slot number"),
            NameErrorKind::LeadingZero => f.write_str("slot number has a leading zero"),
            NameErrorKind::Overflow => f.write_str("slot number does not fit in 32 bits"),
            NameErrorKind::OutOfRange { slots } => {
                write!(f, "slot number is not below the slot count {slots}")
            }
            NameErrorKind::Trailing => {
                f.write_str("only an HDU selector '[...]' may follow the slot number")
            }
            NameErrorKind::EmptySelector => f.write_str("empty HDU selector '[]'"),
            NameErrorKind::BadSelector => {
                f.write_str("HDU selector must be '[index]' or '[EXTNAME]' and end the name")
            }
        }
    }
}

/// A copy of (the start of) a name, for error messages. `Display` escapes non-printable bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameCopy {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
    truncated: bool,
}

impl NameCopy {
    /// Copy the first [`MAX_NAME_LEN`] bytes of `name`.
    pub fn new(name: &str) -> Self {
        let mut bytes = [0u8; MAX_NAME_LEN];
        let n = name.len().min(MAX_NAME_LEN);
        let src = name.as_bytes().get(..n).unwrap_or(&[]);
        if let Some(dst) = bytes.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        NameCopy {
            bytes,
            len: u8::try_from(src.len()).unwrap_or(0),
            truncated: name.len() > MAX_NAME_LEN,
        }
    }

    /// The copied bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Display for NameCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.as_bytes() {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NameCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A rejected name: the name, the byte offset where it went wrong, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NameError {
    /// Copy of the name as given.
    pub name: NameCopy,
    /// Byte offset into the name where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub kind: NameErrorKind,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad shared-memory name {} at byte {}: {}",
            self.name, self.offset, self.kind
        )
    }
}

impl core::error::Error for NameError {}

/// Parse a slot name against a slot count of `slots`.
///
/// # Errors
/// [`NameError`] naming the name, the byte offset and the reason, for everything that is not
/// exactly `[shmem://]h<slot>[<selector>]` as described in the [module docs](self).
pub fn parse_name(name: &str, slots: u32) -> Result<SlotName<'_>, NameError> {
    let err = |offset: usize, kind| NameError {
        name: NameCopy::new(name),
        offset,
        kind,
    };
    if name.len() > MAX_NAME_LEN {
        return Err(err(MAX_NAME_LEN, NameErrorKind::TooLong));
    }
    if let Some(i) = name.bytes().position(|b| !(0x20..0x7f).contains(&b)) {
        return Err(err(i, NameErrorKind::NonPrintable));
    }
    let (start, rest) = match name.strip_prefix(PREFIX) {
        Some(r) => (PREFIX.len(), r),
        None => (0, name),
    };
    if rest.is_empty() {
        return Err(err(start, NameErrorKind::Empty));
    }
    let Some(num_part) = rest.strip_prefix('h') else {
        return Err(err(start, NameErrorKind::MissingH));
    };
    let num_start = start + 1;
    let digits = num_part.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(err(num_start, NameErrorKind::NoDigits));
    }
    let (num, after) = num_part.split_at(digits);
    if digits > 1 && num.starts_with('0') {
        return Err(err(num_start, NameErrorKind::LeadingZero));
    }
    let mut slot: u32 = 0;
    for b in num.bytes() {
        slot = slot
            .checked_mul(10)
            .and_then(|s| s.checked_add(u32::from(b - b'0')))
            .ok_or_else(|| err(num_start, NameErrorKind::Overflow))?;
    }
    if slot >= slots {
        return Err(err(num_start, NameErrorKind::OutOfRange { slots }));
    }
    let sel_start = num_start + digits;
    if after.is_empty() {
        return Ok(SlotName { slot, hdu: None });
    }
    let Some(inner) = after.strip_prefix('[') else {
        return Err(err(sel_start, NameErrorKind::Trailing));
    };
    let Some(close) = inner.find(']') else {
        return Err(err(sel_start, NameErrorKind::BadSelector));
    };
    let (sel, tail) = inner.split_at(close);
    if tail.len() != 1 {
        return Err(err(sel_start + 1 + close + 1, NameErrorKind::BadSelector));
    }
    if sel.is_empty() {
        return Err(err(sel_start, NameErrorKind::EmptySelector));
    }
    if let Some(i) = sel.find('[') {
        return Err(err(sel_start + 1 + i, NameErrorKind::BadSelector));
    }
    if sel.trim() != sel {
        return Err(err(sel_start + 1, NameErrorKind::BadSelector));
    }
    if sel.bytes().all(|b| b.is_ascii_digit()) {
        if sel.len() > 1 && sel.starts_with('0') {
            return Err(err(sel_start + 1, NameErrorKind::LeadingZero));
        }
        let mut idx: u32 = 0;
        for b in sel.bytes() {
            idx = idx
                .checked_mul(10)
                .and_then(|s| s.checked_add(u32::from(b - b'0')))
                .ok_or_else(|| err(sel_start + 1, NameErrorKind::Overflow))?;
        }
        return Ok(SlotName {
            slot,
            hdu: Some(HduSelector::Index(idx)),
        });
    }
    Ok(SlotName {
        slot,
        hdu: Some(HduSelector::Name(sel)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts() {
        let ok: &[(&str, u32, Option<HduSelector<'_>>)] = &[
            ("shmem://h7", 7, None),
            ("h7", 7, None),
            ("h0", 0, None),
            ("h15", 15, None),
            ("shmem://h7[2]", 7, Some(HduSelector::Index(2))),
            ("h7[0]", 7, Some(HduSelector::Index(0))),
            ("shmem://h7[EVENTS]", 7, Some(HduSelector::Name("EVENTS"))),
            ("h1[SCI,2]", 1, Some(HduSelector::Name("SCI,2"))),
        ];
        for &(name, slot, hdu) in ok {
            assert_eq!(parse_name(name, 16), Ok(SlotName { slot, hdu }), "{name}");
        }
    }

    #[test]
    fn rejects() {
        let long = "h1[AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]";
        let bad: &[(&str, NameErrorKind)] = &[
            ("h16", NameErrorKind::OutOfRange { slots: 16 }),
            ("h-1", NameErrorKind::NoDigits),
            ("hx", NameErrorKind::NoDigits),
            ("h", NameErrorKind::NoDigits),
            ("h99999999999", NameErrorKind::Overflow),
            ("h4294967299", NameErrorKind::Overflow),
            ("h4294967300", NameErrorKind::Overflow),
            ("h03", NameErrorKind::LeadingZero),
            ("h00", NameErrorKind::LeadingZero),
            ("h3abc", NameErrorKind::Trailing),
            ("h 3", NameErrorKind::NoDigits),
            ("h3.fits", NameErrorKind::Trailing),
            ("h3 ", NameErrorKind::Trailing),
            ("", NameErrorKind::Empty),
            ("shmem://", NameErrorKind::Empty),
            ("x3", NameErrorKind::MissingH),
            ("H3", NameErrorKind::MissingH),
            ("shmem:/h3", NameErrorKind::MissingH),
            (long, NameErrorKind::TooLong),
            ("h3[]", NameErrorKind::EmptySelector),
            ("h3[2", NameErrorKind::BadSelector),
            ("h3[2]x", NameErrorKind::BadSelector),
            ("h3[2][3]", NameErrorKind::BadSelector),
            ("h3[[2]", NameErrorKind::BadSelector),
            ("h3[ 2]", NameErrorKind::BadSelector),
            ("h3[02]", NameErrorKind::LeadingZero),
            ("h3[99999999999]", NameErrorKind::Overflow),
            ("h3\n", NameErrorKind::NonPrintable),
            ("h\u{e9}3", NameErrorKind::NonPrintable),
        ];
        for &(name, kind) in bad {
            match parse_name(name, 16) {
                Err(e) => assert_eq!(e.kind, kind, "{name}"),
                Ok(v) => panic!("{name:?} accepted as {v:?}"),
            }
        }
    }

    #[test]
    fn error_display_shows_name_and_offset() {
        use core::fmt::Write;
        let e = parse_name("shmem://h3abc", 16).unwrap_err();
        let mut s: heapless::String<200> = heapless::String::new();
        write!(s, "{e}").unwrap();
        assert!(s.contains("\"shmem://h3abc\""), "{s}");
        assert!(s.contains("byte 10"), "{s}");
        let e = parse_name("h3\n", 16).unwrap_err();
        s.clear();
        write!(s, "{e}").unwrap();
        assert!(s.contains("\"h3\\x0a\""), "{s}");
    }

    #[test]
    fn slot_count_is_respected() {
        assert!(parse_name("h1023", 1024).is_ok());
        assert!(parse_name("h1024", 1024).is_err());
        assert!(parse_name("h0", 0).is_err());
    }
}

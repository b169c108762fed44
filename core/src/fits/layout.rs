//! The layout of one HDU derived from its mandatory keywords (FITS 4.0 §4.4.1, §6, §7):
//! kind, BITPIX, axes, PCOUNT, GCOUNT, data length and padded length.
//!
//! All size arithmetic is overflow-checked `u64`.
//!
//! # Memory bound
//! [`HduLayout`] is small and fixed (under 256 bytes: the scalars plus two 68-byte names,
//! XTENSION and EXTNAME). It does not hold the axis lengths: the data size is accumulated
//! while `NAXISn` cards are read. The axes are read back from the header's cards when the
//! header is in memory ([`Header::axes`](super::Header::axes), [`Hdu::axes`](super::Hdu::axes)),
//! and [`HeaderStream`](super::HeaderStream), which keeps no blocks, stores them in a fixed
//! `[u64; 999]` (7992 bytes; the stream is about 8.2 KiB in all). Nothing grows with the
//! header length.

use core::fmt;

use super::card::{Card, CardKind};
use super::error::{HduErrorKind, Mandatory};
use super::value::Value;
use super::BLOCK_LEN;

/// Largest `NAXIS` the standard allows.
pub const MAX_NAXIS: usize = 999;
/// Longest string value a fixed-format card can hold (bytes 11–80 minus two quotes).
pub const MAX_NAME_LEN: usize = 68;

/// The kind of an HDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HduKind {
    /// The primary HDU (`SIMPLE = T`) holding an image or no data.
    Primary,
    /// The primary HDU in random-groups form (`NAXIS1 = 0`, `GROUPS = T`; §6).
    RandomGroups,
    /// `XTENSION = 'IMAGE'` (§7.1).
    Image,
    /// `XTENSION = 'TABLE'`, an ASCII table (§7.2).
    Table,
    /// `XTENSION = 'BINTABLE'`, a binary table (§7.3).
    BinTable,
    /// Any other conforming extension; its name is [`HduLayout::xtension`].
    Extension,
}

impl HduKind {
    /// The name used by `smem info --json`: `primary`, `image`, `table`, `bintable`,
    /// `random-groups` or `extension`.
    pub const fn name(self) -> &'static str {
        match self {
            HduKind::Primary => "primary",
            HduKind::RandomGroups => "random-groups",
            HduKind::Image => "image",
            HduKind::Table => "table",
            HduKind::BinTable => "bintable",
            HduKind::Extension => "extension",
        }
    }
}

impl fmt::Display for HduKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A short string (at most 68 bytes, unescaped) stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortName {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl ShortName {
    const EMPTY: ShortName = ShortName {
        buf: [0; MAX_NAME_LEN],
        len: 0,
    };

    fn from_value(v: &Value<'_>) -> Option<ShortName> {
        let s = v.as_str()?;
        let mut n = ShortName::EMPTY;
        let len = s.copy_unescaped(&mut n.buf).ok()?;
        n.len = u8::try_from(len).ok()?;
        Some(n)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let b = self.buf.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("")
    }
}

impl fmt::Debug for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The structure of one HDU: what its header says about its data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HduLayout {
    kind: HduKind,
    bitpix: i8,
    naxis: u16,
    pcount: u64,
    gcount: u64,
    tfields: Option<u16>,
    extend: Option<bool>,
    xtension: ShortName,
    extname: Option<ShortName>,
    data_len: u64,
    padded_len: u64,
}

impl fmt::Debug for HduLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HduLayout")
            .field("kind", &self.kind)
            .field("xtension", &self.xtension)
            .field("bitpix", &self.bitpix)
            .field("naxis", &self.naxis)
            .field("pcount", &self.pcount)
            .field("gcount", &self.gcount)
            .field("tfields", &self.tfields)
            .field("extend", &self.extend)
            .field("extname", &self.extname)
            .field("data_len", &self.data_len)
            .field("padded_len", &self.padded_len)
            .finish()
    }
}

impl HduLayout {
    /// The kind of HDU.
    pub const fn kind(&self) -> HduKind {
        self.kind
    }

    /// `BITPIX`: 8, 16, 32, 64, -32 or -64.
    pub const fn bitpix(&self) -> i8 {
        self.bitpix
    }

    /// Bytes per data element, `|BITPIX| / 8`.
    pub const fn bytes_per_element(&self) -> u64 {
        (self.bitpix.unsigned_abs() / 8) as u64
    }

    /// `NAXIS`, the number of axes (0..=999).
    pub const fn naxis(&self) -> u16 {
        self.naxis
    }

    /// `PCOUNT` (0 when absent in a primary header).
    pub const fn pcount(&self) -> u64 {
        self.pcount
    }

    /// `GCOUNT` (1 when absent in a primary header).
    pub const fn gcount(&self) -> u64 {
        self.gcount
    }

    /// `TFIELDS` for ASCII and binary tables.
    pub const fn tfields(&self) -> Option<u16> {
        self.tfields
    }

    /// `EXTEND` if present.
    pub const fn extend(&self) -> Option<bool> {
        self.extend
    }

    /// The `XTENSION` value (trailing spaces removed); `None` for the primary HDU.
    pub fn xtension(&self) -> Option<&str> {
        match self.kind {
            HduKind::Primary | HduKind::RandomGroups => None,
            _ => Some(self.xtension.as_str()),
        }
    }

    /// The `EXTNAME` value (unescaped) if the header has a string `EXTNAME`.
    pub fn extname(&self) -> Option<&str> {
        self.extname.as_ref().map(ShortName::as_str)
    }

    /// Data length in bytes without padding (Eq. 4.1, or Eq. 4.2 for random groups).
    pub const fn data_len(&self) -> u64 {
        self.data_len
    }

    /// Data length rounded up to a multiple of 2880 (where the next HDU starts).
    pub const fn padded_data_len(&self) -> u64 {
        self.padded_len
    }
}

/// Which first keyword a header must start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `SIMPLE` (the primary HDU).
    Primary,
    /// `XTENSION`.
    Extension,
    /// Either.
    Any,
}

/// Builds an [`HduLayout`] from the cards of one header fed in order.
#[derive(Clone)]
pub(crate) struct LayoutBuilder {
    layout: HduLayout,
    expect: Expect,
    /// Whether the header is primary (`SIMPLE`) rather than an extension.
    primary: bool,
    groups: bool,
    have_pcount: bool,
    have_gcount: bool,
    /// A primary-header PCOUNT / GCOUNT that is not a non-negative integer.
    bad_pcount: bool,
    bad_gcount: bool,
    /// Number of positional mandatory keywords (known once NAXIS is read).
    positional: usize,
    /// `NAXIS1`.
    naxis1: u64,
    /// Product of all axes (`None` on overflow).
    prod_all: Option<u64>,
    /// Product of the axes after `NAXIS1` (random groups; `None` on overflow).
    prod_rest: Option<u64>,
    /// Whether an axis is 0 (all axes / after `NAXIS1`), making the product 0 regardless.
    zero_all: bool,
    zero_rest: bool,
    /// Bytes of the axes so far (BITPIX/8 times `prod_all` / `prod_rest`; `None` on
    /// overflow).
    bytes_all: Option<u64>,
    bytes_rest: Option<u64>,
    /// Card index of the `NAXISn` that made `prod_all` / `prod_rest` / `bytes_all` /
    /// `bytes_rest` overflow, to name it in the error.
    over_all: usize,
    over_rest: usize,
    over_bytes_all: usize,
    over_bytes_rest: usize,
    /// Card indices of `PCOUNT` and `GCOUNT`.
    pcount_card: usize,
    gcount_card: usize,
}

type R = Result<(), HduErrorKind>;

fn int_in(v: Option<&Value<'_>>, lo: i64, hi: i64, m: Mandatory) -> Result<i64, HduErrorKind> {
    match v {
        Some(Value::Integer(i)) if (lo..=hi).contains(i) => Ok(*i),
        _ => Err(HduErrorKind::InvalidValue(m)),
    }
}

impl LayoutBuilder {
    pub(crate) fn new(expect: Expect) -> Self {
        LayoutBuilder {
            layout: HduLayout {
                kind: HduKind::Primary,
                bitpix: 8,
                naxis: 0,
                pcount: 0,
                gcount: 1,
                tfields: None,
                extend: None,
                xtension: ShortName::EMPTY,
                extname: None,
                data_len: 0,
                padded_len: 0,
            },
            expect,
            primary: !matches!(expect, Expect::Extension),
            groups: false,
            have_pcount: false,
            have_gcount: false,
            bad_pcount: false,
            bad_gcount: false,
            positional: 3,
            naxis1: 0,
            prod_all: Some(1),
            prod_rest: Some(1),
            zero_all: false,
            zero_rest: false,
            bytes_all: Some(1),
            bytes_rest: Some(1),
            over_all: 0,
            over_rest: 0,
            over_bytes_all: 0,
            over_bytes_rest: 0,
            pcount_card: 0,
            gcount_card: 0,
        }
    }

    /// The mandatory keyword expected at card `index`, if that index is positional.
    fn mandatory_at(&self, index: usize) -> Option<Mandatory> {
        let naxis = usize::from(self.layout.naxis);
        Some(match index {
            0 if self.primary => Mandatory::Simple,
            0 => Mandatory::Xtension,
            1 => Mandatory::Bitpix,
            2 => Mandatory::Naxis,
            i if i >= self.positional => return None,
            i if i < 3 + naxis => Mandatory::NaxisN(u16::try_from(i - 2).ok()?),
            i if i == 3 + naxis => Mandatory::Pcount,
            i if i == 4 + naxis => Mandatory::Gcount,
            _ => Mandatory::Tfields,
        })
    }

    /// Whether the keyword name matches the mandatory keyword.
    fn is(key: &str, m: Mandatory) -> bool {
        match m {
            Mandatory::NaxisN(n) => key
                .strip_prefix("NAXIS")
                .and_then(|d| d.parse::<u16>().ok())
                .is_some_and(|k| k == n && key.as_bytes().get(5).is_none_or(|&c| c != b'0')),
            Mandatory::Simple => key == "SIMPLE",
            Mandatory::Xtension => key == "XTENSION",
            Mandatory::Bitpix => key == "BITPIX",
            Mandatory::Naxis => key == "NAXIS",
            Mandatory::Pcount => key == "PCOUNT",
            Mandatory::Gcount => key == "GCOUNT",
            Mandatory::Tfields => key == "TFIELDS",
            Mandatory::Groups => key == "GROUPS",
        }
    }

    /// Feeds card number `index` (cards before `END` only). `NAXISn` values are also stored
    /// in `axes[n - 1]` when `axes` is long enough.
    pub(crate) fn feed(&mut self, index: usize, card: &Card<'_>, axes: &mut [u64]) -> R {
        let key = card.keyword();
        if index == 0 {
            let first = match key {
                "SIMPLE" => Mandatory::Simple,
                "XTENSION" => Mandatory::Xtension,
                _ => {
                    return Err(HduErrorKind::ExpectedKeyword(match self.expect {
                        Expect::Extension => Mandatory::Xtension,
                        _ => Mandatory::Simple,
                    }))
                }
            };
            match (self.expect, first) {
                (Expect::Primary, Mandatory::Xtension) => {
                    return Err(HduErrorKind::ExpectedKeyword(Mandatory::Simple))
                }
                (Expect::Extension, Mandatory::Simple) => {
                    return Err(HduErrorKind::ExpectedKeyword(Mandatory::Xtension))
                }
                _ => {}
            }
            self.primary = first == Mandatory::Simple;
        }
        if let Some(m) = self.mandatory_at(index) {
            if card.kind() != CardKind::Value || !Self::is(key, m) {
                return Err(HduErrorKind::ExpectedKeyword(m));
            }
            return self.mandatory(index, m, card.value(), axes);
        }
        if card.kind() != CardKind::Value {
            return Ok(());
        }
        let v = card.value();
        match key {
            "EXTNAME" if !self.primary => {
                self.layout.extname = v.and_then(ShortName::from_value);
            }
            "EXTEND" if self.primary => {
                self.layout.extend = v.and_then(Value::as_bool);
            }
            "GROUPS" if self.primary => {
                self.groups = v.and_then(Value::as_bool) == Some(true);
            }
            // In a primary header PCOUNT and GCOUNT only matter for random groups (decided
            // at END); a bad value is an error only then.
            "PCOUNT" if self.primary => {
                self.pcount_card = index;
                let p = int_in(v, 0, i64::MAX, Mandatory::Pcount);
                self.layout.pcount = p.map_or(0, i64::unsigned_abs);
                self.bad_pcount = p.is_err();
                self.have_pcount = true;
            }
            "GCOUNT" if self.primary => {
                self.gcount_card = index;
                let g = int_in(v, 0, i64::MAX, Mandatory::Gcount);
                self.layout.gcount = g.map_or(0, i64::unsigned_abs);
                self.bad_gcount = g.is_err();
                self.have_gcount = true;
            }
            _ => {}
        }
        Ok(())
    }

    fn mandatory(
        &mut self,
        index: usize,
        m: Mandatory,
        v: Option<&Value<'_>>,
        axes: &mut [u64],
    ) -> R {
        let l = &mut self.layout;
        match m {
            Mandatory::Simple => match v {
                Some(Value::Logical(true)) => l.kind = HduKind::Primary,
                Some(Value::Logical(false)) => return Err(HduErrorKind::NotConforming),
                _ => return Err(HduErrorKind::InvalidValue(m)),
            },
            Mandatory::Xtension => {
                let name = v
                    .and_then(ShortName::from_value)
                    .ok_or(HduErrorKind::InvalidValue(m))?;
                let trimmed = name.as_str().trim_end();
                l.kind = match trimmed {
                    "IMAGE" => HduKind::Image,
                    "TABLE" => HduKind::Table,
                    "BINTABLE" => HduKind::BinTable,
                    "" => return Err(HduErrorKind::InvalidValue(m)),
                    _ => HduKind::Extension,
                };
                l.xtension = name;
                l.xtension.len = u8::try_from(trimmed.len()).unwrap_or(0);
                // Extensions need PCOUNT and GCOUNT (and TFIELDS for tables) in sequence.
                l.gcount = 1;
            }
            Mandatory::Bitpix => {
                let b = int_in(v, -64, 64, m)?;
                if !matches!(b, 8 | 16 | 32 | 64 | -32 | -64) {
                    return Err(HduErrorKind::InvalidValue(m));
                }
                if matches!(l.kind, HduKind::Table | HduKind::BinTable) && b != 8 {
                    return Err(HduErrorKind::InvalidValue(m));
                }
                l.bitpix = i8::try_from(b).map_err(|_| HduErrorKind::InvalidValue(m))?;
                let bpe = u64::from(l.bitpix.unsigned_abs() / 8);
                self.bytes_all = Some(bpe);
                self.bytes_rest = Some(bpe);
            }
            Mandatory::Naxis => {
                let n = int_in(v, 0, MAX_NAXIS as i64, m)?;
                if matches!(l.kind, HduKind::Table | HduKind::BinTable) && n != 2 {
                    return Err(HduErrorKind::InvalidValue(m));
                }
                l.naxis = u16::try_from(n).map_err(|_| HduErrorKind::InvalidValue(m))?;
                let n = usize::from(l.naxis);
                self.positional = 3
                    + n
                    + match l.kind {
                        HduKind::Primary | HduKind::RandomGroups => 0,
                        HduKind::Table | HduKind::BinTable => 3,
                        HduKind::Image | HduKind::Extension => 2,
                    };
            }
            Mandatory::NaxisN(k) => {
                let a = int_in(v, 0, i64::MAX, m)?.unsigned_abs();
                if let Some(slot) = axes.get_mut(usize::from(k).wrapping_sub(1)) {
                    *slot = a;
                }
                self.zero_all |= a == 0;
                mul_at(&mut self.prod_all, &mut self.over_all, a, index);
                mul_at(&mut self.bytes_all, &mut self.over_bytes_all, a, index);
                if k == 1 {
                    self.naxis1 = a;
                } else {
                    self.zero_rest |= a == 0;
                    mul_at(&mut self.prod_rest, &mut self.over_rest, a, index);
                    mul_at(&mut self.bytes_rest, &mut self.over_bytes_rest, a, index);
                }
            }
            Mandatory::Pcount => {
                let p = int_in(v, 0, i64::MAX, m)?.unsigned_abs();
                if matches!(l.kind, HduKind::Image | HduKind::Table) && p != 0 {
                    return Err(HduErrorKind::InvalidValue(m));
                }
                l.pcount = p;
                self.have_pcount = true;
                self.pcount_card = index;
            }
            Mandatory::Gcount => {
                let g = int_in(v, 0, i64::MAX, m)?.unsigned_abs();
                if matches!(l.kind, HduKind::Image | HduKind::Table | HduKind::BinTable) && g != 1 {
                    return Err(HduErrorKind::InvalidValue(m));
                }
                l.gcount = g;
                self.have_gcount = true;
                self.gcount_card = index;
            }
            Mandatory::Tfields => {
                let t = int_in(v, 0, 999, m)?;
                l.tfields = u16::try_from(t).ok();
            }
            Mandatory::Groups => {}
        }
        Ok(())
    }

    /// Called at `END` after `cards` cards: checks completeness and computes the sizes.
    /// An error comes with the index of the card it concerns: the `NAXISn`, `PCOUNT` or
    /// `GCOUNT` whose value made the data size overflow, else `END` (`cards`).
    pub(crate) fn finish(&mut self, cards: usize) -> Result<&HduLayout, (HduErrorKind, usize)> {
        self.sizes(cards)
            .map_err(|(kind, at)| (kind, at.unwrap_or(cards)))?;
        Ok(&self.layout)
    }

    fn sizes(&mut self, cards: usize) -> Result<(), (HduErrorKind, Option<usize>)> {
        if cards < self.positional {
            let m = self.mandatory_at(cards).unwrap_or(if self.primary {
                Mandatory::Simple
            } else {
                Mandatory::Xtension
            });
            return Err((HduErrorKind::MissingKeyword(m), None));
        }
        let l = &mut self.layout;
        let mut groups = false;
        if self.primary {
            if l.naxis >= 1 && self.naxis1 == 0 && self.groups {
                if !self.have_pcount {
                    return Err((HduErrorKind::MissingKeyword(Mandatory::Pcount), None));
                }
                if !self.have_gcount {
                    return Err((HduErrorKind::MissingKeyword(Mandatory::Gcount), None));
                }
                if self.bad_pcount {
                    return Err((HduErrorKind::InvalidValue(Mandatory::Pcount), None));
                }
                if self.bad_gcount {
                    return Err((HduErrorKind::InvalidValue(Mandatory::Gcount), None));
                }
                l.kind = HduKind::RandomGroups;
                groups = true;
            } else {
                l.pcount = 0;
                l.gcount = 1;
            }
        }
        let (zero, prod, over, bytes, over_bytes) = if groups {
            let r = (self.zero_rest, self.prod_rest, self.over_rest);
            (r.0, r.1, r.2, self.bytes_rest, self.over_bytes_rest)
        } else {
            let a = (self.zero_all, self.prod_all, self.over_all);
            (a.0, a.1, a.2, self.bytes_all, self.over_bytes_all)
        };
        // The card to blame when the size overflows: the NAXISn at which the axes' product
        // (or their bytes) overflowed, else PCOUNT or GCOUNT (which only count for
        // extensions and random groups), else the last NAXISn.
        let counted = groups || !self.primary;
        let last_axis = 2 + usize::from(l.naxis);
        let (pcount_card, gcount_card) = if counted {
            (self.pcount_card, self.gcount_card)
        } else {
            (last_axis, last_axis)
        };
        let overflow = |at: usize| (HduErrorKind::Overflow, Some(at));
        let elems = if l.naxis == 0 || zero {
            0
        } else {
            prod.ok_or(overflow(over))?
        };
        let bpe = u64::from(l.bitpix.unsigned_abs() / 8);
        let len = l
            .pcount
            .checked_add(elems)
            .ok_or(overflow(pcount_card))?
            .checked_mul(l.gcount)
            .ok_or(overflow(gcount_card))?;
        let blame = match bytes {
            None if l.naxis > 0 && !zero => over_bytes,
            _ if l.gcount > 1 => gcount_card,
            _ if l.pcount > 0 => pcount_card,
            _ => last_axis,
        };
        let len = len.checked_mul(bpe).ok_or(overflow(blame))?;
        l.data_len = len;
        l.padded_len = padded(len).ok_or(overflow(blame))?;
        Ok(())
    }

    pub(crate) fn layout(&self) -> &HduLayout {
        &self.layout
    }
}

/// `*acc *= a`, recording card `index` in `*at` when this multiplication first overflows.
fn mul_at(acc: &mut Option<u64>, at: &mut usize, a: u64, index: usize) {
    if let Some(p) = *acc {
        *acc = p.checked_mul(a);
        if acc.is_none() {
            *at = index;
        }
    }
}

/// `len` rounded up to a multiple of 2880, or `None` on overflow.
pub const fn padded(len: u64) -> Option<u64> {
    let b = BLOCK_LEN as u64;
    match len.checked_add(b - 1) {
        Some(x) => Some(x / b * b),
        None => None,
    }
}

//! Our view of a FITS file (the report behind `smem info`) against CFITSIO's (`listhdus`):
//! HDU count, offsets, kinds, image axes, card count, and every card's keyword, value,
//! comment and type.
//!
//! Known, deliberate differences that are normalised here (each is CFITSIO's convention, not
//! a disagreement about the file):
//! * CFITSIO does not count blank cards just before `END` (reserved header space); we list
//!   every card before `END`. Trailing all-blank cards of ours are set aside.
//! * CFITSIO names a `HIERARCH` keyword without the word `HIERARCH`.
//! * CFITSIO's `fits_parse_value` treats `CONTINUE` like commentary: its "comment" is bytes
//!   9–80 of the card, which must hold our value (and our comment after a `/`).
//! * An undefined value is `""` in CFITSIO and `null` in our report.
//! * CFITSIO presents a tile-compressed image (a BINTABLE with `ZIMAGE = T`) as an image
//!   HDU with the uncompressed `ZBITPIX` and `ZNAXISn`; we report the BINTABLE as it is.

use shmfits_unix::cli::info::{CardInfo, HduInfo, Report};

use crate::cfitsio::{CCard, CHdu, Listing};

/// CFITSIO's `hdutype` for one of our HDU kinds.
fn hdutype_of(kind: &str) -> i32 {
    match kind {
        "table" => 1,
        "bintable" => 2,
        // primary, image, random groups, and extensions CFITSIO does not know (it reads
        // those as images)
        _ => 0,
    }
}

/// CFITSIO's `fits_get_keytype` letter for one of our card types.
fn dtype_of(kind: &str) -> char {
    match kind {
        "logical" => 'L',
        "integer" => 'I',
        "real" => 'F',
        "complex" => 'X',
        "string" => 'C',
        _ => 'U',
    }
}

fn is_blank(c: &CardInfo) -> bool {
    c.key.is_empty() && c.kind == "commentary" && c.value.as_deref().unwrap_or("").is_empty()
}

/// Compares one card; `Err` says what differs.
pub fn card(ours: &CardInfo, theirs: &CCard) -> Result<(), String> {
    let mut why = Vec::new();
    let key = if theirs.card.starts_with("HIERARCH") {
        ours.key
            .strip_prefix("HIERARCH")
            .map_or(ours.key.as_str(), str::trim_start)
    } else {
        ours.key.as_str()
    };
    if key != theirs.name {
        why.push(format!(
            "keyword {:?} vs CFITSIO {:?}",
            ours.key, theirs.name
        ));
    }
    let value = ours.value.as_deref().unwrap_or("");
    let comment = ours.comment.as_deref().unwrap_or("").trim();
    match ours.kind {
        "commentary" => {
            if value.trim_end() != theirs.comment.trim_end() || !theirs.value.is_empty() {
                why.push(format!(
                    "commentary {value:?} vs CFITSIO {:?}",
                    theirs.comment
                ));
            }
        }
        "continue" => {
            let text = theirs.comment.trim();
            if !text.starts_with(value) || !text.ends_with(comment) {
                why.push(format!(
                    "CONTINUE {value:?} / {comment:?} vs CFITSIO {text:?}"
                ));
            }
        }
        _ => {
            if value != theirs.value {
                why.push(format!("value {value:?} vs CFITSIO {:?}", theirs.value));
            }
            if comment != theirs.comment.trim() {
                why.push(format!(
                    "comment {comment:?} vs CFITSIO {:?}",
                    theirs.comment
                ));
            }
        }
    }
    if dtype_of(ours.kind) != theirs.dtype {
        why.push(format!("type {} vs CFITSIO {}", ours.kind, theirs.dtype));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(format!("{} ({:?})", why.join("; "), theirs.card))
    }
}

fn value_of<'a>(h: &'a HduInfo, key: &str) -> Option<&'a str> {
    h.cards
        .iter()
        .find(|c| c.key == key && c.kind != "commentary")?
        .value
        .as_deref()
}

/// For a tile-compressed image, the BITPIX and axes CFITSIO presents (from our cards).
fn compressed_image(h: &HduInfo) -> Option<(i32, Vec<u64>)> {
    if h.kind != "bintable" || value_of(h, "ZIMAGE") != Some("T") {
        return None;
    }
    let bitpix = value_of(h, "ZBITPIX")?.parse().ok()?;
    let naxis: usize = value_of(h, "ZNAXIS")?.parse().ok()?;
    let axes = (1..=naxis)
        .map(|i| value_of(h, &format!("ZNAXIS{i}"))?.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    Some((bitpix, axes))
}

/// Compares one HDU, collecting every difference into `why`.
pub fn hdu(ours: &HduInfo, theirs: &CHdu, why: &mut Vec<String>) {
    let at = format!("HDU {}", ours.index);
    let mut check = |what: &str, a: u64, b: u64| {
        if a != b {
            why.push(format!("{at}: {what} {a} vs CFITSIO {b}"));
        }
    };
    check("header_start", ours.header_start, theirs.headstart);
    check("data_start", ours.data_start, theirs.datastart);
    check("data_end", ours.data_end, theirs.dataend);
    let end = ours.data_start.saturating_add(ours.data_len).div_ceil(2880) * 2880;
    check("padded data_start + data_len", end, theirs.dataend);
    let compressed = compressed_image(ours);
    let hdutype = if compressed.is_some() {
        0
    } else {
        hdutype_of(ours.kind)
    };
    if hdutype != theirs.hdutype {
        why.push(format!(
            "{at}: kind {} vs CFITSIO hdutype {}",
            ours.kind, theirs.hdutype
        ));
    }
    if let Some((bitpix, axes)) = &theirs.image {
        let (our_bitpix, our_axes) = compressed.unwrap_or((ours.bitpix, ours.naxis.clone()));
        if (our_bitpix, &our_axes) != (*bitpix, axes) {
            why.push(format!(
                "{at}: image {our_bitpix} {our_axes:?} vs CFITSIO {bitpix} {axes:?}"
            ));
        }
    }
    let mut cards: &[CardInfo] = &ours.cards;
    while cards.len() > theirs.nkeys && cards.last().is_some_and(is_blank) {
        cards = &cards[..cards.len() - 1];
    }
    if cards.len() != theirs.nkeys || theirs.cards.len() != theirs.nkeys {
        why.push(format!(
            "{at}: {} cards ({} without trailing blanks) vs CFITSIO {}",
            ours.cards.len(),
            cards.len(),
            theirs.nkeys
        ));
    }
    for (i, (a, b)) in cards.iter().zip(&theirs.cards).enumerate() {
        if let Err(e) = card(a, b) {
            why.push(format!("{at} card {i}: {e}"));
        }
    }
}

/// Compares a whole file; `Err` lists every difference.
///
/// # Errors
/// A multi-line description of all differences.
pub fn file(ours: &Report, theirs: &Listing) -> Result<(), String> {
    let mut why = Vec::new();
    if let Some(e) = &ours.error {
        why.push(format!("our parser failed: {}", e.message));
    }
    if let Some((status, msg)) = &theirs.error {
        why.push(format!("CFITSIO failed: status {status}: {msg}"));
    }
    if ours.hdus.len() != theirs.hdus.len() {
        why.push(format!(
            "{} HDUs vs CFITSIO {}",
            ours.hdus.len(),
            theirs.hdus.len()
        ));
    }
    for (a, b) in ours.hdus.iter().zip(&theirs.hdus) {
        hdu(a, b, &mut why);
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("\n"))
    }
}

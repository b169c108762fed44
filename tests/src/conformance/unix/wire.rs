//! The line protocol between a [`Remote`](super::Remote) and its child process.
//!
//! One request per line on the child's stdin, words separated by spaces (bytes as hex);
//! one reply per line on its stdout, from [`REPLY`] to the end of the line (anything before
//! it and lines without it — the test harness's own output — are ignored): `@@ok <words…>` or `@@err <kind> <errno>`.
//!
//! | request | reply words |
//! |---|---|
//! | `seg_create KEY SIZE` | `ID` |
//! | `seg_find KEY` | `ID` |
//! | `seg_info ID` | `KEY\|- SIZE ATTACH UID MODE REMOVED(0/1)` |
//! | `seg_attach ID` | `TOKEN LEN` |
//! | `seg_detach TOKEN`, `seg_remove ID` | — |
//! | `read TOKEN OFFSET LEN` | `HEX` |
//! | `write TOKEN OFFSET HEX` | — |
//! | `ctr_create KEY` | `ID` |
//! | `ctr_info ID` | `KEY\|- VALUE UID MODE` |
//! | `ctr_add ID DELTA`, `ctr_remove ID` | — |
//! | `ctr_find KEY` | `ID` or `-` |
//! | `owner_new` | `TOKEN` |
//! | `owner_release TOKEN` | — |
//! | `lock TOKEN START LEN S\|X no\|forever\|MILLIS` | — |
//! | `unlock TOKEN START LEN` | — |
//!
//! On start the child prints `@@hello PID UID` (or `@@fatal MESSAGE`).

use shmfits_core::shm::ErrorKind;

/// Prefix of every line of the child that belongs to the protocol.
pub const REPLY: &str = "@@";

const KINDS: [(ErrorKind, &str); 9] = [
    (ErrorKind::NotFound, "NotFound"),
    (ErrorKind::AlreadyExists, "AlreadyExists"),
    (ErrorKind::PermissionDenied, "PermissionDenied"),
    (ErrorKind::WouldBlock, "WouldBlock"),
    (ErrorKind::TimedOut, "TimedOut"),
    (ErrorKind::Deadlock, "Deadlock"),
    (ErrorKind::LimitReached, "LimitReached"),
    (ErrorKind::InvalidArgument, "InvalidArgument"),
    (ErrorKind::Other, "Other"),
];

/// The protocol's name of an error kind.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Other", |(_, n)| n)
}

/// The error kind named `name` (unknown names are [`ErrorKind::Other`]).
pub fn kind_from_name(name: &str) -> ErrorKind {
    KINDS
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(ErrorKind::Other, |(k, _)| *k)
}

/// Lower-case hex of `bytes` (`-` for none, so that a line never ends in an empty word).
pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_owned();
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Bytes of a [`hex`] word, `None` if it is not one.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(unhex(&hex(&[])).unwrap(), Vec::<u8>::new());
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn kinds_round_trip() {
        for (k, n) in KINDS {
            assert_eq!(kind_from_name(kind_name(k)), k);
            assert_eq!(kind_name(kind_from_name(n)), n);
        }
    }
}

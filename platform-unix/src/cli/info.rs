//! `smem info [--json] [--cards] [--wait SECS|--no-wait] PATH|shmem://hN[ext]|hN[ext]`: walk a FITS file
//! and print each HDU.
//!
//! The JSON form is one object with stable field names for scripts:
//!
//! ```json
//! {"path": "f.fits",
//!  "hdus": [{"index": 0, "kind": "primary", "bitpix": 16, "naxis": [100, 50],
//!            "pcount": 0, "gcount": 1, "header_start": 0, "data_start": 2880,
//!            "data_len": 10000, "data_end": 14400, "extname": null,
//!            "cards": [{"key": "SIMPLE", "value": "T", "comment": null, "type": "logical"}]}],
//!  "error": null}
//! ```
//!
//! * `index` counts from 0; `kind` is one of `primary`, `image`, `table`, `bintable`,
//!   `random-groups`, `extension` (any other conforming extension).
//! * `data_len` is the data size without padding, `data_end` the padded end (where the next
//!   HDU starts).
//! * `cards` lists every card before `END` in file order. `value` is the value text as
//!   written, trimmed, strings with their quotes (`'IMAGE   '`); for commentary cards it is
//!   the text after the keyword (bytes 9–80, trailing spaces removed); for an undefined value
//!   it is `null`. `type` is one of `logical`, `integer`, `real`, `complex`, `string`,
//!   `undefined`, `commentary`, `continue`.
//! * On bad input `error` is `{"offset": byte offset in the file, "hdu": index,
//!   "card": card index within that header from 0 or null, "message": text}`; the HDUs
//!   before it are listed and the exit status is 1.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use shmfits_core::fits::{Card, CardKind, Hdu, HduError, HduKind, Hdus};

use super::context::{self, WaitArgs};
use super::source::{self, Selected};
use super::{EXIT_INVALID, EXIT_IO, EXIT_NOT_FOUND, EXIT_OK};

/// The long help of `smem info` (`smem info --help`).
pub const LONG_ABOUT: &str = "\
Walk a FITS file and print each HDU: kind, BITPIX, axes, byte offsets of header and data,
data size, EXTNAME and card count (with --cards, every card).

PATH is a file on disk or a shared-memory file shmem://hN (or hN; ./h2 is a file on disk),
read under a shared lock (SHMEM_LIB_KEYBASE, SHMEM_LIB_MAXSEG and SHMFITS_LOCK_DIR select
the key range and lock file, as for CFITSIO). shmem://hN[ext] shows only that HDU (ext: an
index or an EXTNAME). A file locked by a writer is waited for up to 10 s (--wait SECS,
--no-wait), then the exit status is 5.

With --json, print one object for scripts, with these fields (names are stable):
  {\"path\", \"hdus\": [{\"index\" (from 0), \"kind\" (primary|image|table|bintable|
   random-groups|extension), \"bitpix\", \"naxis\" [NAXIS1, ...], \"pcount\", \"gcount\",
   \"header_start\", \"data_start\", \"data_len\" (unpadded), \"data_end\" (padded: where the
   next HDU starts), \"extname\" (or null), \"cards\": [{\"key\", \"value\" (text as written,
   strings with quotes; commentary text; null if undefined), \"comment\" (or null),
   \"type\" (logical|integer|real|complex|string|undefined|commentary|continue)}]}],
   \"error\": null or {\"offset\", \"hdu\", \"card\" (from 0, or null), \"message\"}}
On invalid input the HDUs before the error are still listed.

Exit status: 0 valid FITS, 1 invalid FITS, 2 usage error (bad arguments or slot name),
3 I/O error, 4 no such shmem:// file or HDU, 5 busy (locked by a writer), 6 permission
denied.";

/// Arguments of `smem info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Print one JSON object with stable field names (for scripts) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// In the table, also print every card of every header.
    #[arg(long, conflicts_with = "json")]
    pub cards: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub wait: WaitArgs,
    /// The FITS file: a path on disk, or `shmem://hN` / `hN` (optionally `hN[ext]`, ext an
    /// HDU index or EXTNAME, to show that HDU only). `./h2` is a file on disk.
    pub path: PathBuf,
}

/// What `smem info` knows about a file: the JSON object, as Rust types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The path as given on the command line.
    pub path: String,
    /// The HDUs that were read without error, in file order.
    pub hdus: Vec<HduInfo>,
    /// The first error, if the file is not valid FITS.
    pub error: Option<ErrorInfo>,
}

/// One HDU of a [`Report`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HduInfo {
    /// Index in the file, from 0.
    pub index: usize,
    /// `primary`, `image`, `table`, `bintable`, `random-groups` or `extension`.
    pub kind: &'static str,
    /// BITPIX.
    pub bitpix: i32,
    /// NAXIS1, NAXIS2, … (empty for NAXIS = 0).
    pub naxis: Vec<u64>,
    /// PCOUNT.
    pub pcount: u64,
    /// GCOUNT.
    pub gcount: u64,
    /// Byte offset of the header.
    pub header_start: u64,
    /// Byte offset of the data (just past the header's last block).
    pub data_start: u64,
    /// Data size in bytes, without padding.
    pub data_len: u64,
    /// Byte offset just past the padded data, where the next HDU starts.
    pub data_end: u64,
    /// EXTNAME, if present.
    pub extname: Option<String>,
    /// Every card before END, in file order.
    pub cards: Vec<CardInfo>,
}

/// One card of an [`HduInfo`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardInfo {
    /// The keyword (for HIERARCH cards, the whole name before `=`); `""` for a blank keyword.
    pub key: String,
    /// The value text as written, trimmed, strings with their quotes; commentary text for
    /// commentary cards; `None` for an undefined value.
    pub value: Option<String>,
    /// The comment after `/`, if any.
    pub comment: Option<String>,
    /// `logical`, `integer`, `real`, `complex`, `string`, `undefined`, `commentary` or
    /// `continue`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// Where and why a file stopped being valid FITS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    /// Byte offset in the file.
    pub offset: u64,
    /// Index of the HDU the error is in.
    pub hdu: usize,
    /// Card index within that header (from 0), when the error concerns one card.
    pub card: Option<usize>,
    /// What is wrong, for people.
    pub message: String,
}

/// The JSON name of an HDU kind.
pub fn kind_name(kind: HduKind) -> &'static str {
    match kind {
        HduKind::Primary => "primary",
        HduKind::RandomGroups => "random-groups",
        HduKind::Image => "image",
        HduKind::Table => "table",
        HduKind::BinTable => "bintable",
        HduKind::Extension => "extension",
    }
}

impl CardInfo {
    fn new(card: &Card<'_>) -> CardInfo {
        let kind = card.type_name();
        let value = match card.kind() {
            CardKind::Value if kind == "undefined" => None,
            _ => Some(card.raw_value().to_owned()),
        };
        CardInfo {
            key: card.keyword().to_owned(),
            value,
            comment: card.comment().map(str::to_owned),
            kind,
        }
    }
}

impl ErrorInfo {
    fn new(e: &HduError) -> ErrorInfo {
        ErrorInfo {
            offset: e.offset,
            hdu: e.hdu,
            card: e.card,
            message: e.to_string(),
        }
    }
}

fn u64_of(n: usize) -> u64 {
    // usize is at most 64 bits on every supported target
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl HduInfo {
    /// Describes one HDU; fails if one of its cards does not parse (the walk has checked
    /// them, so this means the parser is inconsistent, and is reported, not panicked on).
    fn new(hdu: &Hdu<'_>) -> Result<HduInfo, HduError> {
        let l = hdu.layout();
        let cards = hdu
            .cards()
            .map(|c| c.map(|c| CardInfo::new(&c)).map_err(|e| hdu.card_error(e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HduInfo {
            index: hdu.index(),
            kind: kind_name(l.kind()),
            bitpix: i32::from(l.bitpix()),
            naxis: hdu.axes().collect(),
            pcount: l.pcount(),
            gcount: l.gcount(),
            header_start: u64_of(hdu.header_start()),
            data_start: u64_of(hdu.data_start()),
            data_len: l.data_len(),
            data_end: u64_of(hdu.padded_end()),
            extname: hdu.extname().map(str::to_owned),
            cards,
        })
    }
}

impl Report {
    /// Walks the FITS bytes of `path`: every HDU up to the first error.
    pub fn from_bytes(path: &str, bytes: &[u8]) -> Report {
        let mut report = Report {
            path: path.to_owned(),
            hdus: Vec::new(),
            error: None,
        };
        for hdu in Hdus::new(bytes) {
            match hdu.and_then(|h| HduInfo::new(&h)) {
                Ok(info) => report.hdus.push(info),
                Err(e) => {
                    report.error = Some(ErrorInfo::new(&e));
                    break;
                }
            }
        }
        report
    }

    /// The JSON object (pretty-printed, one object, field order as documented).
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes the human-readable table; with `cards`, every card under its HDU.
    ///
    /// # Errors
    /// When writing to `out` fails.
    pub fn write_table(&self, out: &mut dyn Write, cards: bool) -> io::Result<()> {
        let n = self.hdus.len();
        writeln!(
            out,
            "{}: {n} HDU{}",
            self.path,
            if n == 1 { "" } else { "s" }
        )?;
        writeln!(
            out,
            "{:>4}  {:<13} {:>6}  {:<20} {:>10} {:>10} {:>12} {:>12} {:>6}  EXTNAME",
            "HDU", "KIND", "BITPIX", "AXES", "HEADER", "DATA", "DATA_LEN", "END", "CARDS"
        )?;
        for h in &self.hdus {
            let axes = if h.naxis.is_empty() {
                "-".to_owned()
            } else if h.naxis.len() > 6 {
                format!("({} axes)", h.naxis.len())
            } else {
                h.naxis
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join("x")
            };
            writeln!(
                out,
                "{:>4}  {:<13} {:>6}  {:<20} {:>10} {:>10} {:>12} {:>12} {:>6}  {}",
                h.index,
                h.kind,
                h.bitpix,
                axes,
                h.header_start,
                h.data_start,
                h.data_len,
                h.data_end,
                h.cards.len(),
                h.extname.as_deref().unwrap_or("-")
            )?;
            if cards {
                for (i, c) in h.cards.iter().enumerate() {
                    write!(out, "      {i:>4}  {:<8}", c.key)?;
                    match (c.kind, &c.value) {
                        ("commentary", Some(text)) => write!(out, " {text}")?,
                        (_, Some(v)) => write!(out, " = {v}")?,
                        (_, None) => write!(out, " =")?,
                    }
                    if let Some(comment) = &c.comment {
                        write!(out, " / {comment}")?;
                    }
                    writeln!(out, "  [{}]", c.kind)?;
                }
            }
        }
        if let Some(e) = &self.error {
            writeln!(out, "error: {}", e.message)?;
        }
        Ok(())
    }
}

impl Report {
    /// Keeps only the HDU `selected` names.
    ///
    /// # Errors
    /// A message when no HDU matches.
    pub fn select(&mut self, selected: &Selected) -> Result<(), String> {
        let keep = self.hdus.iter().position(|h| match selected {
            Selected::Index(i) => u64_of(h.index) == u64::from(*i),
            Selected::Name(n) => h.extname.as_deref() == Some(n.as_str()),
        });
        match keep {
            Some(i) => {
                let hdu = self.hdus.swap_remove(i);
                self.hdus = vec![hdu];
                Ok(())
            }
            // an error further on may hide the HDU: report the file's error instead
            None if self.error.is_some() => Ok(()),
            None => Err(format!("{}: no such HDU", self.path)),
        }
    }
}

/// Runs `smem info`.
pub fn run(args: &InfoArgs) -> ExitCode {
    let shown = args.path.display().to_string();
    let loaded = match source::load(&args.path, context::config, &args.wait) {
        Ok(l) => l,
        Err(e) => return e.report("info"),
    };
    let mut report = Report::from_bytes(&shown, &loaded.bytes);
    if let Some(sel) = &loaded.selected {
        if let Err(e) = report.select(sel) {
            eprintln!("smem info: {e}");
            return ExitCode::from(EXIT_NOT_FOUND);
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        writeln!(out, "{}", report.to_json())
    } else {
        report.write_table(&mut out, args.cards)
    }
    .and_then(|()| out.flush());
    if let Err(e) = written {
        eprintln!("smem info: cannot write output: {e}");
        return ExitCode::from(EXIT_IO);
    }
    match &report.error {
        None => ExitCode::from(EXIT_OK),
        Some(e) => {
            eprintln!("smem info: {shown}: not valid FITS: {}", e.message);
            ExitCode::from(EXIT_INVALID)
        }
    }
}

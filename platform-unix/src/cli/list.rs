//! `smem list [--json] [--long]` (also `smem` alone and `smem -l`) and `smem watch`.
//!
//! The JSON form is an array with one object per used slot, for scripts:
//!
//! ```json
//! [{"slot": 2, "key": 1397309444, "processes": 1, "size": 14400,
//!   "flags": ["resize", "persist"], "lock": "none"}]
//! ```
//!
//! * `slot`: the `N` of `hN`; `key`: the data segment's System V key, as an integer;
//! * `processes`: processes attached (the slot's semaphore), `null` if it cannot be read;
//! * `size`: the file's size in FITS bytes — what `smem get` writes and `wc -c` counts
//!   (CFITSIO's own `smem` prints its "logical size", 16 bytes more);
//! * `flags`: any of `resize`, `persist` (absent: deleted, freed by its last close) and
//!   `corrupt` (the entry is inconsistent; `smem list --long` says why);
//! * `lock`: `none`, `read` (readers have it open) or `write` (a writer has it open).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use shmfits_core::shm::layout::{ATTR_PERSIST, ATTR_RESIZE};
use shmfits_core::shm::{LockState, SlotStatus};

use super::context::{self, with_driver};
use super::exit::{Failure, EXIT_OK};
use crate::Config;

/// Arguments of `smem list`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListArgs {
    /// Print a JSON array (stable field names, for scripts) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// In the table, also show the write-lock count the table claims and what is wrong with
    /// inconsistent entries.
    #[arg(long, short = 'l', conflicts_with = "json")]
    pub long: bool,
}

/// Arguments of `smem watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Seconds between refreshes.
    #[arg(long, value_name = "SECS", default_value_t = 2.0, value_parser = parse_interval)]
    pub interval: f64,
    /// Stop after this many listings (default: until interrupted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Long table, as `smem list --long`.
    #[arg(long, short = 'l')]
    pub long: bool,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e6 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

/// One used slot as `smem list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotInfo {
    /// The `N` of `hN`.
    pub slot: u32,
    /// The data segment's key.
    pub key: i32,
    /// Processes attached, if the counter could be read.
    pub processes: Option<u32>,
    /// FITS bytes.
    pub size: u64,
    /// `resize`, `persist`, `corrupt`.
    pub flags: Vec<&'static str>,
    /// `none`, `read` or `write`.
    pub lock: &'static str,
    /// Write locks the table claims (`--long` only, not in the JSON).
    #[serde(skip)]
    pub nprocdebug: i32,
    /// Why the entry is inconsistent (`--long` only, not in the JSON).
    #[serde(skip)]
    pub problem: Option<String>,
}

impl SlotInfo {
    /// From the driver's view of a slot.
    pub fn new(s: &SlotStatus) -> SlotInfo {
        let mut flags = Vec::new();
        if s.attr & ATTR_RESIZE != 0 {
            flags.push("resize");
        }
        if s.attr & ATTR_PERSIST != 0 {
            flags.push("persist");
        }
        if s.corrupt.is_some() {
            flags.push("corrupt");
        }
        SlotInfo {
            slot: s.slot,
            key: s.key,
            processes: s.processes,
            size: s.size,
            flags,
            lock: match s.lock {
                LockState::Unlocked => "none",
                LockState::ReadLocked => "read",
                LockState::WriteLocked => "write",
            },
            nprocdebug: s.nprocdebug,
            problem: s.corrupt.map(|c| c.to_string()),
        }
    }
}

/// The used slots, in slot order.
///
/// # Errors
/// Setup and table failures.
pub fn slots(config: &Config) -> Result<Vec<SlotInfo>, Failure> {
    with_driver(config, |d| {
        let empty = SlotStatus::EMPTY;
        let mut out = vec![empty; config.slots as usize];
        let n = d
            .list(&mut out)
            .map_err(|e| Failure::of("shared memory", &crate::Error::Driver(e)))?;
        out.truncate(n);
        Ok(out.iter().map(SlotInfo::new).collect())
    })
}

/// The JSON array.
pub fn to_json(slots: &[SlotInfo]) -> String {
    serde_json::to_string_pretty(slots).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Writes the table.
///
/// # Errors
/// When writing fails.
pub fn write_table(out: &mut dyn Write, slots: &[SlotInfo], long: bool) -> io::Result<()> {
    write!(
        out,
        "{:<6} {:<10} {:>5} {:>12}  {:<5}",
        "SLOT", "KEY", "PROCS", "SIZE", "LOCK"
    )?;
    if long {
        write!(out, " {:>6}", "WLOCKS")?;
    }
    writeln!(out, "  FLAGS")?;
    for s in slots {
        let procs = s
            .processes
            .map_or_else(|| "?".to_owned(), |p| p.to_string());
        write!(
            out,
            "{:<6} {:<#10x} {:>5} {:>12}  {:<5}",
            format!("h{}", s.slot),
            s.key,
            procs,
            s.size,
            s.lock
        )?;
        if long {
            write!(out, " {:>6}", s.nprocdebug)?;
        }
        let mut flags: Vec<String> = s.flags.iter().map(|f| f.to_uppercase()).collect();
        if !s.flags.contains(&"persist") {
            flags.push("(deleted)".to_owned());
        }
        write!(out, "  {}", flags.join(" "))?;
        if let (true, Some(p)) = (long, &s.problem) {
            write!(out, "  {p}")?;
        }
        writeln!(out)?;
    }
    if slots.is_empty() {
        writeln!(out, "(no shmem:// files)")?;
    }
    Ok(())
}

/// Runs `smem list`.
pub fn run(args: &ListArgs) -> ExitCode {
    match list(args) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("list"),
    }
}

fn list(args: &ListArgs) -> Result<(), Failure> {
    let config = context::config()?;
    let slots = slots(&config)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        writeln!(out, "{}", to_json(&slots))
    } else {
        write_table(&mut out, &slots, args.long)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Failure::file("standard output", "write", &e))
}

/// Runs `smem watch`.
pub fn run_watch(args: &WatchArgs) -> ExitCode {
    match watch(args) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("watch"),
    }
}

fn watch(args: &WatchArgs) -> Result<(), Failure> {
    let config = context::config()?;
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut shown = 0u64;
    loop {
        let slots = slots(&config)?;
        let mut out = stdout.lock();
        let written = (|| {
            if tty {
                // cursor home, clear screen
                write!(out, "\x1b[H\x1b[2J")?;
            } else if shown > 0 {
                writeln!(out)?;
            }
            writeln!(
                out,
                "smem watch: every {} s, key base {} ({:#x}), {} slots",
                args.interval, config.key_base, config.key_base, config.slots
            )?;
            write_table(&mut out, &slots, args.long)?;
            out.flush()
        })();
        written.map_err(|e| Failure::file("standard output", "write", &e))?;
        drop(out);
        shown += 1;
        if args.count.is_some_and(|c| shown >= c) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs_f64(args.interval));
    }
}

//! `smem rm`, `smem recover` and CFITSIO's `smem -d [id]` / `smem -r [id]`.
//!
//! * `rm NAME...` deletes at once and never waits: new opens fail, and the file is freed when
//!   its last reader closes. A file a writer holds open is not deleted (exit 5).
//! * `recover [NAME]` repairs or removes only what is really broken (dead writers' counts,
//!   damaged headers, entries whose segment is gone, deleted files nobody has open) and, for
//!   all slots, orphan segments left by crashed writers; slots in use are skipped. Unlike
//!   CFITSIO's `smem -r`, healthy files nobody has open are kept.
//! * `-d` with no id deletes every file (as CFITSIO's `smem -d`); `-r` with no id recovers
//!   every slot. Output lines follow CFITSIO's (`handle 2: deleted`).

use std::process::ExitCode;

use shmfits_core::shm::{RecoverAction, RecoverReport};

use super::context::{self, with_driver, WaitArgs};
use super::exit::{Failure, EXIT_BUSY, EXIT_NOT_FOUND, EXIT_OK};
use super::list;
use crate::{Config, Error};

/// Arguments of `smem rm`.
#[derive(Debug, Clone, clap::Args)]
pub struct RmArgs {
    /// The files to delete: `hN` or `shmem://hN`.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Arguments of `smem recover`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecoverArgs {
    /// The slot to recover (`hN`, `shmem://hN`); default: every slot, and orphan segments.
    pub name: Option<String>,
}

/// Runs `smem rm`.
pub fn run_rm(args: &RmArgs) -> ExitCode {
    let result = (|| {
        let config = context::config()?;
        // check every name before deleting anything
        let names = args
            .names
            .iter()
            .map(|n| context::slot_name(n, config.slots))
            .collect::<Result<Vec<_>, _>>()?;
        let shm = context::shm(&config)?;
        let mut first: Option<Failure> = None;
        for (name, _) in names {
            if let Err(e) = shm.remove(&name) {
                let f = context::failure(&config, &name, &e, &WaitArgs::no_wait());
                eprintln!("smem rm: {}", f.message);
                // reported: only the status is left to give
                first.get_or_insert(Failure::new(f.exit, ""));
            }
        }
        first.map_or(Ok(()), Err)
    })();
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) if f.message.is_empty() => ExitCode::from(f.exit),
        Err(f) => f.report("rm"),
    }
}

/// Runs `smem recover`.
pub fn run_recover(args: &RecoverArgs) -> ExitCode {
    let result = context::config().and_then(|config| {
        let slot = match &args.name {
            Some(n) => Some(context::slot_name(n, config.slots)?.1),
            None => None,
        };
        recover(&config, slot)
    });
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("recover"),
    }
}

/// Recover `slot` or (with `None`) every slot and the orphans, printing what was done.
///
/// # Errors
/// Setup failures; [`EXIT_BUSY`] when the one slot asked for is in use.
pub fn recover(config: &Config, slot: Option<u32>) -> Result<(), Failure> {
    with_driver(config, |d| {
        let slots = match slot {
            Some(s) => s..s + 1,
            None => 0..config.slots,
        };
        let mut report = RecoverReport::default();
        let mut busy = None;
        for s in slots {
            report.checked += 1;
            let action = d
                .recover_slot(s)
                .map_err(|e| Failure::of(&format!("h{s}"), &Error::Driver(e)))?;
            match action {
                RecoverAction::Healthy => {
                    report.healthy += 1;
                    if slot.is_some() {
                        println!("h{s}: nothing to repair");
                    }
                }
                RecoverAction::Busy => {
                    report.busy += 1;
                    println!("h{s}: in use (locked), skipped");
                    busy = Some(s);
                }
                RecoverAction::Repaired(why) => {
                    report.repaired += 1;
                    println!("h{s}: repaired: {why}");
                }
                RecoverAction::Removed(why) => {
                    report.removed += 1;
                    println!("h{s}: removed: {why}");
                }
            }
        }
        if slot.is_none() {
            let swept = d
                .recover(None)
                .map_err(|e| Failure::of("shared memory", &Error::Driver(e)))?;
            report.orphans_removed = swept.orphans_removed;
            if swept.orphans_removed > 0 {
                println!(
                    "removed {} orphan segment(s)/semaphore(s) of crashed writers",
                    swept.orphans_removed
                );
            }
        }
        println!(
            "recover: {} slot(s) checked: {} repaired, {} removed, {} in use, {} healthy or free",
            report.checked, report.repaired, report.removed, report.busy, report.healthy
        );
        match (slot, busy) {
            (Some(_), Some(s)) => {
                let f = context::busy(config, &format!("shmem://h{s}"), s, &WaitArgs::no_wait());
                Err(Failure::new(
                    EXIT_BUSY,
                    format!("{}: not recovered", f.message),
                ))
            }
            _ => Ok(()),
        }
    })
}

/// CFITSIO's `smem -d [id]`: delete one file, or every file.
pub fn run_legacy_delete(id: Option<&str>) -> ExitCode {
    let result = (|| {
        let config = context::config()?;
        let targets: Vec<u32> = match id {
            Some(id) => vec![context::slot_id(id, config.slots)?],
            None => list::slots(&config)?
                .iter()
                .filter(|s| s.flags.contains(&"persist"))
                .map(|s| s.slot)
                .collect(),
        };
        let shm = context::shm(&config)?;
        let mut first: Option<Failure> = None;
        for slot in targets {
            let name = format!("shmem://h{slot}");
            match shm.remove(&name) {
                Ok(()) => println!("handle {slot}: deleted"),
                Err(e) => {
                    let f = context::failure(&config, &name, &e, &WaitArgs::no_wait());
                    if f.exit == EXIT_NOT_FOUND {
                        println!("handle {slot}: no such handle");
                    } else {
                        println!("handle {slot}: not deleted: {}", f.message);
                    }
                    first.get_or_insert(f);
                }
            }
        }
        first.map_or(Ok(()), Err)
    })();
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("-d"),
    }
}

/// CFITSIO's `smem -r [id]`: recover one slot, or every slot.
pub fn run_legacy_recover(id: Option<&str>) -> ExitCode {
    let result = context::config().and_then(|config| {
        let slot = match id {
            Some(id) => Some(context::slot_id(id, config.slots)?),
            None => None,
        };
        recover(&config, slot)
    });
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("-r"),
    }
}

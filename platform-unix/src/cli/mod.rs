//! The `smem` command line: one subcommand per module, parsed with clap.
//!
//! The binary (`src/bin/smem.rs`) only calls [`main`]; everything else lives here so that
//! tests can run the same code as the tool (for example [`info::Report`]).
//!
//! CFITSIO's flags are kept: `smem` alone lists, `smem -l` lists (long form), `smem -d [id]`
//! deletes one file or all, `smem -r [id]` recovers one slot or all, `smem -h` is help.
//! Slot arguments are `hN` or `shmem://hN` (and, for `-d`/`-r`, CFITSIO's plain `N`).
//! The full reference is `docs/SMEM.md`.
//!
//! # Exit status
//! Every subcommand uses the same codes, so shell scripts can rely on them (see [`exit`]):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the input is not valid FITS / not a FITS file (what was valid is still printed) |
//! | 2 | usage error (bad arguments, bad slot name: the message names it) |
//! | 3 | I/O error (file missing, unreadable, output failed, kernel failure) |
//! | 4 | no such `shmem://` file |
//! | 5 | busy: the slot is locked (`--no-wait`, or `--wait SECS` ran out) |
//! | 6 | permission denied |

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod context;
pub mod exit;
pub mod get;
pub mod holder;
pub mod info;
pub mod list;
pub mod manage;
pub mod put;
pub mod source;

pub use exit::{
    EXIT_BUSY, EXIT_INVALID, EXIT_IO, EXIT_NOT_FOUND, EXIT_OK, EXIT_PERMISSION, EXIT_USAGE,
};

const ABOUT: &str = "List, copy, inspect and manage shmem:// FITS files (CFITSIO's shared memory)";

const LONG_ABOUT: &str = "\
List, copy, inspect and manage shmem:// FITS files: the files CFITSIO's shared-memory driver
keeps in System V shared memory, readable and writable by CFITSIO programs at the same time.

SHMEM_LIB_KEYBASE and SHMEM_LIB_MAXSEG select the key base and slot count, as for CFITSIO;
SHMFITS_LOCK_DIR the lock file's directory (default /tmp). Slots are named hN or shmem://hN.

CFITSIO's flags: smem (list), smem -l (long list), smem -d [id] (delete id, or every file),
smem -r [id] (recover id, or every slot), smem -h (this help).";

/// `smem`: list, inspect and manage `shmem://` FITS files.
#[derive(Debug, Parser)]
#[command(
    name = "smem",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = exit::EXIT_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// List the files, long form (CFITSIO's `smem -l`).
    #[arg(short = 'l', group = "legacy")]
    pub long_list: bool,
    /// Delete file ID (N, hN or shmem://hN), or every file when no ID is given
    /// (CFITSIO's `smem -d [id]`; never waits).
    #[arg(short = 'd', value_name = "ID", num_args = 0..=1, group = "legacy")]
    pub delete: Option<Option<String>>,
    /// Recover slot ID, or every slot when no ID is given (CFITSIO's `smem -r [id]`).
    #[arg(short = 'r', value_name = "ID", num_args = 0..=1, group = "legacy")]
    pub recover: Option<Option<String>>,
    /// What to do (default: list).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands of `smem`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the used slots: key, processes attached, size, lock, flags.
    List(list::ListArgs),
    /// Store a FITS file (or standard input) in hN: creates it, or replaces it atomically.
    Put(put::PutArgs),
    /// Copy hN to FILE (`-` for standard output), read under the shared lock.
    Get(get::GetArgs),
    /// Write hN to standard output.
    Cat(get::CatArgs),
    /// Walk a FITS file and print each HDU (kind, BITPIX, axes, offsets, cards).
    #[command(long_about = info::LONG_ABOUT)]
    Info(info::InfoArgs),
    /// Delete files at once; each is freed when its last reader closes.
    Rm(manage::RmArgs),
    /// Repair or remove what crashed processes left broken (all slots, or one).
    Recover(manage::RecoverArgs),
    /// List again and again (clears the screen on a terminal).
    Watch(list::WatchArgs),
}

/// Runs `smem` with the process's arguments and returns its exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(id) = &cli.delete {
        return manage::run_legacy_delete(id.as_deref());
    }
    if let Some(id) = &cli.recover {
        return manage::run_legacy_recover(id.as_deref());
    }
    let long = cli.long_list;
    match cli.command {
        None => list::run(&list::ListArgs { json: false, long }),
        Some(Command::List(args)) => list::run(&args),
        Some(Command::Put(args)) => put::run(&args),
        Some(Command::Get(args)) => get::run(&args),
        Some(Command::Cat(args)) => get::run_cat(&args),
        Some(Command::Info(args)) => info::run(&args),
        Some(Command::Rm(args)) => manage::run_rm(&args),
        Some(Command::Recover(args)) => manage::run_recover(&args),
        Some(Command::Watch(args)) => list::run_watch(&args),
    }
}

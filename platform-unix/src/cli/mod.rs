//! The `smem` command line: one subcommand per module, parsed with clap.
//!
//! The binary (`src/bin/smem.rs`) only calls [`main`]; everything else lives here so that
//! tests can run the same code as the tool (for example [`info::Report`]).
//!
//! # Exit status
//! Every subcommand uses the same codes, so shell scripts can rely on them:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the input is not valid FITS (what was valid is still printed) |
//! | 2 | usage error (bad arguments) |
//! | 3 | I/O error (file missing, unreadable, output failed) |

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod info;
pub mod source;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the input is not valid FITS.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage error (clap uses 2 for argument errors too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: I/O error.
pub const EXIT_IO: u8 = 3;

/// `smem`: list, inspect and manage `shmem://` FITS files.
#[derive(Debug, Parser)]
#[command(name = "smem", version, about, after_help = EXIT_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_HELP: &str = "Exit status: 0 ok, 1 invalid FITS, 2 usage error, 3 I/O error.";

/// The subcommands of `smem`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk a FITS file and print each HDU (kind, BITPIX, axes, offsets, cards).
    #[command(long_about = info::LONG_ABOUT)]
    Info(info::InfoArgs),
}

/// Runs `smem` with the process's arguments and returns its exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Info(args) => info::run(&args),
    }
}

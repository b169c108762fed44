//! `smem get hN FILE` and `smem cat hN`: copy a `shmem://` file out, read under the shared
//! lock (writers wait until the copy is done; other readers do not).
//!
//! `get` writes a temporary file next to `FILE` and renames it over `FILE` when complete, so
//! `FILE` is never seen half-written; `-` (and `cat`) write standard output.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use shmfits_core::shm::Mode;

use super::context::{self, WaitArgs};
use super::exit::{Failure, EXIT_OK};

/// Arguments of `smem get`.
#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    /// The slot: `hN` or `shmem://hN`.
    pub name: String,
    /// Where to write the file; `-` for standard output.
    pub file: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub wait: WaitArgs,
}

/// Arguments of `smem cat`.
#[derive(Debug, Clone, clap::Args)]
pub struct CatArgs {
    /// The slot: `hN` or `shmem://hN`.
    pub name: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub wait: WaitArgs,
}

/// Runs `smem get`.
pub fn run(args: &GetArgs) -> ExitCode {
    match get(&args.name, &args.file, &args.wait) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("get"),
    }
}

/// Runs `smem cat`.
pub fn run_cat(args: &CatArgs) -> ExitCode {
    match get(&args.name, Path::new("-"), &args.wait) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("cat"),
    }
}

fn get(arg: &str, out: &Path, wait: &WaitArgs) -> Result<(), Failure> {
    let config = context::config()?;
    let (name, _) = context::slot_name(arg, config.slots)?;
    let shm = context::shm(&config)?;
    let file = context::open(&shm, &name, Mode::ReadOnly, wait)?;
    let bytes = file.as_bytes().map_err(|e| Failure::of(&name, &e))?;
    let written = if out == Path::new("-") {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        lock.write_all(bytes)
            .and_then(|()| lock.flush())
            .map_err(|e| Failure::file("standard output", "write", &e))
    } else {
        write_replacing(out, bytes)
    };
    let closed = file.close().map_err(|e| Failure::of(&name, &e));
    written?;
    closed
}

/// Writes `bytes` to a temporary file beside `path`, then renames it to `path`.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let shown = path.display().to_string();
    let file_name = path
        .file_name()
        .ok_or_else(|| Failure::usage(format!("{shown}: not a file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".smem-{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Failure::file(&shown, "write", &e));
    }
    Ok(())
}

//! `smem put FILE hN`: create `hN` from a FITS file, or replace its content atomically.
//!
//! The slot is opened read-write (waiting for readers as `--wait` says) or created; the new
//! content goes into a shadow segment (the driver's default write mode) and is published in
//! one table store when the file is closed. Readers therefore see the old file or the new one,
//! never a mix, and if `put` fails or is killed half-way the old file stays as it was (a
//! slot that `put` created is removed again on failure). Before publishing, the new content is
//! walked as FITS (unless `--no-check`): a file that is not valid FITS is not published and
//! the exit status is 1.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use shmfits_core::fits::Hdus;
use shmfits_core::shm::{self, Mode};

use super::context::{self, WaitArgs};
use super::exit::{Failure, EXIT_BUSY, EXIT_INVALID, EXIT_OK};
use crate::{Error, Shm, ShmFile};

/// Copy buffer size.
const CHUNK: usize = 1 << 20;
/// Inputs at least this large show progress (on a terminal).
const PROGRESS_MIN: u64 = 32 << 20;

/// Arguments of `smem put`.
#[derive(Debug, Clone, clap::Args)]
pub struct PutArgs {
    /// The FITS file to store; `-` reads standard input (any length).
    pub file: PathBuf,
    /// The slot: `hN` or `shmem://hN`.
    pub name: String,
    /// Store the bytes even if they are not valid FITS.
    #[arg(long)]
    pub no_check: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub wait: WaitArgs,
}

/// Runs `smem put`.
pub fn run(args: &PutArgs) -> ExitCode {
    match put(args) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => f.report("put"),
    }
}

fn put(args: &PutArgs) -> Result<(), Failure> {
    let config = context::config()?;
    let (name, _) = context::slot_name(&args.name, config.slots)?;
    let shown = args.file.display().to_string();
    let (mut input, known): (Box<dyn Read>, Option<u64>) = if shown == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f = File::open(&args.file).map_err(|e| Failure::file(&shown, "read", &e))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let shm = context::shm(&config)?;
    let (mut file, created) = open_or_create(&shm, &name, &args.wait)?;
    let written = fill(&mut file, &mut *input, &shown, &name, known, args.no_check);
    match written {
        Ok(()) => file.close().map_err(|e| Failure::of(&name, &e)),
        Err(f) => {
            // nothing of it is published
            let _ = if created {
                file.remove()
            } else {
                file.discard().and_then(|()| file.close())
            };
            Err(f)
        }
    }
}

/// Open `name` read-write, or create it; `true` when created.
fn open_or_create(shm: &Shm, name: &str, wait: &WaitArgs) -> Result<(ShmFile, bool), Failure> {
    let config = shm.platform().config().clone();
    for _ in 0..3 {
        match shm.open_with(name, Mode::ReadWrite, wait.to_wait()) {
            Ok(f) => return Ok((f, false)),
            Err(Error::Driver(shm::Error::NotFound { .. })) => {}
            Err(e) => return Err(context::failure(&config, name, &e, wait)),
        }
        match shm.create(name) {
            Ok(f) => return Ok((f, true)),
            // someone created it meanwhile, or holds the slot: open it again
            Err(Error::Driver(shm::Error::Exists { .. } | shm::Error::WouldBlock { .. })) => {}
            Err(e) => return Err(context::failure(&config, name, &e, wait)),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Failure::new(
        EXIT_BUSY,
        format!(
            "{name} cannot be replaced now: it is deleted but still open, or being created \
             (try again when its last user has closed it)"
        ),
    ))
}

/// Replace the content of `file` with `input`, check it, leave it unpublished.
fn fill(
    file: &mut ShmFile,
    input: &mut dyn Read,
    shown: &str,
    name: &str,
    known: Option<u64>,
    no_check: bool,
) -> Result<(), Failure> {
    file.set_len(0).map_err(|e| Failure::of(name, &e))?;
    let mut progress = Progress::new(name, known);
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::file(shown, "read", &e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        file.write_all(chunk).map_err(|e| {
            let msg = format!("{name}: write failed at byte {total}: {e}");
            match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                Some(inner) => Failure::new(super::exit::exit_of(inner), msg),
                None => Failure::io(msg),
            }
        })?;
        total += n as u64;
        progress.show(total);
    }
    progress.done(total);
    if no_check {
        return Ok(());
    }
    let bytes = file.as_bytes().map_err(|e| Failure::of(name, &e))?;
    if bytes.is_empty() {
        return Err(Failure::new(
            EXIT_INVALID,
            format!("{shown} is empty: not a FITS file (nothing stored; --no-check stores it)"),
        ));
    }
    for hdu in Hdus::new(bytes) {
        if let Err(e) = hdu {
            return Err(Failure::new(
                EXIT_INVALID,
                format!("{shown} is not valid FITS: {e} (nothing stored; --no-check stores it)"),
            ));
        }
    }
    Ok(())
}

/// Progress on stderr for large inputs, only when stderr is a terminal.
struct Progress<'a> {
    name: &'a str,
    known: Option<u64>,
    on: bool,
    last: Instant,
    shown: bool,
}

impl<'a> Progress<'a> {
    fn new(name: &'a str, known: Option<u64>) -> Self {
        Progress {
            name,
            known,
            on: io::stderr().is_terminal(),
            last: Instant::now(),
            shown: false,
        }
    }

    fn show(&mut self, done: u64) {
        let large = self.known.unwrap_or(done) >= PROGRESS_MIN;
        if !self.on || !large || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let mb = done as f64 / 1e6;
        let _ = match self.known {
            Some(k) if k > 0 => write!(
                io::stderr(),
                "\rsmem put {}: {mb:.1} MB ({:.0}%)",
                self.name,
                done as f64 * 100.0 / k as f64
            ),
            _ => write!(io::stderr(), "\rsmem put {}: {mb:.1} MB", self.name),
        };
    }

    fn done(&mut self, total: u64) {
        if self.shown {
            let _ = writeln!(
                io::stderr(),
                "\rsmem put {}: {:.1} MB done      ",
                self.name,
                total as f64 / 1e6
            );
        }
    }
}

//! [`Options`]: the command line of the camera job, shared by the parent and its two
//! children (which receive the same values plus a hidden role).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use shmfits_core::shm::MAX_FITS_SIZE;

use super::error::CameraError;
use super::frame::FrameSpec;
use crate::config::{Config, DEFAULT_SLOTS};

/// The camera job's own System V key base: keys `0x5348F000 … 0x5348F02F` (table and data
/// segments), far from CFITSIO's default 14011963, so it never meets a real installation.
pub const DEFAULT_KEY_BASE: i32 = 0x5348_F000;
/// Frames streamed by default (about 1 GB, a few seconds).
pub const DEFAULT_FRAMES: u32 = 500;
/// Default image width and height in pixels.
pub const DEFAULT_SIDE: u32 = 1024;
/// Default time allowed for any one step (a frame, a child's exit).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Which of the two child processes this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Creates `shmem://hN` and publishes one frame after the other.
    Writer,
    /// Opens each published frame read-only and verifies it.
    Reader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Writer => "writer",
            Role::Reader => "reader",
        })
    }
}

/// A fault the writer injects on purpose, so that tests can check that the job notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Publish frame `K` with one wrong pixel (the reader must report it).
    Corrupt(u32),
    /// Hang forever before publishing frame `K` (the parent must time out and kill).
    Stall(u32),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Corrupt(k) => write!(f, "corrupt={k}"),
            Fault::Stall(k) => write!(f, "stall={k}"),
        }
    }
}

/// Stream FITS frames through `shmem://hN` from a writer process to a reader process.
///
/// The parent spawns itself twice (`--role writer`, `--role reader`), relays a lock-step
/// handshake between them through pipes, and removes every System V object and the lock
/// directory it created, also when something fails.
#[derive(Clone, Debug, PartialEq, Parser)]
#[command(name = "camera", version)]
pub struct Options {
    /// Number of frames to stream.
    #[arg(long, default_value_t = DEFAULT_FRAMES, value_parser = clap::value_parser!(u32).range(1..))]
    pub frames: u32,
    /// Image width in pixels (NAXIS1).
    #[arg(long, default_value_t = DEFAULT_SIDE, value_parser = clap::value_parser!(u32).range(1..))]
    pub width: u32,
    /// Image height in pixels (NAXIS2).
    #[arg(long, default_value_t = DEFAULT_SIDE, value_parser = clap::value_parser!(u32).range(1..))]
    pub height: u32,
    /// System V key base (decimal or 0x-hex); keys K … K+47 must be unused.
    #[arg(long, default_value = "0x5348F000", value_parser = parse_key_base)]
    pub key_base: i32,
    /// Slot to stream through: the file is shmem://hN with N this value.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..16))]
    pub slot: u32,
    /// Seconds allowed for any one step (a frame, a child's exit) before the children are
    /// killed.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Internal: run as this child process.
    #[arg(long, hide = true)]
    pub role: Option<Role>,
    /// Internal: the private lock directory made by the parent.
    #[arg(long, hide = true)]
    pub lock_dir: Option<PathBuf>,
    /// Testing: `corrupt=K` publishes frame K with a wrong pixel, `stall=K` hangs the
    /// writer before frame K.
    #[arg(long, hide = true, value_parser = parse_fault)]
    pub fault: Option<Fault>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frames: DEFAULT_FRAMES,
            width: DEFAULT_SIDE,
            height: DEFAULT_SIDE,
            key_base: DEFAULT_KEY_BASE,
            slot: 0,
            timeout: DEFAULT_TIMEOUT,
            role: None,
            lock_dir: None,
            fault: None,
        }
    }
}

impl Options {
    /// The file name, `shmem://h<slot>`.
    pub fn name(&self) -> String {
        format!("shmem://h{}", self.slot)
    }

    /// The frame geometry, checked: the file must fit what CFITSIO's `int` size field can
    /// express, and the slot must exist.
    ///
    /// # Errors
    /// [`CameraError::Options`] naming the value.
    pub fn frame_spec(&self) -> Result<FrameSpec, CameraError> {
        if self.frames == 0 || self.width == 0 || self.height == 0 {
            return Err(CameraError::options(
                "--frames/--width/--height",
                "must be at least 1",
            ));
        }
        if self.slot >= DEFAULT_SLOTS {
            return Err(CameraError::options("--slot", "must be below 16"));
        }
        let spec = FrameSpec::new(self.width as usize, self.height as usize);
        match spec.file_len() {
            Some(n) if n <= MAX_FITS_SIZE => Ok(spec),
            _ => Err(CameraError::options(
                "--width × --height",
                format!(
                    "a {}×{} frame does not fit one shmem:// file ({MAX_FITS_SIZE} bytes at most)",
                    self.width, self.height
                ),
            )),
        }
    }

    /// The System V configuration of the job: its key base, CFITSIO's slot count, the given
    /// lock directory, owner-only objects.
    pub fn config(&self, lock_dir: &Path) -> Config {
        Config {
            key_base: self.key_base,
            slots: DEFAULT_SLOTS,
            lock_dir: lock_dir.to_path_buf(),
            ..Config::default()
        }
    }

    /// The arguments a child gets: the same values, its role and the lock directory.
    pub(crate) fn child_args(&self, role: Role, lock_dir: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "--role".to_string(),
            role.to_string(),
            "--frames".to_string(),
            self.frames.to_string(),
            "--width".to_string(),
            self.width.to_string(),
            "--height".to_string(),
            self.height.to_string(),
            "--key-base".to_string(),
            self.key_base.to_string(),
            "--slot".to_string(),
            self.slot.to_string(),
            "--timeout".to_string(),
            self.timeout.as_secs_f64().to_string(),
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        if let Some(fault) = self.fault {
            args.push("--fault".into());
            args.push(fault.to_string().into());
        }
        args.push("--lock-dir".into());
        args.push(lock_dir.as_os_str().to_owned());
        args
    }
}

/// A key base: decimal or `0x` hexadecimal, at least 1, with room for 48 keys above it.
fn parse_key_base(s: &str) -> Result<i32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => s.parse::<i64>(),
    };
    let k = parsed.map_err(|_| format!("{s:?} is not a decimal or 0x-hex integer"))?;
    let last = k + 3 * i64::from(DEFAULT_SLOTS);
    if k < 1 || last > i64::from(i32::MAX) {
        return Err(format!("{s} is out of range (1 ..= {})", i32::MAX - 48));
    }
    i32::try_from(k).map_err(|_| format!("{s} is out of range"))
}

/// Seconds as a decimal number, more than 0.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("{s} seconds is out of range (0 < s ≤ 86400)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `corrupt=K` or `stall=K`.
fn parse_fault(s: &str) -> Result<Fault, String> {
    let bad = || format!("{s:?}: expected corrupt=K or stall=K");
    let (what, k) = s.split_once('=').ok_or_else(bad)?;
    let k: u32 = k.parse().map_err(|_| bad())?;
    match what {
        "corrupt" => Ok(Fault::Corrupt(k)),
        "stall" => Ok(Fault::Stall(k)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_equal_an_empty_command_line() {
        assert_eq!(Options::parse_from(["camera"]), Options::default());
    }

    #[test]
    fn child_args_round_trip() {
        let opts = Options {
            frames: 7,
            width: 3,
            height: 5,
            key_base: 0x5348_F030,
            slot: 2,
            timeout: Duration::from_millis(1500),
            fault: Some(Fault::Stall(4)),
            ..Options::default()
        };
        let mut args = vec![OsString::from("camera")];
        args.extend(opts.child_args(Role::Reader, Path::new("/x/y")));
        let back = Options::parse_from(args);
        assert_eq!(
            back,
            Options {
                role: Some(Role::Reader),
                lock_dir: Some(PathBuf::from("/x/y")),
                ..opts
            }
        );
    }

    #[test]
    fn key_base_forms_and_limits() {
        assert_eq!(parse_key_base("0x5348F000"), Ok(0x5348_F000));
        assert_eq!(parse_key_base("1397288960"), Ok(0x5348_F000));
        assert!(parse_key_base("0").is_err());
        assert!(parse_key_base("-3").is_err());
        assert!(parse_key_base("0x7FFFFFF0").is_err());
        assert!(parse_key_base("zz").is_err());
    }

    #[test]
    fn faults_and_seconds() {
        assert_eq!(parse_fault("corrupt=3"), Ok(Fault::Corrupt(3)));
        assert_eq!(parse_fault("stall=0"), Ok(Fault::Stall(0)));
        assert!(parse_fault("stall").is_err());
        assert!(parse_fault("melt=1").is_err());
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("NaN").is_err());
    }

    #[test]
    fn oversized_frame_is_refused_with_its_size() {
        let opts = Options {
            width: 65_536,
            height: 65_536,
            ..Options::default()
        };
        let e = opts.frame_spec().unwrap_err().to_string();
        assert!(e.contains("65536×65536"), "{e}");
    }
}

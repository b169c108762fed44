//! [`Summary`] (what one child did) and [`Report`] (the whole job), with the lines they print.

use std::fmt;
use std::time::Duration;

use super::options::Role;

/// What one child process did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Its process id.
    pub pid: u32,
    /// Frames written (writer) or verified (reader).
    pub frames: u64,
    /// FITS bytes written or verified.
    pub bytes: u64,
    /// Wall-clock time from its first frame to its last handshake.
    pub elapsed: Duration,
    /// Time spent in the shared-memory work itself: open/create, write, close for the
    /// writer; open, HDU walk, pixel check, close for the reader.
    pub busy: Duration,
}

/// Megabytes (10^6 bytes) per second, 0 for no time.
fn rate(bytes: u64, time: Duration) -> f64 {
    let s = time.as_secs_f64();
    if s > 0.0 {
        bytes as f64 / 1e6 / s
    } else {
        0.0
    }
}

impl Summary {
    /// Throughput over [`Summary::elapsed`], in MB/s (10^6 bytes).
    pub fn mb_per_s(&self) -> f64 {
        rate(self.bytes, self.elapsed)
    }

    /// The line a child prints about itself.
    pub fn line(&self, role: Role) -> String {
        let (verb, work) = match role {
            Role::Writer => ("written", "creating/opening, writing, publishing"),
            Role::Reader => ("verified", "opening, walking HDUs, checking pixels"),
        };
        format!(
            "{role} (pid {}): {} frames, {:.1} MB {verb} in {:.2} s = {:.0} MB/s \
             ({:.2} s {work} = {:.0} MB/s)",
            self.pid,
            self.frames,
            self.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
            self.mb_per_s(),
            self.busy.as_secs_f64(),
            rate(self.bytes, self.busy),
        )
    }
}

/// The outcome of a successful camera job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Frames streamed (each one published by the writer and verified by the reader).
    pub frames: u32,
    /// Image width and height.
    pub size: (u32, u32),
    /// Bytes of one frame's FITS file.
    pub frame_len: u64,
    /// The writer's account.
    pub writer: Summary,
    /// The reader's account.
    pub reader: Summary,
    /// Wall-clock time of the whole job, spawning and clean-up included.
    pub elapsed: Duration,
    /// System V objects that an interrupted earlier run had left under the key base (ours,
    /// unused), removed before starting.
    pub stale_removed: usize,
}

impl fmt::Display for Report {
    /// The parent's final line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.frame_len * u64::from(self.frames);
        write!(
            f,
            "camera: OK: {} frames of {}×{} i16 ({:.1} MB) written by pid {} and verified \
             pixel by pixel by pid {} in {:.2} s ({:.0} MB/s end to end); nothing left in \
             shared memory{}",
            self.frames,
            self.size.0,
            self.size.1,
            bytes as f64 / 1e6,
            self.writer.pid,
            self.reader.pid,
            self.elapsed.as_secs_f64(),
            rate(bytes, self.elapsed),
            match self.stale_removed {
                0 => String::new(),
                n => format!(" (and {n} objects an interrupted run had left were removed)"),
            }
        )
    }
}

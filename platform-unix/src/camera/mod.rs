//! The camera job, the project's main demonstration (`cargo run --release --example
//! camera`): a writer process streams FITS image frames into `shmem://h0` while a separate
//! reader process opens each one read-only, walks its HDUs zero-copy and verifies every
//! pixel. Both print a summary; the parent prints a final line and fails on any mismatch.
//!
//! * The parent makes a private lock directory and checks that nothing alive exists under
//!   its key base (default [`DEFAULT_KEY_BASE`], never CFITSIO's; objects of ours that no
//!   process uses, as a run interrupted by Ctrl-C leaves them, are removed), then
//!   re-executes its own program twice, `--role writer` and `--role reader`.
//! * The writer publishes frame `I` (create or open read-write, write, close), says
//!   `ready I` and waits; the parent tells the reader `frame I`; the reader opens, verifies,
//!   closes and answers; the parent acks the writer. The writer never touches the file
//!   between `ready I` and `ack I`, and the reader opens it only between `frame I` and its
//!   answer, so no frame is missed, none is seen half written, and nothing depends on
//!   timing. One text line per message, over the children's stdin and stdout:
//!
//! ```text
//! writer → parent   ready I        frame I is published (the writer closed it)
//! parent → reader   frame I        open and verify frame I
//! reader → parent   ok I | bad I <what>
//! parent → writer   ack I          the reader is done with frame I; publish the next
//! parent → both     end            (after the last frame) clean up and report
//! child  → parent   done <summary> then the child exits
//! ```
//! * The parent kills both children if a step takes longer than [`Options::timeout`], and
//!   removes every System V object under its keys and the lock directory when it returns —
//!   also on error or panic (drop guards).
//!
//! The same code runs the example and the test (`platform-unix/tests/camera.rs`); `program`
//! in [`run`] is the executable that is spawned for the children, which must call
//! [`main`] (or [`main_from`]) when its arguments contain `--role`.
//!
//! ```no_run
//! // examples/camera.rs
//! fn main() -> std::process::ExitCode {
//!     shmfits_unix::camera::main()
//! }
//! ```

mod child;
mod error;
mod frame;
mod guard;
mod options;
mod protocol;
mod relay;
mod report;

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use clap::Parser;

pub use error::CameraError;
pub use frame::{pixel, FrameSpec};
pub use options::{
    Fault, Options, Role, DEFAULT_FRAMES, DEFAULT_KEY_BASE, DEFAULT_SIDE, DEFAULT_TIMEOUT,
};
pub use protocol::Peer;
pub use report::{Report, Summary};

use guard::{Children, IpcGuard, PrivateDir};
use relay::{child_link, relay, Event};

/// The prefix of the lock directories a parent with process id `pid` makes in the
/// temporary directory (for tests that check they are gone).
pub fn lock_dir_prefix(pid: u32) -> String {
    guard::private_dir_prefix(pid)
}

/// Run the camera job from the process's command line: as the parent, or as a child when
/// `--role` is given. Prints the summaries and the final line; the exit code is 0 only if
/// every frame was verified and everything was removed.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// As [`main`] with the given arguments (the first is the program name).
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let opts = match Options::try_parse_from(args) {
        Ok(opts) => opts,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Some(role) = opts.role {
        return match child::run(role, &opts) {
            Ok(()) => ExitCode::SUCCESS,
            // The parent stopped the handshake: it reports why; nothing to add.
            Err(CameraError::PeerGone {
                peer: Peer::Parent, ..
            }) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("camera {role} (pid {}): error: {e}", std::process::id());
                ExitCode::FAILURE
            }
        };
    }
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("camera: FAILED: cannot find my own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(spec) = opts.frame_spec() {
        println!(
            "camera: streaming {} frames of {}×{} i16 ({} bytes of FITS each) through {} \
             from a writer process to a reader process (key base {:#x}, private lock dir)",
            opts.frames,
            opts.width,
            opts.height,
            spec.file_len().unwrap_or(0),
            opts.name(),
            opts.key_base,
        );
    }
    match run(&opts, &program) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("camera: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run the job as the parent, spawning `program` twice as the writer and the reader.
///
/// # Errors
/// The first thing that went wrong ([`CameraError`]); the children are killed and every
/// System V object under the key base and the lock directory are removed before it
/// returns, whatever happened.
pub fn run(opts: &Options, program: &Path) -> Result<Report, CameraError> {
    let start = Instant::now();
    let spec = opts.frame_spec()?;
    let frame_len = spec.file_len().unwrap_or(0) as u64;
    // Drop order (reverse of declaration): children, kernel objects, directory.
    let dir = PrivateDir::new()?;
    let ipc = IpcGuard::new(opts.config(dir.path()))?;
    let mut children = Children::default();
    let mut links = Vec::new();
    for role in [Role::Writer, Role::Reader] {
        let mut child = Command::new(program)
            .args(opts.child_args(role, dir.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(CameraError::io(format!(
                "spawn the {role}: {}",
                program.display()
            )))?;
        let pipes = (child.stdout.take(), child.stdin.take());
        children.push(role, child);
        let (Some(out), Some(input)) = pipes else {
            return Err(CameraError::io(format!("pipes of the {role}"))(
                std::io::Error::other("not captured"),
            ));
        };
        links.push(child_link(role, out, input));
    }
    let (Some(reader), Some(writer)) = (links.pop(), links.pop()) else {
        return Err(CameraError::options("roles", "two children expected"));
    };

    let (tx, rx) = mpsc::channel();
    let frames = opts.frames;
    let thread = std::thread::Builder::new()
        .name("camera-relay".into())
        .spawn(move || relay(frames, writer, reader, tx))
        .map_err(CameraError::io("start the relay thread"))?;
    let mut last = "the start".to_string();
    let outcome = loop {
        match rx.recv_timeout(opts.timeout) {
            Ok(Event::Progress(step)) => last = step,
            Ok(Event::Finished(outcome)) => break outcome,
            Err(RecvTimeoutError::Timeout) => {
                break Err(CameraError::TimedOut {
                    after: opts.timeout,
                    last,
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                break Err(CameraError::options("relay", "the relay thread died"))
            }
        }
    };
    let (writer, reader) = match outcome {
        Ok(summaries) => {
            // Both closed their pipes: they are exiting; their status must be success.
            children.wait_all()?;
            let _ = thread.join();
            summaries
        }
        Err(e) => {
            // Killing them closes the pipes, which ends the relay thread too.
            children.kill_all();
            let _ = thread.join();
            return Err(e);
        }
    };
    let left: Vec<String> = ipc.objects().iter().map(ToString::to_string).collect();
    if !left.is_empty() {
        return Err(CameraError::LeftBehind(left));
    }
    let expected = u64::from(opts.frames) * frame_len;
    for (role, s) in [(Role::Writer, &writer), (Role::Reader, &reader)] {
        if s.frames != u64::from(opts.frames) || s.bytes != expected {
            return Err(CameraError::Protocol {
                peer: Peer::Child(role),
                expected: format!("{} frames, {expected} bytes", opts.frames),
                got: format!("{} frames, {} bytes", s.frames, s.bytes),
            });
        }
    }
    let stale_removed = ipc.stale_removed;
    drop(children);
    drop(ipc);
    drop(dir);
    Ok(Report {
        frames: opts.frames,
        size: (opts.width, opts.height),
        frame_len,
        writer,
        reader,
        elapsed: start.elapsed(),
        stale_removed,
    })
}

//! The two child processes: the writer publishes frames into `shmem://hN`, the reader opens
//! each one read-only and verifies it. Both talk to the parent over stdin/stdout
//! ([`protocol`](super::protocol)) and print their [`Summary`] on stderr.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use super::error::CameraError;
use super::frame::FrameSpec;
use super::options::{Fault, Options, Role};
use super::protocol::{Link, Msg, Peer};
use super::report::Summary;
use crate::file::Shm;
use crate::Mode;

/// Run as the child `role`: attach the job's table, play the role, detach, report.
pub(crate) fn run(role: Role, opts: &Options) -> Result<(), CameraError> {
    let dir = opts
        .lock_dir
        .as_deref()
        .ok_or_else(|| CameraError::options("--role", "needs --lock-dir"))?;
    let spec = opts.frame_spec()?;
    let mut link = Link::new(
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        Peer::Parent,
    );
    let shm = Shm::new(opts.config(dir)).map_err(CameraError::shm("attach the table"))?;
    let summary = match role {
        Role::Writer => writer(&shm, opts, &spec, &mut link)?,
        Role::Reader => reader(&shm, opts, &spec, &mut link)?,
    };
    // Detach (and, if we are the last, remove) the global table before saying done.
    drop(shm);
    eprintln!("{}", summary.line(role));
    link.send(&Msg::Done(summary))
}

fn writer<R: BufRead, W: Write>(
    shm: &Shm,
    opts: &Options,
    spec: &FrameSpec,
    link: &mut Link<R, W>,
) -> Result<Summary, CameraError> {
    let name = opts.name();
    let mut buf = Vec::new();
    let (start, mut busy, mut bytes) = (Instant::now(), Duration::ZERO, 0u64);
    for i in 0..opts.frames {
        if opts.fault == Some(Fault::Stall(i)) {
            // Injected hang: only the parent's timeout ends this process.
            loop {
                std::thread::park();
            }
        }
        spec.fill(i, &mut buf)
            .map_err(|e| CameraError::options("--width/--height", e))?;
        if opts.fault == Some(Fault::Corrupt(i)) {
            spec.corrupt(&mut buf);
        }
        let t = Instant::now();
        let mut file = if i == 0 {
            shm.create(&name)
        } else {
            shm.open(&name, Mode::ReadWrite)
        }
        .map_err(CameraError::shm(format!("open {name} for frame {i}")))?;
        file.write_all(&buf)
            .map_err(CameraError::io(format!("write frame {i} to {name}")))?;
        // Close publishes the frame: a reader sees all of it or (before) none of it.
        file.close()
            .map_err(CameraError::shm(format!("publish frame {i}")))?;
        busy += t.elapsed();
        bytes += buf.len() as u64;
        link.send(&Msg::Ready(i))?;
        link.expect(&Msg::Ack(i))?;
    }
    let elapsed = start.elapsed();
    link.expect(&Msg::End)?;
    shm.remove(&name)
        .map_err(CameraError::shm(format!("remove {name}")))?;
    Ok(Summary {
        pid: std::process::id(),
        frames: u64::from(opts.frames),
        bytes,
        elapsed,
        busy,
    })
}

fn reader<R: BufRead, W: Write>(
    shm: &Shm,
    opts: &Options,
    spec: &FrameSpec,
    link: &mut Link<R, W>,
) -> Result<Summary, CameraError> {
    let name = opts.name();
    let (mut start, mut busy, mut bytes, mut frames) = (None, Duration::ZERO, 0u64, 0u64);
    let mut last_answer = Instant::now();
    loop {
        let i = match link.recv("\"frame I\" or \"end\"")? {
            Msg::Frame(i) => i,
            Msg::End => break,
            other => {
                return Err(CameraError::Protocol {
                    peer: Peer::Parent,
                    expected: "\"frame I\" or \"end\"".to_string(),
                    got: other.to_string(),
                })
            }
        };
        let t = Instant::now();
        start.get_or_insert(t);
        let file = shm
            .open(&name, Mode::ReadOnly)
            .map_err(CameraError::shm(format!(
                "open {name} read-only for frame {i}"
            )))?;
        let checked = spec.verify(&file, i);
        let len = file
            .len()
            .map_err(CameraError::shm(format!("size of frame {i}")))?;
        file.close()
            .map_err(CameraError::shm(format!("close frame {i}")))?;
        busy += t.elapsed();
        match checked {
            Ok(()) => {
                frames += 1;
                bytes += len;
                link.send(&Msg::Ok(i))?;
            }
            Err(what) => link.send(&Msg::Bad(i, what))?,
        }
        last_answer = Instant::now();
    }
    Ok(Summary {
        pid: std::process::id(),
        frames,
        bytes,
        elapsed: start.map_or(Duration::ZERO, |s| last_answer.duration_since(s)),
        busy,
    })
}

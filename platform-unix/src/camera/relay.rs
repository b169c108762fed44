//! The parent's side of the handshake, run on its own thread so that the main thread can
//! watch the time: it forwards `ready I` from the writer to the reader as `frame I`, and the
//! reader's `ok I` back to the writer as `ack I`, reporting each step.

use std::io::BufReader;
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc::Sender;

use super::error::CameraError;
use super::options::Role;
use super::protocol::{Link, Msg, Peer};
use super::report::Summary;

/// The parent's pipes to one child.
pub(crate) type ChildLink = Link<BufReader<ChildStdout>, ChildStdin>;

/// Make the link to a child from its pipes.
pub(crate) fn child_link(role: Role, stdout: ChildStdout, stdin: ChildStdin) -> ChildLink {
    Link::new(BufReader::new(stdout), stdin, Peer::Child(role))
}

/// What the relay tells the main thread.
#[derive(Debug)]
pub(crate) enum Event {
    /// A step completed (restarts the watchdog); the text names it.
    Progress(String),
    /// The handshake is over: both summaries, or the first error.
    Finished(Result<(Summary, Summary), CameraError>),
}

/// Run the whole handshake for `frames` frames and send [`Event::Finished`] at the end.
pub(crate) fn relay(frames: u32, mut writer: ChildLink, mut reader: ChildLink, tx: Sender<Event>) {
    let outcome = (|| {
        for i in 0..frames {
            writer.expect(&Msg::Ready(i))?;
            reader.send(&Msg::Frame(i))?;
            match reader.recv(&format!("\"ok {i}\""))? {
                Msg::Ok(j) if j == i => {}
                Msg::Bad(j, detail) if j == i => {
                    return Err(CameraError::Mismatch { frame: i, detail })
                }
                other => {
                    return Err(CameraError::Protocol {
                        peer: Peer::Child(Role::Reader),
                        expected: format!("\"ok {i}\" or \"bad {i} …\""),
                        got: other.to_string(),
                    })
                }
            }
            writer.send(&Msg::Ack(i))?;
            let _ = tx.send(Event::Progress(format!("frame {i} was verified")));
        }
        let w = finish(&mut writer, Role::Writer)?;
        let _ = tx.send(Event::Progress("the writer finished".to_string()));
        let r = finish(&mut reader, Role::Reader)?;
        Ok((w, r))
    })();
    let _ = tx.send(Event::Finished(outcome));
}

/// Send `end`, take the child's `done` summary and wait until it closes its pipe (exits).
fn finish(link: &mut ChildLink, role: Role) -> Result<Summary, CameraError> {
    link.send(&Msg::End)?;
    let summary = match link.recv("\"done …\"")? {
        Msg::Done(s) => s,
        other => {
            return Err(CameraError::Protocol {
                peer: Peer::Child(role),
                expected: "\"done …\"".to_string(),
                got: other.to_string(),
            })
        }
    };
    link.expect_eof()?;
    Ok(summary)
}

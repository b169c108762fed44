//! The handshake between the parent and its children: one text line per message over the
//! children's standard input and output.
//!
//! ```text
//! writer → parent   ready I        frame I is published (the writer closed it)
//! parent → reader   frame I        open and verify frame I
//! reader → parent   ok I | bad I <what>
//! parent → writer   ack I          the reader is done with frame I; publish the next
//! parent → both     end            (after the last frame) clean up and report
//! child  → parent   done <summary> then the child exits
//! ```
//!
//! The writer never touches the file between `ready I` and `ack I`, and the reader opens it
//! only between `frame I` and its answer, so each frame is seen complete and exactly once:
//! no race, no timing assumptions.

use std::fmt;
use std::io::{BufRead, Write};
use std::time::Duration;

use super::error::CameraError;
use super::options::Role;
use super::report::Summary;

/// The process at the other end of a pipe pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// The parent (seen from a child).
    Parent,
    /// A child (seen from the parent).
    Child(Role),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Parent => f.write_str("parent"),
            Peer::Child(role) => role.fmt(f),
        }
    }
}

/// One handshake line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    Ready(u32),
    Frame(u32),
    Ok(u32),
    Bad(u32, String),
    Ack(u32),
    End,
    Done(Summary),
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Ready(i) => write!(f, "ready {i}"),
            Msg::Frame(i) => write!(f, "frame {i}"),
            Msg::Ok(i) => write!(f, "ok {i}"),
            // one line: the detail must not contain a newline
            Msg::Bad(i, what) => write!(f, "bad {i} {}", what.replace('\n', " ")),
            Msg::Ack(i) => write!(f, "ack {i}"),
            Msg::End => f.write_str("end"),
            Msg::Done(s) => write!(
                f,
                "done {} {} {} {} {}",
                s.pid,
                s.frames,
                s.bytes,
                s.elapsed.as_nanos(),
                s.busy.as_nanos()
            ),
        }
    }
}

impl Msg {
    /// Parse one line (without its newline); `None` if it is not a message.
    pub(crate) fn parse(line: &str) -> Option<Msg> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let frame = || rest.parse::<u32>().ok();
        match word {
            "ready" => frame().map(Msg::Ready),
            "frame" => frame().map(Msg::Frame),
            "ok" => frame().map(Msg::Ok),
            "ack" => frame().map(Msg::Ack),
            "end" if rest.is_empty() => Some(Msg::End),
            "bad" => {
                let (i, what) = rest.split_once(' ').unwrap_or((rest, ""));
                Some(Msg::Bad(i.parse().ok()?, what.to_string()))
            }
            "done" => {
                let mut n = rest.split(' ').map(|w| w.parse::<u64>().ok());
                let mut next = || n.next().flatten();
                let s = Summary {
                    pid: u32::try_from(next()?).ok()?,
                    frames: next()?,
                    bytes: next()?,
                    elapsed: Duration::from_nanos(next()?),
                    busy: Duration::from_nanos(next()?),
                };
                n.next().is_none().then_some(Msg::Done(s))
            }
            _ => None,
        }
    }
}

/// One end of a pipe pair: lines out, lines in; `peer` names the other side in errors.
pub(crate) struct Link<R, W> {
    input: R,
    output: W,
    peer: Peer,
    line: String,
}

impl<R: BufRead, W: Write> Link<R, W> {
    pub(crate) fn new(input: R, output: W, peer: Peer) -> Self {
        Link {
            input,
            output,
            peer,
            line: String::new(),
        }
    }

    /// Send `msg`; a closed pipe means the peer is gone.
    pub(crate) fn send(&mut self, msg: &Msg) -> Result<(), CameraError> {
        let sent = writeln!(self.output, "{msg}").and_then(|()| self.output.flush());
        sent.map_err(|_| CameraError::PeerGone {
            peer: self.peer,
            waiting_for: format!("it to take {:?}", msg.to_string()),
        })
    }

    /// Receive the next message; `waiting_for` describes it for the errors.
    pub(crate) fn recv(&mut self, waiting_for: &str) -> Result<Msg, CameraError> {
        self.line.clear();
        let gone = || CameraError::PeerGone {
            peer: self.peer,
            waiting_for: waiting_for.to_string(),
        };
        match self.input.read_line(&mut self.line) {
            Ok(0) | Err(_) => return Err(gone()),
            Ok(_) => {}
        }
        let line = self.line.trim_end_matches(['\n', '\r']);
        Msg::parse(line).ok_or_else(|| CameraError::Protocol {
            peer: self.peer,
            expected: waiting_for.to_string(),
            got: line.to_string(),
        })
    }

    /// Receive and require exactly `want`.
    pub(crate) fn expect(&mut self, want: &Msg) -> Result<(), CameraError> {
        let expected = format!("{:?}", want.to_string());
        let got = self.recv(&expected)?;
        if &got == want {
            Ok(())
        } else {
            Err(CameraError::Protocol {
                peer: self.peer,
                expected,
                got: got.to_string(),
            })
        }
    }

    /// Wait until the peer closes its end (it exited); anything sent meanwhile is an error.
    pub(crate) fn expect_eof(&mut self) -> Result<(), CameraError> {
        self.line.clear();
        match self.input.read_line(&mut self.line) {
            Ok(0) | Err(_) => Ok(()),
            Ok(_) => Err(CameraError::Protocol {
                peer: self.peer,
                expected: "nothing after done".to_string(),
                got: self.line.trim_end().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let msgs = [
            Msg::Ready(0),
            Msg::Frame(4_000_000_000),
            Msg::Ok(7),
            Msg::Bad(3, "pixel (1, 2): expected 5, found 4".to_string()),
            Msg::Ack(9),
            Msg::End,
            Msg::Done(Summary {
                pid: 42,
                frames: 200,
                bytes: 419_904_000,
                elapsed: Duration::from_nanos(3_000_000_001),
                busy: Duration::from_millis(1500),
            }),
        ];
        for m in msgs {
            assert_eq!(Msg::parse(&m.to_string()), Some(m.clone()), "{m}");
        }
    }

    #[test]
    fn junk_is_not_a_message() {
        for line in [
            "",
            "ready",
            "ready x",
            "ready -1",
            "end now",
            "bad x y",
            "done 1 2 3 4",
            "done 1 2 3 4 5 6",
            "hello 1",
        ] {
            assert_eq!(Msg::parse(line), None, "{line:?}");
        }
        assert_eq!(
            Msg::parse("bad 2 a\nb"),
            Some(Msg::Bad(2, "a\nb".to_string()))
        );
        assert_eq!(Msg::Bad(2, "a\nb".into()).to_string(), "bad 2 a b");
    }

    #[test]
    fn link_reports_the_peer_and_what_was_awaited() {
        let input: &[u8] = b"ready 0\nready 5\nnonsense\n";
        let mut out = Vec::new();
        let mut link = Link::new(input, &mut out, Peer::Child(Role::Writer));
        link.expect(&Msg::Ready(0)).unwrap();
        let e = link.expect(&Msg::Ready(1)).unwrap_err().to_string();
        assert!(e.contains("the writer sent \"ready 5\""), "{e}");
        assert!(matches!(link.recv("x"), Err(CameraError::Protocol { .. })));
        assert!(matches!(
            link.recv("ready 2"),
            Err(CameraError::PeerGone {
                peer: Peer::Child(Role::Writer),
                ..
            })
        ));
        link.send(&Msg::Ack(0)).unwrap();
        drop(link);
        assert_eq!(out, b"ack 0\n");
    }
}

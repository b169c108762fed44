//! [`Proc`]: a child process whose stdout and stderr lines arrive on channels, so a test can
//! wait for a handshake line (or for the step hook's stop line) and then act: no sleeps.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver};

use super::HANDSHAKE;

/// A running child; killed (`SIGKILL`, by its pid) and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<String>,
    err: Receiver<String>,
    seen_err: Vec<String>,
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

impl Proc {
    /// Start `cmd` (which must have piped stdin, stdout and stderr).
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd.spawn().expect("spawn child");
        let stdin = child.stdin.take();
        let out = lines(child.stdout.take().expect("piped stdout"));
        let err = lines(child.stderr.take().expect("piped stderr"));
        Proc {
            child,
            stdin,
            out,
            err,
            seen_err: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the next stdout line.
    ///
    /// # Panics
    /// When the child ends or says nothing within [`HANDSHAKE`].
    pub fn line(&mut self) -> String {
        match self.out.recv_timeout(HANDSHAKE) {
            Ok(l) => l,
            Err(e) => {
                let err = self.stderr_now();
                panic!("child {}: no stdout line ({e}); stderr: {err}", self.pid())
            }
        }
    }

    /// Wait for a stdout line starting with `prefix` (other lines are skipped) and return it.
    pub fn expect(&mut self, prefix: &str) -> String {
        loop {
            let l = self.line();
            if l.starts_with(prefix) {
                return l;
            }
        }
    }

    /// The next stdout line, or `None` once the child's stdout is closed.
    pub fn next_line(&mut self) -> Option<String> {
        self.out.recv_timeout(HANDSHAKE).ok()
    }

    /// Wait until the step hook stopped the child (its `shmfits-test-stop` line on stderr);
    /// returns that line, or `None` if the child ended without reaching the step.
    pub fn wait_stop(&mut self) -> Option<String> {
        loop {
            match self.err.recv_timeout(HANDSHAKE) {
                Ok(l) if l.starts_with("shmfits-test-stop ") => return Some(l),
                Ok(l) => self.seen_err.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("child {} neither stopped nor ended", self.pid())
                }
            }
        }
    }

    /// The stdout lines that have arrived so far, without waiting.
    pub fn drain(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        while let Ok(l) = self.out.try_recv() {
            v.push(l);
        }
        v
    }

    /// Close stdin, wait for the child to end and return its status with every stdout line
    /// it wrote (also those not read yet), as an [`std::process::Output`] (stderr empty).
    pub fn output(&mut self) -> std::process::Output {
        let status = self.finish();
        // The reader thread ends at end of file, which the child's exit brings.
        let mut text = String::new();
        for l in self.out.iter() {
            text.push_str(&l);
            text.push('\n');
        }
        std::process::Output {
            status,
            stdout: text.into_bytes(),
            stderr: Vec::new(),
        }
    }

    /// What the child wrote to stderr so far.
    pub fn stderr_now(&mut self) -> String {
        while let Ok(l) = self.err.try_recv() {
            self.seen_err.push(l);
        }
        self.seen_err.join("\n")
    }

    /// Send a line to the child's stdin.
    pub fn send(&mut self, line: &str) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// `SIGKILL` this child (by its pid) and reap it.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }

    /// Close stdin and wait for the child to end.
    pub fn finish(&mut self) -> ExitStatus {
        self.stdin = None;
        self.child.wait().expect("wait")
    }

    /// Send `SIGCONT` to a stopped child (via `kill(1)`).
    pub fn resume(&self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid().to_string()])
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

//! Who holds a slot lock: read from `/proc` (Linux), for the "busy" message only.
//!
//! CFITSIO takes classic POSIX record locks, which `/proc/locks` lists with the holder's pid.
//! We take open-file-description locks, listed there with pid `-1`; their holder is found
//! through `/proc/<pid>/fdinfo/<fd>`, which lists the locks of each open file description
//! (only for processes the caller may inspect). Everything here is best effort: when nothing
//! can be found the message just says "another process".

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A process holding a lock on a slot's byte of the lock file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holder {
    /// Its pid.
    pub pid: i32,
    /// `true` for a write (exclusive) lock, `false` for a read (shared) lock.
    pub write: bool,
    /// Its command name (`/proc/<pid>/comm`), if readable.
    pub command: Option<String>,
}

/// One lock line: `[n:] CLASS ADVISORY READ|WRITE PID MAJ:MIN:INODE START END|EOF`.
/// Returns (write, pid, inode, start, end) for lines that are not waiters (`->`).
fn parse_lock_line(line: &str) -> Option<(bool, i32, u64, u64, Option<u64>)> {
    let mut f = line.split_whitespace().peekable();
    if f.peek().is_some_and(|w| w.ends_with(':')) {
        f.next();
    }
    let class = f.next()?;
    if class == "->" {
        return None;
    }
    let _advisory = f.next()?;
    let write = match f.next()? {
        "WRITE" => true,
        "READ" => false,
        _ => return None,
    };
    let pid: i32 = f.next()?.parse().ok()?;
    let inode: u64 = f.next()?.rsplit(':').next()?.parse().ok()?;
    let start: u64 = f.next()?.parse().ok()?;
    let end = match f.next()? {
        "EOF" => None,
        e => Some(e.parse().ok()?),
    };
    Some((write, pid, inode, start, end))
}

fn covers(start: u64, end: Option<u64>, byte: u64) -> bool {
    start <= byte && end.is_none_or(|e| byte <= e)
}

fn command(pid: i32) -> Option<String> {
    let c = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(c.trim_end().to_owned())
}

/// The processes holding a lock on byte `byte` of `lock_file` (empty when unknown).
pub fn holders(lock_file: &Path, byte: u32) -> Vec<Holder> {
    let Ok(meta) = fs::metadata(lock_file) else {
        return Vec::new();
    };
    let (inode, byte) = (meta.ino(), u64::from(byte));
    let mut found = BTreeSet::new();
    let mut ofd = false;
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    for (write, pid, ino, start, end) in locks.lines().filter_map(parse_lock_line) {
        if ino == inode && covers(start, end, byte) {
            if pid > 0 {
                found.insert((pid, write));
            } else {
                ofd = true;
            }
        }
    }
    if ofd {
        found.extend(ofd_holders(inode, byte));
    }
    let me = std::process::id();
    found
        .into_iter()
        .filter(|(pid, _)| u32::try_from(*pid).ok() != Some(me))
        .map(|(pid, write)| Holder {
            pid,
            write,
            command: command(pid),
        })
        .collect()
}

/// Open-file-description locks on (`inode`, `byte`), by pid, from `/proc/*/fdinfo/*`.
fn ofd_holders(inode: u64, byte: u64) -> Vec<(i32, bool)> {
    let mut found = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(info) = fs::read_to_string(fd.path()) else {
                continue;
            };
            for line in info.lines().filter_map(|l| l.strip_prefix("lock:")) {
                if let Some((write, _, ino, start, end)) = parse_lock_line(line) {
                    if ino == inode && covers(start, end, byte) {
                        found.push((pid, write));
                    }
                }
            }
        }
    }
    found
}

/// "a writer (pid 12, fitscopy)", "2 readers (pid 3, smem; pid 4)", or "another process".
pub fn describe(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return "another process".to_owned();
    }
    let writers = holders.iter().filter(|h| h.write).count();
    let who = if writers > 0 {
        "a writer".to_owned()
    } else if holders.len() == 1 {
        "a reader".to_owned()
    } else {
        format!("{} readers", holders.len())
    };
    let pids: Vec<String> = holders
        .iter()
        .map(|h| match &h.command {
            Some(c) => format!("pid {}, {c}", h.pid),
            None => format!("pid {}", h.pid),
        })
        .collect();
    format!("{who} ({})", pids.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_lines() {
        assert_eq!(
            parse_lock_line("3: OFDLCK ADVISORY  WRITE -1 fe:00:10010758 3 3"),
            Some((true, -1, 10_010_758, 3, Some(3)))
        );
        assert_eq!(
            parse_lock_line("9: POSIX  ADVISORY  READ 3381 fe:00:42 0 EOF"),
            Some((false, 3381, 42, 0, None))
        );
        assert_eq!(
            parse_lock_line("8: -> POSIX  ADVISORY  WRITE 8630 fe:00:1 1 1"),
            None
        );
        // fdinfo lines have no index
        assert_eq!(
            parse_lock_line("\t1: OFDLCK ADVISORY  READ -1 00:2a:7 2 2"),
            Some((false, -1, 7, 2, Some(2)))
        );
        assert_eq!(parse_lock_line("garbage"), None);
        assert!(covers(0, None, 5) && covers(5, Some(5), 5) && !covers(6, Some(7), 5));
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe(&[]), "another process");
        let w = Holder {
            pid: 12,
            write: true,
            command: Some("fitscopy".into()),
        };
        assert_eq!(describe(&[w]), "a writer (pid 12, fitscopy)");
        let r = |pid| Holder {
            pid,
            write: false,
            command: None,
        };
        assert_eq!(describe(&[r(3), r(4)]), "2 readers (pid 3; pid 4)");
    }
}

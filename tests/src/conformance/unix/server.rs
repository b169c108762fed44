//! The child's side: serve [`SharedMem`] calls on a [`SysV`] over stdin/stdout.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use shmfits_core::shm::{
    CounterId, ErrorKind, LockKind, LockRange, PlatformError, SegmentId, SharedMem, Wait,
};
use shmfits_unix::{Config, LockOwner, SysMapping, SysV};

use super::wire::{self, REPLY};
use super::{ENV_KEYBASE, ENV_LOCKDIR, ENV_ROLE, ENV_SLOTS, ROLE_SHAREDMEM};

/// If this process was started by a [`UnixWorld`](super::UnixWorld) (the role variable is
/// set), serve its calls until stdin closes and exit; otherwise return at once.
///
/// Call it from a `#[test]` whose name is passed to [`UnixWorld::new`](super::UnixWorld::new).
pub fn child_main() {
    match std::env::var(ENV_ROLE).as_deref() {
        Ok(ROLE_SHAREDMEM) => {}
        _ => return,
    }
    let code = match serve() {
        Ok(()) => 0,
        Err(msg) => {
            say(&format!("fatal {msg}"));
            1
        }
    };
    // Leave without the test harness's summary; the kernel detaches and unlocks as for any
    // exit.
    std::process::exit(code);
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{REPLY}{line}");
    let _ = out.flush();
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} not set"))
}

fn serve() -> Result<(), String> {
    let key_base = env(ENV_KEYBASE)?
        .parse()
        .map_err(|_| format!("bad {ENV_KEYBASE}"))?;
    let slots = env(ENV_SLOTS)?
        .parse()
        .map_err(|_| format!("bad {ENV_SLOTS}"))?;
    let config = Config {
        key_base,
        slots,
        lock_dir: PathBuf::from(env(ENV_LOCKDIR)?),
        ..Config::default()
    };
    let sysv = SysV::new(config).map_err(|e| format!("SysV: {e}"))?;
    say(&format!(
        "hello {} {}",
        std::process::id(),
        sysv.current_uid()
    ));
    let mut server = Server {
        sysv,
        mappings: HashMap::new(),
        owners: HashMap::new(),
        next: 1,
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let reply = match server.handle(&line) {
            Ok(words) if words.is_empty() => "ok".to_owned(),
            Ok(words) => format!("ok {words}"),
            Err(Failure::Platform(kind, errno)) => {
                format!("err {} {errno}", wire::kind_name(kind))
            }
            Err(Failure::Request) => return Err(format!("bad request {line:?}")),
        };
        say(&reply);
    }
    Ok(())
}

enum Failure {
    Platform(ErrorKind, i32),
    Request,
}

impl From<shmfits_unix::SysError> for Failure {
    fn from(e: shmfits_unix::SysError) -> Self {
        Failure::Platform(e.kind(), e.errno())
    }
}

struct Server {
    sysv: SysV,
    mappings: HashMap<u64, SysMapping>,
    owners: HashMap<u64, LockOwner>,
    next: u64,
}

fn arg<T: std::str::FromStr>(args: &[&str], i: usize) -> Result<T, Failure> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or(Failure::Request)
}

/// An unknown token is what the real platform reports for a forgotten owner or mapping.
const UNKNOWN: Failure = Failure::Platform(ErrorKind::InvalidArgument, 0);

impl Server {
    fn token(&mut self) -> u64 {
        let t = self.next;
        self.next += 1;
        t
    }

    fn mapping(&self, args: &[&str]) -> Result<&SysMapping, Failure> {
        self.mappings.get(&arg(args, 0)?).ok_or(UNKNOWN)
    }

    fn owner(&self, args: &[&str]) -> Result<LockOwner, Failure> {
        self.owners.get(&arg(args, 0)?).copied().ok_or(UNKNOWN)
    }

    fn range(args: &[&str]) -> Result<LockRange, Failure> {
        Ok(LockRange {
            start: arg(args, 1)?,
            len: arg(args, 2)?,
        })
    }

    fn handle(&mut self, line: &str) -> Result<String, Failure> {
        let mut words = line.split(' ');
        let op = words.next().ok_or(Failure::Request)?;
        let args: Vec<&str> = words.collect();
        let s = &self.sysv;
        Ok(match op {
            "seg_create" => s
                .segment_create(arg(&args, 0)?, arg(&args, 1)?)?
                .0
                .to_string(),
            "seg_find" => s.segment_find(arg(&args, 0)?)?.0.to_string(),
            "seg_info" => {
                let i = s.segment_info(SegmentId(arg(&args, 0)?))?;
                let key = i.key.map_or("-".to_owned(), |k| k.to_string());
                format!(
                    "{key} {} {} {} {} {}",
                    i.size,
                    i.attach_count,
                    i.owner_uid,
                    i.mode,
                    u8::from(i.removed)
                )
            }
            "seg_attach" => {
                let m = s.segment_attach(SegmentId(arg(&args, 0)?))?;
                let len = s.mapping_len(&m);
                let t = self.token();
                self.mappings.insert(t, m);
                format!("{t} {len}")
            }
            "seg_detach" => {
                let m = self.mappings.remove(&arg(&args, 0)?).ok_or(UNKNOWN)?;
                self.sysv.segment_detach(m)?;
                String::new()
            }
            "seg_remove" => {
                s.segment_remove(SegmentId(arg(&args, 0)?))?;
                String::new()
            }
            "read" => {
                let mut buf = vec![0u8; arg(&args, 2)?];
                s.read(self.mapping(&args)?, arg(&args, 1)?, &mut buf)?;
                wire::hex(&buf)
            }
            "write" => {
                let data = args
                    .get(2)
                    .and_then(|h| wire::unhex(h))
                    .ok_or(Failure::Request)?;
                s.write(self.mapping(&args)?, arg(&args, 1)?, &data)?;
                String::new()
            }
            "ctr_create" => s.counter_create(arg(&args, 0)?)?.0.to_string(),
            "ctr_info" => {
                let i = s.counter_info(CounterId(arg(&args, 0)?))?;
                let key = i.key.map_or("-".to_owned(), |k| k.to_string());
                format!("{key} {} {} {}", i.value, i.owner_uid, i.mode)
            }
            "ctr_add" => {
                s.counter_add(CounterId(arg(&args, 0)?), arg(&args, 1)?)?;
                String::new()
            }
            "ctr_remove" => {
                s.counter_remove(CounterId(arg(&args, 0)?))?;
                String::new()
            }
            "ctr_find" => match SharedMem::counter_find(s, arg(&args, 0)?)? {
                Some(id) => id.0.to_string(),
                None => "-".to_owned(),
            },
            "owner_new" => {
                let o = s.lock_owner_new()?;
                let t = self.token();
                self.owners.insert(t, o);
                t.to_string()
            }
            "owner_release" => {
                let o = self.owner(&args)?;
                self.sysv.lock_owner_release(o)?;
                self.owners.remove(&arg(&args, 0)?);
                String::new()
            }
            "lock" => {
                let kind = match args.get(3).copied() {
                    Some("S") => LockKind::Shared,
                    Some("X") => LockKind::Exclusive,
                    _ => return Err(Failure::Request),
                };
                let wait = match args.get(4).copied() {
                    Some("no") => Wait::No,
                    Some("forever") => Wait::Forever,
                    _ => Wait::Timeout(Duration::from_millis(arg(&args, 4)?)),
                };
                s.lock(self.owner(&args)?, Self::range(&args)?, kind, wait)?;
                String::new()
            }
            "unlock" => {
                s.unlock(self.owner(&args)?, Self::range(&args)?)?;
                String::new()
            }
            _ => return Err(Failure::Request),
        })
    }
}

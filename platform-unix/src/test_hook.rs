//! **Test-only** step hook of [`SysV`](crate::SysV): stop the process at a named driver step.
//!
//! When the environment variable [`ENV_STOP_AT`] (`SHMFITS_TEST_STOP_AT`) holds
//! `<step>[:<n>]` at the time a [`SysV`](crate::SysV) is made, the `n`-th time (default 1)
//! the driver reaches [`Step`] `<step>` the process writes the line
//! `shmfits-test-stop <step> <n> pid=<pid>` to stderr and stops itself with `SIGSTOP`. A crash
//! test waits for that line and then `SIGKILL`s the child: the kill lands exactly at the step,
//! with no timing involved. An unknown step name or a bad count is reported once on stderr
//! and the hook stays off (it never changes what the driver does). Production code never
//! sets the variable; without it the hook costs one branch per step.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use shmfits_core::shm::Step;

use crate::sys;

/// The environment variable that arms the hook: `<step>[:<n>]`, e.g. `before-publish:2`.
pub const ENV_STOP_AT: &str = "SHMFITS_TEST_STOP_AT";

/// An armed hook: the step, which hit stops, and the hits so far.
#[derive(Debug)]
pub(crate) struct StopAt {
    step: Step,
    nth: u32,
    hits: AtomicU32,
}

impl StopAt {
    /// The hook as the environment asks for it, if at all.
    pub(crate) fn from_env() -> Option<StopAt> {
        let v = std::env::var(ENV_STOP_AT).ok()?;
        let parsed = StopAt::parse(&v);
        if parsed.is_none() {
            let _ = writeln!(
                std::io::stderr(),
                "shmfits: ignoring {ENV_STOP_AT}={v:?}: expected <step>[:<n>] with a step \
                 from shmfits_core::shm::Step::name and n >= 1"
            );
        }
        parsed
    }

    fn parse(v: &str) -> Option<StopAt> {
        let (name, nth) = match v.split_once(':') {
            Some((name, n)) => (name, n.parse::<u32>().ok().filter(|n| *n >= 1)?),
            None => (v, 1),
        };
        Some(StopAt {
            step: Step::from_name(name)?,
            nth,
            hits: AtomicU32::new(0),
        })
    }

    /// Called at every step: stops the process at the armed hit.
    pub(crate) fn reached(&self, step: Step) {
        if step != self.step {
            return;
        }
        let hit = self.hits.fetch_add(1, Ordering::SeqCst).saturating_add(1);
        if hit == self.nth {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "shmfits-test-stop {} {hit} pid={}",
                step.name(),
                sys::getpid()
            );
            let _ = err.flush();
            drop(err);
            sys::raise_stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_step_and_count() {
        let s = StopAt::parse("before-publish:3").unwrap();
        assert_eq!((s.step, s.nth), (Step::BeforePublish, 3));
        let s = StopAt::parse("after-copy").unwrap();
        assert_eq!((s.step, s.nth), (Step::AfterCopy, 1));
        assert!(StopAt::parse("after-copy:0").is_none());
        assert!(StopAt::parse("after-copy:x").is_none());
        assert!(StopAt::parse("nonsense").is_none());
    }

    #[test]
    fn other_steps_and_earlier_hits_do_not_stop() {
        let s = StopAt::parse("after-copy:2").unwrap();
        s.reached(Step::AfterLock);
        s.reached(Step::AfterCopy); // hit 1 of 2: no stop
        assert_eq!(s.hits.load(Ordering::SeqCst), 1);
    }
}

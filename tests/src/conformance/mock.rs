//! [`MockWorld`]: the conformance suite on the mock kernel.

use shmfits_core::shm::Config;
use shmfits_mock::{MockKernel, MockProcess, ProcessState};

use super::{Leftover, Proc, World};

/// Key base of a mock world unless another is given (the mock kernel is private to the
/// world, so any base will do).
pub const DEFAULT_KEY_BASE: i32 = 60_000;

/// A [`MockKernel`] of its own: processes are [`MockKernel::spawn`], a crash is
/// [`MockKernel::kill`], leftovers are [`MockKernel::objects`].
#[derive(Debug)]
pub struct MockWorld {
    kernel: MockKernel,
    config: Config,
}

impl MockWorld {
    /// A fresh kernel, 16 slots at [`DEFAULT_KEY_BASE`].
    pub fn new() -> Self {
        MockWorld::with_key_base(DEFAULT_KEY_BASE)
    }

    /// A fresh kernel, 16 slots at `key_base`.
    pub fn with_key_base(key_base: i32) -> Self {
        MockWorld {
            kernel: MockKernel::new(),
            config: Config::new(key_base, 16),
        }
    }

    /// The kernel.
    pub fn kernel(&self) -> &MockKernel {
        &self.kernel
    }
}

impl Default for MockWorld {
    fn default() -> Self {
        MockWorld::new()
    }
}

impl World for MockWorld {
    type P = MockProcess;

    fn config(&self) -> Config {
        self.config
    }

    fn spawn(&mut self) -> Proc<MockProcess> {
        let platform = self.kernel.spawn();
        Proc {
            pid: platform.pid(),
            platform,
        }
    }

    fn kill(&mut self, pid: u32) {
        assert!(self.kernel.kill(pid), "process {pid} was not alive");
    }

    fn exit(&mut self, pid: u32) {
        let exited = self.kernel.process(pid).is_some_and(|p| p.exit());
        assert!(exited, "process {pid} was not alive");
    }

    fn leftovers(&self) -> Vec<Leftover> {
        let objects = self.kernel.objects();
        let mut left = Vec::new();
        for p in &objects.processes {
            if p.state == ProcessState::Alive {
                left.push(Leftover::Process { pid: p.pid });
            }
        }
        for s in &objects.segments {
            left.push(Leftover::Segment {
                key: s.key,
                id: s.id.0,
            });
        }
        for c in &objects.counters {
            left.push(Leftover::Counter {
                key: c.key,
                id: c.id.0,
            });
        }
        for l in &objects.locks {
            left.push(Leftover::Lock {
                start: u32::try_from(l.start).unwrap_or(u32::MAX),
                len: u32::try_from(l.end.saturating_sub(l.start)).unwrap_or(u32::MAX),
            });
        }
        left
    }

    fn cleanup(&mut self) -> Vec<Leftover> {
        let left = self.leftovers();
        // The kernel is private to this world and goes away with it: ending every process
        // is all the cleaning a later check would need.
        self.kernel.kill_all();
        left
    }
}

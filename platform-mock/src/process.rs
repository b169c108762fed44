//! [`MockProcess`]: one simulated process, the mock's implementation of [`SharedMem`].

use shmfits_core::shm::{
    CounterId, CounterInfo, Key, LockKind, LockRange, SegmentId, SegmentInfo, SharedMem, Step, Wait,
};

use crate::error::{CallKind, MockError};
use crate::kernel::MockKernel;
use crate::locks::MockLockOwner;
use crate::segments::MockMapping;
use crate::state::ProcessState;

/// A simulated process of a [`MockKernel`]. Every [`SharedMem`] call through it is made as
/// this process (its pid for undo and lock ownership, its uid for permissions).
///
/// Cloning gives another handle to the same process (like a thread of it). Once the process
/// is dead ([`MockKernel::kill`], [`MockProcess::exit`]), every fallible call fails with
/// `ESRCH`, kind [`shmfits_core::shm::ErrorKind::Other`]; `mapping_id`, `mapping_len` and
/// `current_uid` still answer from the token and the process record.
#[derive(Clone, Debug)]
pub struct MockProcess {
    kernel: MockKernel,
    pid: u32,
}

impl MockProcess {
    pub(crate) fn new(kernel: MockKernel, pid: u32) -> Self {
        MockProcess { kernel, pid }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The kernel it runs on.
    pub fn kernel(&self) -> &MockKernel {
        &self.kernel
    }

    /// Whether the process is alive.
    pub fn is_alive(&self) -> bool {
        self.kernel.process_state(self.pid) == Some(ProcessState::Alive)
    }

    /// The permission bits of the segments and counters this process creates from now on
    /// (the default is [`crate::MockConfig::default_mode`], `0o600`). Only the low 9 bits
    /// count.
    pub fn set_create_mode(&self, mode: u32) {
        self.kernel
            .with_process(self.pid, |p| p.create_mode = mode & 0o777);
    }

    /// A clean exit: the kernel does exactly what [`MockKernel::kill`] does (locks released,
    /// undo applied, mappings detached); the process is recorded as exited. Returns `false`
    /// if it was already dead.
    pub fn exit(&self) -> bool {
        self.kernel.exit(self.pid)
    }

    /// **Test hook**: kill this process (as [`MockKernel::kill`]) the `n`-th time (1 = the
    /// next) the driver reaches [`Step`] `step` through it; every later call fails as for a
    /// dead process. The same scenario as `SHMFITS_TEST_STOP_AT=<step>:<n>` plus `SIGKILL` on
    /// the System V adapter, replayable without timing. `None` disarms it.
    pub fn crash_at_step(&self, at: Option<(Step, u32)>) {
        self.kernel.with_process(self.pid, |p| {
            p.crash_at = at;
            p.step_hits = 0;
        });
    }
}

impl SharedMem for MockProcess {
    type Error = MockError;
    type Mapping = MockMapping;
    type LockOwner = MockLockOwner;

    fn segment_create(&self, key: Key, size: usize) -> Result<SegmentId, MockError> {
        let pid = self.pid;
        self.kernel.call(pid, CallKind::SegmentCreate, |k| {
            k.segment_create(pid, key, size)
        })
    }

    fn segment_find(&self, key: Key) -> Result<SegmentId, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::SegmentFind, |k| k.segment_find(pid, key))
    }

    fn segment_info(&self, id: SegmentId) -> Result<SegmentInfo, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::SegmentInfo, |k| k.segment_info(pid, id))
    }

    fn segment_attach(&self, id: SegmentId) -> Result<MockMapping, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::SegmentAttach, |k| k.segment_attach(pid, id))
    }

    fn segment_detach(&self, mapping: MockMapping) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel.call(pid, CallKind::SegmentDetach, |k| {
            k.segment_detach(pid, mapping)
        })
    }

    fn segment_remove(&self, id: SegmentId) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::SegmentRemove, |k| k.segment_remove(pid, id))
    }

    fn mapping_id(&self, mapping: &MockMapping) -> SegmentId {
        self.kernel.count(CallKind::MappingId);
        mapping.seg
    }

    fn mapping_len(&self, mapping: &MockMapping) -> usize {
        self.kernel.count(CallKind::MappingLen);
        mapping.len
    }

    fn read(&self, mapping: &MockMapping, offset: usize, buf: &mut [u8]) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::Read, |k| k.read(pid, mapping, offset, buf))
    }

    fn write(&self, mapping: &MockMapping, offset: usize, data: &[u8]) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel.call(pid, CallKind::Write, |k| {
            k.write(pid, mapping, offset, data)
        })
    }

    fn counter_create(&self, key: Key) -> Result<CounterId, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::CounterCreate, |k| k.counter_create(pid, key))
    }

    fn counter_info(&self, id: CounterId) -> Result<CounterInfo, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::CounterInfo, |k| k.counter_info(pid, id))
    }

    fn counter_add(&self, id: CounterId, delta: i16) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::CounterAdd, |k| k.counter_add(pid, id, delta))
    }

    fn counter_remove(&self, id: CounterId) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::CounterRemove, |k| k.counter_remove(pid, id))
    }

    fn counter_find(&self, key: Key) -> Result<Option<CounterId>, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::CounterFind, |k| k.counter_find(pid, key))
    }

    fn lock_owner_new(&self) -> Result<MockLockOwner, MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::LockOwnerNew, |k| k.lock_owner_new(pid))
    }

    fn lock_owner_release(&self, owner: MockLockOwner) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel.call(pid, CallKind::LockOwnerRelease, |k| {
            k.lock_owner_release(pid, owner)
        })
    }

    fn lock(
        &self,
        owner: MockLockOwner,
        range: LockRange,
        kind: LockKind,
        wait: Wait,
    ) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel.call(pid, CallKind::Lock, |k| {
            k.lock(pid, owner, range, kind, wait)
        })
    }

    fn unlock(&self, owner: MockLockOwner, range: LockRange) -> Result<(), MockError> {
        let pid = self.pid;
        self.kernel
            .call(pid, CallKind::Unlock, |k| k.unlock(pid, owner, range))
    }

    fn checkpoint(&self, step: Step) {
        let fire = self
            .kernel
            .with_process(self.pid, |p| match p.crash_at {
                Some((s, n)) if s == step => {
                    p.step_hits = p.step_hits.saturating_add(1);
                    p.step_hits == n
                }
                _ => false,
            })
            .unwrap_or(false);
        if fire {
            self.kernel.kill(self.pid);
        }
    }

    fn current_uid(&self) -> u32 {
        self.kernel.count(CallKind::CurrentUid);
        self.kernel
            .with_process(self.pid, |p| p.uid)
            .unwrap_or(u32::MAX)
    }
}

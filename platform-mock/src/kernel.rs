//! [`MockKernel`]: the handle to one simulated kernel, shared by its processes.

use alloc::sync::Arc;
use alloc::vec::Vec;

use shmfits_core::shm::{CounterId, SegmentId};

use crate::config::MockConfig;
use crate::error::{CallKind, Fail, HelperError, MockError};
use crate::faults::FaultPlan;
use crate::process::MockProcess;
use crate::state::{KernelState, ProcessState, SEMVMX};
use crate::stats::{Objects, Stats};

/// One simulated System V kernel. Cloning gives another handle to the same kernel.
///
/// Processes are made with [`MockKernel::spawn`] and end with [`MockKernel::kill`] or
/// [`MockProcess::exit`]; dropping a [`MockProcess`] handle does **not** end the process
/// (a process lives until it is killed or exits, like a real one that forgot to clean up).
#[derive(Clone)]
pub struct MockKernel {
    state: Arc<spin::Mutex<KernelState>>,
}

impl core::fmt::Debug for MockKernel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let counts = self.state.lock().object_counts();
        f.debug_struct("MockKernel")
            .field("objects", &counts)
            .finish()
    }
}

impl Default for MockKernel {
    fn default() -> Self {
        MockKernel::new()
    }
}

impl MockKernel {
    /// A kernel with [`MockConfig::default`].
    pub fn new() -> Self {
        MockKernel::with_config(MockConfig::default())
    }

    /// A kernel with the given page size, limits and default identity.
    pub fn with_config(config: MockConfig) -> Self {
        MockKernel {
            state: Arc::new(spin::Mutex::new(KernelState::new(config))),
        }
    }

    /// The configuration the kernel was made with.
    pub fn config(&self) -> MockConfig {
        self.state.lock().config
    }

    /// A new process running as [`MockConfig::default_uid`]. Pids start at 100 and are never
    /// reused.
    pub fn spawn(&self) -> MockProcess {
        let uid = self.state.lock().config.default_uid;
        self.spawn_as(uid)
    }

    /// A new process running as `uid` (0 is root and passes every permission check).
    pub fn spawn_as(&self, uid: u32) -> MockProcess {
        let pid = self.state.lock().spawn(uid);
        MockProcess::new(self.clone(), pid)
    }

    /// Another handle to process `pid`, alive or dead (`None` if no such pid was spawned).
    pub fn process(&self, pid: u32) -> Option<MockProcess> {
        let known = self.state.lock().processes.contains_key(&pid);
        known.then(|| MockProcess::new(self.clone(), pid))
    }

    /// Kill process `pid` (`SIGKILL`): at once, release every lock of its owners, apply its
    /// counter undo (clamped at 0), detach all its mappings (freeing segments whose removal
    /// was deferred). Afterwards every call through its handles fails with `ESRCH`
    /// ([`shmfits_core::shm::ErrorKind::Other`]). Returns `false` if it was not alive.
    pub fn kill(&self, pid: u32) -> bool {
        self.state.lock().end_process(pid, ProcessState::Killed)
    }

    /// Kill every live process; returns how many there were.
    pub fn kill_all(&self) -> usize {
        let mut st = self.state.lock();
        let pids: Vec<u32> = st
            .processes
            .iter()
            .filter(|(_, p)| p.state == ProcessState::Alive)
            .map(|(&pid, _)| pid)
            .collect();
        for &pid in &pids {
            st.end_process(pid, ProcessState::Killed);
        }
        pids.len()
    }

    /// The state of process `pid` (`None` if never spawned).
    pub fn process_state(&self, pid: u32) -> Option<ProcessState> {
        self.state.lock().processes.get(&pid).map(|p| p.state)
    }

    /// Install a fault plan, replacing the current one.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.state.lock().faults = plan;
    }

    /// A copy of the current fault plan, with each rule's `fired` and `seen` counts.
    pub fn faults(&self) -> FaultPlan {
        self.state.lock().faults.clone()
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        let seed = self.state.lock().faults.seed();
        self.set_faults(FaultPlan::new(seed));
    }

    /// Call counters per kind and current object counts.
    pub fn stats(&self) -> Stats {
        let st = self.state.lock();
        Stats {
            calls: st.calls,
            objects: st.object_counts(),
        }
    }

    /// Every kernel object: processes, segments, counters, locks.
    pub fn objects(&self) -> Objects {
        self.state.lock().objects()
    }

    /// A copy of the whole (page-rounded) memory of segment `id`, live or
    /// removed-but-attached, regardless of locks and permissions.
    ///
    /// # Errors
    /// [`HelperError::NoSuchSegment`] if the segment does not exist.
    pub fn segment_bytes(&self, id: SegmentId) -> Result<Vec<u8>, HelperError> {
        let st = self.state.lock();
        st.segments
            .get(&id.0)
            .map(|s| s.mem.clone())
            .ok_or(HelperError::NoSuchSegment(id.0))
    }

    /// Overwrite `bytes.len()` bytes of segment `id` at `offset`, regardless of locks and
    /// permissions: a hostile or buggy neighbour process.
    ///
    /// # Errors
    /// [`HelperError::NoSuchSegment`], or [`HelperError::OutOfRange`] (nothing is written).
    pub fn corrupt_segment(
        &self,
        id: SegmentId,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), HelperError> {
        let mut st = self.state.lock();
        let s = st
            .segments
            .get_mut(&id.0)
            .ok_or(HelperError::NoSuchSegment(id.0))?;
        let segment_len = s.mem.len();
        let dst = offset
            .checked_add(bytes.len())
            .and_then(|end| s.mem.get_mut(offset..end))
            .ok_or(HelperError::OutOfRange {
                id: id.0,
                offset,
                len: bytes.len(),
                segment_len,
            })?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    /// Set a counter's value directly, regardless of permissions, like `semctl(SETVAL)`:
    /// as on Linux, every process's undo adjustment for the counter is cleared.
    ///
    /// # Errors
    /// [`HelperError::NoSuchCounter`], or [`HelperError::CounterValueTooBig`] above 32767.
    pub fn set_counter_value(&self, id: CounterId, value: u32) -> Result<(), HelperError> {
        let v = i32::try_from(value)
            .ok()
            .filter(|v| *v <= SEMVMX)
            .ok_or(HelperError::CounterValueTooBig(value))?;
        let mut st = self.state.lock();
        let c = st
            .counters
            .get_mut(&id.0)
            .ok_or(HelperError::NoSuchCounter(id.0))?;
        c.value = v;
        c.undo.clear();
        Ok(())
    }

    /// Run one fallible call of process `pid`: count it, refuse it if the process is dead,
    /// let the fault plan fail it, else carry it out.
    pub(crate) fn call<T>(
        &self,
        pid: u32,
        kind: CallKind,
        op: impl FnOnce(&mut KernelState) -> Result<T, Fail>,
    ) -> Result<T, MockError> {
        let mut st = self.state.lock();
        let i = kind.index();
        if let Some(c) = st.calls.get_mut(i) {
            c.calls += 1;
        }
        let mut injected = false;
        let result = match st.alive(pid) {
            Err(dead) => Err(dead),
            Ok(_) => match st.faults.check(kind, pid) {
                Some((fault, crash)) => {
                    injected = true;
                    if crash {
                        st.end_process(pid, ProcessState::Killed);
                    }
                    Err(fault)
                }
                None => op(&mut st),
            },
        };
        if result.is_err() {
            if let Some(c) = st.calls.get_mut(i) {
                c.failures += 1;
                if injected {
                    c.injected += 1;
                }
            }
        }
        result.map_err(|f| f.into_error(kind))
    }

    /// Count one infallible call.
    pub(crate) fn count(&self, kind: CallKind) {
        if let Some(c) = self.state.lock().calls.get_mut(kind.index()) {
            c.calls += 1;
        }
    }

    /// End process `pid` cleanly.
    pub(crate) fn exit(&self, pid: u32) -> bool {
        self.state.lock().end_process(pid, ProcessState::Exited)
    }

    /// Look at or change process `pid`'s bookkeeping.
    pub(crate) fn with_process<T>(
        &self,
        pid: u32,
        f: impl FnOnce(&mut crate::state::Process) -> T,
    ) -> Option<T> {
        self.state.lock().processes.get_mut(&pid).map(f)
    }
}

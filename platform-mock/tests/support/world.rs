//! The system under test: several simulated processes, each with its own [`Driver`] on one
//! [`MockKernel`], driven step by step and compared with the [`Model`] after every step.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use shmfits_core::shm::{
    Config, Driver, Error, Handle, LockState, Mode, SlotStatus, Wait, WriteMode,
};
use shmfits_mock::{CallKind, FaultPlan, FaultRule, MockErrno, MockError, MockKernel, MockProcess};

use super::model::{Model, Outcome};

/// Slots of the simulated installation (few, so that operations collide).
pub const SLOTS: u32 = 4;
/// Simulated processes alive at any time (a dead one is replaced at once).
pub const PROCS: usize = 3;
/// Handles one driver can hold.
pub const CAPACITY: usize = 6;
/// Key base of the simulated installation.
pub const KEY_BASE: i32 = 7000;

/// The driver under test.
pub type Drv = Driver<MockProcess, CAPACITY>;

/// An operation of one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create("shmem://h<slot>")`.
    Create { slot: u32 },
    /// `open(.., ReadWrite if write else ReadOnly, wait)`, `wait` 0: `Wait::No`, 1:
    /// `Wait::Forever`, 2: `Wait::Timeout(10 ms)`.
    Open { slot: u32, write: bool, wait: u8 },
    /// Close the process's `handle`-th open handle (modulo their number; nothing if none).
    Close { handle: usize },
    /// Seek to `at` (modulo size + 64) and write `len` bytes of value `byte`.
    Write {
        handle: usize,
        at: u16,
        len: u16,
        byte: u8,
    },
    /// Seek to `at` (modulo size + 64) and read `len` bytes.
    Read { handle: usize, at: u16, len: u16 },
    /// `flush` of the process's `handle`-th open handle.
    Flush { handle: usize },
    /// `delete("shmem://h<slot>")`.
    Delete { slot: u32 },
    /// `recover(None)`.
    Recover,
    /// `SIGKILL` (between operations); a new process takes its place.
    Crash,
    /// `shutdown()` and a clean exit; a new process takes its place.
    Exit,
}

/// A kernel failure to inject into the step's operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The platform call that fails.
    pub call: CallKind,
    /// Which call of that kind within the operation (1-based).
    pub nth: u8,
    /// `None`: the process is killed at that call; `Some(errno)`: the call fails.
    pub errno: Option<MockErrno>,
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            None => write!(f, "crash at {}#{}", self.call, self.nth),
            Some(e) => write!(f, "{} at {}#{}", e, self.call, self.nth),
        }
    }
}

/// One step of a replay: who does what, under which fault.
#[derive(Clone, PartialEq, Eq)]
pub struct Step {
    /// Index of the simulated process (`0..PROCS`).
    pub proc: usize,
    /// What it does.
    pub op: Op,
    /// What goes wrong in the kernel meanwhile.
    pub fault: Option<Fault>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{} {:?}", self.proc, self.op)?;
        if let Some(fault) = self.fault {
            write!(f, " [{fault:?}]")?;
        }
        Ok(())
    }
}

/// One simulated process and its driver.
pub struct Proc {
    /// The process.
    pub process: MockProcess,
    /// Its driver (`None` only while it is being replaced).
    pub driver: Option<Drv>,
    /// Its open handles: model id and driver handle, oldest first.
    pub handles: Vec<(u64, Handle)>,
}

/// The whole simulation.
pub struct World {
    /// The kernel.
    pub kernel: MockKernel,
    /// The processes.
    pub procs: Vec<Proc>,
    /// The reference model.
    pub model: Model,
    /// Pids of live processes in which an injected fault fired: they may hold kernel
    /// residue (a counter increment, a mapping) until they die.
    pub tainted: BTreeSet<u32>,
    /// A fault fired at some point: orphan segments may exist until a recover with all
    /// slots free.
    pub faulted: bool,
    /// Slots a fault left in a state only recover repairs (a counter missing, a corrupt
    /// entry, a counter that disagrees with the handles): the model's predictions for them
    /// are uncertain, so they are re-learned after every step, and compared strictly again
    /// once a recover had the chance to repair them.
    pub suspect: BTreeSet<u32>,
    /// The write in progress: what a faulted write may have left is checked against it.
    last_write: Option<LastWrite>,
    /// How the drivers write.
    pub mode: WriteMode,
    /// Shadow segments of writers that died unpublished: orphans until a recover sweeps them.
    pub orphan_shadows: usize,
}

/// A write's slot, range, byte and the file's bytes before it.
struct LastWrite {
    slot: u32,
    at: usize,
    len: usize,
    byte: u8,
    old: Vec<u8>,
}

/// The driver's configuration for the simulation, with shadow writes (the driver's default:
/// published on flush/close) or in-place writes (every write in the table at once).
pub fn config(mode: WriteMode) -> Config {
    Config::new(KEY_BASE, SLOTS).with_write_mode(mode)
}

fn name(slot: u32) -> String {
    format!("shmem://h{slot}")
}

/// Map a driver result to the model's vocabulary.
pub fn outcome<T>(r: &Result<T, Error<MockError>>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(Error::WouldBlock { .. }) => Outcome::WouldBlock,
        Err(Error::NotFound { .. }) => Outcome::NotFound,
        Err(Error::Exists { .. }) => Outcome::Exists,
        Err(Error::ReadOnly { .. }) => Outcome::ReadOnly,
        Err(Error::Deadlock { .. }) => Outcome::Deadlock,
        Err(Error::TimedOut { .. }) => Outcome::TimedOut,
        Err(Error::TooManyHandles { .. }) => Outcome::TooManyHandles,
        Err(e) => Outcome::Other(e.to_string()),
    }
}

fn blank_status() -> SlotStatus {
    SlotStatus {
        slot: 0,
        key: 0,
        processes: None,
        size: 0,
        attr: 0,
        nprocdebug: 0,
        lock: LockState::Unlocked,
        corrupt: None,
    }
}

impl World {
    /// A kernel with `PROCS` processes, each with a driver writing in `mode`.
    pub fn new(mode: WriteMode) -> Self {
        let kernel = MockKernel::new();
        let mut w = World {
            kernel,
            mode,
            orphan_shadows: 0,
            procs: Vec::new(),
            model: Model::new(CAPACITY, mode == WriteMode::Shadow),
            tainted: BTreeSet::new(),
            faulted: false,
            suspect: BTreeSet::new(),
            last_write: None,
        };
        for _ in 0..PROCS {
            let p = w.fresh_proc().expect("driver on a fresh process");
            w.procs.push(p);
        }
        w
    }

    fn fresh_proc(&self) -> Result<Proc, String> {
        let process = self.kernel.spawn();
        let driver = Drv::new(process.clone(), config(self.mode))
            .map_err(|e| format!("Driver::new on a fresh process: {e}"))?;
        Ok(Proc {
            process,
            driver: Some(driver),
            handles: Vec::new(),
        })
    }

    fn driver(&mut self, p: usize) -> Result<&mut Drv, String> {
        self.procs[p]
            .driver
            .as_mut()
            .ok_or_else(|| format!("p{p} has no driver"))
    }

    /// The slot list as a live driver sees it.
    pub fn list(&mut self) -> Result<Vec<SlotStatus>, String> {
        let mut out = vec![blank_status(); SLOTS as usize];
        let d = self.driver(0)?;
        let n = d.list(&mut out).map_err(|e| format!("list: {e}"))?;
        out.truncate(n);
        Ok(out)
    }

    /// Replace process `p` after its death (the kernel has cleaned up after it).
    fn replace(&mut self, p: usize) -> Result<(), String> {
        let abandoned = self
            .model
            .opens
            .values()
            .filter(|o| o.proc == p && o.mode == Mode::ReadWrite)
            .filter(|o| {
                self.model
                    .files
                    .get(&o.slot)
                    .is_some_and(|f| f.working.is_some())
            })
            .count();
        self.orphan_shadows += abandoned;
        self.model.crash(p);
        self.tainted.remove(&self.procs[p].process.pid());
        self.procs[p].driver = None;
        self.procs[p] = self.fresh_proc()?;
        Ok(())
    }

    fn pick(&self, p: usize, handle: usize) -> Option<(u64, Handle)> {
        let hs = &self.procs[p].handles;
        (!hs.is_empty()).then(|| hs[handle % hs.len()])
    }

    fn forget(&mut self, p: usize, id: u64) {
        self.procs[p].handles.retain(|(i, _)| *i != id);
    }

    /// Run one step and check everything afterwards. `Err` describes the first
    /// disagreement.
    pub fn step(&mut self, step: &Step) -> Result<(), String> {
        let p = step.proc % PROCS;
        let pid = self.procs[p].process.pid();
        if let Some(f) = step.fault {
            let rule = match f.errno {
                None => FaultRule::crash_nth(f.call, u64::from(f.nth)),
                Some(errno) => FaultRule::nth(f.call, u64::from(f.nth), errno),
            };
            self.kernel
                .set_faults(FaultPlan::new(0).with(rule.in_process(pid)));
        }
        let before = self.model.clone();
        let strict = self.run(p, &step.op);
        let fired = self.kernel.faults().fired() > 0;
        self.kernel.set_faults(FaultPlan::new(0));
        let alive = self.procs[p].process.is_alive();
        match strict {
            Err(e) if !fired => return Err(e),
            Err(_) | Ok(()) if fired => {
                self.faulted = true;
                if alive {
                    self.tainted.insert(pid);
                }
            }
            _ => {}
        }
        if !alive && !matches!(step.op, Op::Crash | Op::Exit) {
            // Killed by the fault plan inside the operation.
            self.replace(p)?;
        }
        if fired {
            self.resync(p, &step.op, &before, None)?;
        } else if !self.suspect.is_empty() {
            let only = self.suspect.clone();
            self.resync(p, &step.op, &before, Some(&only))?;
        }
        if matches!(step.op, Op::Recover) && !fired && self.tainted.is_empty() {
            let idle: Vec<u32> = self
                .suspect
                .iter()
                .copied()
                .filter(|&slot| self.model.opens_on(slot).next().is_none())
                .collect();
            for slot in idle {
                self.suspect.remove(&slot);
            }
        }
        self.last_write = None;
        if matches!(step.op, Op::Recover) && !fired {
            // What the sweep left (slots in use keep their orphans for later).
            let shadows = self
                .model
                .files
                .values()
                .filter(|f| f.working.is_some())
                .count();
            let live = self.kernel.stats().objects.segments_live;
            let want = 1 + self.model.files.len() + shadows;
            self.orphan_shadows = self.orphan_shadows.min(live.saturating_sub(want));
        }
        self.check()
    }

    /// Carry out `op` for process `p` and compare with the model as if nothing went wrong.
    fn run(&mut self, p: usize, op: &Op) -> Result<(), String> {
        match *op {
            Op::Create { slot } => {
                let r = self.driver(p)?.create(&name(slot));
                let got = outcome(&r);
                let (want, id) = self.model.create(p, slot);
                if let (Ok(h), Some(id)) = (&r, id) {
                    self.procs[p].handles.push((id, *h));
                } else if let Ok(h) = r {
                    // Keep the driver's handle so teardown closes it; the model disagrees.
                    let _ = self.driver(p)?.close(h);
                }
                expect(op, got, want)
            }
            Op::Open { slot, write, wait } => {
                let mode = if write {
                    Mode::ReadWrite
                } else {
                    Mode::ReadOnly
                };
                let wait = wait % 3;
                let how = match wait {
                    0 => Wait::No,
                    1 => Wait::Forever,
                    _ => Wait::Timeout(Duration::from_millis(10)),
                };
                let r = self.driver(p)?.open(&name(slot), mode, how);
                let got = outcome(&r);
                let (want, id) = self.model.open(p, slot, mode, wait);
                if let (Ok(h), Some(id)) = (&r, id) {
                    self.procs[p].handles.push((id, *h));
                } else if let Ok(h) = r {
                    let _ = self.driver(p)?.close(h);
                }
                expect(op, got, want)
            }
            Op::Close { handle } => {
                let Some((id, h)) = self.pick(p, handle) else {
                    return Ok(());
                };
                let r = self.driver(p)?.close(h);
                self.forget(p, id);
                self.model.close(id);
                expect(op, outcome(&r), Outcome::Ok)
            }
            Op::Write {
                handle,
                at,
                len,
                byte,
            } => {
                let Some((id, h)) = self.pick(p, handle) else {
                    return Ok(());
                };
                let size = self.model.read(id, 0, usize::MAX / 2).len();
                let at = usize::from(at) % (size + 64);
                let data = vec![byte; usize::from(len)];
                if let Some(o) = self.model.opens.get(&id) {
                    self.last_write = Some(LastWrite {
                        slot: o.slot,
                        at,
                        len: data.len(),
                        byte,
                        old: self.model.read(id, 0, usize::MAX / 2),
                    });
                }
                let d = self.driver(p)?;
                let r = d.seek(h, at as u64).and_then(|()| d.write(h, &data));
                if let Ok(n) = r {
                    if n != data.len() {
                        return Err(format!("{op:?}: wrote {n} of {} bytes", data.len()));
                    }
                }
                let want = self.model.write(id, at, &data);
                let slot = self.model.opens.get(&id).map(|o| o.slot);
                let dirty = slot
                    .and_then(|s| self.model.files.get(&s))
                    .is_some_and(|f| f.dirty_tail);
                if let (Ok(_), true, Some(slot)) = (&r, dirty && at > size, slot) {
                    // Learn the gap's content from the driver.
                    let mut gap = vec![0u8; at - size];
                    let d = self.driver(p)?;
                    d.seek(h, size as u64)
                        .and_then(|()| d.read(h, &mut gap))
                        .map_err(|e| format!("{op:?}: reading the gap back: {e}"))?;
                    if let Some(f) = self.model.files.get_mut(&slot) {
                        f.data[size..at].copy_from_slice(&gap);
                    }
                }
                expect(op, outcome(&r), want)
            }
            Op::Read { handle, at, len } => {
                let Some((id, h)) = self.pick(p, handle) else {
                    return Ok(());
                };
                let size = self.model.read(id, 0, usize::MAX / 2).len();
                let at = usize::from(at) % (size + 64);
                let mut buf = vec![0u8; usize::from(len)];
                let d = self.driver(p)?;
                let r = d.seek(h, at as u64).and_then(|()| d.read(h, &mut buf));
                let n = match r {
                    Ok(n) => n,
                    Err(e) => return Err(format!("{op:?}: {e}")),
                };
                let want = self.model.read(id, at, usize::from(len));
                if buf[..n] != want[..] {
                    return Err(format!(
                        "{op:?} at {at}: read {n} bytes that differ from the model's {} bytes",
                        want.len()
                    ));
                }
                Ok(())
            }
            Op::Flush { handle } => {
                let Some((id, h)) = self.pick(p, handle) else {
                    return Ok(());
                };
                let r = self.driver(p)?.flush(h);
                self.model.flush(id);
                expect(op, outcome(&r), Outcome::Ok)
            }
            Op::Delete { slot } => {
                let r = self.driver(p)?.delete(&name(slot));
                let want = self.model.delete(p, slot);
                expect(op, outcome(&r), want)
            }
            Op::Recover => {
                let r = self.driver(p)?.recover(None);
                let removed = self.model.recover();
                match r {
                    Ok(report) if report.removed == removed || self.faulted => Ok(()),
                    Ok(report) => Err(format!(
                        "recover removed {} files, the model {removed}: {report:?}",
                        report.removed
                    )),
                    Err(e) => Err(format!("recover: {e}")),
                }
            }
            Op::Crash => {
                let pid = self.procs[p].process.pid();
                self.kernel.kill(pid);
                self.replace(p)
            }
            Op::Exit => {
                let d = self.procs[p]
                    .driver
                    .take()
                    .ok_or_else(|| format!("p{p} has no driver"))?;
                let r = d.shutdown();
                for id in self.model.handles_of(p) {
                    self.model.close(id);
                }
                self.procs[p].handles.clear();
                self.procs[p].process.exit();
                self.replace(p)?;
                r.map_err(|e| format!("shutdown: {e}"))
            }
        }
    }

    /// After a fired fault: learn from the kernel what the operation left behind, check that
    /// it is one of the allowed outcomes (the state before, the state after, or for a write
    /// each byte old or new), and bring the model in line.
    fn resync(
        &mut self,
        p: usize,
        op: &Op,
        before: &Model,
        only: Option<&BTreeSet<u32>>,
    ) -> Result<(), String> {
        let within = |slot: u32| only.map_or(true, |o| o.contains(&slot));
        // Handles the model opened for an operation that failed must go.
        let known: BTreeSet<u64> = self
            .procs
            .iter()
            .flat_map(|pr| pr.handles.iter().map(|(id, _)| *id))
            .collect();
        self.model.opens.retain(|id, _| known.contains(id));
        let list = self.list()?;
        let listed: BTreeSet<u32> = list.iter().map(|s| s.slot).collect();
        let deleting = |slot: u32| matches!(op, Op::Delete { slot: s } if *s == slot);
        // Files that vanished: never a persistent one that nobody deleted, never one with
        // handles still open on it.
        for (&slot, f) in &before.files {
            if listed.contains(&slot) || !within(slot) {
                continue;
            }
            if (f.persist && !deleting(slot)) || self.model.opens_on(slot).next().is_some() {
                return Err(format!(
                    "after faulted {op:?}: slot {slot} vanished (persistent or still open)"
                ));
            }
        }
        let modeled: Vec<u32> = self.model.files.keys().copied().collect();
        for slot in modeled {
            if !listed.contains(&slot) && within(slot) {
                if self.model.opens_on(slot).next().is_some() {
                    return Err(format!("after faulted {op:?}: open slot {slot} vanished"));
                }
                self.model.files.remove(&slot);
            }
        }
        for s in &list {
            if !within(s.slot) {
                continue;
            }
            let writers = self.model.writers_on(s.slot);
            let opens = self.model.opens_on(s.slot).count() as u32;
            if s.processes != Some(opens) || s.corrupt.is_some() {
                self.suspect.insert(s.slot);
            }
            let size = usize::try_from(s.size).unwrap_or(usize::MAX);
            let file = match (self.model.files.get(&s.slot), before.files.get(&s.slot)) {
                (Some(f), _) | (None, Some(f)) => f.clone(),
                (None, None) => {
                    return Err(format!(
                        "after faulted {op:?}: slot {} appeared from nowhere",
                        s.slot
                    ))
                }
            };
            let was_deleted = before.files.get(&s.slot).is_some_and(|f| !f.persist);
            if was_deleted && !s.deleted() {
                return Err(format!(
                    "after faulted {op:?}: slot {} came back from deletion",
                    s.slot
                ));
            }
            let mut file = file;
            file.persist = !s.deleted();
            file.stale_writers = s.nprocdebug - writers;
            let publishing = matches!(
                op,
                Op::Write { .. }
                    | Op::Flush { .. }
                    | Op::Close { .. }
                    | Op::Exit
                    | Op::Delete { .. }
            );
            if file.data.len() != size
                && !(publishing && self.mode == WriteMode::Shadow)
                && !matches!(op, Op::Write { .. })
            {
                return Err(format!(
                    "after faulted {op:?}: slot {} has size {size}, model {}",
                    s.slot,
                    file.data.len()
                ));
            }
            self.model.files.insert(s.slot, file);
        }
        let gone: Vec<u32> = self
            .suspect
            .iter()
            .copied()
            .filter(|slot| !listed.contains(slot))
            .collect();
        for slot in gone {
            self.suspect.remove(&slot);
        }
        if only.is_none() && self.mode == WriteMode::Shadow {
            self.resync_published(p, op, before, &list)?;
        }
        if matches!(op, Op::Write { .. }) && only.is_none() {
            self.resync_write(p, &list)?;
        }
        Ok(())
    }

    /// Shadow writes after a fired fault: a writer's handle that is gone published its
    /// version or not — never half of it; one that is still there retries a failed flush.
    fn resync_published(
        &mut self,
        p: usize,
        op: &Op,
        before: &Model,
        list: &[SlotStatus],
    ) -> Result<(), String> {
        let publishing = matches!(
            op,
            Op::Flush { .. } | Op::Close { .. } | Op::Exit | Op::Delete { .. }
        );
        for (&slot, old) in &before.files {
            let had_writer = before.writers_on(slot) > 0;
            let has_writer = self.model.writers_on(slot) > 0;
            let Some(status) = list.iter().find(|s| s.slot == slot) else {
                continue;
            };
            if had_writer && has_writer && matches!(op, Op::Flush { .. }) {
                // "After a failed publish the shadow is kept and flush may be retried."
                let own = self.procs[p].handles.iter().copied().find(|(id, _)| {
                    self.model
                        .opens
                        .get(id)
                        .is_some_and(|o| o.slot == slot && o.mode == Mode::ReadWrite)
                });
                if let Some((id, h)) = own {
                    self.driver(p)?
                        .flush(h)
                        .map_err(|e| format!("flush retried after a failed one: {e}"))?;
                    self.model.flush(id);
                }
                continue;
            }
            if !had_writer || has_writer {
                continue;
            }
            let size = usize::try_from(status.size).unwrap_or(0);
            let mut candidates = vec![old.data.clone()];
            if publishing {
                if let Some(w) = &old.working {
                    candidates.push(w.clone());
                }
            }
            let deleted = status.deleted();
            let got = if deleted {
                None
            } else {
                Some(self.observe(slot)?)
            };
            let f = self
                .model
                .files
                .get_mut(&slot)
                .ok_or("resync: listed file missing")?;
            f.working = None;
            match got {
                Some(got) if candidates.contains(&got) => f.data = got,
                Some(got) => {
                    return Err(format!(
                        "after faulted {op:?}: slot {slot} holds {} bytes that are neither the published version ({} bytes) nor the writer's ({:?} bytes)",
                        got.len(),
                        old.data.len(),
                        old.working.as_ref().map(Vec::len)
                    ))
                }
                None => {
                    // Deleted: nobody can read it again; only its size is known.
                    f.data.resize(size, 0);
                }
            }
        }
        Ok(())
    }

    /// A faulted write may have written some, all or none of its bytes (each byte old or
    /// new), and grown the file or not: read what is there now and check it.
    fn resync_write(&mut self, p: usize, list: &[SlotStatus]) -> Result<(), String> {
        let Some(w) = self.last_write.take() else {
            return Ok(());
        };
        let shadow = self.mode == WriteMode::Shadow;
        if shadow && self.model.writers_on(w.slot) == 0 {
            // The writer died: its unpublished bytes are gone (checked by resync_published).
            return Ok(());
        }
        let Some(status) = list.iter().find(|s| s.slot == w.slot) else {
            return Ok(());
        };
        let size = usize::try_from(status.size).unwrap_or(0);
        let Some(data) = self.read_all(p, w.slot)? else {
            // Unreadable now (write-locked elsewhere, or deleted: nobody can open it again);
            // only the size is known.
            if let Some(f) = self.model.files.get_mut(&w.slot) {
                f.data.resize(size, 0);
                f.dirty_tail = true;
            }
            return Ok(());
        };
        let end = w.at + w.len;
        if data.len() < w.old.len() || data.len() > w.old.len().max(end) {
            return Err(format!(
                "faulted write of {}..{end} changed slot {} from {} to {} bytes",
                w.at,
                w.slot,
                w.old.len(),
                data.len()
            ));
        }
        for (i, &b) in data.iter().enumerate() {
            let old = w.old.get(i).copied().unwrap_or(0);
            if b != old && !((w.at..end).contains(&i) && b == w.byte) {
                return Err(format!(
                    "faulted write of {}..{end}: slot {} byte {i} is {b}, neither old {old} nor written {}",
                    w.at, w.slot, w.byte
                ));
            }
        }
        if let Some(f) = self.model.files.get_mut(&w.slot) {
            f.dirty_tail |= end > data.len();
            if shadow {
                f.working = Some(data.clone());
            } else {
                f.data = data.clone();
            }
        }
        if shadow {
            self.close_failed_writer(p, w.slot, data)?;
        }
        Ok(())
    }

    /// Shadow mode: a write that failed part-way abandons the handle's unpublished version
    /// (`Error::WriteFailed` from then on). Close that handle now: it must either say so and
    /// leave the published version, or (if the fault hit a call whose failure does not
    /// count) publish exactly what it holds.
    fn close_failed_writer(&mut self, p: usize, slot: u32, held: Vec<u8>) -> Result<(), String> {
        let own = self.procs[p].handles.iter().copied().find(|(id, _)| {
            self.model
                .opens
                .get(id)
                .is_some_and(|o| o.slot == slot && o.mode == Mode::ReadWrite)
        });
        let Some((id, h)) = own else {
            return Ok(());
        };
        let r = self.driver(p)?.close(h);
        self.forget(p, id);
        if let Some(f) = self.model.files.get_mut(&slot) {
            match r {
                Ok(()) => f.working = Some(held),
                Err(Error::WriteFailed { .. }) => f.working = None,
                Err(e) => return Err(format!("closing after a failed shadow write: {e}")),
            }
        }
        self.model.close(id);
        Ok(())
    }

    /// All bytes of `slot`: through `p`'s write handle on it if it has one, else through a
    /// short-lived reader process (`None` if the slot is write-locked by someone else).
    fn read_all(&mut self, p: usize, slot: u32) -> Result<Option<Vec<u8>>, String> {
        let own = self.procs[p].handles.iter().copied().find(|(id, _)| {
            self.model
                .opens
                .get(id)
                .is_some_and(|o| o.slot == slot && o.mode == Mode::ReadWrite)
        });
        if let Some((_, h)) = own {
            let d = self.driver(p)?;
            let mut buf = vec![0u8; d.size(h).map_err(|e| format!("size: {e}"))? as usize];
            d.seek(h, 0).map_err(|e| format!("seek: {e}"))?;
            let n = d.read(h, &mut buf).map_err(|e| format!("read back: {e}"))?;
            buf.truncate(n);
            return Ok(Some(buf));
        }
        // Only an idle or read-locked file that is not deleted can be opened to look at.
        let deleted = self.model.files.get(&slot).map_or(true, |f| !f.persist);
        if self.model.writers_on(slot) > 0 || deleted {
            return Ok(None);
        }
        self.observe(slot).map(Some)
    }

    /// Read a whole file through a fresh process that opens it read-only and exits.
    pub fn observe(&mut self, slot: u32) -> Result<Vec<u8>, String> {
        let mut obs = self.fresh_proc()?;
        let d = obs.driver.as_mut().expect("fresh driver");
        let h = d
            .open(&name(slot), Mode::ReadOnly, Wait::No)
            .map_err(|e| format!("observer open h{slot}: {e}"))?;
        let size = d.size(h).map_err(|e| format!("size: {e}"))? as usize;
        let mut buf = vec![0u8; size];
        let n = d
            .read(h, &mut buf)
            .map_err(|e| format!("observer read: {e}"))?;
        buf.truncate(n);
        d.close(h).map_err(|e| format!("observer close: {e}"))?;
        let d = obs.driver.take().expect("fresh driver");
        d.shutdown()
            .map_err(|e| format!("observer shutdown: {e}"))?;
        obs.process.exit();
        Ok(buf)
    }

    /// Compare the driver's view and the kernel's objects with the model.
    pub fn check(&mut self) -> Result<(), String> {
        let list = self.list()?;
        let strict = self
            .tainted
            .iter()
            .all(|pid| !self.kernel.process(*pid).is_some_and(|p| p.is_alive()));
        let listed: BTreeSet<u32> = list.iter().map(|s| s.slot).collect();
        let modeled: BTreeSet<u32> = self.model.files.keys().copied().collect();
        if listed != modeled {
            return Err(format!(
                "slots in use: driver {listed:?}, model {modeled:?}"
            ));
        }
        for s in &list {
            let f = &self.model.files[&s.slot];
            let opens = self.model.opens_on(s.slot).count() as u32;
            let writers = self.model.writers_on(s.slot);
            let suspect = self.suspect.contains(&s.slot);
            if let (Some(c), false) = (s.corrupt, suspect) {
                return Err(format!("slot {} reported corrupt: {c}", s.slot));
            }
            if s.size != f.data.len() as u64 {
                return Err(format!(
                    "slot {}: size {} vs model {}",
                    s.slot,
                    s.size,
                    f.data.len()
                ));
            }
            if s.deleted() == f.persist {
                return Err(format!(
                    "slot {}: deleted {} vs model persist {}",
                    s.slot,
                    s.deleted(),
                    f.persist
                ));
            }
            if s.lock != self.model.lock_state(s.slot) {
                return Err(format!(
                    "slot {}: lock {:?} vs model {:?}",
                    s.slot,
                    s.lock,
                    self.model.lock_state(s.slot)
                ));
            }
            if strict && !suspect {
                if s.processes != Some(opens) {
                    return Err(format!(
                        "slot {}: counter {:?} vs {opens} open handles",
                        s.slot, s.processes
                    ));
                }
                if s.nprocdebug != writers + f.stale_writers {
                    return Err(format!(
                        "slot {}: nprocdebug {} vs {writers} writers + {} dead ones",
                        s.slot, s.nprocdebug, f.stale_writers
                    ));
                }
            }
        }
        if strict {
            let shadows = self
                .model
                .files
                .values()
                .filter(|f| f.working.is_some())
                .count();
            let o = self.kernel.stats().objects;
            let opens = self.model.opens.len();
            let want_mappings = PROCS + opens;
            if o.mappings != want_mappings || o.lock_owners != opens || o.locks_held != opens {
                return Err(format!(
                    "kernel objects {o:?}: want {want_mappings} mappings, {opens} lock owners and locks"
                ));
            }
            let want = 1 + list.len() + shadows;
            if !self.faulted
                && (!(want..=want + self.orphan_shadows).contains(&o.segments_live)
                    || o.segments_removed_attached != 0)
            {
                return Err(format!(
                    "kernel objects {o:?}: want {want} live segments (table, files, {shadows} shadows) and up to {} orphans",
                    self.orphan_shadows
                ));
            }
            if !self.faulted && self.suspect.is_empty() && o.counters != list.len() {
                return Err(format!(
                    "kernel objects {o:?}: want {} counters",
                    list.len()
                ));
            }
        }
        Ok(())
    }

    /// Close everything, end every process, recover and delete every file with a last
    /// process, and check that the kernel is empty.
    pub fn teardown(&mut self) -> Result<(), String> {
        for p in 0..PROCS {
            while let Some((id, h)) = self.procs[p].handles.pop() {
                self.driver(p)?
                    .close(h)
                    .map_err(|e| format!("teardown close: {e}"))?;
                self.model.close(id);
            }
        }
        // Every persistent file still holds what was written.
        let slots: Vec<u32> = self
            .model
            .files
            .iter()
            .filter(|(_, f)| f.persist)
            .map(|(s, _)| *s)
            .collect();
        for slot in slots {
            let got = self.observe(slot)?;
            if got != self.model.files[&slot].data {
                return Err(format!(
                    "teardown: slot {slot} content differs from the model"
                ));
            }
        }
        for p in 0..PROCS {
            let d = self.procs[p].driver.take().ok_or("no driver")?;
            d.shutdown()
                .map_err(|e| format!("teardown shutdown: {e}"))?;
            self.procs[p].process.exit();
        }
        let last = self.fresh_proc()?;
        let mut d = last.driver.expect("fresh driver");
        d.recover(None)
            .map_err(|e| format!("teardown recover: {e}"))?;
        self.model.recover();
        let slots: Vec<u32> = self.model.files.keys().copied().collect();
        for slot in slots {
            d.delete(&name(slot))
                .map_err(|e| format!("teardown delete h{slot}: {e}"))?;
            self.model.delete(0, slot);
        }
        d.shutdown()
            .map_err(|e| format!("teardown last shutdown: {e}"))?;
        last.process.exit();
        // Nothing leaks: every crash and fault above has been cleaned up by the kernel
        // (dead processes) and by recover (orphan segments and counters).
        let o = self.kernel.objects();
        if !o.segments.is_empty() || !o.counters.is_empty() || !o.locks.is_empty() {
            return Err(format!("teardown: kernel objects left: {o:?}"));
        }
        let s = self.kernel.stats().objects;
        if s.mappings != 0 || s.lock_owners != 0 || s.processes_alive != 0 {
            return Err(format!("teardown: {s:?}"));
        }
        Ok(())
    }
}

impl Default for World {
    fn default() -> Self {
        World::new(WriteMode::Shadow)
    }
}

fn expect(op: &Op, got: Outcome, want: Outcome) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{op:?}: driver {got:?}, model {want:?}"))
    }
}

//! The system under test: several simulated processes, each with its own [`Driver`] on one
//! [`MockKernel`], driven step by step and compared with the [`Model`] after every step.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use crate::{CallKind, FaultPlan, FaultRule, MockErrno, MockError, MockKernel, MockProcess};
use shmfits_core::shm::{Config, Driver, Error, Handle, Mode, SlotStatus, Wait, WriteMode};

use super::reference::{Model, Outcome};

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

/// An operation of one process. Handles are named by position among the process's open
/// handles, oldest first, modulo their number (an operation on a handle of a process that
/// has none does nothing); positions past the end of a file are taken modulo size + 64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create("shmem://h<slot>")`.
    Create {
        /// Slot.
        slot: u32,
    },
    /// `open("shmem://h<slot>", mode, wait)`.
    Open {
        /// Slot.
        slot: u32,
        /// Read-write (else read-only).
        write: bool,
        /// 0: `Wait::No`, 1: `Wait::Forever`, 2: `Wait::Timeout(10 ms)` (modulo 3).
        wait: u8,
    },
    /// `close` of a handle.
    Close {
        /// Which handle.
        handle: usize,
    },
    /// `seek` and `write` of `len` bytes of value `byte`.
    Write {
        /// Which handle.
        handle: usize,
        /// Position.
        at: u16,
        /// Bytes to write.
        len: u16,
        /// Their value.
        byte: u8,
    },
    /// `seek` and `read` of `len` bytes, compared with the model.
    Read {
        /// Which handle.
        handle: usize,
        /// Position.
        at: u16,
        /// Bytes to read.
        len: u16,
    },
    /// `flush` of a handle.
    Flush {
        /// Which handle.
        handle: usize,
    },
    /// `delete("shmem://h<slot>")`.
    Delete {
        /// Slot.
        slot: u32,
    },
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
#[derive(Debug)]
pub struct Proc {
    /// The process.
    pub process: MockProcess,
    /// Its driver (`None` only while it is being replaced).
    pub driver: Option<Drv>,
    /// Its open handles: model id and driver handle, oldest first.
    pub handles: Vec<(u64, Handle)>,
}

/// The whole simulation.
#[derive(Debug)]
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
    pub(super) last_write: Option<LastWrite>,
    /// How the drivers write.
    pub mode: WriteMode,
    /// Shadow segments of writers that died unpublished: orphans until a recover sweeps them.
    pub orphan_shadows: usize,
}

/// A write's slot, range, byte and the file's bytes before it.
#[derive(Debug)]
pub(super) struct LastWrite {
    pub(super) slot: u32,
    pub(super) at: usize,
    pub(super) len: usize,
    pub(super) byte: u8,
    pub(super) old: Vec<u8>,
}

/// The driver's configuration for the simulation, with shadow writes (the driver's default:
/// published on flush/close) or in-place writes (every write in the table at once).
pub fn config(mode: WriteMode) -> Config {
    Config::new(KEY_BASE, SLOTS).with_write_mode(mode)
}

/// The `shmem://` name of `slot`.
pub fn name(slot: u32) -> String {
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
        Err(Error::NoKey { .. }) => Outcome::NoKey,
        Err(e) => Outcome::Other(e.to_string()),
    }
}

impl World {
    /// A kernel with `PROCS` processes, each with a driver writing in `mode`.
    ///
    /// # Errors
    /// A driver that cannot start on a fresh process (a bug), in words.
    pub fn new(mode: WriteMode) -> Result<Self, String> {
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
            let p = w.fresh_proc()?;
            w.procs.push(p);
        }
        Ok(w)
    }

    /// A new process of the world's kernel and a driver in it.
    ///
    /// # Errors
    /// A driver that cannot start on a fresh process (a bug), in words.
    pub fn fresh_pair(&self) -> Result<(MockProcess, Drv), String> {
        let process = self.kernel.spawn();
        let driver = Drv::new(process.clone(), config(self.mode))
            .map_err(|e| format!("Driver::new on a fresh process: {e}"))?;
        Ok((process, driver))
    }

    /// Arm `fault` (if any) in process `p` for the next operation; the caller disarms with
    /// `kernel.set_faults(FaultPlan::new(0))` afterwards.
    pub fn arm(&self, p: usize, fault: Option<Fault>) {
        if let Some(f) = fault {
            let rule = match f.errno {
                None => FaultRule::crash_nth(f.call, u64::from(f.nth)),
                Some(errno) => FaultRule::nth(f.call, u64::from(f.nth), errno),
            };
            let pid = self.procs[p].process.pid();
            self.kernel
                .set_faults(FaultPlan::new(0).with(rule.in_process(pid)));
        }
    }

    /// A new process with a driver, to stand in for a dead one.
    ///
    /// # Errors
    /// A driver that cannot start on a fresh process (a bug), in words.
    pub fn fresh_proc(&self) -> Result<Proc, String> {
        let (process, driver) = self.fresh_pair()?;
        Ok(Proc {
            process,
            driver: Some(driver),
            handles: Vec::new(),
        })
    }

    pub(super) fn driver(&mut self, p: usize) -> Result<&mut Drv, String> {
        self.procs[p]
            .driver
            .as_mut()
            .ok_or_else(|| format!("p{p} has no driver"))
    }

    /// The slot list as a live driver sees it.
    pub fn list(&mut self) -> Result<Vec<SlotStatus>, String> {
        let mut out = vec![SlotStatus::EMPTY; SLOTS as usize];
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

    pub(super) fn forget(&mut self, p: usize, id: u64) {
        self.procs[p].handles.retain(|(i, _)| *i != id);
    }

    /// Data keys (`KEY_BASE + 1 .. KEY_BASE + 3·SLOTS`) under which no segment exists and,
    /// with `counter_too`, no counter either: what a create (`true`) or a new segment
    /// (`false`) can still take. Orphans of crashed operations may use them all up until a
    /// recover sweeps them.
    pub fn free_data_keys(&self, counter_too: bool) -> usize {
        let o = self.kernel.objects();
        (KEY_BASE + 1..KEY_BASE + 3 * SLOTS as i32)
            .filter(|k| {
                o.segment_by_key(*k).is_none() && !(counter_too && o.counter_by_key(*k).is_some())
            })
            .count()
    }

    /// Shadow writes: a write that failed abandoned the handle's unpublished version. Close
    /// the handle now: it must say so ([`Error::WriteFailed`]) and publish nothing.
    fn close_abandoned(&mut self, p: usize, id: u64, h: Handle) -> Result<(), String> {
        let slot = self.model.opens.get(&id).map(|o| o.slot);
        let r = self.driver(p)?.close(h);
        self.forget(p, id);
        if let Some(f) = slot.and_then(|s| self.model.files.get_mut(&s)) {
            f.working = None;
        }
        self.model.close(id);
        match r {
            Err(Error::WriteFailed { .. }) => Ok(()),
            other => Err(format!(
                "close after a shadow write failed with NoKey: {other:?}, model WriteFailed"
            )),
        }
    }

    /// Run one step and check everything afterwards. `Err` describes the first
    /// disagreement.
    pub fn step(&mut self, step: &Step) -> Result<(), String> {
        let p = step.proc % PROCS;
        let pid = self.procs[p].process.pid();
        self.arm(p, step.fault);
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
                // A create needs one data key holding neither a segment nor a counter.
                let exhausted = self.free_data_keys(true) == 0;
                let r = self.driver(p)?.create(&name(slot));
                let got = outcome(&r);
                let before = exhausted.then(|| self.model.clone());
                let (mut want, mut id) = self.model.create(p, slot);
                if let (Outcome::Ok, Some(before)) = (&want, before) {
                    // Everything else would let it succeed: the keys ran out.
                    self.model = before;
                    (want, id) = (Outcome::NoKey, None);
                }
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
                // A write that needs a new segment (growth, a shadow) needs a data key
                // holding no segment; when none is free it may fail with `NoKey`, changing
                // nothing. Whether it needs one is the driver's business (segment sizes).
                let exhausted = self.free_data_keys(false) == 0;
                let d = self.driver(p)?;
                let r = d.seek(h, at as u64).and_then(|()| d.write(h, &data));
                if let Ok(n) = r {
                    if n != data.len() {
                        return Err(format!("{op:?}: wrote {n} of {} bytes", data.len()));
                    }
                }
                let got = outcome(&r);
                let before = (exhausted && got == Outcome::NoKey).then(|| self.model.clone());
                let want = self.model.write(id, at, &data);
                if let (Outcome::Ok, Some(before)) = (&want, before) {
                    self.model = before;
                    if self.mode == WriteMode::Shadow {
                        self.close_abandoned(p, id, h)?;
                    }
                    return Ok(());
                }
                expect(op, got, want)
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
                if buf.get(..n) != Some(&want[..]) {
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
}

fn expect(op: &Op, got: Outcome, want: Outcome) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{op:?}: driver {got:?}, model {want:?}"))
    }
}

//! Steps after the first corruption, when the reference model can no longer predict
//! results, and the checks that still hold then.

use std::time::Duration;

use shmfits_core::shm::{CounterId, Mode, SlotStatus, Wait};
use shmfits_mock::model::world::{name, Op, Step, World, PROCS, SLOTS};
use shmfits_mock::FaultPlan;

use super::clean;
use super::corrupt::{apply, Corruption};

/// What the corruptions so far did.
#[derive(Debug, Default)]
pub(super) struct Chaos {
    /// Every corruption made, in order (for messages).
    pub(super) made: Vec<Corruption>,
    /// Block headers (bytes 0..8) of data segments as corruptions left them: the driver
    /// recognises its segments by that header, so once no entry names a segment that
    /// starts so (the corrupted one, or a copy a writer made of it for growth or a shadow)
    /// it is not the driver's to remove (it may be anyone's), and it may stay.
    unrecognisable: Vec<[u8; 8]>,
    /// Counters whose value a neighbour set. Setting a counter clears every process's undo
    /// adjustment, so the value drifts when the processes that held it exit (set to 0 under
    /// two readers, it ends at 1 when the first reader's close succeeds and the second's
    /// fails). The driver takes a counter above 0 for a process attached (a CFITSIO opener
    /// between its attach and its lock has no lock yet to show for it), so it never frees a
    /// deleted file whose counter drifted up: once every process has exited, the final check
    /// sets these counters back to 0, as an administrator would.
    set_counters: Vec<CounterId>,
}

impl Chaos {
    /// Make `c` now.
    pub(super) fn corrupt(&mut self, world: &World, c: Corruption) -> Result<(), String> {
        self.made.push(c);
        let made = apply(world, c)?;
        self.unrecognisable.extend(made.header);
        self.set_counters.extend(made.set);
        Ok(())
    }
}

/// Run `step` without the model: every driver result must be clean (success, or an error
/// that is neither a logic bug nor an illegal transition). Injected faults and crashes
/// still happen; a process that dies is replaced, as in the model run.
pub(super) fn step(world: &mut World, step: &Step) -> Result<(), String> {
    let p = step.proc % PROCS;
    world.arm(p, step.fault);
    let r = op(world, p, &step.op);
    world.kernel.set_faults(FaultPlan::new(0));
    if !world.procs[p].process.is_alive() {
        // Crash, exit, or killed by the fault plan inside the operation.
        world.procs[p].driver = None;
        world.procs[p] = world.fresh_proc()?;
    }
    r
}

fn op(world: &mut World, p: usize, op: &Op) -> Result<(), String> {
    let proc = &mut world.procs[p];
    let Some(d) = proc.driver.as_mut() else {
        return Err(format!("p{p} has no driver"));
    };
    let pick = |hs: &[(u64, _)], i: usize| (!hs.is_empty()).then(|| hs[i % hs.len()]);
    match *op {
        Op::Create { slot } => {
            let r = d.create(&name(slot));
            clean(&r)?;
            if let Ok(h) = r {
                proc.handles.push((0, h));
            }
        }
        Op::Open { slot, write, wait } => {
            let mode = if write {
                Mode::ReadWrite
            } else {
                Mode::ReadOnly
            };
            let how = match wait % 3 {
                0 => Wait::No,
                1 => Wait::Forever,
                _ => Wait::Timeout(Duration::from_millis(10)),
            };
            let r = d.open(&name(slot), mode, how);
            clean(&r)?;
            if let Ok(h) = r {
                proc.handles.push((0, h));
            }
        }
        Op::Close { handle } => {
            if let Some((_, h)) = pick(&proc.handles, handle) {
                // Released even when a step fails.
                proc.handles.retain(|(_, x)| *x != h);
                clean(&d.close(h))?;
            }
        }
        Op::Write {
            handle,
            at,
            len,
            byte,
        } => {
            if let Some((_, h)) = pick(&proc.handles, handle) {
                let r = d
                    .seek(h, u64::from(at))
                    .and_then(|()| d.write(h, &vec![byte; usize::from(len)]));
                clean(&r)?;
            }
        }
        Op::Read { handle, at, len } => {
            if let Some((_, h)) = pick(&proc.handles, handle) {
                let mut buf = vec![0u8; usize::from(len)];
                let r = d.seek(h, u64::from(at)).and_then(|()| d.read(h, &mut buf));
                clean(&r)?;
                if let Ok(n) = r {
                    if n > buf.len() {
                        return Err(format!("read {n} bytes into {}", buf.len()));
                    }
                }
                clean(&d.view(h))?;
            }
        }
        Op::Flush { handle } => {
            if let Some((_, h)) = pick(&proc.handles, handle) {
                clean(&d.flush(h))?;
            }
        }
        Op::Delete { slot } => clean(&d.delete(&name(slot)))?,
        Op::Recover => clean(&d.recover(None))?,
        Op::Crash => {
            world.kernel.kill(proc.process.pid());
        }
        Op::Exit => {
            let d = proc.driver.take().ok_or("no driver")?;
            proc.handles.clear();
            let r = d.shutdown();
            proc.process.exit();
            clean(&r)?;
        }
    }
    Ok(())
}

/// Let every process read, write and close what it holds and exit, set the counters a
/// neighbour set back to 0, then list, read, recover and delete everything from a last process: every
/// result must be clean, and no kernel object may be left but segments whose
/// block header a corruption made unrecognisable.
pub(super) fn finish(world: &mut World, chaos: &Chaos) -> Result<(), String> {
    for p in 0..world.procs.len() {
        let proc = &mut world.procs[p];
        let Some(mut d) = proc.driver.take() else {
            continue;
        };
        for (_, h) in std::mem::take(&mut proc.handles) {
            let mut buf = [0u8; 100];
            clean(&d.read(h, &mut buf)).map_err(|e| format!("read: {e}"))?;
            clean(&d.write(h, b"after corruption")).map_err(|e| format!("write: {e}"))?;
            clean(&d.close(h)).map_err(|e| format!("close: {e}"))?;
        }
        clean(&d.shutdown()).map_err(|e| format!("shutdown: {e}"))?;
        proc.process.exit();
    }
    for id in &chaos.set_counters {
        let _ = world.kernel.set_counter_value(*id, 0);
    }
    let (last, mut d) = world.fresh_pair()?;
    let mut list = vec![SlotStatus::EMPTY; SLOTS as usize];
    clean(&d.list(&mut list)).map_err(|e| format!("list: {e}"))?;
    for slot in 0..SLOTS {
        if let Ok(h) = d.open(&name(slot), Mode::ReadOnly, Wait::No) {
            let mut buf = vec![0u8; 4096];
            clean(&d.read(h, &mut buf)).map_err(|e| format!("read: {e}"))?;
            clean(&d.close(h)).map_err(|e| format!("close: {e}"))?;
        }
    }
    clean(&d.recover(None)).map_err(|e| format!("recover: {e}"))?;
    for slot in 0..SLOTS {
        clean(&d.delete(&name(slot))).map_err(|e| format!("delete: {e}"))?;
    }
    clean(&d.recover(None)).map_err(|e| format!("second recover: {e}"))?;
    clean(&d.shutdown()).map_err(|e| format!("last shutdown: {e}"))?;
    last.exit();
    super::objects_left(&world.kernel, &chaos.unrecognisable)
}

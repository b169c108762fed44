//! After an injected fault: learning from the kernel what an operation left behind and
//! checking that it is one of the allowed outcomes.

use std::collections::BTreeSet;

use shmfits_core::shm::{Mode, SlotStatus, Wait, WriteMode};

use super::reference::Model;
use super::world::{name, Op, World};

impl World {
    /// After a fired fault: learn from the kernel what the operation left behind, check that
    /// it is one of the allowed outcomes (the state before, the state after, or for a write
    /// each byte old or new), and bring the model in line.
    pub(super) fn resync(
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
            if shadow {
                f.working = Some(data);
            } else {
                f.data = data;
            }
        }
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
        let (process, mut d) = self.fresh_pair()?;
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
        d.shutdown()
            .map_err(|e| format!("observer shutdown: {e}"))?;
        process.exit();
        Ok(buf)
    }
}

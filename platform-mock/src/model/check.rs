//! The checks after every step, and the teardown that proves nothing leaked.

use std::collections::BTreeSet;

use super::world::{name, World, PROCS};

impl World {
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
            let f = self
                .model
                .files
                .get(&s.slot)
                .ok_or_else(|| format!("slot {} listed but not modelled", s.slot))?;
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
            if Some(&got) != self.model.files.get(&slot).map(|f| &f.data) {
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
        let (last, mut d) = self.fresh_pair()?;
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
        last.exit();
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

//! Shutdown: close every handle and detach (and, if unused, remove) the global table.

use zerocopy::FromBytes;

use super::{Driver, Handle, Mode, Res};
use crate::shm::error::Error;
use crate::shm::layout::RawEntry;
use crate::shm::platform::{LockKind, LockRange, SharedMem, Wait};
use crate::shm::state::State;

impl<P: SharedMem, const N: usize> Driver<P, N> {
    /// Close every open handle (keeping all written data), detach the global table, and
    /// remove the table if no slot is in use and no other process has it attached.
    ///
    /// # Errors
    /// The first error of the closes or the table detach; everything is attempted.
    pub fn shutdown(mut self) -> Res<(), P> {
        let mut first = None;
        for i in 0..N {
            let Some(l) = self.locals.get(i) else { break };
            if l.state == State::Free {
                continue;
            }
            let h = Handle {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                generation: l.generation,
            };
            let r = if l.state.is_open() {
                self.close(h)
            } else {
                if let Some(o) = l.owner {
                    self.drop_owner(o, l.slot);
                }
                self.force_free(h)
            };
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        if let Err(e) = self.detach_table() {
            first.get_or_insert(e);
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn detach_table(&mut self) -> Res<(), P> {
        let Some(table) = self.table.take() else {
            return Ok(());
        };
        let id = self.platform.mapping_id(&table);
        let tab_err = |step| {
            move |error: P::Error| Error::Platform {
                slot: None,
                step,
                error,
            }
        };
        let owner = match self.platform.lock_owner_new() {
            Ok(o) => o,
            Err(e) => {
                let _ = self.platform.segment_detach(table);
                return Err(tab_err("lock owner")(e));
            }
        };
        let all = LockRange::all(self.config.slots);
        let mut remove = false;
        if self
            .platform
            .lock(owner, all, LockKind::Exclusive, Wait::No)
            .is_ok()
        {
            let mut empty = true;
            for s in 0..self.config.slots {
                let mut buf = [0u8; crate::shm::layout::ENTRY_SIZE];
                let off = s as usize * crate::shm::layout::ENTRY_SIZE;
                match self.platform.read(&table, off, &mut buf) {
                    Ok(()) => {
                        if RawEntry::read_from_bytes(&buf[..]).ok() != Some(RawEntry::CLEARED) {
                            empty = false;
                            break;
                        }
                    }
                    Err(_) => {
                        empty = false;
                        break;
                    }
                }
            }
            if empty {
                remove = matches!(self.platform.segment_info(id), Ok(i) if i.attach_count <= 1);
            }
        }
        let detached = self
            .platform
            .segment_detach(table)
            .map_err(tab_err("global table detach"));
        let removed = if remove && detached.is_ok() {
            self.platform
                .segment_remove(id)
                .map_err(tab_err("global table remove"))
        } else {
            Ok(())
        };
        let _ = self.platform.unlock(owner, all);
        let _ = self.platform.lock_owner_release(owner);
        detached.and(removed)
    }

    /// Whether a handle of this driver is open on `slot` with `mode`.
    pub fn holds(&self, slot: u32, mode: Mode) -> bool {
        self.locals
            .iter()
            .any(|l| l.slot == slot && l.state.is_open() && l.mode == mode)
    }
}

//! The reference model: file-level semantics of `shmem://` files, with no kernel, no
//! protocol and no failure — slots holding bytes, a persist flag and the handles open on
//! them. What the driver on the mock must agree with after every step.

use std::collections::BTreeMap;

use shmfits_core::shm::{LockState, Mode};

/// FITS bytes of a newly created file (one zeroed block).
pub const NEW_FILE_LEN: usize = 2880;

/// One file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Its FITS bytes as every opener sees them (the published version).
    pub data: Vec<u8>,
    /// With shadow writes: the writer's unpublished version, published by flush or close and
    /// lost if the writer dies.
    pub working: Option<Vec<u8>>,
    /// Cleared by delete: the file goes with its last close.
    pub persist: bool,
    /// Write locks the table still counts for writers that died (`nprocdebug` beyond the
    /// open writers), until recover resets them.
    pub stale_writers: i32,
}

/// One open handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// Which simulated process has it.
    pub proc: usize,
    /// Which slot.
    pub slot: u32,
    /// Read-only or read-write.
    pub mode: Mode,
}

/// What an operation is expected to return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success.
    Ok,
    /// The slot lock is held by a conflicting handle.
    WouldBlock,
    /// No (persistent) file in the slot.
    NotFound,
    /// Create found a file.
    Exists,
    /// Write through a read-only handle.
    ReadOnly,
    /// A wait for the slot lock could never end (the process itself holds it).
    Deadlock,
    /// A timed wait for the slot lock ran out.
    TimedOut,
    /// The process's local table is full.
    TooManyHandles,
    /// No data key was free for a new segment (or segment and counter).
    NoKey,
    /// Anything else (an unexpected error, in words).
    Other(String),
}

/// The model: files by slot and open handles by id.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Files by slot (deleted-but-open and deleted-and-orphaned ones included).
    pub files: BTreeMap<u32, File>,
    /// Open handles by model id.
    pub opens: BTreeMap<u64, Open>,
    next: u64,
    /// Handles one process may have open at once.
    pub capacity: usize,
    /// Shadow writes (published on flush/close) instead of in-place writes.
    pub shadow: bool,
}

impl Model {
    /// An empty model whose processes can hold `capacity` handles each, with shadow or
    /// in-place writes.
    pub fn new(capacity: usize, shadow: bool) -> Self {
        Model {
            capacity,
            shadow,
            ..Model::default()
        }
    }

    /// Handles open on `slot`.
    pub fn opens_on(&self, slot: u32) -> impl Iterator<Item = &Open> {
        self.opens.values().filter(move |o| o.slot == slot)
    }

    fn count_of(&self, proc: usize) -> usize {
        self.opens.values().filter(|o| o.proc == proc).count()
    }

    /// Write handles open on `slot`.
    pub fn writers_on(&self, slot: u32) -> i32 {
        self.opens_on(slot)
            .filter(|o| o.mode == Mode::ReadWrite)
            .count() as i32
    }

    /// The lock state a probe of `slot` must see.
    pub fn lock_state(&self, slot: u32) -> LockState {
        if self.writers_on(slot) > 0 {
            LockState::WriteLocked
        } else if self.opens_on(slot).next().is_some() {
            LockState::ReadLocked
        } else {
            LockState::Unlocked
        }
    }

    fn conflicts(&self, slot: u32, mode: Mode) -> bool {
        self.opens_on(slot)
            .any(|o| mode == Mode::ReadWrite || o.mode == Mode::ReadWrite)
    }

    fn add_open(&mut self, open: Open) -> u64 {
        let id = self.next;
        self.next += 1;
        self.opens.insert(id, open);
        id
    }

    /// A deleted file with nobody left goes.
    fn reap(&mut self, slot: u32) {
        let gone = self.files.get(&slot).is_some_and(|f| !f.persist)
            && self.opens_on(slot).next().is_none();
        if gone {
            self.files.remove(&slot);
        }
    }

    /// Create: the slot must be free of handles and of files.
    pub fn create(&mut self, proc: usize, slot: u32) -> (Outcome, Option<u64>) {
        if self.count_of(proc) >= self.capacity {
            return (Outcome::TooManyHandles, None);
        }
        if self.opens_on(slot).next().is_some() {
            return (Outcome::WouldBlock, None);
        }
        if self.files.contains_key(&slot) {
            return (Outcome::Exists, None);
        }
        self.files.insert(
            slot,
            File {
                data: vec![0; NEW_FILE_LEN],
                working: None,
                persist: true,
                stale_writers: 0,
            },
        );
        let id = self.add_open(Open {
            proc,
            slot,
            mode: Mode::ReadWrite,
        });
        (Outcome::Ok, Some(id))
    }

    /// Open: one writer xor many readers; a deleted file cannot be opened (and an orphaned
    /// deleted one is freed by the attempt). A conflicting lock fails at once without
    /// waiting (`wait` 0), as a deadlock when waiting (1 forever, 2 with a timeout) on the
    /// process's own handles, else as would-block (forever: the mock never waits) or
    /// timed out.
    pub fn open(&mut self, proc: usize, slot: u32, mode: Mode, wait: u8) -> (Outcome, Option<u64>) {
        let own_conflict = self
            .opens_on(slot)
            .any(|o| o.proc == proc && (mode == Mode::ReadWrite || o.mode == Mode::ReadWrite));
        if wait != 0 && own_conflict {
            return (Outcome::Deadlock, None);
        }
        if self.count_of(proc) >= self.capacity {
            return (Outcome::TooManyHandles, None);
        }
        if self.conflicts(slot, mode) {
            let o = match wait {
                2 => Outcome::TimedOut,
                _ => Outcome::WouldBlock,
            };
            return (o, None);
        }
        match self.files.get_mut(&slot) {
            Some(f) if f.persist => {
                // A write open holds the exclusive lock, so it is the only live writer: the
                // driver sets nprocdebug to 1, healing counts that dead writers left.
                if mode == Mode::ReadWrite {
                    f.stale_writers = 0;
                }
            }
            _ => {
                self.reap(slot);
                return (Outcome::NotFound, None);
            }
        }
        let id = self.add_open(Open { proc, slot, mode });
        (Outcome::Ok, Some(id))
    }

    /// Flush: a writer's unpublished version becomes the published one.
    pub fn flush(&mut self, id: u64) {
        let Some(o) = self.opens.get(&id).copied() else {
            return;
        };
        if o.mode != Mode::ReadWrite {
            return;
        }
        if let Some(f) = self.files.get_mut(&o.slot) {
            if let Some(w) = f.working.take() {
                f.data = w;
            }
        }
    }

    /// Close: publishes, and the last close of a deleted file frees it.
    pub fn close(&mut self, id: u64) {
        self.flush(id);
        if let Some(o) = self.opens.remove(&id) {
            self.reap(o.slot);
        }
    }

    /// The bytes handle `id` sees: a writer its own unpublished version, everyone else the
    /// published one.
    pub fn view(&self, id: u64) -> Vec<u8> {
        let Some(o) = self.opens.get(&id) else {
            return Vec::new();
        };
        let Some(f) = self.files.get(&o.slot) else {
            return Vec::new();
        };
        match (&f.working, o.mode) {
            (Some(w), Mode::ReadWrite) => w.clone(),
            _ => f.data.clone(),
        }
    }

    /// Write `data` at `at` (zeros fill a gap past the end).
    pub fn write(&mut self, id: u64, at: usize, data: &[u8]) -> Outcome {
        let Some(o) = self.opens.get(&id).copied() else {
            return Outcome::Other("model: no such handle".into());
        };
        if o.mode != Mode::ReadWrite {
            return Outcome::ReadOnly;
        }
        let shadow = self.shadow;
        let Some(f) = self.files.get_mut(&o.slot) else {
            return Outcome::Other("model: open handle without file".into());
        };
        let target = if shadow {
            f.working.get_or_insert_with(|| f.data.clone())
        } else {
            &mut f.data
        };
        if target.len() < at + data.len() {
            target.resize(at + data.len(), 0);
        }
        target[at..at + data.len()].copy_from_slice(data);
        Outcome::Ok
    }

    /// What a read of `len` bytes at `at` through handle `id` returns.
    pub fn read(&self, id: u64, at: usize, len: usize) -> Vec<u8> {
        let v = self.view(id);
        v.get(at.min(v.len())..at.saturating_add(len).min(v.len()))
            .unwrap_or_default()
            .to_vec()
    }

    /// Delete from process `proc`: through its own write handle if it has one; otherwise
    /// refused while another writer holds the slot; the file goes now if nobody has it open.
    pub fn delete(&mut self, proc: usize, slot: u32) -> Outcome {
        let own_writer = self
            .opens_on(slot)
            .any(|o| o.proc == proc && o.mode == Mode::ReadWrite);
        if !own_writer && self.writers_on(slot) > 0 {
            return Outcome::WouldBlock;
        }
        match self.files.get_mut(&slot) {
            Some(f) if f.persist => f.persist = false,
            _ => return Outcome::NotFound,
        }
        self.reap(slot);
        Outcome::Ok
    }

    /// Recover: deleted files nobody has open go; dead writers' counts are reset on slots
    /// nobody holds. Returns how many files went.
    pub fn recover(&mut self) -> u32 {
        let slots: Vec<u32> = self.files.keys().copied().collect();
        let mut removed = 0;
        for slot in slots {
            if self.opens_on(slot).next().is_some() {
                continue;
            }
            if self.files.get(&slot).is_some_and(|f| !f.persist) {
                self.files.remove(&slot);
                removed += 1;
            } else if let Some(f) = self.files.get_mut(&slot) {
                f.stale_writers = 0;
            }
        }
        removed
    }

    /// A process died: its handles vanish without closes; a deleted file it was last to hold
    /// stays until recovered or reaped by a failed open; its write handles leave a stale count.
    pub fn crash(&mut self, proc: usize) {
        let ids: Vec<u64> = self
            .opens
            .iter()
            .filter(|(_, o)| o.proc == proc)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            if let Some(o) = self.opens.remove(&id) {
                if o.mode == Mode::ReadWrite {
                    if let Some(f) = self.files.get_mut(&o.slot) {
                        f.stale_writers += 1;
                        f.working = None;
                    }
                }
            }
        }
    }

    /// The ids of `proc`'s handles.
    pub fn handles_of(&self, proc: usize) -> Vec<u64> {
        self.opens
            .iter()
            .filter(|(_, o)| o.proc == proc)
            .map(|(&id, _)| id)
            .collect()
    }
}

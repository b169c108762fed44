//! The `table_entry` fuzz target's library (`fuzz/fuzz_targets/table_entry.rs`), replayed on
//! stable by `tests/tests/table_entry.rs`: the driver on the mock kernel while a neighbour
//! overwrites the global table, the headers of the data segments and the counters *between*
//! operations of two processes.
//!
//! Two files exist at the start (`h0`, 3000 bytes in one granule; `h1`, 40,000 bytes, grown),
//! made and closed by process A; process B starts too. Then the input is a program, one
//! instruction per byte `b` (its operands are the following bytes; a missing operand reads
//! as 0), `b % 16`:
//!
//! | op | what | operands |
//! |----|------|----------|
//! | 0, 1 | overwrite table bytes | offset (mod the table's 112 bytes), length − 1 (mod 8), the bytes |
//! | 2, 3 | overwrite a data segment | which (mod live data segments, by id), offset (mod 64: both headers and some data), length − 1 (mod 8), the bytes |
//! | 4 | set a counter (`semctl(SETVAL)`) | which (mod counters, by id), value |
//! | 5 | open | bits: slot (2), read-write (1), process (1) |
//! | 6 | seek and read to the end (at most 16 × 4096 bytes) | bits: process (1), handle (rest); position / 256 |
//! | 7 | seek and write | handle byte as for 6; position / 256; length / 8 |
//! | 8 | flush | handle byte |
//! | 9 | close | handle byte |
//! | 10 | view | handle byte |
//! | 11 | list | process |
//! | 12 | recover all | process |
//! | 13 | recover one slot | bits: slot (2), process (1) |
//! | 14 | delete | bits: slot (2), process (1) |
//! | 15 | create; or (bit 3) the process exits or (bit 4 also) is killed, and a new one starts | bits: slot (2), process (1) |
//!
//! Checks, after every instruction: every driver result is clean — success or an error that
//! is neither a logic bug nor an illegal transition (no panic, no hang: the mock never waits;
//! no out-of-bounds access: the mock checks every offset). At the end both processes open,
//! read, write and close every slot, recover and delete, exit; counters a neighbour set are
//! set back to 0 (setting one clears the undo adjustments, so it drifts as processes exit,
//! and the driver takes a counter above 0 for a process attached), and a last
//! process recovers and deletes everything: then no kernel object may be left but segments
//! whose block header an overwrite made unrecognisable (and copies a writer made of them).

use shmfits_core::shm::{Config, CounterId, Driver, Handle, Mode, SlotStatus, Wait};
use shmfits_mock::model::world::name;
use shmfits_mock::{MockKernel, MockProcess};

use crate::driver_ops::{clean, objects_left};

/// Key base of the simulated installation.
pub const KEY_BASE: i32 = 1000;
/// Its slots.
pub const SLOTS: u32 = 4;
type D = Driver<MockProcess, 4>;

struct Proc {
    process: MockProcess,
    driver: Option<D>,
    handles: Vec<Handle>,
}

struct Run {
    kernel: MockKernel,
    procs: [Proc; 2],
    /// Block headers (bytes 0..8) of data segments as overwrites left them.
    unrecognisable: Vec<[u8; 8]>,
    /// Counters whose value was set (see `driver_ops`'s final check: their value drifts).
    set_counters: Vec<CounterId>,
}

fn fresh(kernel: &MockKernel) -> Result<Proc, String> {
    let process = kernel.spawn();
    let driver = D::new(process.clone(), Config::new(KEY_BASE, SLOTS))
        .map_err(|e| format!("Driver::new on a fresh process: {e}"))?;
    Ok(Proc {
        process,
        driver: Some(driver),
        handles: Vec::new(),
    })
}

/// Operand reader: a missing byte reads as 0.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a.to_vec()
    }
}

impl Run {
    fn table(&self) -> Option<shmfits_core::shm::SegmentId> {
        self.kernel.objects().segment_by_key(KEY_BASE).map(|s| s.id)
    }

    fn overwrite_segment(&mut self, which: u8, offset: u8, bytes: &[u8]) {
        let table = self.table();
        let mut live: Vec<_> = self
            .kernel
            .objects()
            .segments
            .into_iter()
            .filter(|s| !s.removed && Some(s.id) != table)
            .collect();
        live.sort_by_key(|s| s.id.0);
        if live.is_empty() {
            return;
        }
        let id = live[usize::from(which) % live.len()].id;
        let offset = usize::from(offset % 64);
        if self.kernel.corrupt_segment(id, offset, bytes).is_ok() && offset < 8 {
            let now = self.kernel.segment_bytes(id).unwrap_or_default();
            if let Some(h) = now.get(..8).and_then(|h| h.try_into().ok()) {
                self.unrecognisable.push(h);
            }
        }
    }

    fn set_counter(&mut self, which: u8, value: u8) {
        let mut counters = self.kernel.objects().counters;
        counters.sort_by_key(|c| c.id.0);
        if counters.is_empty() {
            return;
        }
        let id = counters[usize::from(which) % counters.len()].id;
        if self.kernel.set_counter_value(id, u32::from(value)).is_ok() {
            self.set_counters.push(id);
        }
    }

    fn driver(&mut self, p: usize) -> Result<&mut D, String> {
        self.procs[p]
            .driver
            .as_mut()
            .ok_or_else(|| format!("process {p} has no driver"))
    }

    /// The process and handle a handle byte names.
    fn pick(&self, b: u8) -> Option<(usize, Handle)> {
        let p = usize::from(b & 1);
        let hs = &self.procs[p].handles;
        (!hs.is_empty()).then(|| (p, hs[usize::from(b >> 1) % hs.len()]))
    }

    fn replace(&mut self, p: usize, kill: bool) -> Result<(), String> {
        let proc = &mut self.procs[p];
        if kill {
            self.kernel.kill(proc.process.pid());
            proc.driver = None;
        } else if let Some(d) = proc.driver.take() {
            let r = d.shutdown();
            proc.process.exit();
            clean(&r).map_err(|e| format!("shutdown: {e}"))?;
        }
        self.procs[p] = fresh(&self.kernel)?;
        Ok(())
    }

    /// Carry out one instruction.
    fn instruction(&mut self, op: u8, b: &mut Bytes<'_>) -> Result<(), String> {
        match op % 16 {
            0 | 1 => {
                let offset = usize::from(b.next()) % (28 * SLOTS as usize);
                let len = usize::from(b.next() % 8) + 1;
                let bytes = b.take(len);
                if let Some(t) = self.table() {
                    let _ = self.kernel.corrupt_segment(t, offset, &bytes);
                }
            }
            2 | 3 => {
                let (which, offset) = (b.next(), b.next());
                let len = usize::from(b.next() % 8) + 1;
                let bytes = b.take(len);
                self.overwrite_segment(which, offset, &bytes);
            }
            4 => {
                let (which, value) = (b.next(), b.next());
                self.set_counter(which, value);
            }
            5 => {
                let x = b.next();
                let p = usize::from((x >> 3) & 1);
                let mode = if x & 4 != 0 {
                    Mode::ReadWrite
                } else {
                    Mode::ReadOnly
                };
                let r = self
                    .driver(p)?
                    .open(&name(u32::from(x & 3)), mode, Wait::No);
                clean(&r).map_err(|e| format!("open: {e}"))?;
                if let Ok(h) = r {
                    self.procs[p].handles.push(h);
                }
            }
            6..=10 => {
                let (x, pos, len) = (b.next(), b.next(), b.next());
                let Some((p, h)) = self.pick(x) else {
                    return Ok(());
                };
                let d = self.driver(p)?;
                match op % 16 {
                    6 => {
                        clean(&d.seek(h, u64::from(pos) * 256))
                            .map_err(|e| format!("seek: {e}"))?;
                        let mut buf = [0u8; 4096];
                        for _ in 0..16 {
                            let r = d.read(h, &mut buf);
                            clean(&r).map_err(|e| format!("read: {e}"))?;
                            match r {
                                Ok(n) if n > buf.len() => {
                                    return Err(format!("read {n} bytes into {}", buf.len()))
                                }
                                Ok(0) | Err(_) => break,
                                Ok(_) => {}
                            }
                        }
                    }
                    7 => {
                        let data = vec![len; usize::from(len) * 8 + 1];
                        let r = d
                            .seek(h, u64::from(pos) * 256)
                            .and_then(|()| d.write(h, &data));
                        clean(&r).map_err(|e| format!("write: {e}"))?;
                    }
                    8 => clean(&d.flush(h)).map_err(|e| format!("flush: {e}"))?,
                    9 => {
                        let r = d.close(h);
                        self.procs[p].handles.retain(|x| *x != h);
                        clean(&r).map_err(|e| format!("close: {e}"))?;
                    }
                    _ => clean(&d.view(h)).map_err(|e| format!("view: {e}"))?,
                }
            }
            11 => {
                let p = usize::from(b.next() & 1);
                let mut out = [SlotStatus::EMPTY; SLOTS as usize];
                clean(&self.driver(p)?.list(&mut out)).map_err(|e| format!("list: {e}"))?;
            }
            12 => {
                let p = usize::from(b.next() & 1);
                clean(&self.driver(p)?.recover(None)).map_err(|e| format!("recover: {e}"))?;
            }
            _ => {
                let x = b.next();
                let p = usize::from((x >> 2) & 1);
                let slot = u32::from(x & 3);
                let d = self.driver(p)?;
                match op % 16 {
                    13 => clean(&d.recover_slot(slot)).map_err(|e| format!("recover_slot: {e}"))?,
                    14 => clean(&d.delete(&name(slot))).map_err(|e| format!("delete: {e}"))?,
                    _ if x & 8 != 0 => self.replace(p, x & 16 != 0)?,
                    _ => {
                        let r = d.create(&name(slot));
                        clean(&r).map_err(|e| format!("create: {e}"))?;
                        if let Ok(h) = r {
                            self.procs[p].handles.push(h);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Every operation on every slot once, every result clean.
fn exercise(d: &mut D) -> Result<(), String> {
    let mut out = [SlotStatus::EMPTY; SLOTS as usize];
    clean(&d.list(&mut out)).map_err(|e| format!("list: {e}"))?;
    for slot in 0..SLOTS {
        for mode in [Mode::ReadOnly, Mode::ReadWrite] {
            let r = d.open(&name(slot), mode, Wait::No);
            clean(&r).map_err(|e| format!("open h{slot}: {e}"))?;
            let Ok(h) = r else { continue };
            let mut buf = [0u8; 4096];
            for _ in 0..64 {
                let r = d.read(h, &mut buf);
                clean(&r).map_err(|e| format!("read h{slot}: {e}"))?;
                if matches!(r, Ok(0) | Err(_)) {
                    break;
                }
            }
            if mode == Mode::ReadWrite {
                let r = d.seek(h, 100).and_then(|()| d.write(h, b"fuzz"));
                clean(&r).map_err(|e| format!("write h{slot}: {e}"))?;
                clean(&d.flush(h)).map_err(|e| format!("flush h{slot}: {e}"))?;
            }
            clean(&d.view(h)).map_err(|e| format!("view h{slot}: {e}"))?;
            clean(&d.close(h)).map_err(|e| format!("close h{slot}: {e}"))?;
        }
        clean(&d.recover_slot(slot)).map_err(|e| format!("recover_slot {slot}: {e}"))?;
    }
    clean(&d.recover(None)).map_err(|e| format!("recover: {e}"))?;
    clean(&d.list(&mut out)).map_err(|e| format!("list: {e}"))?;
    Ok(())
}

fn make(d: &mut D, slot: u32, len: usize) -> Result<(), String> {
    let h = d
        .create(&name(slot))
        .map_err(|e| format!("create h{slot}: {e}"))?;
    d.write(h, &vec![b'A'; len])
        .map_err(|e| format!("write h{slot}: {e}"))?;
    d.close(h).map_err(|e| format!("close h{slot}: {e}"))
}

/// Run the program `data`; `Err` names the instruction (by byte offset) or the phase where a
/// check failed.
///
/// # Errors
/// A description of the violated invariant.
pub fn run(data: &[u8]) -> Result<(), String> {
    let kernel = MockKernel::new();
    let mut a = fresh(&kernel)?;
    let d = a.driver.as_mut().ok_or("no driver")?;
    make(d, 0, 3000)?;
    make(d, 1, 40_000)?;
    let b = fresh(&kernel)?;
    let mut run = Run {
        kernel,
        procs: [a, b],
        unrecognisable: Vec::new(),
        set_counters: Vec::new(),
    };
    let mut bytes = Bytes(data);
    while !bytes.0.is_empty() {
        let at = data.len() - bytes.0.len();
        let op = bytes.next();
        run.instruction(op, &mut bytes)
            .map_err(|e| format!("instruction {} at byte {at}: {e}", op % 16))?;
    }
    for p in 0..2 {
        let proc = &mut run.procs[p];
        let mut d = proc.driver.take().ok_or("no driver")?;
        for h in std::mem::take(&mut proc.handles) {
            clean(&d.close(h)).map_err(|e| format!("final close: {e}"))?;
        }
        exercise(&mut d).map_err(|e| format!("final exercise of process {p}: {e}"))?;
        proc.driver = Some(d);
    }
    for p in 0..2 {
        let proc = &mut run.procs[p];
        let mut d = proc.driver.take().ok_or("no driver")?;
        for slot in 0..SLOTS {
            clean(&d.delete(&name(slot))).map_err(|e| format!("final delete: {e}"))?;
        }
        clean(&d.shutdown()).map_err(|e| format!("final shutdown: {e}"))?;
        proc.process.exit();
    }
    for id in &run.set_counters {
        let _ = run.kernel.set_counter_value(*id, 0);
    }
    let last = fresh(&run.kernel)?;
    let mut d = last.driver.ok_or("no driver")?;
    clean(&d.recover(None)).map_err(|e| format!("last recover: {e}"))?;
    for slot in 0..SLOTS {
        clean(&d.delete(&name(slot))).map_err(|e| format!("last delete: {e}"))?;
    }
    clean(&d.recover(None)).map_err(|e| format!("last second recover: {e}"))?;
    clean(&d.shutdown()).map_err(|e| format!("last shutdown: {e}"))?;
    last.process.exit();
    objects_left(&run.kernel, &run.unrecognisable)
}

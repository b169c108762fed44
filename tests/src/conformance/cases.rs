//! The scenarios of the conformance suite, generic over the [`World`].
//!
//! Each one starts processes, runs driver operations in them, kills some, and ends with every
//! file removed and every process gone, so that [`run`](super::run) can assert that nothing
//! is left in the key range. Files are named `shmem://hN` with a different `N` per scenario
//! (the worlds have 16 slots).

use std::fmt::Display;
use std::time::Duration;

use shmfits_core::shm::{Error, Handle, LockState, Mode, RecoverAction, SlotStatus, Wait};

use super::{Drv, Leftover, World};

/// How long the timed waits of the scenarios wait.
const SHORT: Duration = Duration::from_millis(50);

/// Deterministic test bytes.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

fn name(slot: u32) -> String {
    format!("shmem://h{slot}")
}

/// Unwrap `r`, panicking with what was being done and the error's text.
fn ok<T, E: Display>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Write all of `data` at the handle's position.
fn write_handle<W: World>(d: &mut Drv<W::P>, h: Handle, data: &[u8]) {
    let mut done = 0;
    while done < data.len() {
        let n = ok(d.write(h, &data[done..]), "write");
        assert!(n > 0, "write returned 0 at {done} of {}", data.len());
        done += n;
    }
}

/// Read a whole open file from its start.
fn read_handle<W: World>(d: &mut Drv<W::P>, h: Handle) -> Vec<u8> {
    let size = ok(d.size(h), "size");
    let mut buf = vec![0u8; usize::try_from(size).expect("size fits usize")];
    ok(d.seek(h, 0), "seek");
    let mut got = 0;
    while got < buf.len() {
        let n = ok(d.read(h, &mut buf[got..]), "read");
        assert!(n > 0, "read returned 0 at {got} of {size}");
        got += n;
    }
    buf
}

/// Create `shmem://h<slot>` with `data` and close it.
fn write_file<W: World>(d: &mut Drv<W::P>, slot: u32, data: &[u8]) {
    let h = ok(d.create(&name(slot)), "create");
    write_handle::<W>(d, h, data);
    ok(d.close(h), "close after create");
}

/// Open `shmem://h<slot>` read-only without waiting, read it whole, close it.
fn read_file<W: World>(d: &mut Drv<W::P>, slot: u32) -> Vec<u8> {
    let h = ok(
        d.open(&name(slot), Mode::ReadOnly, Wait::No),
        "open read-only",
    );
    let v = read_handle::<W>(d, h);
    ok(d.close(h), "close after read");
    v
}

/// The used slots as `d` lists them.
fn list<W: World>(d: &Drv<W::P>) -> Vec<SlotStatus> {
    let blank = SlotStatus::EMPTY;
    let mut out = [blank; 16];
    let n = ok(d.list(&mut out), "list");
    out.get(..n).expect("list count within the buffer").to_vec()
}

fn status<W: World>(d: &Drv<W::P>, slot: u32) -> SlotStatus {
    list::<W>(d)
        .into_iter()
        .find(|s| s.slot == slot)
        .unwrap_or_else(|| panic!("slot {slot} not listed"))
}

/// The objects in the key range other than the global table (key = key base).
fn objects_besides_table<W: World>(w: &W) -> Vec<Leftover> {
    let base = w.config().key_base;
    w.leftovers()
        .into_iter()
        .filter(|o| {
            !matches!(o, Leftover::Segment { key: Some(k), .. } if *k == base)
                && !matches!(o, Leftover::Process { .. })
        })
        .collect()
}

macro_rules! assert_err {
    ($r:expr, $pat:pat, $what:expr) => {
        match $r {
            Err($pat) => {}
            Err(e) => panic!("{}: expected {}, got error {e}", $what, stringify!($pat)),
            Ok(_) => panic!("{}: expected {}, got success", $what, stringify!($pat)),
        }
    };
}

/// Create, write, read back (whole and at an offset), reopen read-write and change bytes,
/// `Exists` on a second create, remove through a handle, `NotFound` afterwards.
pub fn round_trip<W: World>(w: &mut W) {
    let (pa, mut a) = w.driver();
    let (pb, mut b) = w.driver();
    let data = pattern(10_000, 1);
    let h = ok(a.create("shmem://h1"), "create h1");
    write_handle::<W>(&mut a, h, &data);
    assert_eq!(ok(a.size(h), "size"), 10_000);
    ok(a.seek(h, 100), "seek");
    let mut part = [0u8; 50];
    assert_eq!(ok(a.read(h, &mut part), "read at 100"), 50);
    assert_eq!(&part[..], &data[100..150]);
    ok(a.close(h), "close h1");

    assert_eq!(
        read_file::<W>(&mut b, 1),
        data,
        "h1 read by another process"
    );
    let h = ok(
        b.open("h1", Mode::ReadWrite, Wait::No),
        "open h1 read-write",
    );
    ok(b.seek(h, 5000), "seek");
    write_handle::<W>(&mut b, h, b"XYZ");
    ok(b.close(h), "close h1");
    let mut want = data.clone();
    want[5000..5003].copy_from_slice(b"XYZ");
    assert_eq!(read_file::<W>(&mut a, 1), want, "h1 after the change");

    assert_err!(
        a.create("shmem://h1"),
        Error::Exists { slot: 1 },
        "second create"
    );
    let h = ok(b.open("h1", Mode::ReadWrite, Wait::No), "open h1 to remove");
    ok(b.remove(h), "remove h1");
    assert_err!(
        a.open("shmem://h1", Mode::ReadOnly, Wait::No),
        Error::NotFound { slot: 1 },
        "open after remove"
    );
    assert!(list::<W>(&a).is_empty(), "table not empty after remove");
    w.finish(pa, a);
    w.finish(pb, b);
}

/// Two readers in two processes hold the file at once; a writer is refused
/// (`WouldBlock` without waiting, `TimedOut` with a timeout) until both have closed; then the
/// writer keeps readers out the same way.
pub fn readers_share_writer_excluded<W: World>(w: &mut W) {
    let data = pattern(6000, 2);
    let (pa, mut a) = w.driver();
    write_file::<W>(&mut a, 2, &data);
    let (pb, mut b) = w.driver();
    let (pc, mut c) = w.driver();
    let (pd, mut d) = w.driver();
    let hb = ok(b.open("h2", Mode::ReadOnly, Wait::No), "first reader");
    let hc = ok(c.open("h2", Mode::ReadOnly, Wait::No), "second reader");
    assert_err!(
        d.open("h2", Mode::ReadWrite, Wait::No),
        Error::WouldBlock { slot: 2 },
        "writer while readers are in"
    );
    assert_err!(
        d.open("h2", Mode::ReadWrite, Wait::Timeout(SHORT)),
        Error::TimedOut { slot: 2 },
        "writer with a timeout while readers are in"
    );
    assert_eq!(read_handle::<W>(&mut b, hb), data);
    assert_eq!(read_handle::<W>(&mut c, hc), data);
    ok(b.close(hb), "close first reader");
    assert_err!(
        d.open("h2", Mode::ReadWrite, Wait::No),
        Error::WouldBlock { slot: 2 },
        "writer while one reader is in"
    );
    ok(c.close(hc), "close second reader");
    let hd = ok(
        d.open("h2", Mode::ReadWrite, Wait::No),
        "writer after the readers",
    );
    assert_err!(
        b.open("h2", Mode::ReadOnly, Wait::No),
        Error::WouldBlock { slot: 2 },
        "reader while the writer is in"
    );
    assert_err!(
        b.open("h2", Mode::ReadOnly, Wait::Timeout(SHORT)),
        Error::TimedOut { slot: 2 },
        "reader with a timeout while the writer is in"
    );
    assert_err!(
        c.open("h2", Mode::ReadWrite, Wait::No),
        Error::WouldBlock { slot: 2 },
        "second writer"
    );
    ok(d.close(hd), "close writer");
    assert_eq!(read_file::<W>(&mut b, 2), data);
    ok(a.delete("h2"), "delete h2");
    w.finish(pa, a);
    w.finish(pb, b);
    w.finish(pc, c);
    w.finish(pd, d);
}

/// A reader closes (and another opens) while a third process still reads: neither waits.
pub fn reader_close_does_not_wait<W: World>(w: &mut W) {
    let data = pattern(3000, 3);
    let (pa, mut a) = w.driver();
    write_file::<W>(&mut a, 3, &data);
    let (pb, mut b) = w.driver();
    let (pc, mut c) = w.driver();
    let hb = ok(b.open("h3", Mode::ReadOnly, Wait::No), "reader b");
    let hc = ok(c.open("h3", Mode::ReadOnly, Wait::No), "reader c");
    ok(b.close(hb), "reader b closes while c is in");
    let hb = ok(b.open("h3", Mode::ReadOnly, Wait::No), "reader b again");
    assert_eq!(status::<W>(&a, 3).processes, Some(2));
    ok(c.close(hc), "reader c closes while b is in");
    assert_eq!(read_handle::<W>(&mut b, hb), data);
    ok(b.close(hb), "reader b closes last");
    let s = status::<W>(&a, 3);
    assert_eq!(
        (s.processes, s.lock, s.deleted()),
        (Some(0), LockState::Unlocked, false)
    );
    ok(a.delete("h3"), "delete h3");
    w.finish(pa, a);
    w.finish(pb, b);
    w.finish(pc, c);
}

/// Delete while a reader is in: returns at once, new opens fail with `NotFound`, the reader
/// still reads its file, and its close frees everything.
pub fn delete_while_reader_in<W: World>(w: &mut W) {
    let data = pattern(4000, 4);
    let (pa, mut a) = w.driver();
    write_file::<W>(&mut a, 4, &data);
    let (pb, mut b) = w.driver();
    let hb = ok(b.open("h4", Mode::ReadOnly, Wait::No), "reader");
    ok(a.delete("shmem://h4"), "delete with a reader in");
    assert_err!(
        a.open("h4", Mode::ReadOnly, Wait::No),
        Error::NotFound { slot: 4 },
        "open after delete"
    );
    assert_err!(a.delete("h4"), Error::NotFound { slot: 4 }, "second delete");
    let s = status::<W>(&a, 4);
    assert!(s.deleted(), "listed as deleted: {s:?}");
    assert_eq!((s.processes, s.lock), (Some(1), LockState::ReadLocked));
    assert_eq!(read_handle::<W>(&mut b, hb), data, "reader after delete");
    ok(b.close(hb), "last close");
    assert!(list::<W>(&a).is_empty(), "slot still used after last close");
    let left = objects_besides_table(w);
    assert!(left.is_empty(), "last close left {left:?}");
    assert_err!(
        b.open("h4", Mode::ReadOnly, Wait::No),
        Error::NotFound { slot: 4 },
        "open after free"
    );
    w.finish(pa, a);
    w.finish(pb, b);
}

/// A writer killed in the middle of unflushed writes: the persistent file keeps the last
/// published version, readers get in at once, recovery resets `nprocdebug` and removes the
/// dead writer's shadow, and a second recovery finds nothing.
pub fn writer_crash_keeps_published_version<W: World>(w: &mut W) {
    let v1 = pattern(10_000, 5);
    let (pa, mut a) = w.driver();
    write_file::<W>(&mut a, 5, &v1);
    w.finish(pa, a);

    let (pb, mut b) = w.driver();
    let h = ok(b.open("h5", Mode::ReadWrite, Wait::No), "writer");
    write_handle::<W>(&mut b, h, &pattern(40_000, 50));
    w.kill(pb);
    drop(b);

    let (pc, mut c) = w.driver();
    let s = status::<W>(&c, 5);
    assert_eq!(
        (s.processes, s.lock, s.nprocdebug),
        (Some(0), LockState::Unlocked, 1),
        "after the writer's death"
    );
    assert_eq!(
        read_file::<W>(&mut c, 5),
        v1,
        "published version after crash"
    );
    let report = ok(c.recover(None), "recover");
    assert_eq!(report.removed, 0, "{report:?}");
    assert_eq!(report.repaired, 1, "{report:?}");
    assert!(
        report.orphans_removed >= 1,
        "shadow not removed: {report:?}"
    );
    let again = ok(c.recover(None), "second recover");
    assert_eq!(
        again.repaired + again.removed + again.orphans_removed,
        0,
        "{again:?}"
    );
    assert_eq!(status::<W>(&c, 5).nprocdebug, 0);
    assert_eq!(read_file::<W>(&mut c, 5), v1, "after recover");
    let left = objects_besides_table(w);
    assert_eq!(
        left.len(),
        2,
        "one segment and one counter expected: {left:?}"
    );
    ok(c.delete("h5"), "delete h5");
    w.finish(pc, c);
}

/// A reader killed while it holds the file: its counter increment is undone, its lock
/// released, nothing is repaired or removed, and a writer gets in at once.
pub fn reader_crash_undoes_counter<W: World>(w: &mut W) {
    let data = pattern(5000, 6);
    let (pa, mut a) = w.driver();
    write_file::<W>(&mut a, 6, &data);
    let (pb, mut b) = w.driver();
    let hb = ok(b.open("h6", Mode::ReadOnly, Wait::No), "reader");
    assert_eq!(read_handle::<W>(&mut b, hb), data);
    let s = status::<W>(&a, 6);
    assert_eq!((s.processes, s.lock), (Some(1), LockState::ReadLocked));
    w.kill(pb);
    drop(b);
    let s = status::<W>(&a, 6);
    assert_eq!(
        (s.processes, s.lock, s.nprocdebug),
        (Some(0), LockState::Unlocked, 0),
        "after the reader's death"
    );
    let report = ok(a.recover(None), "recover");
    assert_eq!(
        report.repaired + report.removed + report.orphans_removed,
        0,
        "{report:?}"
    );
    let h = ok(
        a.open("h6", Mode::ReadWrite, Wait::No),
        "writer after the crash",
    );
    assert_eq!(read_handle::<W>(&mut a, h), data);
    ok(a.close(h), "close writer");
    let left = objects_besides_table(w);
    assert_eq!(
        left.len(),
        2,
        "one segment and one counter expected: {left:?}"
    );
    ok(a.delete("h6"), "delete h6");
    w.finish(pa, a);
}

/// Recovery leaves healthy persistent files with nobody attached alone, skips a slot in use,
/// and repairs (keeps) the file of a dead writer.
pub fn recovery_spares_healthy_files<W: World>(w: &mut W) {
    let files = [
        (7, pattern(3000, 7)),
        (8, pattern(9000, 8)),
        (9, pattern(7000, 9)),
    ];
    let (pa, mut a) = w.driver();
    for (slot, data) in &files {
        write_file::<W>(&mut a, *slot, data);
    }
    w.finish(pa, a);
    let (pb, mut b) = w.driver();
    let _writer = ok(b.open("h9", Mode::ReadWrite, Wait::No), "writer of h9");
    w.kill(pb);
    drop(b);
    let (pc, mut c) = w.driver();
    let (pd, mut d) = w.driver();
    let hd = ok(d.open("h8", Mode::ReadOnly, Wait::No), "reader of h8");
    assert_eq!(ok(c.recover_slot(7), "recover h7"), RecoverAction::Healthy);
    assert_eq!(ok(c.recover_slot(8), "recover h8"), RecoverAction::Busy);
    assert!(
        matches!(
            ok(c.recover_slot(9), "recover h9"),
            RecoverAction::Repaired(_)
        ),
        "dead writer's file not repaired"
    );
    ok(d.close(hd), "close reader of h8");
    let report = ok(c.recover(None), "recover all");
    assert_eq!(
        (
            report.repaired,
            report.removed,
            report.orphans_removed,
            report.busy
        ),
        (0, 0, 0, 0),
        "{report:?}"
    );
    for (slot, data) in &files {
        assert_eq!(
            &read_file::<W>(&mut c, *slot),
            data,
            "h{slot} after recover"
        );
        assert_eq!(status::<W>(&c, *slot).nprocdebug, 0);
        ok(c.delete(&name(*slot)), "delete");
    }
    w.finish(pc, c);
    w.finish(pd, d);
}

/// Thousands of small writes grow a file; another process reads it whole once the writer has
/// closed, and only one data segment is left for it.
pub fn growth_by_small_writes<W: World>(w: &mut W) {
    let data = pattern(3000 * 37, 10);
    let (pa, mut a) = w.driver();
    let (pb, mut b) = w.driver();
    let h = ok(a.create("h10"), "create h10");
    for (i, chunk) in data.chunks(37).enumerate() {
        write_handle::<W>(&mut a, h, chunk);
        if i == 1500 {
            ok(a.flush(h), "flush halfway");
            let s = status::<W>(&b, 10);
            assert_eq!(s.size, 1501 * 37, "published size after flush");
            assert_eq!(s.lock, LockState::WriteLocked);
        }
    }
    assert_eq!(ok(a.size(h), "size"), data.len() as u64);
    assert_err!(
        b.open("h10", Mode::ReadOnly, Wait::No),
        Error::WouldBlock { slot: 10 },
        "reader while growing"
    );
    ok(a.close(h), "close h10");
    assert_eq!(
        read_file::<W>(&mut b, 10),
        data,
        "grown file read elsewhere"
    );
    let left = objects_besides_table(w);
    assert_eq!(
        left.len(),
        2,
        "one segment and one counter expected: {left:?}"
    );
    ok(b.delete("h10"), "delete h10");
    w.finish(pa, a);
    w.finish(pb, b);
}

/// `list` shows each used slot with its process count, size, flags, `nprocdebug` and lock
/// state, and follows opens, closes and deletes.
pub fn list_shows_processes_and_locks<W: World>(w: &mut W) {
    let (pa, mut a) = w.driver();
    let (pb, mut b) = w.driver();
    let (pc, mut c) = w.driver();
    let (pd, d) = w.driver();
    let writer = ok(a.create("h0"), "create h0");
    write_handle::<W>(&mut a, writer, &pattern(5000, 11));
    let data = pattern(8000, 12);
    write_file::<W>(&mut b, 1, &data);
    let reader = ok(c.open("h1", Mode::ReadOnly, Wait::No), "reader of h1");

    let l = list::<W>(&d);
    assert_eq!(l.len(), 2, "{l:?}");
    let (s0, s1) = (&l[0], &l[1]);
    assert_eq!(
        (s0.slot, s0.processes, s0.lock, s0.nprocdebug, s0.deleted()),
        (0, Some(1), LockState::WriteLocked, 1, false),
        "{s0:?}"
    );
    assert_eq!(
        (s1.slot, s1.processes, s1.lock, s1.nprocdebug, s1.size),
        (1, Some(1), LockState::ReadLocked, 0, 8000),
        "{s1:?}"
    );
    assert_eq!(s1.attr & 8, 8, "persist flag");
    assert!(s0.corrupt.is_none() && s1.corrupt.is_none());
    ok(a.flush(writer), "flush h0");
    assert_eq!(status::<W>(&d, 0).size, 5000, "size after flush");

    ok(b.delete("h1"), "delete h1 with a reader in");
    assert!(status::<W>(&d, 1).deleted());
    ok(c.close(reader), "last reader of h1");
    ok(a.close(writer), "close h0");
    let l = list::<W>(&d);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(
        (l[0].slot, l[0].processes, l[0].lock, l[0].nprocdebug),
        (0, Some(0), LockState::Unlocked, 0)
    );
    ok(a.delete("h0"), "delete h0");
    assert!(list::<W>(&d).is_empty());
    w.finish(pa, a);
    w.finish(pb, b);
    w.finish(pc, c);
    w.finish(pd, d);
}

/// Two drivers in one process (two lock owners) exclude each other exactly as two
/// processes do.
pub fn two_owners_in_one_process<W: World>(w: &mut W) {
    let p = w.spawn();
    let config = w.config();
    let mut d1: Drv<W::P> = ok(Drv::new(p.platform.clone(), config), "first driver");
    let mut d2: Drv<W::P> = ok(Drv::new(p.platform, config), "second driver");
    let h1 = ok(d1.create("h11"), "create h11");
    write_handle::<W>(&mut d1, h1, &pattern(4000, 13));
    assert_err!(
        d2.open("h11", Mode::ReadOnly, Wait::No),
        Error::WouldBlock { slot: 11 },
        "reader in the same process as the writer"
    );
    assert_err!(
        d2.open("h11", Mode::ReadWrite, Wait::No),
        Error::WouldBlock { slot: 11 },
        "writer in the same process as the writer"
    );
    ok(d1.close(h1), "close writer");
    let h2 = ok(d2.open("h11", Mode::ReadOnly, Wait::No), "reader");
    assert_err!(
        d1.open("h11", Mode::ReadWrite, Wait::No),
        Error::WouldBlock { slot: 11 },
        "writer in the same process as a reader"
    );
    let h1 = ok(d1.open("h11", Mode::ReadOnly, Wait::No), "second reader");
    assert_eq!(read_handle::<W>(&mut d1, h1), read_handle::<W>(&mut d2, h2));
    ok(d1.close(h1), "close");
    ok(d2.close(h2), "close");
    ok(d1.delete("h11"), "delete h11");
    ok(d1.shutdown(), "shutdown first driver");
    ok(d2.shutdown(), "shutdown second driver");
    w.exit(p.pid);
}

/// Flushed writes survive the writer's death, unflushed ones do not (shadow writes); with
/// in-place writes everything written survives.
pub fn flushed_writes_survive_crash<W: World>(w: &mut W) {
    let v1 = pattern(6000, 14);
    let v2 = pattern(20_000, 15);
    let (pa, mut a) = w.driver();
    write_file::<W>(&mut a, 12, &v1);

    let (pb, mut b) = w.driver();
    let h = ok(b.open("h12", Mode::ReadWrite, Wait::No), "writer");
    write_handle::<W>(&mut b, h, &v2);
    ok(b.flush(h), "flush");
    ok(b.seek(h, 0), "seek");
    write_handle::<W>(&mut b, h, &pattern(30_000, 16));
    w.kill(pb);
    drop(b);
    ok(a.recover(None), "recover after shadow writer");
    assert_eq!(
        read_file::<W>(&mut a, 12),
        v2,
        "flushed version after crash"
    );

    let p = w.spawn();
    let config = w
        .config()
        .with_write_mode(shmfits_core::shm::WriteMode::InPlace);
    let mut c: Drv<W::P> = ok(Drv::new(p.platform, config), "in-place driver");
    let h = ok(c.open("h12", Mode::ReadWrite, Wait::No), "in-place writer");
    ok(c.seek(h, 19_000), "seek");
    let tail = pattern(5000, 17);
    write_handle::<W>(&mut c, h, &tail);
    w.kill(p.pid);
    drop(c);
    let report = ok(a.recover(None), "recover after in-place writer");
    assert_eq!(report.removed, 0, "{report:?}");
    let mut want = v2;
    want.truncate(19_000);
    want.extend_from_slice(&tail);
    assert_eq!(
        read_file::<W>(&mut a, 12),
        want,
        "in-place writes after crash"
    );
    ok(a.delete("h12"), "delete h12");
    w.finish(pa, a);
}

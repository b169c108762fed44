//! Each CFITSIO defect the driver fixes (protocol page, last section; issue 3 item 5;
//! issue 5 rows 1–6, 12), shown on the mock kernel. On the mock a wait that would block fails
//! with `WouldBlock` at once, so "succeeds with `Wait::No`" proves "never waits".

mod common;

use common::*;
use shmfits_core::shm::layout::{RawEntry, ATTR_RESIZE, FILE_ID, FILE_ID_DELETED, GRANULE};
use shmfits_core::shm::{
    code, CounterId, Error, LockKind, LockRange, Mode, RecoverAction, SegmentId, SharedMem, Step,
    Wait, WriteMode, MAX_FITS_SIZE,
};
use shmfits_mock::{CallKind, MockKernel};

/// CFITSIO attaches under the exclusive slot lock; simulate its attach step.
fn cfitsio_attach_would_block(kernel: &shmfits_mock::MockKernel, slot: u32) -> bool {
    let p = kernel.spawn();
    let o = p.lock_owner_new().unwrap();
    let r = p.lock(o, LockRange::slot(slot), LockKind::Exclusive, Wait::No);
    p.exit();
    r.is_err()
}

#[test]
fn readers_do_not_serialize_and_writers_are_excluded() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h1", &pattern(3000, 1));
    let mut readers: Vec<_> = (0..4).map(|_| driver(&kernel)).collect();
    let hs: Vec<_> = readers
        .iter_mut()
        .map(|r| {
            r.open("h1", Mode::ReadOnly, Wait::No)
                .expect("reader open never waits")
        })
        .collect();
    // All four are in at once, each reads the whole file.
    for (r, h) in readers.iter_mut().zip(&hs) {
        assert_eq!(read_handle(r, *h), pattern(3000, 1));
    }
    assert_eq!(raw_entry(&kernel, 1).nprocdebug, 0);
    // Writers are excluded: ours, and CFITSIO's attach (exclusive lock).
    let mut w = driver(&kernel);
    assert_eq!(
        w.open("h1", Mode::ReadWrite, Wait::No).unwrap_err(),
        Error::WouldBlock { slot: 1 }
    );
    assert_eq!(
        w.open(
            "h1",
            Mode::ReadWrite,
            Wait::Timeout(core::time::Duration::from_millis(5))
        )
        .unwrap_err(),
        Error::TimedOut { slot: 1 }
    );
    assert!(cfitsio_attach_would_block(&kernel, 1));
    assert_eq!(w.delete("h1"), Ok(()));
    // Close never waits for the other readers (each close succeeds with others still in).
    for (r, h) in readers.iter_mut().zip(hs) {
        r.close(h).expect("close never waits");
    }
    // The last close freed the deleted file.
    assert_eq!(raw_entry(&kernel, 1), RawEntry::CLEARED);
    assert!(kernel.objects().segments.iter().all(|s| s.key == Some(K)));
}

#[test]
fn a_writer_excludes_readers_then_lets_them_in() {
    let (kernel, mut d) = setup();
    let h = d.create("h2").unwrap();
    d.write(h, b"first").unwrap();
    let mut r = driver(&kernel);
    assert_eq!(
        r.open("h2", Mode::ReadOnly, Wait::No).unwrap_err(),
        Error::WouldBlock { slot: 2 }
    );
    d.close(h).unwrap();
    let rh = r.open("h2", Mode::ReadOnly, Wait::No).unwrap();
    assert_eq!(&read_handle(&mut r, rh)[..5], b"first");
    r.close(rh).unwrap();
}

#[test]
fn delete_returns_at_once_and_the_last_close_frees() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h3", b"doomed");
    let mut r = driver(&kernel);
    let rh = r.open("h3", Mode::ReadOnly, Wait::No).unwrap();
    let mut deleter = driver(&kernel);
    deleter
        .delete("h3")
        .expect("delete does not wait for readers");
    assert_eq!(raw_entry(&kernel, 3).attr, ATTR_RESIZE);
    // New opens fail, the reader still reads.
    assert_eq!(
        deleter.open("h3", Mode::ReadOnly, Wait::No).unwrap_err(),
        Error::NotFound { slot: 3 }
    );
    assert_eq!(&read_handle(&mut r, rh)[..6], b"doomed");
    assert!(raw_entry(&kernel, 3).key != -1);
    r.close(rh).unwrap();
    assert_eq!(raw_entry(&kernel, 3), RawEntry::CLEARED);
    let o = kernel.objects();
    assert_eq!(
        o.segments.len(),
        1,
        "only the table is left: {:?}",
        o.segments
    );
    assert!(o.counters.is_empty());
    // Delete while another process writes is refused without waiting.
    make_file(&mut d, "h3", b"again");
    let mut w = driver(&kernel);
    let wh = w.open("h3", Mode::ReadWrite, Wait::No).unwrap();
    assert_eq!(
        deleter.delete("h3").unwrap_err(),
        Error::WouldBlock { slot: 3 }
    );
    w.close(wh).unwrap();
}

#[test]
fn recovery_spares_healthy_closed_files() {
    let (kernel, mut d) = setup();
    for s in 0..5 {
        make_file(
            &mut d,
            &format!("h{s}"),
            &pattern(1000 + s as usize, s as u8),
        );
    }
    // CFITSIO's smem -r removes every slot whose counter is 0: all five here.
    for s in 0..5 {
        let e = raw_entry(&kernel, s);
        let c = kernel
            .objects()
            .counters
            .iter()
            .find(|c| c.id.0 == e.sem)
            .map(|c| c.value);
        assert_eq!(c, Some(0));
    }
    let mut rec = driver(&kernel);
    let rep = rec.recover(None).unwrap();
    assert_eq!(rep.checked, 16);
    assert_eq!(rep.healthy, 16);
    assert_eq!(rep.removed + rep.repaired + rep.orphans_removed, 0);
    for s in 0..5 {
        assert_eq!(read_all(&mut rec, &format!("h{s}")), {
            let mut v = pattern(1000 + s as usize, s as u8);
            v.resize(2880, 0);
            v
        });
    }
    // A file open by a live process is skipped, not touched.
    let mut r = driver(&kernel);
    let h = r.open("h0", Mode::ReadOnly, Wait::No).unwrap();
    assert_eq!(rec.recover_slot(0).unwrap(), RecoverAction::Busy);
    r.close(h).unwrap();
}

#[test]
fn killed_in_place_writer_loses_nothing_and_recover_only_repairs() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h4", b"old contents");
    let wp = kernel.spawn();
    let mut w = D::new(wp.clone(), config().with_write_mode(WriteMode::InPlace)).unwrap();
    let h = w.open("h4", Mode::ReadWrite, Wait::No).unwrap();
    let data = pattern(100_000, 9); // grows the segment
    w.write(h, &data).unwrap();
    assert_eq!(raw_entry(&kernel, 4).nprocdebug, 1);
    assert!(kernel.kill(wp.pid()));
    drop(w);
    // Everything written is there for the next reader, even before any repair.
    let mut r = driver(&kernel);
    assert_eq!(read_all(&mut r, "h4"), data);
    // CFITSIO's recover would delete it (nprocdebug 1 > counter 0); ours repairs the count.
    assert_eq!(
        r.recover_slot(4).unwrap(),
        RecoverAction::Repaired("nprocdebug of a dead writer reset")
    );
    assert_eq!(raw_entry(&kernel, 4).nprocdebug, 0);
    assert_eq!(read_all(&mut r, "h4"), data);
    assert_eq!(r.recover_slot(4).unwrap(), RecoverAction::Healthy);
}

#[test]
fn killed_shadow_writer_leaves_the_last_published_version() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h4", b"version 1");
    let wp = kernel.spawn();
    let mut w = D::new(wp.clone(), config()).unwrap();
    let h = w.open("h4", Mode::ReadWrite, Wait::No).unwrap();
    w.write(h, b"version 2").unwrap();
    w.flush(h).unwrap();
    let published = raw_entry(&kernel, 4);
    // A half-done version 3: header rewritten, data growing, then the writer dies.
    w.seek(h, 0).unwrap();
    w.write(h, b"version 3").unwrap();
    w.write(h, &pattern(70_000, 3)).unwrap();
    assert_eq!(
        raw_entry(&kernel, 4),
        published,
        "nothing published before flush"
    );
    assert!(kernel.kill(wp.pid()));
    drop(w);
    let mut r = driver(&kernel);
    let all = read_all(&mut r, "h4");
    assert_eq!(all.len(), 2880);
    assert_eq!(&all[..9], b"version 2");
    // Its shadow segment is an orphan; recover removes it and nothing else.
    let rep = r.recover(None).unwrap();
    assert_eq!(rep.orphans_removed, 1);
    assert_eq!(rep.repaired, 1, "nprocdebug of the dead writer");
    assert_eq!(kernel.objects().segments.len(), 2);
    assert_eq!(&read_all(&mut r, "h4")[..9], b"version 2");
}

#[test]
fn shadow_writes_are_published_by_flush_and_close() {
    let (kernel, mut d) = setup();
    let h = d.create("h3").unwrap();
    d.write(h, b"one").unwrap();
    let before = raw_entry(&kernel, 3);
    assert_eq!(d.size(h).unwrap(), 2880);
    d.flush(h).unwrap();
    let after = raw_entry(&kernel, 3);
    assert_ne!(after.handle, before.handle);
    // The old segment is gone once the new one is published.
    assert_eq!(kernel.objects().segments.len(), 2);
    d.seek(h, 0).unwrap();
    d.write(h, &pattern(5000, 1)).unwrap();
    assert_eq!(raw_entry(&kernel, 3), after);
    d.close(h).unwrap();
    assert_eq!(raw_entry(&kernel, 3).size, 16 + 5000);
    assert_eq!(kernel.objects().segments.len(), 2);
    let mut r = driver(&kernel);
    assert_eq!(read_all(&mut r, "h3"), pattern(5000, 1));
}

#[test]
fn exit_without_close_keeps_a_persistent_file() {
    for mode in [WriteMode::InPlace, WriteMode::Shadow] {
        let (kernel, mut d) = setup();
        make_file(&mut d, "h5", b"existed before");
        let p = kernel.spawn();
        let mut w = D::new(p.clone(), config().with_write_mode(mode)).unwrap();
        let h = w.open("h5", Mode::ReadWrite, Wait::No).unwrap();
        w.seek(h, 14).unwrap();
        w.write(h, b" and after").unwrap();
        w.flush(h).unwrap();
        w.write(h, b" and unflushed").unwrap();
        assert!(p.exit());
        drop(w);
        let mut r = driver(&kernel);
        let all = read_all(&mut r, "h5");
        assert_eq!(&all[..24], b"existed before and after", "{mode:?}");
        let tail: &[u8] = if mode == WriteMode::InPlace {
            b" and unflushed"
        } else {
            &[0; 14]
        };
        assert_eq!(&all[24..38], tail, "{mode:?}");
    }
}

#[test]
fn growth_is_geometric() {
    for mode in [WriteMode::InPlace, WriteMode::Shadow] {
        let kernel = shmfits_mock::MockKernel::new();
        let mut d = driver_with(&kernel, mode);
        let h = d.create("h6").unwrap();
        let before = kernel.stats();
        let chunk = pattern(1000, 6);
        let n: u64 = 4000; // 4 MB in 1000-byte writes
        for _ in 0..n {
            d.write(h, &chunk).unwrap();
        }
        let after = kernel.stats();
        // Successful creations (a call that finds its key taken moves on to the next key).
        let ok = |s: &shmfits_mock::Stats, k| {
            let c = s.call(k);
            c.calls - c.failures
        };
        let creates = ok(&after, CallKind::SegmentCreate) - ok(&before, CallKind::SegmentCreate);
        let writes = ok(&after, CallKind::Write) - ok(&before, CallKind::Write);
        // CFITSIO reallocates whenever a write crosses a 16 KiB granule: ~244 copies of a
        // growing file here (quadratic). Doubling needs about log2(4 MB / 16 KiB) = 8.
        let cfitsio_reallocs = (n as usize * 1000 + 16 + 8) / GRANULE;
        assert!(cfitsio_reallocs > 200);
        assert!(creates <= 10, "{mode:?}: {creates} segment creations");
        // Copy work: each relocation copies the file in 4 KiB chunks; in total less than
        // twice the final file. In place, each extending write also updates the table.
        let per_write = if mode == WriteMode::InPlace { 2 } else { 1 };
        let copy_writes = writes - n * per_write;
        assert!(
            copy_writes * 4096 < 2 * 4_000_000 + 4096 * 10,
            "{mode:?}: {copy_writes} copy chunks"
        );
        assert_eq!(d.size(h).unwrap(), 4_000_000);
        d.close(h).unwrap();
        let mut r = driver(&kernel);
        let all = read_all(&mut r, "h6");
        assert!(all.chunks(1000).all(|c| c == &chunk[..]));
        // Exactly one data segment is left (old ones removed as the file grew).
        assert_eq!(kernel.objects().segments.len(), 2, "{mode:?}");
    }
}

#[test]
fn size_hint_makes_room_once() {
    for mode in [WriteMode::InPlace, WriteMode::Shadow] {
        let kernel = shmfits_mock::MockKernel::new();
        let mut d = driver_with(&kernel, mode);
        let h = d.create("h8").unwrap();
        d.write(h, b"header").unwrap();
        let size = d.size(h).unwrap();
        d.reserve(h, 4_000_006).unwrap();
        assert_eq!(
            d.size(h).unwrap(),
            size,
            "{mode:?}: a hint does not change the size"
        );
        let creates = |k: &shmfits_mock::MockKernel| {
            let c = k.stats().call(CallKind::SegmentCreate);
            c.calls - c.failures
        };
        let before = creates(&kernel);
        let chunk = pattern(1000, 8);
        for _ in 0..4000 {
            d.write(h, &chunk).unwrap();
        }
        // a hint smaller than the room there is changes nothing
        d.reserve(h, 10).unwrap();
        assert_eq!(
            creates(&kernel),
            before,
            "{mode:?}: no growth after the hint"
        );
        assert!(
            matches!(
                d.reserve(h, MAX_FITS_SIZE as u64 + 1),
                Err(Error::TooLarge { .. })
            ),
            "{mode:?}"
        );
        assert_eq!(d.size(h).unwrap(), 4_000_006);
        d.close(h).unwrap();
        let mut r = driver(&kernel);
        let all = read_all(&mut r, "h8");
        assert_eq!(&all[..6], b"header");
        assert!(all[6..].chunks(1000).all(|c| c == &chunk[..]), "{mode:?}");
        let h = r.open("h8", Mode::ReadOnly, Wait::No).unwrap();
        assert!(
            matches!(r.reserve(h, 8_000_000), Err(Error::ReadOnly { .. })),
            "{mode:?}: a reader cannot reserve"
        );
        r.close(h).unwrap();
    }
}

#[test]
fn sizes_beyond_the_format_are_refused_before_anything_changes() {
    let (kernel, mut d) = setup();
    let h = d.create("h7").unwrap();
    d.write(h, b"keep").unwrap();
    let before = raw_entry(&kernel, 7);
    let segs = kernel.objects().segments.len();
    d.seek(h, MAX_FITS_SIZE as u64 - 2).unwrap();
    let e = d.write(h, b"12345").unwrap_err();
    assert_eq!(
        e,
        Error::TooLarge {
            slot: 7,
            requested: MAX_FITS_SIZE as u64 + 3,
            max: MAX_FITS_SIZE as u64
        }
    );
    assert_eq!(e.code(), code::NORESIZE);
    d.seek(h, u64::MAX - 1).unwrap();
    assert!(matches!(
        d.write(h, b"xyz").unwrap_err(),
        Error::TooLarge { .. }
    ));
    assert_eq!(raw_entry(&kernel, 7), before);
    assert_eq!(kernel.objects().segments.len(), segs);
    assert_eq!(d.size(h).unwrap(), 2880);
    d.close(h).unwrap();
}

#[test]
fn readonly_close_never_deletes_a_persistent_file() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h8", b"stay");
    for _ in 0..3 {
        let h = d.open("h8", Mode::ReadOnly, Wait::No).unwrap();
        d.close(h).unwrap();
    }
    let mut rs: Vec<_> = (0..3).map(|_| driver(&kernel)).collect();
    let hs: Vec<_> = rs
        .iter_mut()
        .map(|r| r.open("h8", Mode::ReadOnly, Wait::No).unwrap())
        .collect();
    for (r, h) in rs.iter_mut().zip(hs) {
        r.close(h).unwrap();
    }
    assert_eq!(&read_all(&mut d, "h8")[..4], b"stay");
}

#[test]
fn write_mode_per_handle() {
    let (kernel, mut d) = setup();
    let h = d.create("h9").unwrap();
    assert_eq!(d.write_mode(h).unwrap(), WriteMode::Shadow);
    d.write(h, b"shadowed").unwrap();
    assert_eq!(raw_entry(&kernel, 9).size, 2896);
    // Switching publishes the pending shadow, then writes go in place.
    d.set_write_mode(h, WriteMode::InPlace).unwrap();
    let published = raw_entry(&kernel, 9);
    d.seek(h, 3000).unwrap();
    d.write(h, b"in place").unwrap();
    let now = raw_entry(&kernel, 9);
    assert_eq!(now.handle, published.handle);
    assert_eq!(now.size, 16 + 3008);
    d.close(h).unwrap();
    let all = read_all(&mut d, "h9");
    assert_eq!(&all[..8], b"shadowed");
    assert_eq!(&all[3000..], b"in place");
}

/// The id field of the file header of the segment slot `s` names.
fn file_id(kernel: &MockKernel, s: u32) -> i32 {
    let e = raw_entry(kernel, s);
    let seg = kernel.segment_bytes(SegmentId(e.handle)).unwrap();
    i32::from_ne_bytes(seg[8..12].try_into().unwrap())
}

#[test]
fn a_held_deleted_file_carries_the_delete_mark() {
    // CFITSIO's open checks the file header's id after it got the lock: a deleted file that
    // readers still hold carries FILE_ID_DELETED so that such an open fails; the readers
    // (which never look at it again) keep reading, and the last close frees the file.
    let (kernel, mut d) = setup();
    make_file(&mut d, "h3", b"doomed");
    assert_eq!(file_id(&kernel, 3), FILE_ID);
    let mut r = driver(&kernel);
    let rh = r.open("h3", Mode::ReadOnly, Wait::No).unwrap();
    d.delete("h3").unwrap();
    assert_eq!(file_id(&kernel, 3), FILE_ID_DELETED);
    assert_eq!(&read_handle(&mut r, rh)[..6], b"doomed");
    // recover finds nothing to repair in a marked, held, deleted file
    let mut rec = driver(&kernel);
    let rep = rec.recover(Some(3)).unwrap();
    assert_eq!((rep.repaired, rep.removed), (0, 0), "{rep:?}");
    r.close(rh).unwrap();
    assert_eq!(raw_entry(&kernel, 3), RawEntry::CLEARED);
}

#[test]
fn a_delete_that_died_before_the_mark_is_finished_by_a_close_or_recover() {
    // The deleter dies between clearing PERSIST and the mark. While readers hold the slot
    // (recover cannot lock it), the first of them to close makes the mark under its lock;
    // with nobody locking but someone attached, recover makes it.
    let (kernel, mut d) = setup();
    make_file(&mut d, "h3", b"doomed");
    let mut r1 = driver(&kernel);
    let mut r2 = driver(&kernel);
    let h1 = r1.open("h3", Mode::ReadOnly, Wait::No).unwrap();
    let h2 = r2.open("h3", Mode::ReadOnly, Wait::No).unwrap();
    let deleter = kernel.spawn();
    deleter.crash_at_step(Some((Step::AfterMarkDeleted, 1)));
    let mut dd = D::new(deleter.clone(), config()).unwrap();
    assert!(dd.delete("h3").is_err(), "killed at the step");
    drop(dd);
    assert_eq!(raw_entry(&kernel, 3).attr, ATTR_RESIZE);
    assert_eq!(file_id(&kernel, 3), FILE_ID, "died before the mark");
    let mut rec = driver(&kernel);
    assert_eq!(rec.recover(Some(3)).unwrap().busy, 1);
    r1.close(h1).unwrap();
    assert_eq!(file_id(&kernel, 3), FILE_ID_DELETED, "marked by the close");
    assert_eq!(&read_handle(&mut r2, h2)[..6], b"doomed");
    r2.close(h2).unwrap();
    assert_eq!(raw_entry(&kernel, 3), RawEntry::CLEARED);

    make_file(&mut d, "h5", b"doomed too");
    let deleter = kernel.spawn();
    deleter.crash_at_step(Some((Step::AfterMarkDeleted, 1)));
    // attached and counted, holding no lock (an open between its attach and its lock)
    let attached = kernel.spawn();
    let _mapping = attached
        .segment_attach(SegmentId(raw_entry(&kernel, 5).handle))
        .unwrap();
    attached
        .counter_add(CounterId(raw_entry(&kernel, 5).sem), 1)
        .unwrap();
    let mut dd = D::new(deleter.clone(), config()).unwrap();
    assert!(dd.delete("h5").is_err(), "killed at the step");
    drop(dd);
    assert_eq!(file_id(&kernel, 5), FILE_ID, "died before the mark");
    let rep = rec.recover(Some(5)).unwrap();
    assert_eq!((rep.repaired, rep.removed), (1, 0), "{rep:?}");
    assert_eq!(file_id(&kernel, 5), FILE_ID_DELETED, "marked by recover");
    let rep = rec.recover(Some(5)).unwrap();
    assert_eq!((rep.healthy, rep.repaired), (1, 0), "{rep:?}");
    assert!(kernel.kill(attached.pid()));
    assert_eq!(rec.recover(Some(5)).unwrap().removed, 1);
    assert_eq!(raw_entry(&kernel, 5), RawEntry::CLEARED);
}

#[test]
fn deleting_a_file_attached_but_unlocked_marks_it() {
    // A process counted on the file but holding no lock (CFITSIO between its attach and its
    // lock): delete cannot free it, so it marks it; the published version of a shadow
    // written through a handle that deleted its own file carries the mark as well.
    let (kernel, mut d) = setup();
    make_file(&mut d, "h3", b"doomed");
    let cf = kernel.spawn();
    let sem = CounterId(raw_entry(&kernel, 3).sem);
    cf.counter_add(sem, 1).unwrap();
    d.delete("h3").unwrap();
    assert_eq!(raw_entry(&kernel, 3).attr, ATTR_RESIZE);
    assert_eq!(file_id(&kernel, 3), FILE_ID_DELETED);
    assert!(kernel.kill(cf.pid()));
    let mut rec = driver(&kernel);
    let rep = rec.recover(Some(3)).unwrap();
    assert_eq!(rep.removed, 1, "{rep:?}");
    assert_eq!(raw_entry(&kernel, 3), RawEntry::CLEARED);

    make_file(&mut d, "h4", b"doomed too");
    let h = d.open("h4", Mode::ReadOnly, Wait::No).unwrap();
    d.close(h).unwrap();
    let mut w = driver_with(&kernel, WriteMode::Shadow);
    let wh = w.open("h4", Mode::ReadWrite, Wait::No).unwrap();
    w.write(wh, &pattern(40_000, 4)).unwrap();
    let published = raw_entry(&kernel, 4).handle;
    w.delete("h4").unwrap();
    let cf = kernel.spawn();
    cf.counter_add(CounterId(raw_entry(&kernel, 4).sem), 1)
        .unwrap();
    w.close(wh).unwrap();
    let e = raw_entry(&kernel, 4);
    assert_ne!(e.handle, published, "the shadow was published");
    assert_eq!(e.attr, ATTR_RESIZE);
    assert_eq!(file_id(&kernel, 4), FILE_ID_DELETED);
    assert!(kernel.kill(cf.pid()));
    let rep = rec.recover(Some(4)).unwrap();
    assert_eq!(rep.removed, 1, "{rep:?}");
}

#[test]
fn a_stray_delete_mark_on_a_live_file_is_corrupt_and_recover_rewrites_it() {
    // The mark on a file whose entry still says PERSIST is not a delete (a delete clears
    // PERSIST first): the open reports the header as corrupt, recover rewrites it, the data
    // is kept.
    let (kernel, mut d) = setup();
    make_file(&mut d, "h6", b"alive");
    let neighbour = kernel.spawn();
    let m = neighbour
        .segment_attach(SegmentId(raw_entry(&kernel, 6).handle))
        .unwrap();
    neighbour
        .write(&m, 8, &FILE_ID_DELETED.to_ne_bytes())
        .unwrap();
    let mut r = driver(&kernel);
    match r.open("h6", Mode::ReadOnly, Wait::No) {
        Err(Error::Corrupt(c)) => {
            assert_eq!(c.what, "file header id (marked deleted, entry not)");
            assert_eq!(c.slot, 6);
        }
        other => panic!("{other:?}"),
    }
    let rep = r.recover(Some(6)).unwrap();
    assert_eq!((rep.repaired, rep.removed), (1, 0), "{rep:?}");
    assert_eq!(file_id(&kernel, 6), FILE_ID);
    assert_eq!(&read_all(&mut r, "h6")[..5], b"alive");
}

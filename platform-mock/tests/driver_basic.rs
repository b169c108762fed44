//! The driver's basic operations on the mock kernel: create, open, read, write, seek, close,
//! delete, list, two-phase open, table setup, handle states and error codes.

mod common;

use common::*;
use shmfits_core::shm::layout::{RawEntry, ATTR_PERSIST, ATTR_RESIZE, FILE_ID, FITS_OFFSET};
use shmfits_core::shm::{
    code, Config, Driver, Error, LockKind, LockState, Mode, SharedMem, SlotStatus, State, Wait,
};
use shmfits_mock::{MockKernel, MockProcess};

#[test]
fn table_is_created_cleared_and_attached_once() {
    let kernel = MockKernel::new();
    let d = driver(&kernel);
    let bytes = kernel.segment_bytes(table_id(&kernel)).unwrap();
    assert!(bytes.len() >= 28 * 16);
    for s in 0..M {
        assert_eq!(raw_entry(&kernel, s), RawEntry::CLEARED, "slot {s}");
    }
    // A second driver attaches the same table and does not clear it again.
    let mut d1 = d;
    make_file(&mut d1, "h3", b"abc");
    let mut d2 = driver(&kernel);
    assert_eq!(&read_all(&mut d2, "shmem://h3")[..3], b"abc");
    let creates = kernel
        .stats()
        .call(shmfits_mock::CallKind::SegmentCreate)
        .calls;
    let _d3 = driver(&kernel);
    assert_eq!(
        kernel
            .stats()
            .call(shmfits_mock::CallKind::SegmentCreate)
            .calls,
        creates
    );
}

#[test]
fn table_size_mismatch_is_a_clear_error() {
    let kernel = MockKernel::new();
    let _d = driver(&kernel);
    let e = Driver::<MockProcess, 4>::new(kernel.spawn(), Config::new(K, 8)).unwrap_err();
    assert_eq!(
        e,
        Error::TableMismatch {
            expected: 8 * 28,
            actual: 16 * 28
        }
    );
    assert_eq!(e.code(), code::NOTINIT);
    assert!(e.to_string().contains("SHMEM_LIB_MAXSEG"));
}

#[test]
fn bad_configs_are_refused() {
    let kernel = MockKernel::new();
    for (k, m) in [(0, 16), (-5, 16), (i32::MAX - 10, 16), (100, 0)] {
        let e = Driver::<MockProcess, 4>::new(kernel.spawn(), Config::new(k, m)).unwrap_err();
        assert!(matches!(e, Error::BadConfig { .. }), "{k} {m}: {e}");
    }
}

#[test]
fn create_write_close_then_read_back() {
    let (kernel, mut d) = setup();
    let h = d.create("shmem://h2").unwrap();
    assert_eq!(d.state(h), State::WriteLocked);
    assert_eq!(d.size(h).unwrap(), 2880);
    let data = pattern(5000, 7);
    assert_eq!(d.write(h, &data).unwrap(), 5000);
    assert_eq!(d.size(h).unwrap(), 5000);
    assert_eq!(d.position(h).unwrap(), 5000);
    d.close(h).unwrap();
    assert_eq!(d.state(h), State::Free);

    // The wire format: entry and headers as CFITSIO writes them.
    let e = raw_entry(&kernel, 2);
    assert_eq!(e.size, 16 + 5000);
    assert_eq!(e.attr, ATTR_RESIZE | ATTR_PERSIST);
    assert_eq!(e.nprocdebug, 0);
    // Both keys in the data key range K+1 ..= K+3M-1 (the first write moved the file to a
    // new segment under a new key; the counter keeps its key, as with CFITSIO's realloc).
    assert!(e.key > K && e.key < K + 48);
    assert!(e.semkey > K && e.semkey < K + 48);
    let seg = kernel
        .segment_bytes(shmfits_core::shm::SegmentId(e.handle))
        .unwrap();
    assert_eq!(&seg[..4], b"JB\x01\x00");
    assert_eq!(&seg[4..8], &2i32.to_ne_bytes());
    assert_eq!(&seg[8..12], &FILE_ID.to_ne_bytes());
    assert_eq!(&seg[12..16], &2i32.to_ne_bytes());
    assert_eq!(&seg[16..20], &2896i32.to_ne_bytes());
    assert_eq!(&seg[20..24], &(-1i32).to_ne_bytes());
    assert_eq!(&seg[FITS_OFFSET..FITS_OFFSET + 5000], &data[..]);

    let mut r = driver(&kernel);
    assert_eq!(read_all(&mut r, "h2"), data);
}

#[test]
fn read_past_end_and_seek() {
    let (_k, mut d) = setup();
    let h = d.create("h1").unwrap();
    d.write(h, b"0123456789").unwrap();
    d.seek(h, 2).unwrap();
    let mut b = [0u8; 4];
    assert_eq!(d.read(h, &mut b).unwrap(), 4);
    assert_eq!(&b, b"2345");
    // The file is still 2880 bytes long (new file), so this reads zeros up to the end.
    d.seek(h, 2878).unwrap();
    assert_eq!(d.read(h, &mut b).unwrap(), 2);
    assert_eq!(d.read(h, &mut b).unwrap(), 0);
    d.seek(h, 10_000).unwrap();
    assert_eq!(d.read(h, &mut b).unwrap(), 0);
    // Writing past the end extends with zeros.
    d.write(h, b"X").unwrap();
    assert_eq!(d.size(h).unwrap(), 10_001);
    d.close(h).unwrap();
}

#[test]
fn create_existing_and_open_missing() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h4", b"x");
    let e = d.create("h4").unwrap_err();
    assert_eq!(e, Error::Exists { slot: 4 });
    let e = d.open("h5", Mode::ReadOnly, Wait::No).unwrap_err();
    assert_eq!(e, Error::NotFound { slot: 5 });
    assert_eq!(e.code(), code::NOFILE);
    // While another process has it open read-write, create does not wait.
    let mut other = driver(&kernel);
    let h = other.open("h4", Mode::ReadWrite, Wait::No).unwrap();
    assert_eq!(d.create("h4").unwrap_err(), Error::WouldBlock { slot: 4 });
    other.close(h).unwrap();
    // Nothing leaked by the failures.
    assert_eq!(d.open_count(), 0);
}

#[test]
fn names_are_checked_with_cfitsio_code() {
    let (_k, mut d) = setup();
    for name in [
        "h16",
        "h03",
        "h3abc",
        "h 3",
        "h3.fits",
        "h4294967299",
        "",
        "h",
    ] {
        let e = d.open(name, Mode::ReadOnly, Wait::No).unwrap_err();
        assert!(matches!(e, Error::BadName(_)), "{name}");
        assert_eq!(e.code(), code::BADARG);
        assert!(e.to_string().contains(&format!("\"{name}\"")), "{e}");
        assert!(d.create(name).is_err());
    }
    assert_eq!(d.open_count(), 0);
}

#[test]
fn stale_handles_are_refused() {
    let (_k, mut d) = setup();
    let h = d.create("h0").unwrap();
    d.close(h).unwrap();
    assert_eq!(d.close(h).unwrap_err(), Error::BadHandle);
    assert_eq!(d.write(h, b"x").unwrap_err(), Error::BadHandle);
    let h2 = d.open("h0", Mode::ReadOnly, Wait::No).unwrap();
    assert_eq!(h2.index(), h.index());
    assert_eq!(d.size(h).unwrap_err(), Error::BadHandle);
    assert_eq!(d.write(h2, b"x").unwrap_err(), Error::ReadOnly { slot: 0 });
    d.close(h2).unwrap();
}

#[test]
fn two_phase_open() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h6", b"two-phase");
    let p = d.open_start("h6", Mode::ReadOnly).unwrap();
    assert_eq!(p.kind(), LockKind::Shared);
    let platform = d.platform().clone();
    platform
        .lock(p.owner(), p.range(), p.kind(), Wait::No)
        .unwrap();
    let h = d.open_finish(p).unwrap();
    assert_eq!(&read_handle(&mut d, h)[..9], b"two-phase");
    d.close(h).unwrap();

    // Abort releases the lock and the local entry.
    let p = d.open_start("h6", Mode::ReadWrite).unwrap();
    platform
        .lock(p.owner(), p.range(), p.kind(), Wait::No)
        .unwrap();
    d.open_abort(p).unwrap();
    assert_eq!(d.open_count(), 0);
    let mut other = driver(&kernel);
    let h = other.open("h6", Mode::ReadWrite, Wait::No).unwrap();
    other.close(h).unwrap();
}

#[test]
fn local_lock_cycle_is_deadlock_not_hang() {
    let (_k, mut d) = setup();
    let h = d.create("h9").unwrap();
    assert_eq!(
        d.open("h9", Mode::ReadOnly, Wait::Forever).unwrap_err(),
        Error::Deadlock { slot: 9 }
    );
    assert_eq!(
        d.open("h9", Mode::ReadOnly, Wait::No).unwrap_err(),
        Error::WouldBlock { slot: 9 }
    );
    d.close(h).unwrap();
    // Two readers in one driver are fine.
    let a = d.open("h9", Mode::ReadOnly, Wait::Forever).unwrap();
    let b = d.open("h9", Mode::ReadOnly, Wait::Forever).unwrap();
    d.close(a).unwrap();
    d.close(b).unwrap();
}

#[test]
fn list_reports_slots_processes_and_locks() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h1", &pattern(100, 1));
    let w = d.create("h2").unwrap();
    let mut r = driver(&kernel);
    let rh = r.open("h1", Mode::ReadOnly, Wait::No).unwrap();
    let mut out = [SlotStatus::EMPTY; 16];
    let n = d.list(&mut out).unwrap();
    assert_eq!(n, 2);
    assert_eq!(out[0].slot, 1);
    assert_eq!(out[0].size, 2880);
    assert_eq!(out[0].processes, Some(1));
    assert_eq!(out[0].lock, LockState::ReadLocked);
    assert!(!out[0].deleted());
    assert_eq!(out[1].slot, 2);
    assert_eq!(out[1].lock, LockState::WriteLocked);
    assert_eq!(out[1].nprocdebug, 1);
    assert_eq!(out[1].processes, Some(1));
    r.close(rh).unwrap();
    d.close(w).unwrap();
    let n = d.list(&mut out).unwrap();
    assert_eq!(n, 2);
    assert_eq!(out[0].lock, LockState::Unlocked);
    assert_eq!(out[0].processes, Some(0));
    // A short output buffer is filled and no more.
    assert_eq!(d.list(&mut out[..1]).unwrap(), 1);
}

#[test]
fn delete_frees_everything_and_shutdown_removes_the_table() {
    let (kernel, mut d) = setup();
    make_file(&mut d, "h3", &pattern(40_000, 3));
    d.delete("h3").unwrap();
    assert_eq!(raw_entry(&kernel, 3), RawEntry::CLEARED);
    assert_eq!(d.delete("h3").unwrap_err(), Error::NotFound { slot: 3 });
    let h = d.create("h5").unwrap();
    d.write(h, b"open at shutdown").unwrap();
    d.shutdown().unwrap();
    // The file open at shutdown is kept (persistent), so the table stays.
    let mut d = driver(&kernel);
    assert_eq!(&read_all(&mut d, "h5")[..16], b"open at shutdown");
    d.delete("h5").unwrap();
    d.shutdown().unwrap();
    let objects = kernel.objects();
    assert!(objects.segments.is_empty(), "{:?}", objects.segments);
    assert!(objects.counters.is_empty(), "{:?}", objects.counters);
    assert!(objects.locks.is_empty());
}

#[test]
fn delete_through_own_write_handle() {
    let (kernel, mut d) = setup();
    let h = d.create("h7").unwrap();
    d.delete("h7").unwrap();
    assert_eq!(raw_entry(&kernel, 7).attr, ATTR_RESIZE);
    d.close(h).unwrap();
    assert_eq!(raw_entry(&kernel, 7), RawEntry::CLEARED);
}

#[test]
fn error_display_names_slot_and_cause() {
    let (_k, mut d) = setup();
    let e = d.open("h5", Mode::ReadOnly, Wait::No).unwrap_err();
    assert_eq!(e.to_string(), "slot h5: no such file (or deleted)");
    let e: Error<shmfits_mock::MockError> = Error::IllegalTransition {
        from: State::Free,
        to: State::ReadLocked,
    };
    assert_eq!(
        e.to_string(),
        "illegal handle state change: free -> read-locked"
    );
}

#[test]
fn many_handles() {
    let kernel = MockKernel::new();
    let mut d =
        Box::new(Driver::<MockProcess, 1024>::new(kernel.spawn(), Config::new(K, 4)).unwrap());
    let h = d.create("h0").unwrap();
    d.close(h).unwrap();
    // Lock owners are limited to 1024 per process in the mock; 1000 readers fit.
    let hs: Vec<_> = (0..1000)
        .map(|_| d.open("h0", Mode::ReadOnly, Wait::No).unwrap())
        .collect();
    assert_eq!(d.open_count(), 1000);
    for h in hs {
        d.close(h).unwrap();
    }
    const { assert!(Driver::<MockProcess, 1024>::BYTES_PER_HANDLE < 256) };
}

#[test]
fn remove_through_a_handle() {
    let (kernel, mut d) = setup();
    // Read-write handle, nobody else: freed by this close.
    let h = d.create("h2").unwrap();
    d.write(h, b"short-lived").unwrap();
    d.remove(h).unwrap();
    assert_eq!(d.state(h), State::Free);
    assert_eq!(raw_entry(&kernel, 2), RawEntry::CLEARED);
    // Read-only handle with another reader: marked now, freed by the other's close.
    make_file(&mut d, "h3", b"shared");
    let mut other = driver(&kernel);
    let oh = other.open("h3", Mode::ReadOnly, Wait::No).unwrap();
    let h = d.open("h3", Mode::ReadOnly, Wait::No).unwrap();
    d.remove(h).unwrap();
    assert_eq!(raw_entry(&kernel, 3).attr, ATTR_RESIZE);
    assert_eq!(&read_handle(&mut other, oh)[..6], b"shared");
    other.close(oh).unwrap();
    assert_eq!(raw_entry(&kernel, 3), RawEntry::CLEARED);
    assert_eq!(kernel.objects().segments.len(), 1);
}

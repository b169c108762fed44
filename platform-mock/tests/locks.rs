//! Kernel rules for locks: shared/exclusive conflicts between owners in one process and
//! across processes, conversion, partial unlock, waits that never hang, release by owner and
//! by death.

use std::time::Duration;

use shmfits_core::shm::{ErrorKind, LockKind, LockRange, SharedMem, Wait};
use shmfits_mock::{MockErrno, MockKernel};

const S: LockKind = LockKind::Shared;
const X: LockKind = LockKind::Exclusive;

fn range(start: u32, len: u32) -> LockRange {
    LockRange { start, len }
}

#[test]
fn shared_locks_coexist_and_exclusive_excludes_across_processes() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let (oa, ob) = (a.lock_owner_new().unwrap(), b.lock_owner_new().unwrap());
    a.lock(oa, LockRange::slot(2), S, Wait::No).unwrap();
    b.lock(ob, LockRange::slot(2), S, Wait::No).unwrap();
    let e = b.lock(ob, LockRange::slot(2), X, Wait::No).unwrap_err();
    assert_eq!((e.kind, e.errno), (ErrorKind::WouldBlock, MockErrno::Again));
    // b still holds its shared lock after the failed conversion.
    assert_eq!(
        a.lock(oa, LockRange::slot(2), X, Wait::No)
            .unwrap_err()
            .kind,
        ErrorKind::WouldBlock
    );
    // Neighbouring slots are independent.
    b.lock(ob, LockRange::slot(3), X, Wait::No).unwrap();
    a.lock(oa, LockRange::slot(1), X, Wait::No).unwrap();
    b.unlock(ob, LockRange::slot(2)).unwrap();
    a.lock(oa, LockRange::slot(2), X, Wait::No).unwrap();
    // The whole-table range conflicts with any slot lock.
    let oc = b.lock_owner_new().unwrap();
    assert_eq!(
        b.lock(oc, LockRange::all(16), X, Wait::No)
            .unwrap_err()
            .kind,
        ErrorKind::WouldBlock
    );
}

#[test]
fn two_owners_of_one_process_conflict_like_two_processes() {
    let k = MockKernel::new();
    let p = k.spawn();
    let (o1, o2) = (p.lock_owner_new().unwrap(), p.lock_owner_new().unwrap());
    assert_ne!(o1, o2);
    p.lock(o1, LockRange::slot(0), X, Wait::No).unwrap();
    assert_eq!(
        p.lock(o2, LockRange::slot(0), S, Wait::No)
            .unwrap_err()
            .kind,
        ErrorKind::WouldBlock
    );
    p.lock(o1, LockRange::slot(0), S, Wait::No).unwrap();
    p.lock(o2, LockRange::slot(0), S, Wait::No).unwrap();
    assert_eq!(
        p.lock(o1, LockRange::slot(0), X, Wait::No)
            .unwrap_err()
            .kind,
        ErrorKind::WouldBlock
    );
    p.lock_owner_release(o2).unwrap();
    p.lock(o1, LockRange::slot(0), X, Wait::No).unwrap();
}

#[test]
fn waiting_forever_on_one_s_own_process_is_a_deadlock() {
    let k = MockKernel::new();
    let (p, q) = (k.spawn(), k.spawn());
    let (o1, o2) = (p.lock_owner_new().unwrap(), p.lock_owner_new().unwrap());
    let oq = q.lock_owner_new().unwrap();
    p.lock(o1, LockRange::slot(0), X, Wait::No).unwrap();
    let e = p
        .lock(o2, LockRange::slot(0), S, Wait::Forever)
        .unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::Deadlock, MockErrno::Deadlock)
    );
    // Not waiting, or with a timeout, it is the usual refusal.
    assert_eq!(
        p.lock(o2, LockRange::slot(0), S, Wait::No)
            .unwrap_err()
            .kind,
        ErrorKind::WouldBlock
    );
    let e = p
        .lock(
            o2,
            LockRange::slot(0),
            S,
            Wait::Timeout(Duration::from_millis(1)),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TimedOut);
    // Once another process holds part of what is asked for, someone else could release it.
    q.lock(oq, LockRange::slot(1), S, Wait::No).unwrap();
    let e = p.lock(o2, LockRange::all(2), X, Wait::Forever).unwrap_err();
    assert_eq!(e.kind, ErrorKind::WouldBlock);
}

#[test]
fn waits_never_hang() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let (oa, ob) = (a.lock_owner_new().unwrap(), b.lock_owner_new().unwrap());
    a.lock(oa, LockRange::slot(5), X, Wait::Forever).unwrap();
    let e = b
        .lock(ob, LockRange::slot(5), S, Wait::Forever)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::WouldBlock);
    assert!(e.to_string().contains("instead of hanging"), "{e}");
    let e = b
        .lock(
            ob,
            LockRange::slot(5),
            S,
            Wait::Timeout(Duration::from_secs(3600)),
        )
        .unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::TimedOut, MockErrno::TimedOut)
    );
    // An uncontended wait is granted at once.
    b.lock(ob, LockRange::slot(6), X, Wait::Timeout(Duration::ZERO))
        .unwrap();
}

#[test]
fn conversion_and_partial_unlock() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let (oa, ob) = (a.lock_owner_new().unwrap(), b.lock_owner_new().unwrap());
    a.lock(oa, range(0, 10), S, Wait::No).unwrap();
    a.lock(oa, range(4, 2), X, Wait::No).unwrap();
    let spans: Vec<_> = k
        .objects()
        .locks
        .iter()
        .map(|l| (l.start, l.end, l.kind))
        .collect();
    assert_eq!(spans, [(0, 4, S), (4, 6, X), (6, 10, S)]);
    b.lock(ob, range(0, 4), S, Wait::No).unwrap();
    b.lock(ob, range(6, 4), S, Wait::No).unwrap();
    assert!(b.lock(ob, range(5, 1), S, Wait::No).is_err());
    // Unlock the middle of a's range: bytes 4..6 become free, the rest stays shared.
    a.unlock(oa, range(4, 2)).unwrap();
    b.lock(ob, range(4, 2), X, Wait::No).unwrap();
    assert!(b.lock(ob, range(3, 1), X, Wait::No).is_err());
    assert_eq!(k.stats().objects.locks_held, 5);
    // Unlocking what is not held is fine; an empty range is not.
    a.unlock(oa, range(100, 5)).unwrap();
    assert_eq!(
        a.unlock(oa, range(1, 0)).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        a.lock(oa, range(1, 0), S, Wait::No).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    // Ranges up to the end of u32 space work.
    a.lock(oa, range(u32::MAX, u32::MAX), X, Wait::No).unwrap();
}

#[test]
fn owners_are_per_process_and_die_with_release_or_death() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let oa = a.lock_owner_new().unwrap();
    assert_eq!(oa.pid(), a.pid());
    let e = b.lock(oa, LockRange::slot(0), S, Wait::No).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::InvalidArgument, MockErrno::BadF)
    );
    assert_eq!(
        b.lock_owner_release(oa).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    a.lock(oa, LockRange::slot(0), X, Wait::No).unwrap();
    a.lock_owner_release(oa).unwrap();
    for e in [
        a.lock(oa, LockRange::slot(0), S, Wait::No).unwrap_err(),
        a.unlock(oa, LockRange::slot(0)).unwrap_err(),
        a.lock_owner_release(oa).unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
    let ob = b.lock_owner_new().unwrap();
    b.lock(ob, LockRange::slot(0), X, Wait::No).unwrap();
    let oa2 = a.lock_owner_new().unwrap();
    assert_ne!(oa2, oa, "owner numbers are not reused");
    a.lock(oa2, LockRange::slot(1), S, Wait::No).unwrap();
    k.kill(b.pid());
    a.lock(oa2, LockRange::slot(0), X, Wait::No).unwrap();
    assert_eq!(k.stats().objects.lock_owners, 1);
}

//! Kernel rules for counters: exclusive create, never below zero, per-process undo applied
//! (clamped at 0) when the process ends, immediate removal, permissions.

use shmfits_core::shm::{CounterId, ErrorKind, SharedMem};
use shmfits_mock::{MockErrno, MockKernel};

#[test]
fn create_is_exclusive_and_starts_at_zero() {
    let k = MockKernel::new();
    let p = k.spawn();
    let c = p.counter_create(5).unwrap();
    let info = p.counter_info(c).unwrap();
    assert_eq!(
        (info.key, info.value, info.owner_uid, info.mode),
        (Some(5), 0, 1000, 0o600)
    );
    assert_eq!(
        p.counter_create(5).unwrap_err().kind,
        ErrorKind::AlreadyExists
    );
    // Segments and counters have separate key spaces (CFITSIO uses one key for both).
    p.segment_create(5, 10).unwrap();
    assert_eq!(p.counter_find(5).unwrap(), Some(c));
    assert_eq!(p.counter_find(6).unwrap(), None);
    assert_eq!(p.counter_find(0).unwrap(), None);
    // Finding checks no permission (`semget(key, 0, 0)`).
    assert_eq!(k.spawn_as(2000).counter_find(5).unwrap(), Some(c));
    let private = p.counter_create(0).unwrap();
    assert_eq!(p.counter_info(private).unwrap().key, None);
    assert_ne!(p.counter_create(0).unwrap(), private);
}

#[test]
fn never_below_zero_and_failed_changes_change_nothing() {
    let k = MockKernel::new();
    let p = k.spawn();
    let c = p.counter_create(1).unwrap();
    let e = p.counter_add(c, -1).unwrap_err();
    assert_eq!((e.kind, e.errno), (ErrorKind::WouldBlock, MockErrno::Again));
    p.counter_add(c, 3).unwrap();
    assert_eq!(
        p.counter_add(c, -4).unwrap_err().kind,
        ErrorKind::WouldBlock
    );
    assert_eq!(p.counter_info(c).unwrap().value, 3);
    p.counter_add(c, -3).unwrap();
    assert_eq!(p.counter_info(c).unwrap().value, 0);
    assert_eq!(
        p.counter_add(c, 0).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    p.counter_add(c, i16::MAX).unwrap();
    let e = p.counter_add(c, 1).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::LimitReached, MockErrno::Range)
    );
    assert!(e.to_string().contains("SEMVMX"), "{e}");
    assert_eq!(p.counter_info(c).unwrap().value, 32767);
}

#[test]
fn undo_takes_back_each_process_s_changes_when_it_dies() {
    let k = MockKernel::new();
    let (a, b, c) = (k.spawn(), k.spawn(), k.spawn());
    let id = a.counter_create(1).unwrap();
    a.counter_add(id, 2).unwrap();
    b.counter_add(id, 1).unwrap();
    c.counter_add(id, 1).unwrap();
    c.counter_add(id, -1).unwrap(); // c's changes cancel: no undo left
    let undo = k.objects().counter_by_key(1).unwrap().undo.clone();
    assert_eq!(undo, vec![(a.pid(), -2), (b.pid(), -1)]);
    assert!(k.kill(a.pid()));
    assert_eq!(b.counter_info(id).unwrap().value, 1);
    assert!(c.exit());
    assert_eq!(b.counter_info(id).unwrap().value, 1);
    assert!(b.exit());
    assert_eq!(k.spawn().counter_info(id).unwrap().value, 0);
    assert!(
        !k.kill(a.pid()),
        "killing a dead process again does nothing"
    );
}

#[test]
fn undo_is_clamped_at_zero() {
    // b decrements what a incremented; a dies (undo -1 → 0), then b dies (undo +1 → 1):
    // Linux clamps each application, it does not restore a "true" count.
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let id = a.counter_create(1).unwrap();
    a.counter_add(id, 1).unwrap();
    b.counter_add(id, -1).unwrap();
    k.kill(a.pid());
    let o = k.spawn();
    assert_eq!(o.counter_info(id).unwrap().value, 0);
    k.kill(b.pid());
    assert_eq!(o.counter_info(id).unwrap().value, 1);

    // Clamping at zero: value 2 by a, externally reset to 0 → a's undo of -2 stops at 0.
    let id2 = o.counter_create(2).unwrap();
    let d = k.spawn();
    d.counter_add(id2, 2).unwrap();
    o.counter_add(id2, 1).unwrap();
    o.counter_add(id2, -1).unwrap();
    d.counter_add(id2, -2).unwrap();
    o.counter_add(id2, 1).unwrap();
    d.counter_add(id2, 1).unwrap(); // value 2: o +1, d net +1
    o.counter_add(id2, -2).unwrap(); // o's undo now +1, d's -1, value 0
    k.kill(d.pid()); // 0 - 1 clamps to 0
    assert_eq!(o.counter_info(id2).unwrap().value, 0);
    k.kill(o.pid());
    assert_eq!(k.spawn().counter_info(id2).unwrap().value, 1);
}

#[test]
fn set_value_clears_undo() {
    let k = MockKernel::new();
    let p = k.spawn();
    let id = p.counter_create(1).unwrap();
    p.counter_add(id, 5).unwrap();
    k.set_counter_value(id, 1).unwrap();
    assert!(k.objects().counters[0].undo.is_empty());
    k.kill(p.pid());
    assert_eq!(k.spawn().counter_info(id).unwrap().value, 1);
    assert!(k.set_counter_value(id, 40000).is_err());
    assert!(k.set_counter_value(CounterId(999), 1).is_err());
}

#[test]
fn removal_is_immediate_and_forgets_undo() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let id = a.counter_create(1).unwrap();
    a.counter_add(id, 1).unwrap();
    b.counter_remove(id).unwrap();
    for e in [
        b.counter_info(id).unwrap_err(),
        b.counter_add(id, 1).unwrap_err(),
        b.counter_remove(id).unwrap_err(),
    ] {
        assert_eq!(
            (e.kind, e.errno),
            (ErrorKind::NotFound, MockErrno::IdRemoved)
        );
    }
    assert_eq!(b.counter_find(1).unwrap(), None);
    let again = b.counter_create(1).unwrap();
    assert_ne!(again, id);
    k.kill(a.pid()); // a's undo for the old counter is gone with it
    assert_eq!(b.counter_info(again).unwrap().value, 0);
}

#[test]
fn permissions() {
    let k = MockKernel::new();
    let owner = k.spawn_as(1000);
    let other = k.spawn_as(2000);
    let id = owner.counter_create(1).unwrap();
    assert_eq!(
        other.counter_info(id).unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        other.counter_add(id, 1).unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
    assert_eq!(other.counter_remove(id).unwrap_err().errno, MockErrno::Perm);
    owner.set_create_mode(0o644);
    let ro = owner.counter_create(2).unwrap();
    assert_eq!(other.counter_info(ro).unwrap().mode, 0o644);
    assert_eq!(
        other.counter_add(ro, 1).unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
    owner.set_create_mode(0o666);
    let rw = owner.counter_create(3).unwrap();
    other.counter_add(rw, 1).unwrap();
    k.spawn_as(0).counter_remove(rw).unwrap();
}

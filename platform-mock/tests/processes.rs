//! What the kernel does when a process ends, and what a dead process's handle does.

use shmfits_core::shm::{ErrorKind, LockKind, LockRange, SharedMem, Wait};
use shmfits_mock::{MockErrno, MockKernel, ProcessState};

#[test]
fn kill_releases_locks_applies_undo_and_detaches_all_at_once() {
    let k = MockKernel::new();
    let (victim, other) = (k.spawn(), k.spawn());
    let seg = victim.segment_create(1, 100).unwrap();
    let _m1 = victim.segment_attach(seg).unwrap();
    let _m2 = victim.segment_attach(seg).unwrap();
    let keep = other.segment_attach(seg).unwrap();
    let c = victim.counter_create(1).unwrap();
    victim.counter_add(c, 1).unwrap();
    other.counter_add(c, 1).unwrap();
    let (o1, o2) = (
        victim.lock_owner_new().unwrap(),
        victim.lock_owner_new().unwrap(),
    );
    victim
        .lock(o1, LockRange::slot(0), LockKind::Exclusive, Wait::No)
        .unwrap();
    victim
        .lock(o2, LockRange::slot(1), LockKind::Shared, Wait::No)
        .unwrap();
    victim.segment_remove(seg).unwrap();
    let before = k.stats().objects;
    assert_eq!(
        (before.mappings, before.locks_held, before.lock_owners),
        (3, 2, 2)
    );

    assert!(k.kill(victim.pid()));
    assert_eq!(k.process_state(victim.pid()), Some(ProcessState::Killed));
    assert!(!victim.is_alive());
    let after = k.stats().objects;
    assert_eq!(
        (after.mappings, after.locks_held, after.lock_owners),
        (1, 0, 0)
    );
    assert_eq!(other.counter_info(c).unwrap().value, 1);
    assert_eq!(other.segment_info(seg).unwrap().attach_count, 1);
    let oo = other.lock_owner_new().unwrap();
    other
        .lock(oo, LockRange::all(16), LockKind::Exclusive, Wait::No)
        .unwrap();
    // The deferred removal completes with the survivor's detach.
    other.segment_detach(keep).unwrap();
    assert_eq!(k.stats().objects.segments_removed_attached, 0);
}

#[test]
fn a_dead_process_s_calls_all_fail_with_esrch() {
    let k = MockKernel::new();
    let p = k.spawn_as(4242);
    let seg = p.segment_create(1, 10).unwrap();
    let m = p.segment_attach(seg).unwrap();
    let c = p.counter_create(1).unwrap();
    let o = p.lock_owner_new().unwrap();
    assert!(p.exit());
    assert!(!p.exit());
    assert_eq!(k.process_state(p.pid()), Some(ProcessState::Exited));
    let mut buf = [0u8; 1];
    let errors = [
        p.segment_create(2, 10).unwrap_err(),
        p.segment_find(1).unwrap_err(),
        p.segment_info(seg).unwrap_err(),
        p.segment_attach(seg).unwrap_err(),
        p.read(&m, 0, &mut buf).unwrap_err(),
        p.write(&m, 0, &buf).unwrap_err(),
        p.segment_remove(seg).unwrap_err(),
        p.counter_create(2).unwrap_err(),
        p.counter_info(c).unwrap_err(),
        p.counter_add(c, 1).unwrap_err(),
        p.counter_remove(c).unwrap_err(),
        p.lock_owner_new().unwrap_err(),
        p.lock(o, LockRange::slot(0), LockKind::Shared, Wait::No)
            .unwrap_err(),
        p.unlock(o, LockRange::slot(0)).unwrap_err(),
        p.lock_owner_release(o).unwrap_err(),
        p.segment_detach(m).unwrap_err(),
    ];
    for e in errors {
        assert_eq!(
            (e.kind, e.errno),
            (ErrorKind::Other, MockErrno::Srch),
            "{e}"
        );
        assert!(e.to_string().contains("dead"), "{e}");
    }
    assert_eq!(p.current_uid(), 4242);
    // The objects it made survive it.
    let q = k.spawn_as(4242);
    assert_eq!(q.segment_find(1).unwrap(), seg);
    assert_eq!(q.segment_info(seg).unwrap().attach_count, 0);
    assert_eq!(q.counter_info(c).unwrap().value, 0);
}

#[test]
fn pids_are_unique_and_handles_can_be_recovered() {
    let k = MockKernel::new();
    let a = k.spawn();
    let b = k.spawn();
    assert_ne!(a.pid(), b.pid());
    let a2 = k.process(a.pid()).unwrap();
    let seg = a2.segment_create(1, 1).unwrap();
    assert_eq!(a.segment_find(1).unwrap(), seg);
    assert!(k.process(999_999).is_none());
    assert_eq!(k.kill_all(), 2);
    assert_eq!(k.kill_all(), 0);
    assert!(!k.kill(999_999));
    assert_eq!(k.stats().objects.processes_alive, 0);
}

#[test]
fn handles_work_from_several_threads() {
    let k = MockKernel::new();
    let p = k.spawn();
    let seg = p.segment_create(1, 8 * 64).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let q = k.spawn();
            s.spawn(move || {
                let m = q.segment_attach(seg).unwrap();
                for i in 0..64 {
                    q.write(&m, usize::from(t) * 64 + i, &[t]).unwrap();
                }
                q.segment_detach(m).unwrap();
                q.exit();
            });
        }
    });
    let bytes = k.segment_bytes(seg).unwrap();
    for t in 0..8u8 {
        assert!(bytes[usize::from(t) * 64..][..64].iter().all(|&b| b == t));
    }
}

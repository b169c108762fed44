//! `stats()` and `objects()`: what tests use to prove that nothing leaked.

use shmfits_core::shm::{LockKind, LockRange, SharedMem, Wait};
use shmfits_mock::{CallKind, MockKernel};

#[test]
fn calls_failures_and_object_counts() {
    let k = MockKernel::new();
    let p = k.spawn();
    assert!(k.stats().objects.is_clean());
    let seg = p.segment_create(1, 10).unwrap();
    p.segment_create(1, 10).unwrap_err();
    let m = p.segment_attach(seg).unwrap();
    let c = p.counter_create(1).unwrap();
    let o = p.lock_owner_new().unwrap();
    p.lock(o, LockRange::slot(0), LockKind::Shared, Wait::No)
        .unwrap();
    p.lock(o, LockRange::slot(1), LockKind::Shared, Wait::No)
        .unwrap();
    p.lock(o, LockRange::slot(3), LockKind::Exclusive, Wait::No)
        .unwrap();
    let _ = p.mapping_len(&m);

    let s = k.stats();
    let create = s.call(CallKind::SegmentCreate);
    assert_eq!((create.calls, create.failures, create.injected), (2, 1, 0));
    assert_eq!(s.call(CallKind::Lock).calls, 3);
    assert_eq!(s.call(CallKind::MappingLen).calls, 1);
    assert_eq!(s.total().calls, 9);
    assert_eq!(s.total().failures, 1);
    let o_ = s.objects;
    assert_eq!(
        (
            o_.processes_alive,
            o_.segments_live,
            o_.counters,
            o_.lock_owners,
            o_.locks_held,
            o_.mappings
        ),
        (1, 1, 1, 1, 2, 1),
        "slots 0 and 1 merge into one range"
    );
    assert!(!o_.is_clean());

    let objects = k.objects();
    let so = objects.segment_by_key(1).unwrap();
    assert_eq!(
        (so.id, so.size, so.mem_len, so.attach_count, so.removed),
        (seg, 10, 4096, 1, false)
    );
    assert_eq!(so.creator_pid, p.pid());
    assert_eq!(objects.counter_by_key(1).unwrap().id, c);
    assert_eq!(objects.processes[0].mappings, vec![seg]);
    assert_eq!(objects.processes[0].lock_owners, vec![o]);
    assert_eq!(objects.locks.len(), 2);

    p.segment_detach(m).unwrap();
    p.segment_remove(seg).unwrap();
    p.counter_remove(c).unwrap();
    p.lock_owner_release(o).unwrap();
    assert!(k.stats().objects.is_clean());
    assert!(k.objects().segments.is_empty());
}

#[test]
fn call_kinds_are_indexed_and_named() {
    for (i, c) in CallKind::ALL.iter().enumerate() {
        assert_eq!(c.index(), i);
        assert_eq!(c.to_string(), c.name());
    }
    assert_eq!(CallKind::COUNT, 20);
    assert!(!CallKind::MappingId.is_fallible());
    assert!(CallKind::Unlock.is_fallible());
}

//! Fault injection: nth-call rules, per-process rules, seeded random rules that replay
//! identically, and faults that change nothing in the kernel.

use shmfits_core::shm::{ErrorKind, LockKind, LockRange, SharedMem, Wait};
use shmfits_mock::{CallKind, FaultPlan, FaultRule, MockErrno, MockKernel};

#[test]
fn nth_call_fails_once_with_the_chosen_errno_and_changes_nothing() {
    let k = MockKernel::new();
    let p = k.spawn();
    k.set_faults(FaultPlan::new(1).fail_nth(CallKind::SegmentCreate, 3, MockErrno::NoSpace));
    p.segment_create(1, 10).unwrap();
    p.segment_create(2, 10).unwrap();
    let e = p.segment_create(3, 10).unwrap_err();
    assert_eq!(e.call, CallKind::SegmentCreate);
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::LimitReached, MockErrno::NoSpace)
    );
    assert!(e.is_injected());
    assert_eq!(
        e.to_string(),
        "segment_create: ENOSPC (kernel limit reached): injected fault"
    );
    assert_eq!(p.segment_find(3).unwrap_err().kind, ErrorKind::NotFound);
    p.segment_create(3, 10).unwrap();
    let plan = k.faults();
    assert_eq!(plan.fired(), 1);
    assert!(!plan.is_pending());
    assert_eq!(plan.rules()[0].seen, 4);
    let s = k.stats().call(CallKind::SegmentCreate);
    assert_eq!((s.calls, s.failures, s.injected), (4, 1, 1));
}

#[test]
fn every_errno_maps_to_its_kind_through_injection() {
    let k = MockKernel::new();
    let p = k.spawn();
    let id = p.counter_create(1).unwrap();
    for errno in MockErrno::ALL {
        k.set_faults(FaultPlan::new(0).fail_nth(CallKind::CounterAdd, 1, errno));
        let e = p.counter_add(id, 1).unwrap_err();
        assert_eq!((e.errno, e.kind), (errno, errno.kind()));
        assert!(e.to_string().contains(errno.name()));
    }
    assert_eq!(
        p.counter_info(id).unwrap().value,
        0,
        "no injected add took effect"
    );
}

#[test]
fn rules_can_target_one_process_and_infallible_calls_are_never_faulted() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    k.set_faults(
        FaultPlan::new(3)
            .with(
                FaultRule::always(CallKind::LockOwnerNew, MockErrno::TooManyFiles)
                    .in_process(b.pid()),
            )
            .fail_always(CallKind::CurrentUid, MockErrno::Io)
            .fail_always(CallKind::MappingLen, MockErrno::Io),
    );
    a.lock_owner_new().unwrap();
    assert_eq!(
        b.lock_owner_new().unwrap_err().kind,
        ErrorKind::LimitReached
    );
    assert_eq!(
        b.lock_owner_new().unwrap_err().kind,
        ErrorKind::LimitReached
    );
    assert_eq!(b.current_uid(), 1000);
    let m = a.segment_attach(a.segment_create(1, 1).unwrap()).unwrap();
    assert_eq!(a.mapping_len(&m), 4096);
    k.clear_faults();
    b.lock_owner_new().unwrap();
    assert_eq!(k.stats().call(CallKind::CurrentUid).calls, 1);
}

#[test]
fn dead_processes_do_not_advance_countdowns() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    k.kill(a.pid());
    k.set_faults(FaultPlan::new(0).fail_nth(CallKind::SegmentFind, 1, MockErrno::Io));
    assert_eq!(a.segment_find(1).unwrap_err().errno, MockErrno::Srch);
    assert_eq!(b.segment_find(1).unwrap_err().errno, MockErrno::Io);
}

/// Run a fixed workload under random faults and record every outcome.
fn workload(seed: u64) -> Vec<Result<(), MockErrno>> {
    let k = MockKernel::new();
    let plan = CallKind::ALL.iter().fold(FaultPlan::new(seed), |plan, &c| {
        plan.fail_randomly(c, 200, MockErrno::Intr)
    });
    k.set_faults(plan);
    let p = k.spawn();
    let mut out = Vec::new();
    for i in 0..200 {
        let r = match i % 4 {
            0 => p.segment_create(i, 10).map(drop),
            1 => p.counter_create(i).map(drop),
            2 => p
                .lock_owner_new()
                .and_then(|o| p.lock(o, LockRange::slot(i as u32), LockKind::Shared, Wait::No)),
            _ => p.segment_find(i - 3).map(drop),
        };
        out.push(r.map_err(|e| e.errno));
    }
    out
}

#[test]
fn random_faults_replay_identically_from_a_seed() {
    let a = workload(42);
    assert_eq!(a, workload(42));
    let failures = a.iter().filter(|r| *r == &Err(MockErrno::Intr)).count();
    assert!(
        (20..=80).contains(&failures),
        "about 20% of 200 calls, got {failures}"
    );
    assert_ne!(a, workload(43));
}

#[test]
fn probability_zero_never_fires_and_thousand_always_does() {
    let k = MockKernel::new();
    let p = k.spawn();
    k.set_faults(
        FaultPlan::new(9)
            .fail_randomly(CallKind::SegmentFind, 0, MockErrno::Io)
            .fail_randomly(CallKind::CounterCreate, 1000, MockErrno::Io),
    );
    for i in 1..100 {
        assert_eq!(p.segment_find(i).unwrap_err().errno, MockErrno::NoEntry);
        assert_eq!(p.counter_create(i).unwrap_err().errno, MockErrno::Io);
    }
    assert_eq!(k.stats().objects.counters, 0);
}

#[test]
fn xorshift_is_the_published_sequence() {
    // xorshift64* with the 2685821657736338717 multiplier, seed 1.
    let mut r = shmfits_mock::XorShift64Star::new(1);
    let first = r.next_u64();
    assert_eq!(first, 5180492295206395165);
    assert_ne!(r.next_u64(), first);
    assert_eq!(shmfits_mock::XorShift64Star::new(0).below(0), 0);
}

#[test]
fn a_crashing_rule_kills_the_process_at_that_call() {
    let k = MockKernel::new();
    let (p, q) = (k.spawn(), k.spawn());
    let c = p.counter_create(1).unwrap();
    p.counter_add(c, 1).unwrap();
    let o = p.lock_owner_new().unwrap();
    p.lock(o, LockRange::slot(0), LockKind::Exclusive, Wait::No)
        .unwrap();
    k.set_faults(
        FaultPlan::new(0)
            .with(FaultRule::crash_nth(CallKind::SegmentCreate, 2).in_process(p.pid())),
    );
    q.segment_create(1, 1).unwrap(); // other processes do not count
    p.segment_create(2, 1).unwrap();
    let e = p.segment_create(3, 1).unwrap_err();
    assert_eq!((e.kind, e.errno), (ErrorKind::Other, MockErrno::Srch));
    assert!(e.is_injected());
    assert!(!p.is_alive());
    assert_eq!(q.segment_find(3).unwrap_err().kind, ErrorKind::NotFound);
    // The kernel cleaned up after it.
    assert_eq!(q.counter_info(c).unwrap().value, 0);
    let oq = q.lock_owner_new().unwrap();
    q.lock(oq, LockRange::slot(0), LockKind::Exclusive, Wait::No)
        .unwrap();
    assert_eq!(k.stats().call(CallKind::SegmentCreate).injected, 1);
}

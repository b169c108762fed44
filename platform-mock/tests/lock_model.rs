//! The lock table against a byte-by-byte reference model: random lock, convert and unlock
//! calls by owners in one and in several processes must agree on every grant, every refusal
//! and on who holds what, and the table must stay normalized (no overlap within an owner,
//! touching ranges of one owner and kind merged).

use std::collections::BTreeMap;

use proptest::prelude::*;
use shmfits_core::shm::{LockKind, LockRange, SharedMem, Wait};
use shmfits_mock::{MockKernel, MockLockOwner};

const BYTES: u32 = 16;

#[derive(Clone, Debug)]
enum Op {
    Lock {
        owner: usize,
        start: u32,
        len: u32,
        exclusive: bool,
    },
    Unlock {
        owner: usize,
        start: u32,
        len: u32,
    },
    Release {
        owner: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let range = (0..BYTES, 1..=6u32);
    prop_oneof![
        6 => (0..4usize, range.clone(), any::<bool>())
            .prop_map(|(owner, (start, len), exclusive)| Op::Lock { owner, start, len, exclusive }),
        3 => (0..4usize, range).prop_map(|(owner, (start, len))| Op::Unlock { owner, start, len }),
        1 => (0..4usize).prop_map(|owner| Op::Release { owner }),
    ]
}

/// byte → owner → kind
type Model = BTreeMap<u32, BTreeMap<usize, LockKind>>;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn lock_table_matches_byte_model(ops in proptest::collection::vec(op(), 1..60)) {
        let k = MockKernel::new();
        // Owners 0 and 1 share a process; 2 and 3 have one each.
        let p01 = k.spawn();
        let procs = [p01.clone(), p01, k.spawn(), k.spawn()];
        let mut owners: Vec<MockLockOwner> =
            procs.iter().map(|p| p.lock_owner_new().unwrap()).collect();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Lock { owner, start, len, exclusive } => {
                    let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
                    let end = start + len;
                    let blocked = (start..end).any(|b| {
                        model.get(&b).is_some_and(|h| {
                            h.iter().any(|(&o, &k)| o != owner && (exclusive || k == LockKind::Exclusive))
                        })
                    });
                    let r = procs[owner].lock(owners[owner], LockRange { start, len }, kind, Wait::No);
                    prop_assert_eq!(r.is_err(), blocked, "lock {:?}", op);
                    if !blocked {
                        for b in start..end {
                            model.entry(b).or_default().insert(owner, kind);
                        }
                    }
                }
                Op::Unlock { owner, start, len } => {
                    procs[owner].unlock(owners[owner], LockRange { start, len }).unwrap();
                    for b in start..start + len {
                        if let Some(h) = model.get_mut(&b) {
                            h.remove(&owner);
                        }
                    }
                }
                Op::Release { owner } => {
                    procs[owner].lock_owner_release(owners[owner]).unwrap();
                    owners[owner] = procs[owner].lock_owner_new().unwrap();
                    for h in model.values_mut() {
                        h.remove(&owner);
                    }
                }
            }
            // Compare who holds what, byte by byte.
            let locks = k.objects().locks;
            let mut seen = Model::new();
            for l in &locks {
                let owner = owners.iter().position(|o| *o == l.owner).expect("lock of a live owner");
                for b in l.start..l.end {
                    let prev = seen.entry(u32::try_from(b).unwrap()).or_default().insert(owner, l.kind);
                    prop_assert!(prev.is_none(), "owner {} has overlapping ranges", owner);
                }
            }
            model.retain(|_, h| !h.is_empty());
            prop_assert_eq!(&seen, &model);
            // Normalized: touching ranges of one owner and kind are merged.
            for w in locks.windows(2) {
                prop_assert!(!(w[0].owner == w[1].owner && w[0].kind == w[1].kind && w[0].end >= w[1].start),
                    "unmerged {:?}", w);
            }
        }
    }
}

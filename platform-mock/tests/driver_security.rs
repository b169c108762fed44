//! Objects of other users are neither used nor removed (issue 5 row 10, the parts the core
//! decides): a foreign table is refused, an edited table cannot make a victim remove someone
//! else's semaphore, squatted keys give a clear error instead of a hang.

mod common;

use common::*;
use shmfits_core::shm::{Config, Driver, Error, Mode, SharedMem, Wait};
use shmfits_mock::{MockKernel, MockProcess};

const OTHER: u32 = 2000;

#[test]
fn a_table_of_another_user_is_refused_unless_allowed() {
    let kernel = MockKernel::new();
    let other = kernel.spawn_as(OTHER);
    other.set_create_mode(0o666);
    let mut od = D::new(other, config()).unwrap();
    make_file(&mut od, "h1", b"theirs");
    let e = D::new(kernel.spawn(), config()).unwrap_err();
    assert_eq!(
        e,
        Error::ForeignOwner {
            slot: None,
            what: "global table",
            uid: OTHER
        }
    );
    assert!(e.to_string().contains("uid 2000"), "{e}");
    // Explicitly shared: the table and the file are used.
    let mut d =
        Driver::<MockProcess, 4>::new(kernel.spawn(), config().with_foreign_owners(true)).unwrap();
    let h = d.open("h1", Mode::ReadOnly, Wait::No).unwrap();
    d.close(h).unwrap();
}

#[test]
fn an_edited_table_cannot_make_us_remove_a_foreign_semaphore() {
    let kernel = MockKernel::new();
    let mut d = driver(&kernel);
    make_file(&mut d, "h1", b"mine");
    let attacker = kernel.spawn_as(OTHER);
    attacker.set_create_mode(0o666);
    let their_key = K + 47;
    let their_sem = attacker.counter_create(their_key).unwrap();
    // The attacker edits our entry to name their semaphore.
    let mut e = raw_entry(&kernel, 1);
    let our_sem = e.sem;
    e.sem = their_sem.0;
    set_raw_entry(&kernel, 1, &e);
    // Open refuses: the counter key does not match the entry.
    assert!(matches!(
        d.open("h1", Mode::ReadOnly, Wait::No).unwrap_err(),
        Error::Corrupt(_)
    ));
    // Even with a matching key the owner is checked.
    e.semkey = their_key;
    set_raw_entry(&kernel, 1, &e);
    let err = d.open("h1", Mode::ReadOnly, Wait::No).unwrap_err();
    assert_eq!(
        err,
        Error::ForeignOwner {
            slot: Some(1),
            what: "counter",
            uid: OTHER
        }
    );
    // Recovery reports it and leaves it alone; delete frees our segment and clears the
    // entry but leaves their semaphore.
    assert!(matches!(
        d.recover_slot(1).unwrap_err(),
        Error::ForeignOwner { .. }
    ));
    d.delete("h1").unwrap();
    assert!(attacker.counter_info(their_sem).is_ok());
    let _ = our_sem;
}

#[test]
fn squatted_keys_give_a_clear_error() {
    let kernel = MockKernel::new();
    let mut d = driver(&kernel);
    let squatter = kernel.spawn_as(OTHER);
    for k in K + 1..K + 48 {
        squatter.segment_create(k, 1).unwrap();
    }
    let e = d.create("h2").unwrap_err();
    assert_eq!(e, Error::NoKey { slot: 2 });
    assert_eq!(e.code(), shmfits_core::shm::code::NOMEM);
    assert_eq!(d.open_count(), 0);
    // Recovery does not touch their segments.
    d.recover(None).unwrap();
    assert_eq!(kernel.objects().segments.len(), 48);
    let _ = Config::CFITSIO_DEFAULT;
}

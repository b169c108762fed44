//! Checks shared by the shared-memory fuzz targets (`table_entry`, `names`): each runs real
//! driver code on fuzzed input and relies on the driver's promise — no panic, no hang (the
//! mock never waits), no out-of-bounds access (the mock checks every offset).

use shmfits_core::shm::{parse_name, Config, Driver, Mode, SlotStatus, Wait};
use shmfits_mock::{MockKernel, MockProcess};

const K: i32 = 1000;
const M: u32 = 4;
type D = Driver<MockProcess, 4>;

fn make(d: &mut D, name: &str, len: usize) {
    if let Ok(h) = d.create(name) {
        let _ = d.write(h, &vec![b'A'; len]);
        let _ = d.close(h);
    }
}

/// Exercise every operation on every slot once, ignoring results.
fn exercise(d: &mut D) {
    let mut out = [SlotStatus::EMPTY; 4];
    let _ = d.list(&mut out);
    for slot in 0..M {
        let name = format!("shmem://h{slot}");
        for mode in [Mode::ReadOnly, Mode::ReadWrite] {
            if let Ok(h) = d.open(&name, mode, Wait::No) {
                let mut buf = [0u8; 4096];
                for _ in 0..64 {
                    match d.read(h, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                if mode == Mode::ReadWrite {
                    let _ = d.seek(h, 100);
                    let _ = d.write(h, b"fuzz");
                    let _ = d.flush(h);
                }
                let _ = d.view(h);
                let _ = d.close(h);
            }
        }
        let _ = d.recover_slot(slot);
    }
    let _ = d.recover(None);
    let _ = d.list(&mut out);
}

/// Fuzz the global table (4 entries) and both headers of two data segments, then run
/// open / read / write / list / recover / delete from two processes.
pub fn table_entry(data: &[u8]) {
    let kernel = MockKernel::new();
    let Ok(mut d) = D::new(kernel.spawn(), Config::new(K, M)) else {
        return;
    };
    make(&mut d, "shmem://h0", 3000);
    make(&mut d, "shmem://h1", 40_000);
    let objects = kernel.objects();
    let Some(table) = objects.segment_by_key(K).map(|s| s.id) else {
        return;
    };
    let files: Vec<_> = objects
        .segments
        .iter()
        .filter(|s| s.key.is_some_and(|k| k != K))
        .map(|s| s.id)
        .collect();
    let (t, rest) = data.split_at(data.len().min(28 * M as usize));
    let _ = kernel.corrupt_segment(table, 0, t);
    let mut rest = rest;
    for id in files {
        let (h, r) = rest.split_at(rest.len().min(24));
        let _ = kernel.corrupt_segment(id, 0, h);
        rest = r;
    }
    // a counter value from the input, like a neighbour's semctl(SETVAL)
    if let (Some(&v), Some(c)) = (rest.first(), kernel.objects().counters.first()) {
        let _ = kernel.set_counter_value(c.id, u32::from(v));
    }
    exercise(&mut d);
    if let Ok(mut other) = D::new(kernel.spawn(), Config::new(K, M)) {
        exercise(&mut other);
        for slot in 0..M {
            let _ = other.delete(&format!("shmem://h{slot}"));
        }
        let _ = other.shutdown();
    }
    let _ = d.shutdown();
}

/// Fuzz names: parse against a slot count from the first byte; an accepted name must name a
/// slot below the count, and its canonical form must parse to the same slot.
pub fn names(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let slots = u32::from(n) + 1;
    let Ok(s) = core::str::from_utf8(rest) else {
        return;
    };
    if let Ok(name) = parse_name(s, slots) {
        assert!(name.slot < slots, "{s:?} gave slot {} of {slots}", name.slot);
        let canon = format!("shmem://h{}", name.slot);
        let again = parse_name(&canon, slots).expect("canonical name parses");
        assert_eq!(again.slot, name.slot);
        let bare = format!("h{}", name.slot);
        assert_eq!(parse_name(&bare, slots).map(|n| n.slot).ok(), Some(name.slot));
    }
}

//! Checks of the `names` fuzz target. (`table_entry`'s live in `shmfits_tests::table_entry`,
//! where the stable replay test `tests/tests/table_entry.rs` runs them too.)

use shmfits_core::shm::parse_name;

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
        assert!(
            name.slot < slots,
            "{s:?} gave slot {} of {slots}",
            name.slot
        );
        let canon = format!("shmem://h{}", name.slot);
        let again = parse_name(&canon, slots).expect("canonical name parses");
        assert_eq!(again.slot, name.slot);
        let bare = format!("h{}", name.slot);
        assert_eq!(
            parse_name(&bare, slots).map(|n| n.slot).ok(),
            Some(name.slot)
        );
    }
}

#![no_main]
//! The driver on the mock while the global table, the data segments' headers and the
//! counters are overwritten between operations of two processes; see
//! `shmfits_tests::table_entry`. Replayed on stable by `tests/tests/table_entry.rs`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = shmfits_tests::table_entry::run(data) {
        panic!("{e}\nreplay bytes: {data:?}");
    }
});

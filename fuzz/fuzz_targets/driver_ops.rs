#![no_main]
//! Driver operation sequences (process, operation, injected fault or crash, corruption of
//! shared memory) on the mock kernel, checked against the mock's reference model; see
//! `shmfits_tests::driver_ops`. Replayed on stable by `tests/tests/driver_ops.rs`.

use libfuzzer_sys::fuzz_target;
use shmfits_tests::driver_ops::{run, Input};

fuzz_target!(|input: Input| {
    if let Err(e) = run(&input) {
        panic!("{e}\nreplay: {input:#?}");
    }
});

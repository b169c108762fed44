#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../shm_checks.rs"]
mod shm_checks;

fuzz_target!(|data: &[u8]| shm_checks::table_entry(data));

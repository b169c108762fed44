//! The conformance suite on System V (issue 4 item 7): every scenario of
//! `shmfits_tests::conformance::cases`, where each process is a real child (this test binary
//! started again to run `conformance_child`) and a crash is `SIGKILL` of that child.
//!
//! Key range of this file: 0x53488000.., one base per scenario (0x100 apart, keys
//! base ..= base + 48); lock files in a temporary directory per scenario.

use shmfits_tests::conformance::unix::{child_main, UnixWorld};

const KEY_BASE: i32 = 0x5348_8000;

/// Not a test of its own: the body of every child process (returns at once otherwise).
#[test]
fn conformance_child() {
    child_main();
}

shmfits_tests::conformance_suite!(|n: i32| UnixWorld::new(
    KEY_BASE + 0x100 * n,
    "conformance_child"
));

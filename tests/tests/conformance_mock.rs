//! The conformance suite on the mock kernel (issue 4 item 7): every scenario of
//! `shmfits_tests::conformance::cases` with simulated processes and `MockKernel::kill`.

use shmfits_tests::conformance::mock::MockWorld;

shmfits_tests::conformance_suite!(|n: i32| MockWorld::with_key_base(60_000 + 100 * n));

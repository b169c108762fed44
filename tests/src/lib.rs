//! Shared helpers of the shmfits scenario, interop and corpus tests.

//! Shared helpers of the shmfits scenario, interop and corpus tests.
//!
//! * [`cfitsio`]: the real CFITSIO library as a test oracle (C programs built at run time).
//! * [`compare`]: our parser's view of a file (the `smem info` report) against CFITSIO's.
//! * [`ipc`]: a test's own CFITSIO key range and the guard that cleans it up.
//! * [`smem`]: the `smem` binary, built on demand.
//! * [`fault`]: the fault campaign's environments, child processes and self-checking files.
//! * [`conformance`]: the generic driver scenarios and the worlds (mock, System V with real
//!   child processes) they run in.
//! * [`driver_ops`]: driver operation sequences from arbitrary bytes on the mock, checked
//!   against the mock's reference model (the `driver_ops` fuzz target's library).
//! * [`table_entry`]: the driver on the mock while the table, segment headers and counters
//!   are overwritten between operations (the `table_entry` fuzz target's library).
#![warn(missing_docs)]

pub mod cfitsio;
pub mod compare;
pub mod conformance;
pub mod driver_ops;
pub mod fault;
pub mod ipc;
pub mod smem;
pub mod table_entry;

/// The committed seed corpus of fuzz target `target` (`fuzz/corpus/<target>/`), sorted, as
/// (path, bytes): what the stable replay tests of the fuzz targets run on every CI build.
///
/// # Panics
/// When the folder or a file cannot be read.
pub fn fuzz_seeds(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f, bytes)
        })
        .collect()
}

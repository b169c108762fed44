//! Helpers shared by the driver tests on the mock kernel.
#![allow(dead_code)]

use shmfits_core::shm::layout::{RawEntry, ENTRY_SIZE};
use shmfits_core::shm::{Config, Driver, Handle, Mode, SegmentId, SharedMem, Wait, WriteMode};
use shmfits_mock::{MockKernel, MockProcess};

/// Key base used by every driver test (the mock has no other users).
pub const K: i32 = 71_000;
/// Slot count.
pub const M: u32 = 16;

pub type D = Driver<MockProcess, 32>;

pub fn config() -> Config {
    Config::new(K, M)
}

/// A kernel and a driver in a new process.
pub fn setup() -> (MockKernel, D) {
    let kernel = MockKernel::new();
    let d = driver(&kernel);
    (kernel, d)
}

/// A driver in a new process of `kernel`.
pub fn driver(kernel: &MockKernel) -> D {
    D::new(kernel.spawn(), config()).expect("driver")
}

/// A driver in a new process of `kernel` with the given write mode.
pub fn driver_with(kernel: &MockKernel, mode: WriteMode) -> D {
    D::new(kernel.spawn(), config().with_write_mode(mode)).expect("driver")
}

/// The global table's segment id.
pub fn table_id(kernel: &MockKernel) -> SegmentId {
    kernel.spawn().segment_find(K).expect("table")
}

/// Raw entry of `slot`, read behind everyone's back.
pub fn raw_entry(kernel: &MockKernel, slot: u32) -> RawEntry {
    let bytes = kernel.segment_bytes(table_id(kernel)).expect("table bytes");
    let off = slot as usize * ENTRY_SIZE;
    let mut b = [0u8; ENTRY_SIZE];
    b.copy_from_slice(&bytes[off..off + ENTRY_SIZE]);
    RawEntry::from_bytes(&b)
}

/// Overwrite the raw entry of `slot`.
pub fn set_raw_entry(kernel: &MockKernel, slot: u32, e: &RawEntry) {
    kernel
        .corrupt_segment(table_id(kernel), slot as usize * ENTRY_SIZE, &e.to_bytes())
        .expect("corrupt table");
}

/// Create `name` with `data` and close it.
pub fn make_file(d: &mut D, name: &str, data: &[u8]) {
    let h = d.create(name).expect("create");
    d.write(h, data).expect("write");
    d.close(h).expect("close");
}

/// Read the whole file through a fresh read-only open.
pub fn read_all(d: &mut D, name: &str) -> Vec<u8> {
    let h = d.open(name, Mode::ReadOnly, Wait::No).expect("open");
    let v = read_handle(d, h);
    d.close(h).expect("close");
    v
}

pub fn read_handle(d: &mut D, h: Handle) -> Vec<u8> {
    let n = d.size(h).expect("size") as usize;
    let mut v = vec![0u8; n];
    d.seek(h, 0).expect("seek");
    let got = d.read(h, &mut v).expect("read");
    assert_eq!(got, n);
    v
}

/// Deterministic test bytes.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

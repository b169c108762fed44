//! Shared by this crate's System V test binaries (`mod support;`): a small FITS file, a test's
//! own key range and lock directory, and the guard that removes every segment and semaphore under those keys
//! that belongs to us — at start (what a killed earlier run left) and on drop, also when the
//! test fails. Each test passes its own key base, so tests running in parallel never share a
//! key range.
#![allow(dead_code)] // each test binary uses its own part of this

use std::path::Path;

use shmfits_core::fits::HeaderBuilder;
use shmfits_core::shm::SharedMem;
use shmfits_unix::{Config, Shm, SysV};

/// A FITS file: primary image BITPIX 16, NAXIS1 = 4 with `values` (one header and one data
/// block).
pub fn fits_file(values: [i16; 4]) -> Vec<u8> {
    let mut file = vec![0u8; 2 * 2880];
    let mut b = HeaderBuilder::new(&mut file[..2880]);
    b.logical("SIMPLE", true, None).unwrap();
    b.integer("BITPIX", 16, None).unwrap();
    b.integer("NAXIS", 1, None).unwrap();
    b.integer("NAXIS1", 4, None).unwrap();
    b.finish().unwrap();
    for (i, v) in values.iter().enumerate() {
        file[2880 + 2 * i..2880 + 2 * i + 2].copy_from_slice(&v.to_be_bytes());
    }
    file
}

/// Slots of every test table (`h0` … `h15`): keys `base ..= base + 48`.
pub const SLOTS: u32 = 16;

/// The platform configuration for key base `base` and lock directory `dir`.
pub fn config(base: i32, dir: &Path) -> Config {
    Config {
        key_base: base,
        slots: SLOTS,
        lock_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

/// A test's key range and lock directory; cleans the range up on creation and on drop.
pub struct Cleanup {
    /// The platform used for cleaning up.
    pub sysv: SysV,
    /// The key base.
    pub base: i32,
    /// The lock directory (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Cleanup {
    /// The range at `base`, with a fresh lock directory.
    pub fn new(base: i32) -> Cleanup {
        let dir = tempfile::tempdir().unwrap();
        let sysv = SysV::new(config(base, dir.path())).unwrap();
        let c = Cleanup { sysv, base, dir };
        c.run();
        c
    }

    /// The configuration of this range.
    pub fn config(&self) -> Config {
        config(self.base, self.dir.path())
    }

    /// A new `Shm` on this range (a separate driver, as another part of a process would have).
    pub fn shm(&self) -> Shm {
        Shm::new(self.config()).unwrap()
    }

    /// Remove every segment and counter under the range's keys that we own.
    pub fn run(&self) {
        let p = &self.sysv;
        let me = p.current_uid();
        for key in self.base..=self.base + 3 * SLOTS as i32 {
            if let Ok(id) = p.segment_find(key) {
                if p.segment_info(id).is_ok_and(|i| i.owner_uid == me) {
                    let _ = p.segment_remove(id);
                }
            }
            if let Ok(Some(id)) = p.counter_find(key) {
                if p.counter_info(id).is_ok_and(|i| i.owner_uid == me) {
                    let _ = p.counter_remove(id);
                }
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

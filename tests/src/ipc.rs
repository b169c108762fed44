//! System V objects that CFITSIO's `shmem://` driver makes under a test's own key base, and a
//! guard that removes exactly those (and the lock file) when the test ends, even on failure.
//!
//! CFITSIO takes its key base `K` and slot count `M` from `SHMEM_LIB_KEYBASE` and
//! `SHMEM_LIB_MAXSEG`; it uses keys `K` (global table) to `K + 3M` (data segments and their
//! semaphores) and the lock file `/tmp/.shmem-lockfile.K.M` (always in `/tmp`). Every test
//! passes [`CfitsioKeys::env`] to the CFITSIO processes it starts, with a key base of its own,
//! so it never sees or touches CFITSIO's default keys or another test's objects.

use std::path::PathBuf;
use std::process::Command;

/// One test's CFITSIO key range; removes every object in it when dropped.
#[derive(Debug)]
pub struct CfitsioKeys {
    keybase: i32,
    maxseg: i32,
}

/// A System V object found in a key range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcObject {
    /// `'m'` for a shared-memory segment, `'s'` for a semaphore set.
    pub class: char,
    /// Its key.
    pub key: i32,
    /// Its id (shmid or semid).
    pub id: i32,
}

impl CfitsioKeys {
    /// Claims keys `keybase ..= keybase + 3 * maxseg` for one test.
    ///
    /// # Panics
    /// When objects already exist in the range (a previous run left them, or two tests
    /// share a key base): the test must not adopt objects it did not make.
    pub fn new(keybase: i32, maxseg: i32) -> CfitsioKeys {
        assert!(
            keybase > 0 && (1..=85).contains(&maxseg),
            "bad key range {keybase:#x}/{maxseg}"
        );
        let keys = CfitsioKeys { keybase, maxseg };
        let left = keys.objects();
        assert!(
            left.is_empty(),
            "key range {keybase:#x}..={:#x} is already in use: {left:?} \
             (remove them with ipcrm if a previous run of this test left them)",
            keys.last_key()
        );
        keys
    }

    /// The key base.
    pub fn keybase(&self) -> i32 {
        self.keybase
    }

    /// The slot count.
    pub fn maxseg(&self) -> i32 {
        self.maxseg
    }

    fn last_key(&self) -> i32 {
        self.keybase + 3 * self.maxseg
    }

    /// The environment that points CFITSIO at this range.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("SHMEM_LIB_KEYBASE", self.keybase.to_string()),
            ("SHMEM_LIB_MAXSEG", self.maxseg.to_string()),
        ]
    }

    /// CFITSIO's lock file for this range.
    pub fn lock_file(&self) -> PathBuf {
        PathBuf::from(format!(
            "/tmp/.shmem-lockfile.{}.{}",
            self.keybase, self.maxseg
        ))
    }

    /// The segments and semaphore sets whose keys are in this range (from `ipcs`).
    pub fn objects(&self) -> Vec<IpcObject> {
        let mut found = Vec::new();
        for class in ['m', 's'] {
            let Ok(out) = Command::new("ipcs").arg(format!("-{class}")).output() else {
                continue;
            };
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let mut f = line.split_whitespace();
                let (Some(key), Some(id)) = (f.next(), f.next()) else {
                    continue;
                };
                let Some(hex) = key.strip_prefix("0x") else {
                    continue;
                };
                let (Ok(key), Ok(id)) = (u32::from_str_radix(hex, 16), id.parse::<i32>()) else {
                    continue;
                };
                // ipcs prints keys as unsigned; ours are positive i32
                let Ok(key) = i32::try_from(key) else {
                    continue;
                };
                if (self.keybase..=self.last_key()).contains(&key) {
                    found.push(IpcObject { class, key, id });
                }
            }
        }
        found
    }

    /// Removes every object in the range and the lock file; returns what it removed.
    pub fn cleanup(&self) -> Vec<IpcObject> {
        let objects = self.objects();
        for o in &objects {
            let _ = Command::new("ipcrm")
                .arg(format!("-{}", o.class))
                .arg(o.id.to_string())
                .status();
        }
        let _ = std::fs::remove_file(self.lock_file());
        objects
    }
}

impl Drop for CfitsioKeys {
    fn drop(&mut self) {
        self.cleanup();
    }
}

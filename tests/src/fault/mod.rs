//! The fault and security suite's shared parts (issue 5): self-checking file versions
//! ([`content`]), a test's private key range and lock directory with its driver ([`env`](mod@env)),
//! and child processes that can be stopped at a driver step and killed ([`proc`]). The child
//! program itself is `src/bin/fault_child.rs`.

pub mod content;
pub mod env;
pub mod proc;

use std::time::Duration;

use shmfits_core::shm::{Config as DriverConfig, Driver, Mode, Wait};
use shmfits_unix::SysV;

/// The driver every fault test and child uses.
pub type Drv = Driver<SysV, 8>;

/// Reads a whole file; `Err` carries the driver error's text.
///
/// # Errors
/// The first driver error.
pub fn read_file(d: &mut Drv, name: &str, wait: Wait) -> Result<Vec<u8>, String> {
    let h = d
        .open(name, Mode::ReadOnly, wait)
        .map_err(|e| e.to_string())?;
    let r = (|| {
        let size = usize::try_from(d.size(h).map_err(|e| e.to_string())?).unwrap_or(0);
        let mut buf = vec![0u8; size];
        let mut got = 0;
        while got < buf.len() {
            let n = d.read(h, &mut buf[got..]).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("read returned 0 at {got} of {size}"));
            }
            got += n;
        }
        Ok(buf)
    })();
    let closed = d.close(h).map_err(|e| e.to_string());
    let buf = r?;
    closed?;
    Ok(buf)
}

/// Writes `bytes` from offset 0 in `chunk`-byte writes through an open read-write handle.
///
/// # Errors
/// The first driver error.
pub fn write_through(
    d: &mut Drv,
    h: shmfits_core::shm::Handle,
    bytes: &[u8],
    chunk: usize,
) -> Result<(), String> {
    d.seek(h, 0).map_err(|e| e.to_string())?;
    for part in bytes.chunks(chunk.max(1)) {
        let mut done = 0;
        while done < part.len() {
            done += d.write(h, &part[done..]).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The driver for the environment of a child: `SHMEM_LIB_KEYBASE`, `SHMEM_LIB_MAXSEG`,
/// `SHMFITS_LOCK_DIR` (and the test hook's `SHMFITS_TEST_STOP_AT`).
///
/// # Errors
/// Configuration, lock-file or driver errors, as text.
pub fn driver_from_env() -> Result<Drv, String> {
    let config = shmfits_unix::Config::from_env().map_err(|e| e.to_string())?;
    let dc = DriverConfig::new(config.key_base, config.slots);
    let sysv = SysV::new(config).map_err(|e| e.to_string())?;
    Driver::new(sysv, dc).map_err(|e| e.to_string())
}

/// How long a handshake may take before the test gives up (a failure, never an ordering
/// device: every ordering is a line on a pipe).
pub const HANDSHAKE: Duration = Duration::from_secs(60);

/// xorshift64*: the stress test's and its children's deterministic choices from a seed.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// One xorshift64* step: the next 64-bit draw.
    fn step(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The next draw in `0 .. n` (`0` when `n` is 0). The seed must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.step() % n.max(1)
    }

    /// The next `len` bytes (the high byte of each draw). The seed must not be 0.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.step() >> 56) as u8).collect()
    }
}

//! Configuration of a [`crate::MockKernel`]: page size, limits, default identity.

/// The kernel limits the mock enforces. Each one, when reached, fails the call with
/// [`shmfits_core::shm::ErrorKind::LimitReached`] and a detail naming the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `SHMMAX`: largest segment, in bytes (requested size). Bigger: `EINVAL` on Linux; the
    /// mock reports `E2BIG` / `LimitReached` so the driver can tell it from a bad argument.
    pub shmmax: usize,
    /// `SHMALL`: total page-rounded bytes of all segments (live and removed-but-attached).
    /// Reached: `ENOSPC`.
    pub shmall: usize,
    /// `SHMMNI`: number of segments (live and removed-but-attached). Reached: `ENOSPC`.
    pub shmmni: usize,
    /// `SEMMNI`: number of counters. Reached: `ENOSPC`.
    pub semmni: usize,
    /// `SHMSEG`: attachments per process. Reached: `EMFILE`.
    pub max_attachments: usize,
    /// Lock owners per process (open file descriptions of the lock file, `RLIMIT_NOFILE`).
    /// Reached: `EMFILE`.
    pub max_lock_owners: usize,
}

impl Default for Limits {
    /// Small enough that a runaway test fails fast instead of eating the machine's memory:
    /// 64 MiB per segment, 512 MiB in all, 4096 segments and counters, 1024 attachments and
    /// lock owners per process.
    fn default() -> Self {
        Limits {
            shmmax: 64 << 20,
            shmall: 512 << 20,
            shmmni: 4096,
            semmni: 4096,
            max_attachments: 1024,
            max_lock_owners: 1024,
        }
    }
}

/// How a [`crate::MockKernel`] is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MockConfig {
    /// Segment memory is rounded up to a multiple of this (must be at least 1; 0 counts as 1).
    pub page_size: usize,
    /// The kernel limits.
    pub limits: Limits,
    /// The uid of processes made by [`crate::MockKernel::spawn`].
    pub default_uid: u32,
    /// The permission bits processes create objects with until they change them
    /// ([`crate::MockProcess::set_create_mode`]).
    pub default_mode: u32,
}

impl Default for MockConfig {
    /// 4096-byte pages, [`Limits::default`], uid 1000, mode `0o600`.
    fn default() -> Self {
        MockConfig {
            page_size: 4096,
            limits: Limits::default(),
            default_uid: 1000,
            default_mode: 0o600,
        }
    }
}

//! Which System V limit a failed create hit: the errno of `shmget`/`semget` alone cannot
//! tell (`ENOSPC` is `SHMMNI` or `SHMALL`, `SEMMNI` or `SEMMNS`) nor give the numbers, so
//! right after the
//! failure the adapter reads the limits (`/proc/sys/kernel/shm*`, `/proc/sys/kernel/sem`)
//! and what is in use (`/proc/sysvipc/shm`, `/proc/sysvipc/sem`). All of these show the
//! calling process's IPC namespace, the one the call failed in.
//!
//! The answer is attached as [`Detail::Limit`] only when the numbers show that limit
//! reached; otherwise (no `/proc`, or the use changed meanwhile) the error keeps its
//! errno-only name, which lists every limit the errno can mean.

use crate::error::{Call, Detail, Limit, SysError};
use crate::sys;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn sysctl(name: &str) -> Option<u64> {
    read(&format!("/proc/sys/kernel/{name}"))?
        .trim()
        .parse()
        .ok()
}

/// Column `col` (0-based) of every object line of a `/proc/sysvipc` table.
fn column(table: &str, col: usize) -> Option<Vec<u64>> {
    read(&format!("/proc/sysvipc/{table}"))?
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().nth(col)?.parse().ok())
        .collect()
}

/// `err` with the limit found (limit, in use, asked, maximum), or as it is.
fn with_limit(err: SysError, found: Option<(Limit, u64, u64, u64)>) -> SysError {
    match found {
        Some((limit, in_use, asked, max)) => err.with_detail(Detail::Limit {
            limit,
            in_use,
            asked,
            max,
        }),
        None => err,
    }
}

/// `err` (of `shmget` creating `size` bytes) with the limit it hit, when `/proc` shows it.
pub(crate) fn diagnose_shmget(err: SysError, size: usize) -> SysError {
    if err.call() != Call::ShmgetCreate {
        return err;
    }
    let size = size as u64;
    let found = match err.errno() {
        libc::EINVAL => sysctl("shmmax")
            .filter(|max| size > *max)
            .map(|max| (Limit::Shmmax, 0, size, max)),
        libc::ENOSPC => shm_space(size),
        _ => None,
    };
    with_limit(err, found)
}

fn shm_space(size: u64) -> Option<(Limit, u64, u64, u64)> {
    // column 3 of /proc/sysvipc/shm: the size in bytes
    let sizes = column("shm", 3)?;
    let segments = sizes.len() as u64;
    let shmmni = sysctl("shmmni")?;
    if segments >= shmmni {
        return Some((Limit::Shmmni, segments, 1, shmmni));
    }
    let page = sys::page_size()?;
    let pages = |b: u64| b.div_ceil(page);
    let used: u64 = sizes.iter().map(|b| pages(*b)).sum();
    let shmall = sysctl("shmall")?;
    let asked = pages(size);
    (used.saturating_add(asked) > shmall).then_some((Limit::Shmall, used, asked, shmall))
}

/// `err` (of `semget` creating a set of `nsems` semaphores) with the limit it hit, when
/// `/proc` shows it.
pub(crate) fn diagnose_semget(err: SysError, nsems: u64) -> SysError {
    if err.call() != Call::SemgetCreate {
        return err;
    }
    let found = match err.errno() {
        libc::EINVAL => sem_limits()
            .and_then(|sem| sem.first().copied())
            .filter(|semmsl| nsems > *semmsl)
            .map(|semmsl| (Limit::Semmsl, 0, nsems, semmsl)),
        libc::ENOSPC => sem_space(nsems),
        _ => None,
    };
    with_limit(err, found)
}

/// `kernel.sem`: SEMMSL SEMMNS SEMOPM SEMMNI.
fn sem_limits() -> Option<Vec<u64>> {
    read("/proc/sys/kernel/sem")?
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect()
}

fn sem_space(nsems: u64) -> Option<(Limit, u64, u64, u64)> {
    let sem = sem_limits()?;
    let (&semmns, &semmni) = (sem.get(1)?, sem.get(3)?);
    // column 3 of /proc/sysvipc/sem: the number of semaphores of the set
    let sets = column("sem", 3)?;
    let count = sets.len() as u64;
    if count >= semmni {
        return Some((Limit::Semmni, count, 1, semmni));
    }
    let used: u64 = sets.iter().sum();
    (used.saturating_add(nsems) > semmns).then_some((Limit::Semmns, used, nsems, semmns))
}

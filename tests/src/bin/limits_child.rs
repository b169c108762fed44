//! The kernel-limit child of the fault suite (issue 5 row 13). It must run in its own IPC
//! namespace (`unshare --ipc limits_child SCENARIO`): there the System V objects and the
//! limits `kernel.shmmax`, `kernel.shmall`, `kernel.shmmni` and `kernel.sem` are private,
//! start empty and die with the namespace, so lowering them disturbs nobody. It refuses to
//! lower anything unless its IPC namespace differs from `SHMFITS_HOST_IPC_NS` (the test's)
//! and holds no object yet.
//!
//! ```text
//! shmmni    create h1, then kernel.shmmni = the segments that exist (the table and h1):
//!           create h2, grow h1 with a shadow and in place
//! shmall    create h1, then kernel.shmall = the pages in use: create h2, grow h1 (both
//!           ways)
//! shmmax    create h1, then kernel.shmmax = 256 KiB: grow h1 past it with a shadow
//! semmni    kernel.sem SEMMNI = 1: create h1, then create h2
//! semmns    kernel.sem SEMMNS = 1: create h1, then create h2
//! semmsl    create h1, then kernel.sem SEMMSL = 0: create h2
//! table     kernel.shmmni = 0: make the driver (its global table); prints `driver ...` and
//!           `objects ...` only
//! ```
//! Every step prints one line `STEP ok`, `STEP err CODE MESSAGE` (a driver error, CFITSIO
//! code first) or `STEP VALUE`; then `left SEGMENTS SETS` (every object of the namespace),
//! `read ok V` (h1 read back and verified), `recovered REPORT` and `objects SEGMENTS SETS`. A broken precondition prints
//! `error MESSAGE` (status 2); a limit that cannot be lowered prints `skip MESSAGE`
//! (status 3).

use shmfits_core::shm::{Error, Mode, PlatformError, Wait, WriteMode};
use shmfits_tests::fault::{content, driver_from_env, read_file, write_through, Drv};

fn fail(msg: impl std::fmt::Display) -> ! {
    println!("error {msg}");
    std::process::exit(2)
}

fn skip(msg: impl std::fmt::Display) -> ! {
    println!("skip {msg}");
    std::process::exit(3)
}

/// Size of the first version of h1, and of the grown version the limits refuse.
const SMALL: usize = 5000;
const GROWN: usize = 300_000;
/// `kernel.shmmax` of the `shmmax` scenario: above the small file, below the grown one.
const SHMMAX: usize = 256 * 1024;

/// Object lines of `/proc/sysvipc/TABLE` (the namespace's segments or semaphore sets).
fn objects(table: &str) -> usize {
    std::fs::read_to_string(format!("/proc/sysvipc/{table}"))
        .unwrap_or_else(|e| fail(format!("/proc/sysvipc/{table}: {e}")))
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// Pages all segments of the namespace use (what `kernel.shmall` counts).
fn shm_pages() -> u64 {
    let page = std::process::Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or_else(|| fail("getconf PAGESIZE"));
    let text = std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap_or_else(|e| fail(format!("/proc/sysvipc/shm: {e}")));
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
        .map(|b| b.div_ceil(page))
        .sum()
}

/// Refuse to touch any limit unless this is a fresh IPC namespace of our own.
fn check_private_namespace() {
    let mine = std::fs::read_link("/proc/self/ns/ipc")
        .unwrap_or_else(|e| fail(format!("/proc/self/ns/ipc: {e}")));
    let host = std::env::var_os("SHMFITS_HOST_IPC_NS")
        .unwrap_or_else(|| fail("SHMFITS_HOST_IPC_NS not set"));
    if mine.as_os_str() == host {
        fail(format!(
            "still in the test's IPC namespace {}: run me under `unshare --ipc`",
            mine.display()
        ));
    }
    if objects("shm") + objects("sem") != 0 {
        fail("the IPC namespace is not empty");
    }
}

fn set(sysctl: &str, value: &str) {
    let path = format!("/proc/sys/kernel/{sysctl}");
    if let Err(e) = std::fs::write(&path, value) {
        skip(format!("cannot write {value:?} to {path}: {e}"));
    }
    let now = std::fs::read_to_string(&path).unwrap_or_default();
    let want: Vec<&str> = value.split_whitespace().collect();
    if now.split_whitespace().collect::<Vec<_>>() != want {
        fail(format!("{path} is {now:?} after writing {value:?}"));
    }
}

fn show<T, E: PlatformError>(step: &str, r: Result<T, Error<E>>) {
    match r {
        Ok(_) => println!("{step} ok"),
        Err(e) => println!("{step} err {} {e}", e.code()),
    }
}

fn create(d: &mut Drv, name: &str, version: u64, len: usize) -> Result<(), String> {
    let h = d.create(name).map_err(|e| e.to_string())?;
    let r = write_through(d, h, &content::file(version, len), 4096);
    d.close(h).map_err(|e| e.to_string())?;
    r
}

/// `create STEP NAME`: create an empty file and close it (what a failed create must undo).
fn try_create(d: &mut Drv, step: &str, name: &str) {
    let r = d.create(name).and_then(|h| d.close(h));
    show(step, r);
}

/// Rewrite h1 as `version` of `GROWN` bytes in `mode`: print the write's and close's result.
fn try_grow(d: &mut Drv, step: &str, mode: WriteMode, version: u64) {
    let h = d
        .open("shmem://h1", Mode::ReadWrite, Wait::No)
        .unwrap_or_else(|e| fail(e));
    d.set_write_mode(h, mode).unwrap_or_else(|e| fail(e));
    // In place, one write: growth comes first, so a refused growth writes nothing (with
    // smaller writes the first ones would overwrite the committed version in place).
    let chunk = if mode == WriteMode::InPlace {
        GROWN + 2880
    } else {
        4096
    };
    match write_through(d, h, &content::file(version, GROWN), chunk) {
        Ok(()) => println!("{step} ok"),
        Err(e) => println!("{step} err {e}"),
    }
    show(&format!("{step}-close"), d.close(h));
}

fn finish(mut d: Drv) {
    println!("left {} {}", objects("shm"), objects("sem"));
    match read_file(&mut d, "shmem://h1", Wait::No).map(|b| content::verify(&b)) {
        Ok(Ok(v)) => println!("read ok {v}"),
        Ok(Err(torn)) => println!("read torn {torn}"),
        Err(e) => println!("read err {e}"),
    }
    match d.recover(None) {
        Ok(r) => println!("recovered {r:?}"),
        Err(e) => println!("recover err {e}"),
    }
    println!("objects {} {}", objects("shm"), objects("sem"));
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    check_private_namespace();
    match scenario.as_str() {
        "semmni" => set("sem", "250 32000 32 1"),
        "semmns" => set("sem", "250 1 32 128"),
        "shmmni" | "shmall" | "shmmax" | "semmsl" => {}
        "table" => {
            set("shmmni", "0");
            let config = shmfits_unix::Config::from_env().unwrap_or_else(|e| fail(e));
            let dc = shmfits_core::shm::Config::new(config.key_base, config.slots);
            let sysv = shmfits_unix::SysV::new(config).unwrap_or_else(|e| fail(e));
            show("driver", Drv::new(sysv, dc));
            println!("objects {} {}", objects("shm"), objects("sem"));
            return;
        }
        other => fail(format!("unknown scenario {other:?}")),
    }
    let mut d = driver_from_env().unwrap_or_else(|e| fail(e));
    create(&mut d, "shmem://h1", 1, SMALL).unwrap_or_else(|e| fail(e));
    // After h1 is made: writing a new file takes a second (shadow) segment for a moment.
    match scenario.as_str() {
        "shmmni" => set("shmmni", &objects("shm").to_string()),
        "shmall" => set("shmall", &shm_pages().to_string()),
        "shmmax" => set("shmmax", &SHMMAX.to_string()),
        "semmsl" => set("sem", "0 32000 32 128"),
        _ => {}
    }
    println!("limited");
    match scenario.as_str() {
        "shmmni" | "shmall" => {
            try_create(&mut d, "create2", "shmem://h2");
            try_grow(&mut d, "grow-shadow", WriteMode::Shadow, 2);
            try_grow(&mut d, "grow-inplace", WriteMode::InPlace, 3);
        }
        "shmmax" => try_grow(&mut d, "grow-shadow", WriteMode::Shadow, 2),
        _ => try_create(&mut d, "create2", "shmem://h2"),
    }
    finish(d);
}

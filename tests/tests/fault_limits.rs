//! Issue 5 row 13 on the real kernel: exhausting `SHMMNI`, `SHMALL`, `SHMMAX`, `SEMMNI`,
//! `SEMMNS` and `SEMMSL` is reported with the errno and the limit's name, a failed create leaves nothing
//! behind, a failed growth leaves the committed version, and the file stays intact and
//! openable.
//!
//! Each scenario runs in the child `limits_child` (see `src/bin/limits_child.rs`) started
//! with `unshare --ipc`: in its own IPC namespace the limits and the objects are private and
//! die with it, so lowering a limit disturbs no other test and nothing can leak into the
//! host. Needs root (CI runs as root); skipped loudly otherwise.
//!
//! Key bases 0x5349A000.. (0x100 per test; the objects live in the child's namespace, the
//! host range is checked to stay empty).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use shmfits_tests::fault::env::{bin_exe, FaultEnv};

const KEYS_SHMMNI: i32 = 0x5349_A000;
const KEYS_SHMALL: i32 = 0x5349_A100;
const KEYS_SHMMAX: i32 = 0x5349_A200;
const KEYS_SEMMNI: i32 = 0x5349_A300;
const KEYS_SEMMNS: i32 = 0x5349_A400;
const KEYS_SEMMSL: i32 = 0x5349_A500;
const KEYS_TABLE: i32 = 0x5349_A600;

/// What the child printed: its first line per step (`STEP rest`).
struct Outcome {
    steps: HashMap<String, String>,
    text: String,
}

impl Outcome {
    fn step(&self, step: &str) -> &str {
        self.steps
            .get(step)
            .unwrap_or_else(|| panic!("no line for step {step:?} in:\n{}", self.text))
    }

    /// The step failed with the errno `os error N` and names `limit` as the limit reached.
    fn assert_limit(&self, step: &str, limit: &str, errno: i32) {
        let l = self.step(step);
        assert!(l.starts_with("err "), "{step} should fail: {l}");
        assert!(
            l.contains(&format!("[kernel limit {limit}]")),
            "{step} names {limit}: {l}"
        );
        assert!(
            l.contains(&format!("(os error {errno})")),
            "{step} names errno {errno}: {l}"
        );
    }

    /// After the failures: nothing but the table and h1 (segment and counter) left, without
    /// any help from recover; h1 reads back as its committed version 1; recover finds
    /// nothing to repair and leaves the same objects.
    fn assert_intact(&self) {
        assert_eq!(self.step("left"), "2 1", "table + h1 only:\n{}", self.text);
        assert_eq!(self.step("read"), "ok 1", "{}", self.text);
        let r = self.step("recovered");
        assert!(
            r.contains("repaired: 0, removed: 0, orphans_removed: 0"),
            "recover had to clean up: {r}"
        );
        assert_eq!(self.step("objects"), "2 1", "{}", self.text);
    }
}

/// Why this machine cannot run the scenarios (not root, no `unshare`, or no new IPC
/// namespace allowed), if it cannot.
fn cannot_run() -> Option<String> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if uid != Some(0) {
        return Some(format!(
            "needs root to lower kernel limits in a private IPC namespace (uid {uid:?})"
        ));
    }
    match Command::new("unshare").args(["--ipc", "true"]).output() {
        Err(e) => Some(format!("cannot run unshare (util-linux): {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "unshare --ipc fails: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// Run `scenario` in a new IPC namespace; `None` (after a loud SKIPPED line) when this
/// machine cannot.
fn run(test: &str, keys: i32, scenario: &str) -> Option<Outcome> {
    if let Some(why) = cannot_run() {
        eprintln!("SKIPPED {test}: {why}; CI runs as root");
        return None;
    }
    let env = FaultEnv::new(keys, 16);
    let host_ns = std::fs::read_link("/proc/self/ns/ipc").expect("/proc/self/ns/ipc");
    let out = Command::new("unshare")
        .arg("--ipc")
        .arg(bin_exe("limits_child"))
        .arg(scenario)
        .envs(env.env())
        .env("SHMFITS_HOST_IPC_NS", host_ns)
        .env_remove("SHMFITS_TEST_STOP_AT")
        .stdin(Stdio::null())
        .output()
        .expect("unshare limits_child");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        eprintln!("SKIPPED {test}: {}; CI runs as root", text.trim());
        return None;
    }
    assert!(
        out.status.success(),
        "{scenario}: {}\n{text}\nstderr: {err}",
        out.status
    );
    assert!(
        env.objects().is_empty(),
        "the host's key range was touched: {:?}",
        env.objects()
    );
    let mut steps = HashMap::new();
    for l in text.lines() {
        let (step, rest) = l.split_once(' ').unwrap_or((l, ""));
        steps.entry(step.to_string()).or_insert(rest.to_string());
    }
    eprintln!("{scenario}:\n{text}");
    Some(Outcome { steps, text })
}

/// `SHMMNI` reached (the table and h1 are all it allows): creating h2 and growing h1, with
/// a shadow and in place, fail with ENOSPC naming `SHMMNI`; a failed shadow is abandoned at
/// close, an in-place handle closes normally; h1 keeps version 1.
#[test]
fn shmmni_exhaustion_names_the_limit_and_keeps_the_file() {
    let Some(o) = run(
        "shmmni_exhaustion_names_the_limit_and_keeps_the_file",
        KEYS_SHMMNI,
        "shmmni",
    ) else {
        return;
    };
    o.assert_limit("create2", "SHMMNI", 28);
    assert!(o.step("create2").starts_with("err 156 slot h2"));
    assert!(o.step("create2").contains("kernel.shmmni = 2"));
    o.assert_limit("grow-shadow", "SHMMNI", 28);
    let close = o.step("grow-shadow-close");
    assert!(
        close.starts_with("err 159") && close.contains("abandoned"),
        "{close}"
    );
    o.assert_limit("grow-inplace", "SHMMNI", 28);
    assert_eq!(o.step("grow-inplace-close"), "ok");
    o.assert_intact();
}

/// `SHMALL` reached (set to the pages in use): the same failures name `SHMALL`, not
/// `SHMMNI` (the same errno).
#[test]
fn shmall_exhaustion_names_the_limit_and_keeps_the_file() {
    let Some(o) = run(
        "shmall_exhaustion_names_the_limit_and_keeps_the_file",
        KEYS_SHMALL,
        "shmall",
    ) else {
        return;
    };
    o.assert_limit("create2", "SHMALL", 28);
    assert!(o.step("create2").contains("kernel.shmall"));
    o.assert_limit("grow-shadow", "SHMALL", 28);
    assert!(o.step("grow-shadow-close").contains("abandoned"));
    o.assert_limit("grow-inplace", "SHMALL", 28);
    assert_eq!(o.step("grow-inplace-close"), "ok");
    o.assert_intact();
}

/// `SHMMAX` below the grown file: growing fails with EINVAL naming `SHMMAX` and the sizes,
/// the half-written shadow is abandoned, h1 keeps version 1.
#[test]
fn shmmax_exhaustion_names_the_limit_and_keeps_the_file() {
    let Some(o) = run(
        "shmmax_exhaustion_names_the_limit_and_keeps_the_file",
        KEYS_SHMMAX,
        "shmmax",
    ) else {
        return;
    };
    o.assert_limit("grow-shadow", "SHMMAX", 22);
    assert!(o.step("grow-shadow").contains("kernel.shmmax = 262144"));
    let close = o.step("grow-shadow-close");
    assert!(
        close.starts_with("err 159") && close.contains("abandoned"),
        "{close}"
    );
    o.assert_intact();
}

/// `SEMMNI` reached (one set): creating h2 fails with ENOSPC naming `SEMMNI` at its counter,
/// after its segment was made; that segment is removed (no orphan), h1 intact.
#[test]
fn semmni_exhaustion_names_the_limit_and_leaves_no_orphan() {
    let Some(o) = run(
        "semmni_exhaustion_names_the_limit_and_leaves_no_orphan",
        KEYS_SEMMNI,
        "semmni",
    ) else {
        return;
    };
    o.assert_limit("create2", "SEMMNI", 28);
    assert!(o.step("create2").contains("create counter"));
    o.assert_intact();
}

/// `SEMMNS` reached (one semaphore): as `SEMMNI`, named `SEMMNS`.
#[test]
fn semmns_exhaustion_names_the_limit_and_leaves_no_orphan() {
    let Some(o) = run(
        "semmns_exhaustion_names_the_limit_and_leaves_no_orphan",
        KEYS_SEMMNS,
        "semmns",
    ) else {
        return;
    };
    o.assert_limit("create2", "SEMMNS", 28);
    assert!(o.step("create2").contains("create counter"));
    o.assert_intact();
}

/// `SEMMSL` below one semaphore per set: creating h2 fails with EINVAL naming `SEMMSL`, its
/// segment is removed, h1 intact.
#[test]
fn semmsl_exhaustion_names_the_limit_and_leaves_no_orphan() {
    let test = "semmsl_exhaustion_names_the_limit_and_leaves_no_orphan";
    let Some(o) = run(test, KEYS_SEMMSL, "semmsl") else {
        return;
    };
    o.assert_limit("create2", "SEMMSL", 22);
    assert!(o
        .step("create2")
        .contains("SEMMSL (kernel.sem, 1st field) = 0"));
    o.assert_intact();
}

/// `SHMMNI` of 0: the driver cannot make its global table and says why, naming `SHMMNI`
/// (CFITSIO code 156); nothing is left.
#[test]
fn shmmni_at_the_global_table_names_the_limit() {
    let test = "shmmni_at_the_global_table_names_the_limit";
    let Some(o) = run(test, KEYS_TABLE, "table") else {
        return;
    };
    o.assert_limit("driver", "SHMMNI", 28);
    let l = o.step("driver");
    assert!(l.starts_with("err 156 global table"), "{l}");
    assert!(l.contains("kernel.shmmni = 0"), "{l}");
    assert_eq!(o.step("objects"), "0 0");
}

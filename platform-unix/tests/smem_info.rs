//! `smem info` as a user runs it: the binary, its JSON field names, its exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

fn smem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smem"))
        .args(args)
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The field names of an object, sorted (serde_json's map does not keep order; the order in
/// the text is checked separately).
fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut v = names.to_vec();
    v.sort_unstable();
    v
}

/// Asserts that the fields appear in this order in the JSON text.
fn in_order(text: &str, names: &[&str]) {
    let at: Vec<usize> = names
        .iter()
        .map(|n| {
            text.find(&format!("\"{n}\":"))
                .unwrap_or_else(|| panic!("no {n}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "fields out of order: {names:?} at {at:?}"
    );
}

#[test]
fn json_has_exactly_the_documented_fields() {
    let path = data("primary_2ext.fits");
    let out = smem(&["info", "--json", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(keys(&v), sorted(&["path", "hdus", "error"]));
    let text = String::from_utf8_lossy(&out.stdout);
    in_order(
        &text,
        &[
            "path", "hdus", "index", "kind", "bitpix", "naxis", "pcount", "gcount",
        ],
    );
    in_order(
        &text,
        &[
            "header_start",
            "data_start",
            "data_len",
            "data_end",
            "extname",
            "cards",
        ],
    );
    in_order(&text, &["key", "value", "comment", "type"]);
    assert_eq!(v["path"], path.to_str().unwrap());
    assert_eq!(v["error"], Value::Null);
    let hdus = v["hdus"].as_array().unwrap();
    assert_eq!(hdus.len(), 3);
    for h in hdus {
        assert_eq!(
            keys(h),
            sorted(&[
                "index",
                "kind",
                "bitpix",
                "naxis",
                "pcount",
                "gcount",
                "header_start",
                "data_start",
                "data_len",
                "data_end",
                "extname",
                "cards"
            ])
        );
        for c in h["cards"].as_array().unwrap() {
            assert_eq!(keys(c), sorted(&["key", "value", "comment", "type"]));
        }
    }
    let sci = &hdus[1];
    assert_eq!(sci["index"], 1);
    assert_eq!(sci["kind"], "image");
    assert_eq!(sci["bitpix"], 16);
    assert_eq!(sci["naxis"], serde_json::json!([3, 2]));
    assert_eq!(
        (sci["pcount"].as_u64(), sci["gcount"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(sci["header_start"], 2880);
    assert_eq!(sci["data_start"], 5760);
    assert_eq!(sci["data_len"], 12);
    assert_eq!(sci["data_end"], 8640);
    assert_eq!(sci["extname"], "SCI");
    assert_eq!(
        sci["cards"][0],
        serde_json::json!({"key": "XTENSION", "value": "'IMAGE   '",
                           "comment": "image extension", "type": "string"})
    );
    assert_eq!(hdus[0]["extname"], Value::Null);
    assert_eq!(hdus[2]["kind"], "bintable");
    assert_eq!(hdus[0]["cards"][0]["type"], "logical");
}

#[test]
fn invalid_file_lists_what_came_before_and_exits_1() {
    let path = data("bad_truncated_header.fits");
    let out = smem(&["info", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["hdus"].as_array().unwrap().len(), 1);
    let e = &v["error"];
    assert_eq!(keys(e), sorted(&["offset", "hdu", "card", "message"]));
    in_order(
        &String::from_utf8_lossy(&out.stdout),
        &["offset", "hdu", "card", "message"],
    );
    assert_eq!(
        (e["offset"].as_u64(), e["hdu"].as_u64()),
        (Some(2880), Some(1))
    );
    assert_eq!(e["card"], Value::Null);
    assert!(!e["message"].as_str().unwrap().is_empty());
    assert!(!out.stderr.is_empty(), "a message on stderr too");

    let out = smem(&[
        "info",
        "--json",
        data("bad_control_byte.fits").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = &json_of(&out)["error"];
    assert_eq!(
        (e["offset"].as_u64(), e["card"].as_u64()),
        (Some(271), Some(3))
    );
}

#[test]
fn table_output_lists_each_hdu() {
    let out = smem(&["info", data("primary_2ext.fits").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with(": 3 HDUs"), "{text}");
    assert!(lines[1].contains("KIND") && lines[1].contains("EXTNAME"));
    assert!(lines[3].contains("image") && lines[3].contains("3x2") && lines[3].ends_with("SCI"));
    assert!(lines[4].contains("bintable") && lines[4].ends_with("TAB"));

    let out = smem(&["info", "--cards", data("minimal.fits").to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("SIMPLE   = T  [logical]"), "{text}");
    assert!(text.contains("NAXIS    = 0  [integer]"), "{text}");
}

#[test]
fn exit_codes() {
    // I/O error: 3
    let out = smem(&["info", "/nonexistent/shmfits/none.fits"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.fits"));
    // usage errors: 2
    assert_eq!(smem(&["info"]).status.code(), Some(2));
    assert_eq!(smem(&["info", "--bogus", "x"]).status.code(), Some(2));
    assert_eq!(smem(&["nosuchcommand"]).status.code(), Some(2));
    assert_eq!(
        smem(&["info", "--json", "--cards", "x"]).status.code(),
        Some(2)
    );
    // invalid FITS: 1 (a text file is not FITS)
    let out = smem(&["info", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")]);
    assert_eq!(out.status.code(), Some(1));
    // an empty file is invalid FITS, with the error at offset 0
    let empty = std::env::temp_dir().join(format!("smem-info-empty-{}.fits", std::process::id()));
    std::fs::write(&empty, b"").unwrap();
    let out = smem(&["info", "--json", empty.to_str().unwrap()]);
    std::fs::remove_file(&empty).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["hdus"], serde_json::json!([]));
    assert_eq!(v["error"]["offset"], 0);
    // --help is not an error, and documents the JSON and the exit codes
    let help = smem(&["info", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("header_start") && help.contains("3 I/O error") && help.contains("5 busy"),
        "{help}"
    );
}

/// `smem info shmem://hN` on a file our driver made, in its own key range and lock directory.
mod shmem {
    use super::*;
    use shmfits_core::shm::{Config as DriverConfig, Driver, Mode, Wait};
    use shmfits_unix::{Config, SysV};

    /// Key base of this test (the cfio helper's range, 0x53484000..0x53487FFF).
    const KEYBASE: i32 = 0x5348_4B00;
    const SLOTS: u32 = 4;

    /// Removes every System V object in this test's key range when dropped.
    struct Cleanup;

    fn objects() -> Vec<(String, String)> {
        let mut found = Vec::new();
        for class in ["-m", "-s"] {
            let out = Command::new("ipcs").arg(class).output().unwrap();
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let key = f.first().and_then(|k| k.strip_prefix("0x"));
                let key = key.and_then(|k| i64::from_str_radix(k, 16).ok());
                let top = i64::from(KEYBASE) + 3 * i64::from(SLOTS);
                if key.is_some_and(|k| (i64::from(KEYBASE)..=top).contains(&k)) {
                    found.push((class.to_owned(), f[1].to_owned()));
                }
            }
        }
        found
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            for (class, id) in objects() {
                let _ = Command::new("ipcrm")
                    .args([class.as_str(), id.as_str()])
                    .status();
            }
        }
    }

    #[test]
    fn info_reads_a_shmem_file() {
        assert!(
            objects().is_empty(),
            "key range {KEYBASE:#x} already in use"
        );
        let _cleanup = Cleanup;
        let lock_tmp = tempfile::tempdir().unwrap();
        let lock_dir = lock_tmp.path().to_path_buf();
        let config = Config {
            key_base: KEYBASE,
            slots: SLOTS,
            lock_dir: lock_dir.clone(),
            ..Config::default()
        };
        let mut d: Driver<SysV, 2> = Driver::new(
            SysV::new(config).unwrap(),
            DriverConfig::new(KEYBASE, SLOTS),
        )
        .unwrap();
        let bytes = std::fs::read(data("primary_2ext.fits")).unwrap();
        let h = d.create("shmem://h2").unwrap();
        assert_eq!(d.write(h, &bytes).unwrap(), bytes.len());
        d.close(h).unwrap();

        let smem_env = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_smem"))
                .args(args)
                .env("SHMEM_LIB_KEYBASE", KEYBASE.to_string())
                .env("SHMEM_LIB_MAXSEG", SLOTS.to_string())
                .env("SHMFITS_LOCK_DIR", &lock_dir)
                .output()
                .unwrap()
        };
        let out = smem_env(&["info", "--json", "shmem://h2"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json_of(&out);
        assert_eq!(v["path"], "shmem://h2");
        let from_disk = json_of(&smem(&[
            "info",
            "--json",
            data("primary_2ext.fits").to_str().unwrap(),
        ]));
        assert_eq!(
            v["hdus"], from_disk["hdus"],
            "shmem://h2 and the file it was copied from"
        );

        let out = smem_env(&["info", "--json", "shmem://h2[TAB]"]);
        assert_eq!(out.status.code(), Some(0));
        let v = json_of(&out);
        assert_eq!(v["hdus"].as_array().unwrap().len(), 1);
        assert_eq!(v["hdus"][0]["index"], 2);
        // a bare hN is a slot too
        let out = smem_env(&["info", "--json", "h2[TAB]"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(json_of(&out)["hdus"][0]["index"], 2);
        // no such HDU, no such file: 4; a slot beyond the slot count: 2, naming it
        assert_eq!(
            smem_env(&["info", "shmem://h2[NOPE]"]).status.code(),
            Some(4)
        );
        assert_eq!(smem_env(&["info", "shmem://h1"]).status.code(), Some(4));
        assert_eq!(smem_env(&["info", "h1"]).status.code(), Some(4));
        let out = smem_env(&["info", "shmem://h9"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("shmem://h9"));

        // a writer holds it: busy (5) at once with --no-wait, or after --wait SECS
        let w = d.open("shmem://h2", Mode::ReadWrite, Wait::No).unwrap();
        let out = smem_env(&["info", "--no-wait", "shmem://h2"]);
        assert_eq!(out.status.code(), Some(5));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("shmem://h2 is locked by a writer"), "{err}");
        let t = std::time::Instant::now();
        let out = smem_env(&["info", "--wait", "0.2", "shmem://h2"]);
        assert_eq!(out.status.code(), Some(5));
        assert!(t.elapsed() >= std::time::Duration::from_millis(200));
        d.close(w).unwrap();

        d.delete("shmem://h2").unwrap();
        d.shutdown().unwrap();
        assert!(objects().is_empty(), "left behind: {:?}", objects());
    }
}

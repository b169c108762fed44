//! `smem` and real CFITSIO on the same slots: what `smem put` stores, `fitscopy` reads back
//! byte for byte (and `fitsverify` accepts); what CFITSIO writes, `smem list` shows and
//! `smem get` copies out; after `smem rm`, CFITSIO finds nothing.
//!
//! Key bases 0x53497000.. (the smem helper's range), lock file in `/tmp` as CFITSIO's always
//! is; [`CfitsioKeys`] removes every object and the lock file when a test ends, even on failure.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use shmfits_tests::cfitsio;
use shmfits_tests::ipc::CfitsioKeys;

const SLOTS: i32 = 16;

fn smem(keys: &CfitsioKeys, args: &[&str]) -> Output {
    let bin = shmfits_tests::smem::binary().unwrap_or_else(|e| panic!("{e}"));
    Command::new(bin)
        .args(args)
        .envs(keys.env())
        .env("SHMFITS_LOCK_DIR", "/tmp")
        .output()
        .unwrap()
}

fn ok(keys: &CfitsioKeys, args: &[&str]) -> String {
    let out = smem(keys, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "smem {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cfitsio_tool(keys: &CfitsioKeys, tool: &Path, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .envs(keys.env())
        .output()
        .unwrap()
}

#[test]
fn fitscopy_reads_what_smem_put_stored() {
    let Some(c) = cfitsio::require("fitscopy_reads_what_smem_put_stored") else {
        return;
    };
    let Some(fitscopy) = c.require_fitscopy("fitscopy_reads_what_smem_put_stored") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5349_7000, SLOTS);
    let dir = tempfile::tempdir().unwrap();
    for (slot, src) in [
        ("h2", c.corpus().join("keywords.fits")),
        (
            "shmem://h5",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/primary_2ext.fits"),
        ),
    ] {
        ok(&keys, &["put", src.to_str().unwrap(), slot]);
        let name = format!("shmem://{}", slot.trim_start_matches("shmem://"));
        let out = dir.path().join(format!("{}.fits", &name[8..]));
        let copied = cfitsio_tool(&keys, fitscopy, &[&name, out.to_str().unwrap()]);
        assert!(
            copied.status.success(),
            "fitscopy {name}: {}",
            String::from_utf8_lossy(&copied.stderr)
        );
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&src).unwrap(),
            "fitscopy {name} gives the bytes smem put stored ({})",
            src.display()
        );
        if c.fitsverify.is_some() {
            let v = c.fitsverify(&out).unwrap();
            assert_eq!(v.errors, 0, "{}", v.report);
        }
    }
    // smem put replaces h2 with a shorter file: CFITSIO reads the new length
    let small = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/minimal.fits");
    ok(&keys, &["put", small.to_str().unwrap(), "h2"]);
    let out = dir.path().join("h2-again.fits");
    let copied = cfitsio_tool(&keys, fitscopy, &["shmem://h2", out.to_str().unwrap()]);
    assert!(copied.status.success());
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&small).unwrap());

    ok(&keys, &["rm", "h2", "h5"]);
    assert_eq!(ok(&keys, &["list", "--json"]).trim(), "[]");
    let gone = cfitsio_tool(
        &keys,
        fitscopy,
        &["shmem://h2", dir.path().join("gone.fits").to_str().unwrap()],
    );
    assert!(!gone.status.success(), "CFITSIO agrees h2 is gone");
}

#[test]
fn smem_lists_and_gets_what_cfitsio_wrote() {
    let Some(c) = cfitsio::require("smem_lists_and_gets_what_cfitsio_wrote") else {
        return;
    };
    let Some(fitscopy) = c.require_fitscopy("smem_lists_and_gets_what_cfitsio_wrote") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5349_7100, SLOTS);
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/primary_2ext.fits");
    let made = cfitsio_tool(&keys, fitscopy, &[src.to_str().unwrap(), "shmem://h3"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let list: Value = serde_json::from_str(&ok(&keys, &["list", "--json"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["slot"], 3);
    assert_eq!(list[0]["lock"], "none");
    assert_eq!(list[0]["processes"], 0);
    assert_eq!(list[0]["flags"], serde_json::json!(["resize", "persist"]));

    // smem get and CFITSIO's own copy agree byte for byte
    let ours = dir.path().join("ours.fits");
    ok(&keys, &["get", "h3", ours.to_str().unwrap()]);
    let theirs = dir.path().join("theirs.fits");
    let copied = cfitsio_tool(&keys, fitscopy, &["shmem://h3", theirs.to_str().unwrap()]);
    assert!(copied.status.success());
    assert!(std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap());
    assert_eq!(
        list[0]["size"].as_u64(),
        Some(std::fs::metadata(&ours).unwrap().len())
    );
    // CFITSIO's -d semantics: delete all; CFITSIO then finds nothing
    assert!(ok(&keys, &["-d"]).contains("handle 3: deleted"));
    let gone = cfitsio_tool(
        &keys,
        fitscopy,
        &["shmem://h3", dir.path().join("gone.fits").to_str().unwrap()],
    );
    assert!(!gone.status.success());
}

/// A primary BITPIX 16 image of `nx` × `ny` pixels (values from a pattern), padded.
fn big_fits(nx: usize, ny: usize) -> Vec<u8> {
    use shmfits_core::fits::HeaderBuilder;
    let data = nx * ny * 2;
    let mut file = vec![0u8; 2880 + data.div_ceil(2880) * 2880];
    let mut b = HeaderBuilder::new(&mut file[..2880]);
    b.logical("SIMPLE", true, None).unwrap();
    b.integer("BITPIX", 16, None).unwrap();
    b.integer("NAXIS", 2, None).unwrap();
    b.integer("NAXIS1", nx as i64, None).unwrap();
    b.integer("NAXIS2", ny as i64, None).unwrap();
    b.finish().unwrap();
    for (i, px) in file[2880..2880 + data].chunks_exact_mut(2).enumerate() {
        px.copy_from_slice(&((i * 7919 % 65_521) as i16).to_be_bytes());
    }
    file
}

#[test]
fn a_100_mb_file_round_trips_and_cfitsio_reads_the_same_slot() {
    let Some(c) = cfitsio::require("a_100_mb_file_round_trips") else {
        return;
    };
    let Some(fitscopy) = c.require_fitscopy("a_100_mb_file_round_trips") else {
        return;
    };
    let keys = CfitsioKeys::new(0x5349_7200, SLOTS);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.fits");
    std::fs::write(&src, big_fits(10_000, 5_000)).unwrap();
    ok(&keys, &["put", src.to_str().unwrap(), "h0"]);
    let ours = dir.path().join("ours.fits");
    ok(&keys, &["get", "h0", ours.to_str().unwrap()]);
    let cmp = |a: &Path, b: &Path| Command::new("cmp").arg(a).arg(b).status().unwrap();
    assert!(cmp(&src, &ours).success(), "put / get / cmp");
    let theirs = dir.path().join("theirs.fits");
    let copied = cfitsio_tool(&keys, fitscopy, &["shmem://h0", theirs.to_str().unwrap()]);
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert!(
        cmp(&src, &theirs).success(),
        "fitscopy reads the same bytes"
    );
    ok(&keys, &["rm", "h0"]);
}

//! `bench`: shmfits against CFITSIO's `shmem://` driver, both in one run, in alternation.
//!
//! ```text
//! cargo run --release -p shmfits-bench --bin bench -- [--reps N] [--cfitsio-32] [--out DIR]
//! ```
//!
//! Every measurement runs in a child process (this binary with `child …`, or a C program of
//! `tests/c/shmbench_*.c` built against libcfitsio at run time), one after the other: for
//! each repetition and each size, ours, the machine's fresh-page limit and CFITSIO's run
//! back to back, so that noise from other work on the machine hits all sides alike. Figures
//! are medians over the repetitions. The table goes to stdout, the raw rows to
//! `DIR/results.tsv`, the plots to `DIR/*.svg` (default `docs/perf`).
//!
//! System V keys: 0x53490000 (ours), 0x53490100 (CFITSIO's, via `SHMEM_LIB_KEYBASE`),
//! 0x53490200 (fresh-page segments); each range is checked empty before and cleaned after.
#![warn(missing_docs)]

mod harness;
mod plot;
mod stats;
mod work;

use std::path::PathBuf;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .ok_or(format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}: {:?}", args[i]))
}

/// `child KIND ARGS…`: one measured piece of work; prints its result line.
fn child(args: &[String]) -> Result<String, String> {
    let kind = args.first().map(String::as_str).unwrap_or("");
    let lock_dir = || args.get(2).map(PathBuf::from).ok_or("missing lock dir");
    match kind {
        "ours-write" => work::ours_write(
            arg(args, 1, "key base")?,
            lock_dir()?,
            arg(args, 3, "bytes")?,
            arg(args, 4, "chunk")?,
            args.get(5).is_some_and(|a| a == "reserve"),
        ),
        "fresh" => work::fresh(arg(args, 1, "key")?, lock_dir()?, arg(args, 3, "bytes")?),
        "memcpy" => work::memcpy(arg(args, 1, "bytes")?),
        "ours-read" => work::ours_read(
            arg(args, 1, "key base")?,
            lock_dir()?,
            arg(args, 3, "bytes")?,
            args.get(4).is_some_and(|a| a == "copy"),
        ),
        "ours-open" => work::ours_open(
            arg(args, 1, "key base")?,
            lock_dir()?,
            arg(args, 3, "cycles")?,
        ),
        other => Err(format!("unknown child kind {other:?}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        match child(&args[1..]) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("bench child {:?}: {e}", &args[1..]);
                std::process::exit(1);
            }
        }
        return;
    }
    let mut opts = harness::Options::default();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--reps" => {
                i += 1;
                opts.reps = args
                    .get(i)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(opts.reps);
            }
            "--cfitsio-32" => opts.cfitsio_32 = true,
            "--out" => {
                i += 1;
                if let Some(d) = args.get(i) {
                    opts.out = PathBuf::from(d);
                }
            }
            "-h" | "--help" => {
                println!("usage: bench [--reps N] [--cfitsio-32] [--out DIR]");
                return;
            }
            other => {
                eprintln!("bench: unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    if let Err(e) = harness::run(&opts) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

//! Fixed-work header parsing loop, for `perf stat -e cycles:u` when the machine is too busy
//! for wall-clock benchmarks: `cargo run --release -p shmfits-core --example throughput --
//! walk|header [DUMP_PATH]` (the optional path receives the file, e.g. to time CFITSIO on it).
//! It parses the same files as the criterion benchmark (`benches/support/mod.rs`).

use std::hint::black_box;
use std::time::Instant;

use shmfits_core::fits::{Hdus, Header, BLOCK_LEN};

#[path = "../benches/support/mod.rs"]
mod support;
use support::{big_header, multi_ext};

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "walk".into());
    let (file, reps) = if what == "walk" {
        (multi_ext(1000), 500)
    } else {
        (big_header(), 20_000)
    };
    if let Some(path) = std::env::args().nth(2) {
        std::fs::write(&path, &file).expect("write dump");
    }
    let header_bytes: usize = if what == "walk" {
        1001 * BLOCK_LEN
    } else {
        file.len()
    };
    let t = Instant::now();
    let mut sum = 0usize;
    for _ in 0..reps {
        if what == "walk" {
            for h in Hdus::new(black_box(&file)) {
                sum += h.unwrap().data_len();
            }
        } else {
            sum += Header::parse(black_box(&file)).unwrap().card_count();
        }
    }
    let dt = t.elapsed().as_secs_f64();
    black_box(sum);
    let total = (header_bytes * reps) as f64;
    println!(
        "{what}: {} header bytes in {dt:.3} s = {:.2} GB/s (wall clock)",
        total,
        total / dt / 1e9
    );
}

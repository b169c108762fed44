//! Fixed-work header parsing loop, for `perf stat -e cycles:u` when the machine is too busy
//! for wall-clock benchmarks: `cargo run --release -p shmfits-core --example throughput --
//! walk|header [DUMP_PATH]` (the optional path receives the file, e.g. to time CFITSIO on it).

use std::hint::black_box;
use std::time::Instant;

use shmfits_core::fits::{pad_data, Hdus, Header, HeaderBuilder, BLOCK_LEN};

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "walk".into());
    let mut block = vec![0u8; 40 * BLOCK_LEN];
    let (file, reps): (Vec<u8>, usize) = if what == "walk" {
        let mut f = Vec::new();
        let mut b = HeaderBuilder::new(&mut block);
        b.logical("SIMPLE", true, None).unwrap();
        b.integer("BITPIX", 8, None).unwrap();
        b.integer("NAXIS", 0, None).unwrap();
        let n = b.finish().unwrap();
        f.extend_from_slice(&block[..n]);
        for i in 0..1000 {
            let mut b = HeaderBuilder::new(&mut block);
            b.string("XTENSION", "IMAGE", Some("image extension"))
                .unwrap();
            b.integer("BITPIX", 16, None).unwrap();
            b.integer("NAXIS", 2, None).unwrap();
            b.integer("NAXIS1", 10, None).unwrap();
            b.integer("NAXIS2", 5, None).unwrap();
            b.integer("PCOUNT", 0, None).unwrap();
            b.integer("GCOUNT", 1, None).unwrap();
            b.string("EXTNAME", &format!("EXT{i}"), None).unwrap();
            for j in 0..20 {
                b.real(&format!("R{j}"), j as f64 * 0.5, Some("value"))
                    .unwrap();
            }
            let n = b.finish().unwrap();
            f.extend_from_slice(&block[..n]);
            let start = f.len();
            f.resize(start + BLOCK_LEN, 0);
            pad_data(&mut f[start..], 100).unwrap();
        }
        (f, 500)
    } else {
        let mut b = HeaderBuilder::new(&mut block);
        b.logical("SIMPLE", true, None).unwrap();
        b.integer("BITPIX", 8, None).unwrap();
        b.integer("NAXIS", 0, None).unwrap();
        for k in 0..997i64 {
            let key = format!("KEY{k}");
            match k % 5 {
                0 => b.integer(&key, k * 37, Some("an integer")).unwrap(),
                1 => b.real(&key, k as f64 * 1.2345e-3, Some("a real")).unwrap(),
                2 => b.string(&key, "some text value", Some("a string")).unwrap(),
                3 => b.logical(&key, k % 2 == 0, None).unwrap(),
                _ => b.comment("a comment card with some words in it").unwrap(),
            }
        }
        let n = b.finish().unwrap();
        (block[..n].to_vec(), 20_000)
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

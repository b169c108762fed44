//! The files the header benchmark and the `throughput` example parse (shared: the example
//! includes this file with `#[path]`).

use shmfits_core::fits::{pad_data, CardValue, HeaderBuilder, BLOCK_LEN};

/// A primary header with 1000 cards of mixed kinds (plus END and padding).
pub fn big_header() -> Vec<u8> {
    let mut buf = vec![0u8; 30 * BLOCK_LEN];
    let mut b = HeaderBuilder::new(&mut buf);
    b.logical("SIMPLE", true, Some("conforms to FITS")).unwrap();
    b.integer("BITPIX", -32, Some("bits per pixel")).unwrap();
    b.integer("NAXIS", 2, None).unwrap();
    b.integer("NAXIS1", 4096, None).unwrap();
    b.integer("NAXIS2", 4096, None).unwrap();
    b.logical("EXTEND", true, None).unwrap();
    let mut n = 6;
    let mut k = 0;
    while n < 1000 {
        let key = format!("KEY{k}");
        match k % 6 {
            0 => b.integer(&key, k * 37, Some("an integer")).unwrap(),
            1 => b.real(&key, k as f64 * 1.2345e-3, Some("a real")).unwrap(),
            2 => b.string(&key, "some text value", Some("a string")).unwrap(),
            3 => b.logical(&key, k % 2 == 0, None).unwrap(),
            4 => b.comment("a comment card with some words in it").unwrap(),
            _ => b
                .card(&key, CardValue::Real(-1.0 / (k as f64 + 1.0)), None)
                .unwrap(),
        }
        n += 1;
        k += 1;
    }
    let len = b.finish().unwrap();
    buf.truncate(len);
    buf
}

/// A primary HDU and `n` small IMAGE extensions (36 cards of header, 100 bytes of data).
pub fn multi_ext(n: usize) -> Vec<u8> {
    let mut f = Vec::new();
    let mut block = vec![0u8; BLOCK_LEN];
    let mut b = HeaderBuilder::new(&mut block);
    b.logical("SIMPLE", true, None).unwrap();
    b.integer("BITPIX", 8, None).unwrap();
    b.integer("NAXIS", 0, None).unwrap();
    b.logical("EXTEND", true, None).unwrap();
    b.finish().unwrap();
    f.extend_from_slice(&block);
    for i in 0..n {
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
        b.finish().unwrap();
        f.extend_from_slice(&block);
        let start = f.len();
        f.resize(start + BLOCK_LEN, 0xAB);
        pad_data(&mut f[start..], 100).unwrap();
    }
    f
}

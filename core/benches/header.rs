//! Header parsing throughput: a 1000-card header (full card parse, and the header scan that
//! derives the layout), and an HDU walk over a 1000-extension file.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shmfits_core::fits::{
    pad_data, Card, CardValue, Hdus, Header, HeaderBuilder, HeaderStream, Status, BLOCK_LEN,
};

/// A primary header with 1000 cards of mixed kinds (plus END and padding).
fn big_header() -> Vec<u8> {
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
fn multi_ext(n: usize) -> Vec<u8> {
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

fn bench(c: &mut Criterion) {
    let h = big_header();
    let mut g = c.benchmark_group("header-1000-cards");
    g.throughput(Throughput::Bytes(h.len() as u64));
    g.bench_function("Header::parse", |b| {
        b.iter(|| {
            let hdr = Header::parse(black_box(&h)).unwrap();
            black_box(hdr.layout().data_len())
        })
    });
    g.bench_function("Card::parse all", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for raw in black_box(&h).chunks_exact(80).take(1000) {
                let c = Card::parse(raw, 0).unwrap();
                n += c.raw_value().len();
            }
            black_box(n)
        })
    });
    g.bench_function("HeaderStream", |b| {
        b.iter(|| {
            let mut s = HeaderStream::new(0, 0);
            for blk in black_box(&h).chunks_exact(BLOCK_LEN) {
                if let Status::Complete(l) = s.push(blk).unwrap() {
                    return black_box(l.data_len());
                }
            }
            0
        })
    });
    g.finish();

    let mut g = c.benchmark_group("header-1000-cards-cards/s");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("Header::parse", |b| {
        b.iter(|| black_box(Header::parse(black_box(&h)).unwrap().card_count()))
    });
    g.finish();

    let f = multi_ext(1000);
    let header_bytes = 1001 * BLOCK_LEN as u64;
    let mut g = c.benchmark_group("walk-1000-extensions");
    g.throughput(Throughput::Bytes(header_bytes));
    g.bench_function("Hdus (header bytes)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for hdu in Hdus::new(black_box(&f)) {
                n += hdu.unwrap().data_len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);

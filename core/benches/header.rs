//! Header parsing throughput: a 1000-card header (full card parse, and the header scan that
//! derives the layout), and an HDU walk over a 1000-extension file.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shmfits_core::fits::{Card, Hdus, Header, HeaderStream, Status, BLOCK_LEN};

mod support;
use support::{big_header, multi_ext};

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

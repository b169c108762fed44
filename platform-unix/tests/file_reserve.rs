//! The size hint of `ShmFile` on the real kernel: automatic (a primary header written from
//! offset 0) and explicit (`Shm::create_with_capacity`, `ShmFile::reserve`). Key base
//! 0x53493000 + n·0x100 per test (the perf helper's range); own lock directory; every object removed on drop.
//! Also `read_to_end` (one growth of the buffer). No timing: growth is observed through the
//! segment's capacity.

use std::io::{Read, Write};

use shmfits_core::fits::{Hdus, HeaderBuilder, BLOCK_LEN};
use shmfits_unix::Mode;

const BASE: i32 = 0x5349_3000;
mod support;
use support::Cleanup;

/// Test `n`'s own key base (tests run in parallel).
fn range(n: i32) -> Cleanup {
    Cleanup::new(BASE + n * 0x100)
}

/// One-block primary header of a 16-bit `width` × `rows` image.
fn header(width: i64, rows: i64) -> Vec<u8> {
    let mut buf = vec![0u8; BLOCK_LEN];
    let mut b = HeaderBuilder::new(&mut buf);
    b.logical("SIMPLE", true, None).unwrap();
    b.integer("BITPIX", 16, None).unwrap();
    b.integer("NAXIS", 2, None).unwrap();
    b.integer("NAXIS1", width, None).unwrap();
    b.integer("NAXIS2", rows, None).unwrap();
    b.finish().unwrap();
    buf
}

fn row(i: usize) -> Vec<u8> {
    (0..2048).map(|j| ((i * 7 + j) % 251) as u8).collect()
}

#[test]
fn streaming_a_16_mib_image_row_by_row_grows_once_after_the_header() {
    let c = range(0);
    let shm = c.shm();
    let rows = 8192; // 1024 × 16-bit pixels per row: 16 MiB of data
    let data_len = 2048 * rows as u64;
    let fits_len = BLOCK_LEN as u64 + data_len.div_ceil(BLOCK_LEN as u64) * BLOCK_LEN as u64;

    let mut f = shm.create("shmem://h1").unwrap();
    let empty_cap = f.capacity().unwrap();
    assert!(empty_cap < fits_len);
    f.write_all(&header(1024, rows)).unwrap();
    // The header's END was written: the file made room for header + padded data at once.
    let cap = f.capacity().unwrap();
    assert!(
        cap >= fits_len,
        "capacity {cap} after the header, want {fits_len}"
    );
    assert!(
        cap < fits_len + 64 * 1024,
        "capacity {cap} is not a tight reservation"
    );
    for i in 0..rows as usize {
        f.write_all(&row(i)).unwrap();
        if i % 1024 == 0 {
            assert_eq!(
                f.capacity().unwrap(),
                cap,
                "the segment grew again at row {i}"
            );
        }
    }
    f.write_all(&vec![
        0u8;
        (fits_len - BLOCK_LEN as u64 - data_len) as usize
    ])
    .unwrap();
    assert_eq!(f.len().unwrap(), fits_len);
    assert_eq!(
        f.capacity().unwrap(),
        cap,
        "the segment grew during the data"
    );
    f.close().unwrap();

    let mut r = shm.open("h1", Mode::ReadOnly).unwrap();
    let hdus: Vec<_> = Hdus::new(r.as_bytes().unwrap()).collect();
    assert_eq!(hdus.len(), 1);
    let hdu = hdus[0].as_ref().unwrap();
    assert_eq!(r.hdu_data(hdu).unwrap().len() as u64, data_len);
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    for i in [0usize, 1, 4095, 8191] {
        let at = BLOCK_LEN + 2048 * i;
        assert_eq!(&all[at..at + 2048], &row(i)[..], "row {i}");
    }
    r.remove().unwrap();
}

#[test]
fn writes_that_are_not_a_fits_stream_grow_by_doubling() {
    let c = range(1);
    let shm = c.shm();
    let mut f = shm.create("shmem://h2").unwrap();
    f.write_all(&[b'x'; BLOCK_LEN]).unwrap(); // not a primary header: no hint
    let mut caps = vec![f.capacity().unwrap()];
    for _ in 0..200 {
        f.write_all(&[7u8; 2048]).unwrap();
        let c = f.capacity().unwrap();
        if Some(&c) != caps.last() {
            caps.push(c);
        }
    }
    assert!(
        caps.len() >= 3,
        "expected several doublings, capacities {caps:?}"
    );
    f.remove().unwrap();
}

#[test]
fn explicit_capacity_and_reserve_never_shrink() {
    let c = range(2);
    let shm = c.shm();
    let plain = shm.create("shmem://h5").unwrap();
    let new_len = plain.len().unwrap(); // 2880, as CFITSIO's new files
    plain.remove().unwrap();
    let mut f = shm.create_with_capacity("shmem://h3", 1 << 20).unwrap();
    assert_eq!(f.len().unwrap(), new_len, "reserving changed the length");
    let cap = f.capacity().unwrap();
    assert!(cap >= 1 << 20);
    f.write_all(&[1u8; 4000]).unwrap();
    f.reserve(10).unwrap(); // smaller: nothing changes
    assert_eq!(f.capacity().unwrap(), cap);
    f.reserve(3 << 20).unwrap();
    assert!(f.capacity().unwrap() >= 3 << 20);
    assert_eq!(f.len().unwrap(), 4000);
    f.close().unwrap();

    let mut r = shm.open("h3", Mode::ReadOnly).unwrap();
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    assert_eq!(v, vec![1u8; 4000]);
    assert!(r.reserve(1 << 20).is_err(), "reserve on a read-only handle");
    r.remove().unwrap();

    let too_big = shm.create_with_capacity("shmem://h4", u64::MAX);
    assert!(too_big.is_err());
    assert!(
        shm.try_open("h4", Mode::ReadOnly).is_err(),
        "refused file left behind"
    );
}

#[test]
fn read_to_end_appends_the_rest_from_the_position() {
    let c = range(3);
    let shm = c.shm();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 249) as u8).collect();
    let mut f = shm.create("shmem://h6").unwrap();
    f.write_all(&bytes).unwrap();
    f.close().unwrap();

    let mut r = shm.open("h6", Mode::ReadOnly).unwrap();
    let mut head = [0u8; 1000];
    r.read_exact(&mut head).unwrap();
    let mut v = b"prefix".to_vec();
    assert_eq!(r.read_to_end(&mut v).unwrap(), bytes.len() - 1000);
    assert_eq!(&v[..6], b"prefix");
    assert_eq!(&v[6..], &bytes[1000..]);
    assert_eq!(r.read_to_end(&mut v).unwrap(), 0, "at the end");
    assert_eq!(v.len(), 6 + bytes.len() - 1000);
    r.remove().unwrap();
}

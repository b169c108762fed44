//! `Driver::set_len` and `Driver::discard` on the mock kernel: shrink and grow in both write
//! modes, what readers see before and after publishing, and forgetting a pending shadow.

mod common;

use common::*;
use shmfits_core::shm::{Error, Mode, Wait, WriteMode, MAX_FITS_SIZE};

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 + 1).collect()
}

#[test]
fn shrink_with_a_shadow_is_published_at_close_only() {
    let (kernel, mut d) = setup();
    let old = pattern(40_000);
    make_file(&mut d, "h2", &old);
    let segments_before = kernel.segment_count();
    let w = d.open("h2", Mode::ReadWrite, Wait::No).unwrap();
    d.set_len(w, 100).unwrap();
    assert_eq!(d.size(w).unwrap(), 100);
    assert_eq!(read_handle(&mut d, w), old[..100]);
    // the shadow holds only what stays: one granule, not the old 40 kB segment
    let (m, range) = d.view(w).unwrap();
    assert_eq!(range.len(), 100);
    assert_eq!(
        shmfits_core::shm::SharedMem::mapping_len(d.platform(), m),
        16384
    );
    // another process still reads the published 40 000 bytes
    let mut r = driver(&kernel);
    assert_eq!(raw_entry(&kernel, 2).size, 40_000 + 16);
    d.close(w).unwrap();
    assert_eq!(read_all(&mut r, "h2"), old[..100]);
    assert_eq!(
        kernel.segment_count(),
        segments_before,
        "old segment removed"
    );
}

#[test]
fn shrink_then_grow_reads_zeros_in_between() {
    for mode in [WriteMode::Shadow, WriteMode::InPlace] {
        let kernel = shmfits_mock::MockKernel::new();
        let mut d = driver_with(&kernel, mode);
        make_file(&mut d, "h1", &pattern(10_000));
        let w = d.open("h1", Mode::ReadWrite, Wait::No).unwrap();
        d.set_len(w, 10).unwrap();
        d.set_len(w, 5000).unwrap();
        let got = read_handle(&mut d, w);
        assert_eq!(got.len(), 5000, "{mode:?}");
        assert_eq!(got[..10], pattern(10)[..], "{mode:?}");
        assert!(got[10..].iter().all(|&b| b == 0), "{mode:?}: stale bytes");
        d.close(w).unwrap();
        assert_eq!(read_all(&mut d, "h1"), got, "{mode:?}");
    }
}

#[test]
fn in_place_shrink_is_in_the_table_at_once() {
    let kernel = shmfits_mock::MockKernel::new();
    let mut d = driver_with(&kernel, WriteMode::InPlace);
    make_file(&mut d, "h3", &pattern(6000));
    let w = d.open("h3", Mode::ReadWrite, Wait::No).unwrap();
    d.set_len(w, 2880).unwrap();
    assert_eq!(raw_entry(&kernel, 3).size, 2880 + 16);
    d.close(w).unwrap();
}

#[test]
fn grow_keeps_the_position_and_zero_fills() {
    let (_kernel, mut d) = setup();
    let h = d.create("h0").unwrap();
    d.write(h, b"abc").unwrap();
    d.set_len(h, 100_000).unwrap();
    assert_eq!(d.position(h).unwrap(), 3);
    assert_eq!(d.size(h).unwrap(), 100_000);
    d.write(h, b"d").unwrap();
    let got = read_handle(&mut d, h);
    assert_eq!(&got[..4], b"abcd");
    assert!(got[4..].iter().all(|&b| b == 0));
    d.set_len(h, 100_000).unwrap(); // same length: nothing to do
    d.close(h).unwrap();
    assert_eq!(read_all(&mut d, "h0").len(), 100_000);
}

#[test]
fn refused_set_len_changes_nothing() {
    let (_kernel, mut d) = setup();
    make_file(&mut d, "h4", b"xyz");
    let before = read_all(&mut d, "h4");
    let r = d.open("h4", Mode::ReadOnly, Wait::No).unwrap();
    assert_eq!(d.set_len(r, 0), Err(Error::ReadOnly { slot: 4 }));
    d.close(r).unwrap();
    let w = d.open("h4", Mode::ReadWrite, Wait::No).unwrap();
    let too_big = MAX_FITS_SIZE as u64 + 1;
    assert!(matches!(
        d.set_len(w, too_big),
        Err(Error::TooLarge { slot: 4, .. })
    ));
    assert_eq!(d.size(w).unwrap(), before.len() as u64);
    d.close(w).unwrap();
    assert_eq!(read_all(&mut d, "h4"), before);
}

#[test]
fn discard_forgets_a_pending_shadow() {
    let (kernel, mut d) = setup();
    let old = pattern(5000);
    make_file(&mut d, "h5", &old);
    let segments = kernel.segment_count();
    let w = d.open("h5", Mode::ReadWrite, Wait::No).unwrap();
    d.set_len(w, 0).unwrap();
    d.write(w, &[7u8; 30_000]).unwrap();
    assert_eq!(kernel.segment_count(), segments + 1, "a shadow");
    d.discard(w).unwrap();
    assert_eq!(kernel.segment_count(), segments, "shadow removed");
    assert_eq!(
        read_handle(&mut d, w),
        old,
        "the handle reads the published file"
    );
    d.discard(w).unwrap(); // nothing pending: nothing to do
                           // writing after a discard starts a new shadow and publishes normally
    d.seek(w, 0).unwrap();
    d.write(w, b"new").unwrap();
    d.close(w).unwrap();
    let got = read_all(&mut d, "h5");
    assert_eq!(&got[..3], b"new");
    assert_eq!(got[3..], old[3..]);
    assert_eq!(kernel.segment_count(), segments);
}

trait SegmentCount {
    /// Live (not removed) segments, the global table included.
    fn segment_count(&self) -> usize;
}

impl SegmentCount for shmfits_mock::MockKernel {
    fn segment_count(&self) -> usize {
        self.objects()
            .segments
            .iter()
            .filter(|s| !s.removed)
            .count()
    }
}

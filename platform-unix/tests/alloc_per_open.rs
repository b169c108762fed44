//! "The std layer allocates at most once per open": a counting global allocator measures a
//! steady-state open+close cycle through [`Shm`] (after a warm-up cycle). Own key base
//! 0x53498000 (in 0x53498000..0x53498FFF) and a temporary lock directory; every segment and
//! semaphore under the keys that belongs to us is removed on drop, even when the test fails.

use std::io::Write;

use shmfits_unix::{Mode, Shm};

/// Allocations `f` makes on this thread (`allocation-counter` installs a counting global
/// allocator in this test binary only).
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let mut r = None;
    let info = allocation_counter::measure(|| r = Some(f()));
    let n = usize::try_from(info.count_total).unwrap_or(usize::MAX);
    (n, r.expect("measured closure ran"))
}

const BASE: i32 = 0x5349_8000;

mod support;
use support::Cleanup;

/// A FITS file: primary image BITPIX 16, NAXIS1 = 4 (one header and one data block).
fn fits_file() -> Vec<u8> {
    support::fits_file([0; 4])
}

/// Allocations of one open+close cycle of `name` in `mode`.
fn cycle(shm: &Shm, name: &str, mode: Mode) -> usize {
    let (n, r) = allocations(|| shm.open(name, mode).and_then(|f| f.close()));
    r.unwrap();
    n
}

/// Allocations of one cycle that opens `name` read-write, rewrites `file` from offset 0 (the
/// automatic size hint tracks the primary header: its one allocation) and closes.
fn write_cycle(shm: &Shm, name: &str, file: &[u8]) -> usize {
    let (n, r) = allocations(|| {
        let mut f = shm.open(name, Mode::ReadWrite).unwrap();
        f.write_all(file).unwrap();
        f.close()
    });
    r.unwrap();
    n
}

/// Steady-state cycles measured after the warm-up (enough for the owner table to have
/// reused its room many times over).
const CYCLES: usize = 200;

#[test]
fn open_close_allocates_at_most_once() {
    let c = Cleanup::new(BASE);
    let shm = c.shm();
    let file = fits_file();
    let mut w = shm.create("shmem://h0").unwrap();
    w.write_all(&file).unwrap();
    w.close().unwrap();

    for mode in [Mode::ReadOnly, Mode::ReadWrite] {
        cycle(&shm, "shmem://h0", mode); // warm-up
        let most = (0..CYCLES)
            .map(|_| cycle(&shm, "shmem://h0", mode))
            .max()
            .unwrap_or(0);
        eprintln!("{mode:?} open+close: at most {most} allocations per cycle");
        assert_eq!(most, 0, "{mode:?} open+close allocated {most} times");
    }
    write_cycle(&shm, "shmem://h0", &file); // warm-up
    let most = (0..CYCLES)
        .map(|_| write_cycle(&shm, "shmem://h0", &file))
        .max()
        .unwrap_or(0);
    eprintln!("ReadWrite open+write+close: at most {most} allocations per cycle");
    assert!(
        most <= 1,
        "read-write open+write+close allocated {most} times"
    );
    // Both kinds alternating, with a second handle open meanwhile.
    let keep = shm.open("shmem://h0", Mode::ReadOnly).unwrap();
    cycle(&shm, "shmem://h0", Mode::ReadOnly);
    let n = cycle(&shm, "shmem://h0", Mode::ReadOnly);
    keep.close().unwrap();
    assert_eq!(
        n, 0,
        "read-only open+close beside an open handle allocated {n} times"
    );
    shm.remove("shmem://h0").unwrap();
}

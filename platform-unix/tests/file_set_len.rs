//! `ShmFile::set_len` and `ShmFile::discard` on the real kernel (key base 0x53494000, the
//! smem helper's range; own lock directory; every object removed on drop).

use std::io::{Read, Seek, SeekFrom, Write};

use shmfits_unix::{Error, Mode, Shm};

const BASE: i32 = 0x5349_4000;

mod support;
use support::Cleanup;

fn read_all(shm: &Shm, name: &str) -> Vec<u8> {
    let mut f = shm.try_open(name, Mode::ReadOnly).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn set_len_shrinks_grows_and_discard_forgets() {
    let c = Cleanup::new(BASE);
    let shm = c.shm();
    let old: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let mut f = shm.create("shmem://h3").unwrap();
    f.write_all(&old).unwrap();
    f.close().unwrap();
    assert_eq!(read_all(&shm, "h3"), old);

    // shrink: a reader in another driver sees the old file until the writer closes
    let other = c.shm();
    let mut w = shm.try_open("h3", Mode::ReadWrite).unwrap();
    w.set_len(10).unwrap();
    assert_eq!(w.len().unwrap(), 10);
    assert_eq!(w.as_bytes().unwrap(), &old[..10]);
    assert!(matches!(
        other.try_open("h3", Mode::ReadOnly),
        Err(Error::Driver(shmfits_core::shm::Error::WouldBlock {
            slot: 3
        }))
    ));
    // grow: zeros after the kept bytes, position unchanged
    w.seek(SeekFrom::Start(4)).unwrap();
    w.set_len(3000).unwrap();
    assert_eq!(w.stream_position().unwrap(), 4);
    w.close().unwrap();
    let got = read_all(&other, "h3");
    assert_eq!(got.len(), 3000);
    assert_eq!(got[..10], old[..10]);
    assert!(got[10..].iter().all(|&b| b == 0));

    // discard: nothing of the rewrite is ever published
    let mut w = shm.try_open("h3", Mode::ReadWrite).unwrap();
    w.set_len(0).unwrap();
    w.write_all(&[9u8; 50_000]).unwrap();
    w.discard().unwrap();
    assert_eq!(w.len().unwrap(), 3000);
    w.close().unwrap();
    assert_eq!(read_all(&other, "h3"), got);

    // a read-only handle cannot change the length
    let mut r = shm.try_open("h3", Mode::ReadOnly).unwrap();
    assert!(r.set_len(0).is_err());
    r.close().unwrap();
    shm.remove("h3").unwrap();
}

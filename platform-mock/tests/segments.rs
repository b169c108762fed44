//! Kernel rules for segments: exclusive create, page rounding, zero fill, deferred removal,
//! attach counts, permissions, limits, bounds.

use shmfits_core::shm::{ErrorKind, SegmentId, SharedMem};
use shmfits_mock::{Limits, MockConfig, MockErrno, MockKernel};

#[test]
fn create_is_exclusive_per_key_and_private_key_is_always_new() {
    let k = MockKernel::new();
    let p = k.spawn();
    let a = p.segment_create(10, 100).unwrap();
    let e = p.segment_create(10, 50).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::AlreadyExists, MockErrno::Exists)
    );
    // Another process is refused too, and a different key is fine.
    assert_eq!(
        k.spawn().segment_create(10, 1).unwrap_err().kind,
        ErrorKind::AlreadyExists
    );
    let b = p.segment_create(11, 100).unwrap();
    assert_ne!(a, b);
    // IPC_PRIVATE: never conflicts, never found.
    let x = p.segment_create(0, 10).unwrap();
    let y = p.segment_create(0, 10).unwrap();
    assert_ne!(x, y);
    assert_eq!(p.segment_info(x).unwrap().key, None);
    assert_eq!(p.segment_find(0).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(p.segment_find(10).unwrap(), a);
    assert_eq!(p.segment_find(12).unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn memory_is_page_rounded_and_zero_filled() {
    let k = MockKernel::with_config(MockConfig {
        page_size: 512,
        ..MockConfig::default()
    });
    let p = k.spawn();
    for (size, rounded) in [(1, 512), (511, 512), (512, 512), (513, 1024), (2896, 3072)] {
        let id = p.segment_create(1000 + size as i32, size).unwrap();
        let m = p.segment_attach(id).unwrap();
        assert_eq!(p.mapping_len(&m), rounded, "size {size}");
        assert_eq!(p.mapping_id(&m), id);
        let info = p.segment_info(id).unwrap();
        assert_eq!(info.size, size);
        assert_eq!(info.attach_count, 1);
        assert!(!info.removed);
        let mut buf = vec![0xAA; rounded];
        p.read(&m, 0, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        assert_eq!(k.segment_bytes(id).unwrap().len(), rounded);
        p.segment_detach(m).unwrap();
    }
}

#[test]
fn zero_size_and_reads_past_the_end_are_invalid_and_copy_nothing() {
    let k = MockKernel::new();
    let p = k.spawn();
    assert_eq!(
        p.segment_create(1, 0).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    let id = p.segment_create(1, 10).unwrap();
    let m = p.segment_attach(id).unwrap();
    p.write(&m, 4090, b"abcdef").unwrap();
    let e = p.write(&m, 4091, b"abcdef").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(&k.segment_bytes(id).unwrap()[4090..], b"abcdef");
    let mut buf = [7u8; 8];
    assert_eq!(
        p.read(&m, 4089, &mut buf).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(buf, [7; 8]);
    assert_eq!(
        p.read(&m, usize::MAX, &mut buf).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        p.write(&m, usize::MAX - 2, b"xyz").unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    // Empty copies at the very end are fine.
    p.read(&m, 4096, &mut []).unwrap();
    assert_eq!(
        p.read(&m, 4097, &mut []).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
}

#[test]
fn removal_frees_the_key_at_once_and_the_memory_with_the_last_detach() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let old = a.segment_create(77, 100).unwrap();
    let ma = a.segment_attach(old).unwrap();
    let mb = b.segment_attach(old).unwrap();
    a.write(&ma, 0, b"old").unwrap();
    assert_eq!(a.segment_info(old).unwrap().attach_count, 2);

    a.segment_remove(old).unwrap();
    let info = b.segment_info(old).unwrap();
    assert!(info.removed);
    assert_eq!(info.key, None);
    assert_eq!(info.attach_count, 2);
    assert_eq!(b.segment_find(77).unwrap_err().kind, ErrorKind::NotFound);
    let e = b.segment_attach(old).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::NotFound, MockErrno::IdRemoved)
    );
    // Removing again is harmless, as on Linux.
    a.segment_remove(old).unwrap();

    // The key is free: a new segment under it is a different one.
    let new = b.segment_create(77, 100).unwrap();
    assert_ne!(new, old);
    assert_eq!(a.segment_find(77).unwrap(), new);

    // Old mappings still read and write the old memory.
    let mut buf = [0u8; 3];
    b.read(&mb, 0, &mut buf).unwrap();
    assert_eq!(&buf, b"old");
    b.write(&mb, 0, b"new").unwrap();
    a.read(&ma, 0, &mut buf).unwrap();
    assert_eq!(&buf, b"new");
    assert_eq!(k.stats().objects.segments_removed_attached, 1);

    a.segment_detach(ma).unwrap();
    assert_eq!(b.segment_info(old).unwrap().attach_count, 1);
    b.segment_detach(mb).unwrap();
    assert_eq!(a.segment_info(old).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(
        k.segment_bytes(old).unwrap_err(),
        shmfits_mock::HelperError::NoSuchSegment(old.0)
    );
    let s = k.stats().objects;
    assert_eq!((s.segments_live, s.segments_removed_attached), (1, 0));
}

#[test]
fn removing_an_unattached_segment_frees_it_at_once() {
    let k = MockKernel::new();
    let p = k.spawn();
    let id = p.segment_create(5, 10).unwrap();
    p.segment_remove(id).unwrap();
    assert_eq!(p.segment_info(id).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(p.segment_remove(id).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(
        p.segment_attach(SegmentId(9999)).unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert!(k.stats().objects.is_clean());
}

#[test]
fn mappings_belong_to_their_process() {
    let k = MockKernel::new();
    let (a, b) = (k.spawn(), k.spawn());
    let id = a.segment_create(5, 10).unwrap();
    let m = a.segment_attach(id).unwrap();
    assert_eq!(m.pid(), a.pid());
    let mut buf = [0u8; 1];
    assert_eq!(
        b.read(&m, 0, &mut buf).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        b.write(&m, 0, &buf).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        b.segment_detach(m).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    // The failed detach consumed the token, but the attachment stays with a.
    assert_eq!(a.segment_info(id).unwrap().attach_count, 1);
    assert!(a.exit());
    assert_eq!(b.segment_info(id).unwrap().attach_count, 0);
}

#[test]
fn permissions_follow_owner_and_mode() {
    let k = MockKernel::new();
    let owner = k.spawn_as(1000);
    let other = k.spawn_as(2000);
    let root = k.spawn_as(0);
    let private = owner.segment_create(1, 10).unwrap();
    let info = owner.segment_info(private).unwrap();
    assert_eq!((info.owner_uid, info.mode), (1000, 0o600));
    assert_eq!(other.segment_find(1).unwrap(), private);
    let e = other.segment_attach(private).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::PermissionDenied, MockErrno::Access)
    );
    assert_eq!(
        other.segment_info(private).unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
    let e = other.segment_remove(private).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::PermissionDenied, MockErrno::Perm)
    );
    root.segment_detach(root.segment_attach(private).unwrap())
        .unwrap();

    owner.set_create_mode(0o644);
    let readable = owner.segment_create(2, 10).unwrap();
    assert_eq!(other.segment_info(readable).unwrap().mode, 0o644);
    // Attaching is read-write: read permission alone is not enough.
    assert_eq!(
        other.segment_attach(readable).unwrap_err().kind,
        ErrorKind::PermissionDenied
    );

    owner.set_create_mode(0o666);
    let shared = owner.segment_create(3, 10).unwrap();
    let m = other.segment_attach(shared).unwrap();
    other.write(&m, 0, b"x").unwrap();
    // Still only the owner (or root) may remove it.
    assert_eq!(
        other.segment_remove(shared).unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
    root.segment_remove(shared).unwrap();
    other.segment_detach(m).unwrap();
    assert_eq!(other.current_uid(), 2000);
}

#[test]
fn limits_name_themselves() {
    let k = MockKernel::with_config(MockConfig {
        page_size: 100,
        limits: Limits {
            shmmax: 1000,
            shmall: 2000,
            shmmni: 3,
            semmni: 1,
            max_attachments: 2,
            max_lock_owners: 1,
        },
        ..MockConfig::default()
    });
    let p = k.spawn();
    let e = p.segment_create(1, 1001).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitReached);
    assert!(e.to_string().contains("SHMMAX"), "{e}");
    let a = p.segment_create(1, 1000).unwrap();
    let _b = p.segment_create(2, 901).unwrap(); // 1000 rounded: 2000 in all
    let e = p.segment_create(3, 1).unwrap_err();
    assert!(e.to_string().contains("SHMALL"), "{e}");
    p.segment_remove(a).unwrap();
    let c = p.segment_create(3, 1).unwrap();
    let _d = p.segment_create(4, 1).unwrap();
    let e = p.segment_create(5, 1).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::LimitReached, MockErrno::NoSpace)
    );
    assert!(e.to_string().contains("SHMMNI"), "{e}");

    let m1 = p.segment_attach(c).unwrap();
    let _m2 = p.segment_attach(c).unwrap();
    let e = p.segment_attach(c).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (ErrorKind::LimitReached, MockErrno::TooManyFiles)
    );
    assert!(e.to_string().contains("SHMSEG"), "{e}");
    p.segment_detach(m1).unwrap();
    let _m3 = p.segment_attach(c).unwrap();

    p.counter_create(1).unwrap();
    let e = p.counter_create(2).unwrap_err();
    assert!(e.to_string().contains("SEMMNI"), "{e}");
    p.lock_owner_new().unwrap();
    let e = p.lock_owner_new().unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitReached);
    assert!(e.to_string().contains("lock owners"), "{e}");
}

#[test]
fn removed_but_attached_segments_count_against_shmmni() {
    let k = MockKernel::with_config(MockConfig {
        limits: Limits {
            shmmni: 1,
            ..Limits::default()
        },
        ..MockConfig::default()
    });
    let p = k.spawn();
    let id = p.segment_create(1, 1).unwrap();
    let m = p.segment_attach(id).unwrap();
    p.segment_remove(id).unwrap();
    assert_eq!(
        p.segment_create(1, 1).unwrap_err().kind,
        ErrorKind::LimitReached
    );
    p.segment_detach(m).unwrap();
    p.segment_create(1, 1).unwrap();
}

#[test]
fn corruption_helpers_write_raw_memory() {
    let k = MockKernel::new();
    let p = k.spawn();
    let id = p.segment_create(9, 10).unwrap();
    let m = p.segment_attach(id).unwrap();
    k.corrupt_segment(id, 8, b"JB").unwrap();
    let mut buf = [0u8; 2];
    p.read(&m, 8, &mut buf).unwrap();
    assert_eq!(&buf, b"JB");
    let e = k.corrupt_segment(id, 4095, b"xy").unwrap_err();
    assert!(e.to_string().contains("4095"), "{e}");
    assert_eq!(&k.segment_bytes(id).unwrap()[8..10], b"JB");
    assert!(k.corrupt_segment(SegmentId(12345), 0, b"x").is_err());
}

//! In-process figures (`cargo bench -p shmfits-bench`): the driver's write and read paths on
//! the mock kernel (no system calls: the driver's own cost) and on System V (key base
//! 0x53490300, cleaned up before and after), kept short.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shmfits_core::shm::{Config as DriverConfig, Driver, Mode, SharedMem, Wait};
use shmfits_mock::MockKernel;
use shmfits_tests::ipc::CfitsioKeys;
use shmfits_unix::{Config, SysV};

const KEY_SYSV: i32 = 0x5349_0300;
const MIB: usize = 1 << 20;

fn stream<P: SharedMem>(d: &mut Driver<P, 4>, bytes: usize, chunk: usize) {
    let data = vec![7u8; chunk];
    let h = d.create("shmem://h1").expect("create");
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk);
        d.write(h, &data[..n]).expect("write");
        left -= n;
    }
    d.close(h).expect("close");
    d.delete("shmem://h1").expect("delete");
}

fn read_all<P: SharedMem>(d: &mut Driver<P, 4>, buf: &mut [u8]) -> usize {
    let h = d
        .open("shmem://h1", Mode::ReadOnly, Wait::No)
        .expect("open");
    let n = d.read(h, buf).expect("read");
    d.close(h).expect("close");
    n
}

fn mock(c: &mut Criterion) {
    let kernel = MockKernel::new();
    let mut d: Driver<_, 4> =
        Driver::new(kernel.spawn(), DriverConfig::new(1000, 16)).expect("mock driver");
    let mut g = c.benchmark_group("mock");
    g.measurement_time(Duration::from_secs(2)).sample_size(10);
    for chunk in [2048usize, 2880, MIB] {
        g.throughput(Throughput::Bytes(4 * MIB as u64));
        g.bench_with_input(
            BenchmarkId::new("stream 4 MiB", chunk),
            &chunk,
            |b, &chunk| b.iter(|| stream(&mut d, 4 * MIB, chunk)),
        );
    }
    g.finish();
}

fn sysv(c: &mut Criterion) {
    let keys = CfitsioKeys::new(KEY_SYSV, 16);
    let sysv = SysV::new(Config {
        key_base: keys.keybase(),
        lock_dir: PathBuf::from("/tmp"),
        ..Config::default()
    })
    .expect("SysV");
    let mut d: Driver<_, 4> =
        Driver::new(sysv, DriverConfig::new(keys.keybase(), 16)).expect("SysV driver");
    let mut g = c.benchmark_group("sysv");
    g.measurement_time(Duration::from_secs(2)).sample_size(10);
    g.throughput(Throughput::Bytes(16 * MIB as u64));
    g.bench_function("stream 16 MiB, 2880-byte writes", |b| {
        b.iter(|| stream(&mut d, 16 * MIB, 2880))
    });
    // a file to read and to open
    let data = vec![7u8; MIB];
    let h = d.create("shmem://h1").expect("create");
    for _ in 0..16 {
        d.write(h, &data).expect("write");
    }
    d.close(h).expect("close");
    let mut buf = vec![0u8; 16 * MIB];
    g.bench_function("open + read 16 MiB + close", |b| {
        b.iter(|| black_box(read_all(&mut d, &mut buf)))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("open + close (read-only)", |b| {
        b.iter(|| {
            let h = d
                .open("shmem://h1", Mode::ReadOnly, Wait::No)
                .expect("open");
            d.close(h).expect("close");
        })
    });
    g.finish();
    d.delete("shmem://h1").expect("delete");
    d.shutdown().expect("shutdown");
    drop(keys);
}

criterion_group!(benches, mock, sysv);
criterion_main!(benches);

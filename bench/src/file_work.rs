//! Children that go through the std API (`Shm`, `ShmFile`: `Write`, `Read`), as an
//! application would: streaming writes with no size hint (the file reserves by itself once
//! the primary header is written), and copied reads compared with `memcpy` from the same
//! segment and between heap buffers.

use std::hint::black_box;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shmfits_unix::{Config, Mode, Shm};

use crate::work::{header, max_rss_kib, ramp, rows_for, Res, NAME, WIDTH};

const BLOCK: usize = 2880;

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

fn shm(key_base: i32, lock_dir: PathBuf) -> Res<Shm> {
    Shm::new(Config {
        key_base,
        slots: 16,
        lock_dir,
        ..Config::default()
    })
    .map_err(err("Shm::new"))
}

/// Stream header, `bytes` of image data in `chunk`-byte `write_all`s and the padding
/// through a new `ShmFile`; close. Returns the time (create .. close).
fn stream(shm: &Shm, bytes: usize, chunk: usize) -> Res<Duration> {
    let rows = rows_for(bytes);
    let data_len = rows * WIDTH * 2;
    let pad = (BLOCK - data_len % BLOCK) % BLOCK;
    let source = ramp(chunk.max(2));
    let hdr = header(rows);
    let start = Instant::now();
    let mut f = shm.create(NAME).map_err(err("create"))?;
    f.write_all(&hdr).map_err(err("write header"))?;
    let mut left = data_len;
    while left > 0 {
        let n = left.min(chunk);
        f.write_all(&source[..n]).map_err(err("write data"))?;
        left -= n;
    }
    f.write_all(&vec![0u8; pad]).map_err(err("write padding"))?;
    f.close().map_err(err("close"))?;
    Ok(start.elapsed())
}

/// Child `file-write KEYBASE LOCKDIR BYTES CHUNK`: [`stream`], no size hint.
pub fn file_write(key_base: i32, lock_dir: PathBuf, bytes: usize, chunk: usize) -> Res<String> {
    let shm = shm(key_base, lock_dir)?;
    let t = stream(&shm, bytes, chunk)?;
    let rss = max_rss_kib();
    shm.remove(NAME).map_err(err("remove"))?;
    Ok(format!("TIME {:.9} RSS {rss}", t.as_secs_f64()))
}

/// A `len`-byte window of `buf` starting `phase` bytes past a 4096-byte boundary.
fn window(buf: &mut [u8], len: usize, phase: usize) -> Res<&mut [u8]> {
    let off = (phase + 4096 - (buf.as_ptr() as usize % 4096)) % 4096;
    buf.get_mut(off..off + len)
        .ok_or_else(|| "window outside its buffer".to_owned())
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Child `file-read KEYBASE LOCKDIR BYTES`: makes a file with `BYTES` of image data (not
/// timed), opens it read-only and, after one warm-up read (`COLD`: the first read after
/// the open, which also fills the page tables), takes the best of 5 rounds of, in turn:
/// * `READ`: `ShmFile::read` of the whole file (one call) into a warm destination;
/// * `SEG`: `memcpy` from the same segment (the file's zero-copy view) into that destination
///   — what the driver's copy can at best be;
/// * `SEGAL`: the same with a destination at the same offset within a 64-byte line as the
///   source (FITS bytes sit 24 bytes into the page-aligned segment);
/// * `HEAP`: `memcpy` between two warm heap buffers at the same line offset;
/// * `HEAP24`: `memcpy` between heap buffers with the source 24 bytes past a page boundary
///   and the destination as `READ`'s.
pub fn file_read(key_base: i32, lock_dir: PathBuf, bytes: usize) -> Res<String> {
    let shm = shm(key_base, lock_dir)?;
    stream(&shm, bytes, 1 << 20)?;
    let result = (|| -> Res<String> {
        let mut f = shm.open(NAME, Mode::ReadOnly).map_err(err("open"))?;
        let len = usize::try_from(f.len().map_err(err("len"))?).map_err(err("len"))?;
        let mut dst = vec![1u8; len];
        let mut dst_al = vec![1u8; len + 8192];
        let mut heap = ramp(len + 8192);
        heap.iter_mut().for_each(|b| *b = b.wrapping_add(1));
        let read_all = |f: &mut shmfits_unix::ShmFile, dst: &mut [u8]| -> Res<()> {
            f.seek(SeekFrom::Start(0)).map_err(err("seek"))?;
            let n = f.read(dst).map_err(err("read"))?;
            if n != dst.len() {
                return Err(format!("read {n} of {} bytes", dst.len()));
            }
            Ok(())
        };
        let start = Instant::now();
        read_all(&mut f, &mut dst)?;
        let cold = start.elapsed();
        let expect = ramp(64);
        if dst.get(BLOCK..BLOCK + 64) != Some(&expect[..]) {
            return Err("read did not return the ramp".into());
        }
        let view = f.as_bytes().map_err(err("as_bytes"))?;
        let phase = view.as_ptr() as usize % 4096;
        black_box(view.iter().step_by(4096).map(|&b| b as u64).sum::<u64>());
        let (mut read, mut seg, mut segal, mut hp, mut hp24) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            let t0 = Instant::now();
            read_all(&mut f, &mut dst)?;
            read.push(t0.elapsed());
            let view = f.as_bytes().map_err(err("as_bytes"))?;
            seg.push(time(|| dst.copy_from_slice(black_box(view))));
            black_box(&dst);
            let w = window(&mut dst_al, len, phase)?;
            segal.push(time(|| w.copy_from_slice(black_box(view))));
            black_box(&w);
            let src = window(&mut heap, len, phase)?;
            let w = window(&mut dst_al, len, phase)?;
            hp.push(time(|| w.copy_from_slice(black_box(src))));
            black_box(&w);
            let src = window(&mut heap, len, phase)?;
            hp24.push(time(|| dst.copy_from_slice(black_box(src))));
            black_box(&dst);
        }
        // `read_to_end` into a new Vec: the destination is cold (its page faults count)
        let mut rte = Duration::MAX;
        for _ in 0..3 {
            f.seek(SeekFrom::Start(0)).map_err(err("seek"))?;
            let mut v = Vec::new();
            let t = time(|| {
                let _ = f.read_to_end(&mut v);
            });
            if v.len() != len {
                return Err(format!("read_to_end gave {} of {len} bytes", v.len()));
            }
            rte = rte.min(t);
            black_box(&v);
        }
        let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default().as_secs_f64();
        let line = format!(
            "COLD {:.9} READ {:.9} SEG {:.9} SEGAL {:.9} HEAP {:.9} HEAP24 {:.9} RTE {:.9} PHASE {phase} DSTPHASE {}",
            cold.as_secs_f64(),
            best(&read),
            best(&seg),
            best(&segal),
            best(&hp),
            best(&hp24),
            rte.as_secs_f64(),
            dst.as_ptr() as usize % 4096
        );
        f.close().map_err(err("close"))?;
        Ok(line)
    })();
    let removed = shm.remove(NAME).map_err(err("remove"));
    let line = result?;
    removed?;
    Ok(line)
}

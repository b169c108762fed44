//! What a child process of the harness does: one measured piece of work on our side (or on
//! the bare machine), printed as `KEY value` pairs on one line. Each runs in its own process
//! so that its peak RSS (`ru_maxrss`) is its own and one case cannot warm the next.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shmfits_core::shm::{Config as DriverConfig, Driver, Handle, LockRange, Mode, SharedMem, Wait};
use shmfits_unix::{Config, SysV};
use zerocopy::byteorder::{BigEndian, I16};
use zerocopy::FromBytes;

/// Width of the benchmark image in 16-bit pixels: one row is 2048 bytes.
pub const WIDTH: usize = 1024;
/// Bytes of one FITS block.
const BLOCK: usize = 2880;
/// Handles per driver: the harness opens one file at a time.
const HANDLES: usize = 4;
/// The file every case uses.
pub const NAME: &str = "shmem://h0";

type Drv = Driver<SysV, HANDLES>;

/// A failed step, as text for the harness.
pub type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

/// A driver on key base `key_base` (16 slots) with its lock file in `lock_dir`.
pub fn driver(key_base: i32, lock_dir: PathBuf) -> Res<Drv> {
    let config = Config {
        key_base,
        lock_dir,
        ..Config::default()
    };
    let sysv = SysV::new(config).map_err(err("SysV::new"))?;
    Driver::new(sysv, DriverConfig::new(key_base, 16)).map_err(err("Driver::new"))
}

/// The primary header of a 16-bit image `WIDTH` × `rows`, one block.
pub fn header(rows: usize) -> Vec<u8> {
    let cards = [
        format!("{:<8}= {:>20}", "SIMPLE", "T"),
        format!("{:<8}= {:>20}", "BITPIX", 16),
        format!("{:<8}= {:>20}", "NAXIS", 2),
        format!("{:<8}= {:>20}", "NAXIS1", WIDTH),
        format!("{:<8}= {:>20}", "NAXIS2", rows),
        "END".to_owned(),
    ];
    let mut h: Vec<u8> = cards
        .iter()
        .flat_map(|c| format!("{c:<80}").into_bytes())
        .collect();
    h.resize(BLOCK, b' ');
    h
}

/// Rows of an image with `bytes` data bytes (at least one).
pub fn rows_for(bytes: usize) -> usize {
    (bytes / (2 * WIDTH)).max(1)
}

/// `n` bytes of the big-endian ramp CFITSIO's side writes (`i & 0x7fff` per pixel).
fn ramp(n: usize) -> Vec<u8> {
    (0..n / 2)
        .flat_map(|i| ((i & 0x7fff) as i16).to_be_bytes())
        .collect()
}

/// Stream header, `bytes` of image data in writes of `chunk` bytes, and the padding into a
/// new file; close. Returns the elapsed time (create .. close).
fn stream(d: &mut Drv, bytes: usize, chunk: usize, reserve: bool) -> Res<Duration> {
    let rows = rows_for(bytes);
    let data_len = rows * WIDTH * 2;
    let pad = (BLOCK - data_len % BLOCK) % BLOCK;
    let source = ramp(chunk.max(2));
    let hdr = header(rows);
    let start = Instant::now();
    let h = d.create(NAME).map_err(err("create"))?;
    d.write(h, &hdr).map_err(err("write header"))?;
    if reserve {
        let total = (BLOCK + data_len + pad) as u64;
        d.reserve(h, total).map_err(err("reserve"))?;
    }
    let mut left = data_len;
    while left > 0 {
        let n = left.min(chunk);
        d.write(h, &source[..n]).map_err(err("write data"))?;
        left -= n;
    }
    d.write(h, &vec![0u8; pad]).map_err(err("write padding"))?;
    d.close(h).map_err(err("close"))?;
    Ok(start.elapsed())
}

/// Delete the benchmark file (not timed).
fn delete(d: &mut Drv) -> Res<()> {
    d.delete(NAME).map_err(err("delete")).map(|_| ())
}

/// Peak resident set of this process, KiB.
pub fn max_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child `ours-write KEYBASE LOCKDIR BYTES CHUNK [reserve]`.
pub fn ours_write(
    key_base: i32,
    lock_dir: PathBuf,
    bytes: usize,
    chunk: usize,
    reserve: bool,
) -> Res<String> {
    let mut d = driver(key_base, lock_dir)?;
    let t = stream(&mut d, bytes, chunk, reserve)?;
    let rss = max_rss_kib();
    delete(&mut d)?;
    d.shutdown().map_err(err("shutdown"))?;
    Ok(format!("TIME {:.9} RSS {rss}", t.as_secs_f64()))
}

/// Child `fresh KEY BYTES`: the machine's limit for streaming into new shared memory —
/// create a segment of `BYTES`, attach it and copy into every byte from a warm 1 MiB
/// buffer, detach; the segment is removed afterwards (not timed).
pub fn fresh(key: i32, lock_dir: PathBuf, bytes: usize) -> Res<String> {
    let sysv = SysV::new(Config {
        key_base: key,
        lock_dir,
        ..Config::default()
    })
    .map_err(err("SysV::new"))?;
    let src = ramp(1 << 20);
    let start = Instant::now();
    let id = sysv
        .segment_create(key, bytes)
        .map_err(err("segment_create"))?;
    let result = (|| {
        let m = sysv.segment_attach(id).map_err(err("segment_attach"))?;
        let mut off = 0;
        while off < bytes {
            let n = (bytes - off).min(src.len());
            sysv.write(&m, off, &src[..n]).map_err(err("write"))?;
            off += n;
        }
        sysv.segment_detach(m).map_err(err("segment_detach"))
    })();
    let t = start.elapsed();
    let removed = sysv.segment_remove(id).map_err(err("segment_remove"));
    result?;
    removed?;
    Ok(format!("TIME {:.9}", t.as_secs_f64()))
}

/// Warm memcpy of `bytes` (both buffers touched before), best of 3 copies.
fn memcpy_time(bytes: usize) -> Duration {
    let src = ramp(bytes);
    let mut dst = vec![1u8; bytes];
    (0..3)
        .map(|_| {
            let start = Instant::now();
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Child `memcpy BYTES`.
pub fn memcpy(bytes: usize) -> Res<String> {
    Ok(format!("TIME {:.9}", memcpy_time(bytes).as_secs_f64()))
}

/// Open read-only in two phases, so that we know the lock owner (to pin for views).
fn open_ro(d: &mut Drv) -> Res<(Handle, shmfits_unix::LockOwner)> {
    let p = d
        .open_start(NAME, Mode::ReadOnly)
        .map_err(err("open_start"))?;
    let owner = p.owner();
    if let Err(e) = d.platform().lock(owner, p.range(), p.kind(), Wait::Forever) {
        let _ = d.open_abort(p);
        return Err(format!("lock: {e}"));
    }
    let h = d.open_finish(p).map_err(err("open_finish"))?;
    Ok((h, owner))
}

/// One zero-copy access: open read-only, pin the lock, borrow the FITS bytes and the image
/// as big-endian `i16`s, read the last pixel, close. Returns the time and that pixel.
fn zero_copy_once(d: &mut Drv, data_len: usize) -> Res<(Duration, i16)> {
    let start = Instant::now();
    let (h, owner) = open_ro(d)?;
    let pixel = {
        let slot = d.slot_of(h).map_err(err("slot_of"))?;
        let pin = d
            .platform()
            .pin(owner, LockRange::slot(slot))
            .map_err(err("pin"))?;
        let (m, range) = d.view(h).map_err(err("view"))?;
        let fits = pin
            .view(m, range.start, range.len())
            .map_err(err("pin view"))?;
        let data = fits
            .get(BLOCK..BLOCK + data_len)
            .ok_or("file shorter than its image")?;
        let image = <[I16<BigEndian>]>::ref_from_bytes(data).map_err(|_| "odd image length")?;
        image.last().map(|p| p.get()).unwrap_or(0)
    };
    d.close(h).map_err(err("close"))?;
    Ok((start.elapsed(), black_box(pixel)))
}

/// Child `ours-read KEYBASE LOCKDIR BYTES`: makes a file with `BYTES` of image data (not
/// timed), then prints the median of 21 zero-copy accesses (`ZC`); with `copy`, also the
/// first copied read of the whole file into a warm buffer after the open (`COLD`: the
/// mapping's page tables are filled on the way), the best of five more (`COPY`) and of five
/// warm memcpys of the same length between two buffers (`MEMCPY`), interleaved.
pub fn ours_read(key_base: i32, lock_dir: PathBuf, bytes: usize, copy: bool) -> Res<String> {
    let mut d = driver(key_base, lock_dir)?;
    stream(&mut d, bytes, 1 << 20, false)?;
    let data_len = rows_for(bytes) * WIDTH * 2;
    let result = (|| {
        let mut zc = Vec::new();
        for _ in 0..21 {
            let (t, pixel) = zero_copy_once(&mut d, data_len)?;
            if pixel != (((data_len / 2 - 1) % (1 << 19)) & 0x7fff) as i16 {
                return Err(format!("zero-copy view read pixel {pixel}, not the ramp's"));
            }
            zc.push(t);
        }
        zc.sort();
        let mut line = format!("ZC {:.9}", zc[zc.len() / 2].as_secs_f64());
        if copy {
            let (h, _) = open_ro(&mut d)?;
            let len = usize::try_from(d.size(h).map_err(err("size"))?).map_err(err("size"))?;
            let mut buf = vec![1u8; len];
            // memcpy between two warm buffers of the same length, timed alternately with
            // the reads, same number of samples
            let src = ramp(len);
            let mut dst = vec![1u8; len];
            let mut times = Vec::new();
            let mut copies = Vec::new();
            for _ in 0..6 {
                d.seek(h, 0).map_err(err("seek"))?;
                let start = Instant::now();
                let n = d.read(h, &mut buf).map_err(err("read"))?;
                times.push(start.elapsed());
                if n != len {
                    return Err(format!("read {n} of {len} bytes"));
                }
                let start = Instant::now();
                dst.copy_from_slice(black_box(&src));
                copies.push(start.elapsed());
                black_box(&dst);
            }
            let cold = times[0];
            let best_copy = times[1..].iter().copied().min().unwrap_or(cold);
            let best_memcpy = copies[1..].iter().copied().min().unwrap_or(Duration::MAX);
            black_box(&buf);
            d.close(h).map_err(err("close"))?;
            line += &format!(
                " COLD {:.9} COPY {:.9} MEMCPY {:.9}",
                cold.as_secs_f64(),
                best_copy.as_secs_f64(),
                best_memcpy.as_secs_f64()
            );
        }
        Ok(line)
    })();
    let deleted = delete(&mut d);
    let shut = d.shutdown().map_err(err("shutdown"));
    let line = result?;
    deleted?;
    shut?;
    Ok(line)
}

/// Child `ours-open KEYBASE LOCKDIR CYCLES`: makes a 1 MiB file, runs one warm-up cycle and
/// then `CYCLES` read-only open+close cycles on one driver; prints seconds per cycle.
pub fn ours_open(key_base: i32, lock_dir: PathBuf, cycles: u32) -> Res<String> {
    let mut d = driver(key_base, lock_dir)?;
    stream(&mut d, 1 << 20, 1 << 20, false)?;
    let result = (|| -> Res<f64> {
        let cycle = |d: &mut Drv| -> Res<()> {
            let h = d
                .open(NAME, Mode::ReadOnly, Wait::Forever)
                .map_err(err("open"))?;
            d.close(h).map_err(err("close"))
        };
        cycle(&mut d)?;
        let start = Instant::now();
        for _ in 0..cycles {
            cycle(&mut d)?;
        }
        Ok(start.elapsed().as_secs_f64() / f64::from(cycles.max(1)))
    })();
    let deleted = delete(&mut d);
    let shut = d.shutdown().map_err(err("shutdown"));
    let t = result?;
    deleted?;
    shut?;
    Ok(format!("TIME {t:.9}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shmfits_core::fits::Hdus;

    #[test]
    fn header_is_one_block_that_our_parser_reads_as_the_image() {
        let rows = rows_for(8192);
        let mut file = header(rows);
        assert_eq!(file.len(), BLOCK);
        file.resize(BLOCK + 3 * BLOCK, 0); // 8192 data bytes, padded to whole blocks
        let hdu = Hdus::new(&file)
            .next()
            .expect("one HDU")
            .expect("valid file");
        assert_eq!(hdu.data_start(), BLOCK);
        assert_eq!(hdu.cards().len(), 5);
        assert_eq!(rows, 4);
        assert_eq!(rows_for(3 << 20), 1536);
        assert_eq!(rows_for(1), 1);
    }

    #[test]
    fn ramp_is_the_c_sides_big_endian_ramp() {
        let r = ramp(8);
        assert_eq!(r, [0, 0, 0, 1, 0, 2, 0, 3]);
        let wrap = ramp(0x10002);
        assert_eq!(&wrap[0x10000..], [0, 0]);
    }

    #[test]
    fn driver_memory_per_handle_is_fixed_and_small() {
        let per = Drv::BYTES_PER_HANDLE;
        println!(
            "BYTES_PER_HANDLE (SysV) = {per}; size_of::<Driver<SysV, {HANDLES}>>() = {}",
            std::mem::size_of::<Drv>()
        );
        assert!(per > 0 && per <= 256, "{per} bytes per handle");
    }
}

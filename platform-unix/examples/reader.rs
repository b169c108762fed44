//! Open a `shmem://` file read-only and describe it: its HDUs and, for 16-bit images,
//! pixel statistics — all read in place from the shared memory, without copying.
//!
//! ```sh
//! cargo run --example writer
//! cargo run --example reader -- shmem://h1            # read it
//! cargo run --example reader -- shmem://h1 --remove   # read it, then delete it
//! ```
//!
//! Same key base as the writer example (0x5348F100) unless `SHMEM_LIB_KEYBASE` is set:
//! with `SHMEM_LIB_KEYBASE=14011963` it reads what `fitscopy in.fits 'shmem://h2'` wrote.

use shmfits_unix::{Config, Mode, Shm, ENV_KEYBASE};
use zerocopy::byteorder::{BigEndian, I16};

const KEY_BASE: i32 = 0x5348_F100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let remove = args.iter().any(|a| a == "--remove");
    let name = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("shmem://h1", String::as_str);

    let mut config = Config::from_env()?;
    if std::env::var_os(ENV_KEYBASE).is_none() {
        config.key_base = KEY_BASE;
    }
    let shm = Shm::new(config)?;

    // A shared lock: other readers (ours) open at the same time, writers wait.
    let file = shm.open(name, Mode::ReadOnly)?;
    println!("{name}: {} bytes", file.len()?);
    for hdu in file.hdus()? {
        let hdu = hdu?; // a damaged header is an error naming the HDU, card and offset
        let axes: Vec<u64> = hdu.axes().collect();
        println!(
            "  HDU {} {:<8} BITPIX {:>3}  axes {:?}  data: {} bytes at offset {}{}",
            hdu.index(),
            hdu.kind().name(),
            hdu.layout().bitpix(),
            axes,
            hdu.data_len(),
            hdu.data_start(),
            hdu.extname()
                .map(|n| format!("  EXTNAME {n}"))
                .unwrap_or_default(),
        );
        if hdu.layout().bitpix() != 16 || hdu.data_len() == 0 {
            continue;
        }
        // The pixels, in place: big-endian i16 views of the shared memory (valid while
        // `file` is open; raw values, BZERO/BSCALE not applied).
        let pixels: &[I16<BigEndian>] = file.values(hdu.data_start(), hdu.data_len() / 2)?;
        let (mut min, mut max, mut sum, mut at) = (i16::MAX, i16::MIN, 0i64, 0usize);
        for (i, p) in pixels.iter().enumerate() {
            let v = p.get();
            min = min.min(v);
            if v > max {
                (max, at) = (v, i);
            }
            sum += i64::from(v);
        }
        let width = axes.first().copied().unwrap_or(1).max(1) as usize;
        println!(
            "    {} pixels: min {min}, max {max} at (x {}, y {}), mean {:.1}",
            pixels.len(),
            at % width,
            at / width,
            sum as f64 / pixels.len() as f64
        );
    }
    file.close()?;

    if remove {
        // Deletes at once for new opens; the last process that has it open frees it.
        shm.remove(name)?;
        println!("removed {name}");
    }
    Ok(())
}

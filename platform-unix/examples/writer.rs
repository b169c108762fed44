//! Write one FITS image into shared memory, where our reader, or any CFITSIO program, can
//! open it.
//!
//! ```sh
//! cargo run --example writer                 # writes shmem://h1
//! cargo run --example reader -- --remove     # reads it, then deletes it
//! ```
//!
//! It uses its own key base, 0x5348F100, so it never touches a CFITSIO installation's
//! files. Set `SHMEM_LIB_KEYBASE` to choose another table — `SHMEM_LIB_KEYBASE=14011963`
//! is CFITSIO's default, and then `fitscopy 'shmem://h1' out.fits` copies the image out.

use std::io::{ErrorKind, Write};

use shmfits_core::fits::{HeaderBuilder, BLOCK_LEN};
use shmfits_unix::{Config, Mode, Shm, ENV_KEYBASE};

/// The examples' key base (the camera job uses 0x5348F000).
const KEY_BASE: i32 = 0x5348_F100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shmem://h1".to_string());

    // CFITSIO's configuration from the environment, with our own key base unless one is set.
    let mut config = Config::from_env()?;
    if std::env::var_os(ENV_KEYBASE).is_none() {
        config.key_base = KEY_BASE;
    }
    let key_base = config.key_base;
    let shm = Shm::new(config)?;

    // The FITS bytes: one header block, then 16-bit big-endian pixels padded to 2880.
    let (width, height) = (256usize, 128usize);
    let mut file = vec![0u8; BLOCK_LEN];
    let mut header = HeaderBuilder::new(&mut file);
    header.logical("SIMPLE", true, Some("conforms to FITS"))?;
    header.integer("BITPIX", 16, None)?;
    header.integer("NAXIS", 2, None)?;
    header.integer("NAXIS1", width as i64, None)?;
    header.integer("NAXIS2", height as i64, None)?;
    header.string("OBJECT", "gradient and one star", None)?;
    header.finish()?;
    for y in 0..height {
        for x in 0..width {
            // A gentle gradient with a bright "star" at (200, 40).
            let (dx, dy) = (x as f64 - 200.0, y as f64 - 40.0);
            let star = 20_000.0 * (-(dx * dx + dy * dy) / 18.0).exp();
            let value = (x + 2 * y) as f64 + star;
            file.extend_from_slice(&(value as i16).to_be_bytes());
        }
    }
    let data_len = file.len() - BLOCK_LEN;
    file.resize(BLOCK_LEN + data_len.div_ceil(BLOCK_LEN) * BLOCK_LEN, 0); // zero padding

    // Create the file (or, if an earlier run left it, open it to overwrite). The handle
    // holds the slot's write lock: readers wait until it is closed.
    let mut out = match shm.create(&name) {
        Err(e) if e.io_kind() == ErrorKind::AlreadyExists => shm.open(&name, Mode::ReadWrite)?,
        other => other?,
    };
    out.write_all(&file)?;
    // Close publishes: a reader sees the whole image or, before this, the previous one.
    out.close()?;

    println!(
        "wrote a {width}×{height} image ({} bytes) to {name} (key base {key_base:#x})",
        file.len()
    );
    println!("read it with: cargo run --example reader -- {name} --remove");
    Ok(())
}

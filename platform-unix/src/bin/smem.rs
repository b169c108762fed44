//! `smem`: list, inspect and manage `shmem://` FITS files.
fn main() {}

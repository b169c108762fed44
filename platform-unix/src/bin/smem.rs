//! `smem`: list, inspect and manage `shmem://` FITS files. See [`shmfits_unix::cli`].
fn main() -> std::process::ExitCode {
    shmfits_unix::cli::main()
}

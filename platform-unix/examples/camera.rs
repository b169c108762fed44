//! The main job: a writer process streams FITS frames into `shmem://h0`, a reader process
//! verifies each one, both report, everything is removed at the end.
//!
//! ```sh
//! cargo run --release --example camera
//! cargo run --release --example camera -- --frames 1000 --width 512 --height 512
//! cargo run --release --example camera -- --help
//! ```
//!
//! All the logic is in [`shmfits_unix::camera`], shared with the test
//! `platform-unix/tests/camera.rs`.

fn main() -> std::process::ExitCode {
    shmfits_unix::camera::main()
}

//! The `smem` binary for tests of this crate. `env!("CARGO_BIN_EXE_smem")` exists only in
//! `shmfits-unix`'s own tests, so here [`binary`] runs `cargo build -p shmfits-unix --bin smem`
//! once per test process (a no-op when it is up to date; same profile and target directory as
//! the running test) and returns `target/<profile>/smem`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The path of an up-to-date `smem` binary.
///
/// # Errors
/// When cargo cannot build it, with cargo's output.
pub fn binary() -> Result<&'static PathBuf, &'static str> {
    BUILT.get_or_init(build).as_ref().map_err(String::as_str)
}

fn build() -> Result<PathBuf, String> {
    // tests run from target/<profile>/deps/<test>
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| format!("unexpected test path {}", exe.display()))?;
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("unexpected test path {}", exe.display()))?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "shmfits-unix", "--bin", "smem"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().map_err(|e| format!("running cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of smem failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = profile_dir.join("smem");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} not found after the build", bin.display()))
    }
}

//! The camera job end to end: this binary is the parent (in-process [`camera::run`]) and,
//! re-executed with `--role`, the writer and reader children. `harness = false` (see
//! Cargo.toml) so that `main` can route those re-executions.
//!
//! Key bases 0x5348F030, 0x5348F060, 0x5348F090, 0x5348F0C0 (48 keys each); the job makes
//! its own lock directory and removes everything; each case checks that nothing is left.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use shmfits_core::shm::{CounterId, SegmentId, SharedMem};
use shmfits_unix::camera::{self, CameraError, Fault, Options};
use shmfits_unix::{Config, SysV};

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--role") {
        return camera::main();
    }
    let cases: [(&str, fn()); 5] = [
        (
            "streams_and_verifies_every_frame",
            streams_and_verifies_every_frame,
        ),
        ("a_wrong_pixel_fails_the_job", a_wrong_pixel_fails_the_job),
        (
            "a_hung_writer_is_killed_after_the_timeout",
            a_hung_writer_is_killed,
        ),
        (
            "a_key_base_in_use_is_refused_a_stale_one_cleaned",
            a_key_base_in_use_is_refused,
        ),
        (
            "invalid_sizes_are_refused_before_spawning",
            invalid_sizes_are_refused,
        ),
    ];
    for (name, case) in cases {
        println!("test camera::{name} ...");
        case();
        println!("test camera::{name} ... ok");
    }
    ExitCode::SUCCESS
}

fn program() -> PathBuf {
    std::env::current_exe().unwrap()
}

fn small(key_base: i32) -> Options {
    Options {
        frames: 6,
        width: 67,
        height: 45,
        key_base,
        ..Options::default()
    }
}

/// Looks at (and only looks at) the keys of one job.
fn objects_under(key_base: i32) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        key_base,
        lock_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let sysv = SysV::new(config).unwrap();
    let mut found = Vec::new();
    for key in key_base..key_base + 48 {
        if let Ok(id) = sysv.segment_find(key) {
            found.push(format!("segment {key:#x} id {}", id.0));
        }
        if let Ok(Some(id)) = sysv.counter_find(key) {
            found.push(format!("semaphore {key:#x} id {}", id.0));
        }
    }
    found
}

fn assert_all_removed(key_base: i32) {
    assert_eq!(objects_under(key_base), Vec::<String>::new());
    let prefix = camera::lock_dir_prefix(std::process::id());
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(dirs.is_empty(), "lock directories left: {dirs:?}");
}

fn streams_and_verifies_every_frame() {
    let opts = small(0x5348_F030);
    let report = camera::run(&opts, &program()).unwrap();
    assert_eq!(report.frames, 6);
    assert_eq!(
        report.frame_len,
        2880 * 4,
        "header block + 6030 data bytes padded to 8640"
    );
    for s in [report.writer, report.reader] {
        assert_eq!(s.frames, 6);
        assert_eq!(s.bytes, 6 * 2880 * 4);
        assert_ne!(s.pid, std::process::id(), "children are other processes");
    }
    assert_ne!(report.writer.pid, report.reader.pid);
    let line = report.to_string();
    assert!(
        line.starts_with("camera: OK: 6 frames of 67×45 i16"),
        "{line}"
    );
    assert_all_removed(opts.key_base);
}

fn a_wrong_pixel_fails_the_job() {
    let opts = Options {
        fault: Some(Fault::Corrupt(3)),
        ..small(0x5348_F060)
    };
    match camera::run(&opts, &program()) {
        Err(CameraError::Mismatch { frame: 3, detail }) => {
            // the middle pixel of 67×45 is (33, 22); its low byte was flipped
            let want = camera::pixel(33, 22, 3);
            assert_eq!(
                detail,
                format!("pixel (33, 22): expected {want}, found {}", want ^ 1)
            );
        }
        other => panic!("expected a mismatch in frame 3, got {other:?}"),
    }
    assert_all_removed(opts.key_base);
}

fn a_hung_writer_is_killed() {
    let opts = Options {
        fault: Some(Fault::Stall(2)),
        timeout: Duration::from_secs(5),
        ..small(0x5348_F090)
    };
    match camera::run(&opts, &program()) {
        Err(CameraError::TimedOut { after, last }) => {
            assert_eq!(after, Duration::from_secs(5));
            assert_eq!(last, "frame 1 was verified");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The writer held shmem://h0 persistent and the table attached when it was killed.
    assert_all_removed(opts.key_base);
}

fn a_key_base_in_use_is_refused() {
    let base = 0x5348_F0C0;
    let dir = tempfile::tempdir().unwrap();
    let sysv = SysV::new(Config {
        key_base: base,
        lock_dir: dir.path().to_path_buf(),
        ..Config::default()
    })
    .unwrap();
    // A segment someone has attached, and an unused semaphore, under the job's keys.
    let seg = sysv.segment_create(base + 5, 4096).unwrap();
    let sem = sysv.counter_create(base + 7).unwrap();
    struct Remove<'a>(&'a SysV, SegmentId, CounterId);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = self.0.segment_remove(self.1);
            let _ = self.0.counter_remove(self.2);
        }
    }
    let guard = Remove(&sysv, seg, sem);
    let mapping = sysv.segment_attach(seg).unwrap();
    match camera::run(&small(base), &program()) {
        Err(e @ CameraError::KeyBaseInUse { .. }) => {
            let text = e.to_string();
            assert!(text.contains("segment key 0x5348f0c5"), "{text}");
            assert!(text.contains(&format!("ipcrm -m {}", seg.0)), "{text}");
            assert!(text.contains(&format!("ipcrm -s {}", sem.0)), "{text}");
        }
        other => panic!("expected KeyBaseInUse, got {other:?}"),
    }
    assert_eq!(sysv.segment_find(base + 5).ok(), Some(seg), "in use: kept");
    assert_eq!(
        sysv.counter_find(base + 7).ok(),
        Some(Some(sem)),
        "kept too"
    );

    // Unused, as a run killed by Ctrl-C leaves them: removed, and the job runs.
    sysv.segment_detach(mapping).unwrap();
    let report = camera::run(&small(base), &program()).unwrap();
    assert_eq!(report.stale_removed, 2);
    assert!(report
        .to_string()
        .contains("2 objects an interrupted run had left"));
    drop(guard);
    assert_all_removed(base);
}

fn invalid_sizes_are_refused() {
    for opts in [
        Options {
            frames: 0,
            ..small(0x5348_F030)
        },
        Options {
            width: 40_000,
            height: 40_000,
            ..small(0x5348_F030)
        },
    ] {
        match camera::run(&opts, &program()) {
            Err(CameraError::Options { .. }) => {}
            other => panic!("expected an option error for {opts:?}, got {other:?}"),
        }
    }
    assert_all_removed(0x5348_F030);
}

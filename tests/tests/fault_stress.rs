//! Issue 5 stress test on the real kernel: 8 readers and 2 writers (child processes) on 4
//! slots for `SHMFITS_STRESS_SECS` seconds (default 20), with one of them `SIGKILL`ed (by its
//! pid) and replaced every 150 ms. Every read verifies the version's embedded hash. At the
//! end: zero torn reads, zero deadlocks (a lock wait of 10 s running out), zero errors, and —
//! after killing everything and one `recover` — exactly the 4 files' objects in the key
//! range, each file whole; after deleting them, nothing.
//!
//! Key base 0x5348D100.

use std::time::{Duration, Instant};

use shmfits_core::shm::Wait;
use shmfits_tests::fault::env::FaultEnv;
use shmfits_tests::fault::proc::Proc;
use shmfits_tests::fault::{content, read_file, write_through, Drv, Rng};

const KEYS_STRESS: i32 = 0x5348_D100;
const SLOTS_USED: u32 = 4;
const READERS: usize = 8;
const WRITERS: usize = 2;

#[derive(Default, Debug)]
struct Counts {
    reads: u64,
    writes: u64,
    crashes: u64,
    torn: u64,
    deadlocks: u64,
    errors: Vec<String>,
}

impl Counts {
    fn take(&mut self, lines: Vec<String>) {
        for l in lines {
            if l.starts_with("read ok") {
                self.reads += 1;
            } else if l.starts_with("write ok") {
                self.writes += 1;
            } else if l.starts_with("read torn") {
                self.torn += 1;
                self.errors.push(l);
            } else if l.contains(" timeout ") {
                self.deadlocks += 1;
                self.errors.push(l);
            } else {
                self.errors.push(l);
            }
        }
    }
}

fn spawn(env: &FaultEnv, i: usize, seed: u64) -> Proc {
    let role = if i < WRITERS {
        "stress-writer"
    } else {
        "stress-reader"
    };
    env.spawn(&[role, &SLOTS_USED.to_string(), &seed.to_string()], None)
}

fn create(d: &mut Drv, name: &str, version: u64, len: usize) {
    let h = d.create(name).unwrap();
    write_through(d, h, &content::file(version, len), 4096).unwrap();
    d.close(h).unwrap();
}

#[test]
fn stress_readers_writers_and_crashes() {
    let secs: u64 = std::env::var("SHMFITS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let env = FaultEnv::new(KEYS_STRESS, 16);
    let mut d = env.driver();
    for s in 0..SLOTS_USED {
        create(&mut d, &format!("shmem://h{s}"), u64::from(s) + 1, 2000);
    }
    let mut rng = Rng(0x5EED_5EED);
    let mut counts = Counts::default();
    let mut procs: Vec<Proc> = (0..READERS + WRITERS)
        .map(|i| spawn(&env, i, rng.below(u64::MAX - 1) + 1))
        .collect();
    let start = Instant::now();
    let mut last_recover = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(150));
        for p in &mut procs {
            counts.take(p.drain());
        }
        let i = rng.below(procs.len() as u64) as usize;
        procs[i].kill();
        counts.take(procs[i].drain());
        counts.crashes += 1;
        procs[i] = spawn(&env, i, rng.below(u64::MAX - 1) + 1);
        if last_recover.elapsed() > Duration::from_secs(2) {
            // only slots nobody holds are touched; orphans of killed writers go
            d.recover(None).unwrap();
            last_recover = Instant::now();
        }
    }
    for p in &mut procs {
        p.kill();
        counts.take(p.drain());
    }
    drop(procs);
    let report = d.recover(None).unwrap();
    eprintln!(
        "stress {secs} s: reads {} writes {} crashes {} torn reads {} deadlocks {} errors {}",
        counts.reads,
        counts.writes,
        counts.crashes,
        counts.torn,
        counts.deadlocks,
        counts.errors.len()
    );
    for e in counts.errors.iter().take(10) {
        eprintln!("  {e}");
    }
    assert_eq!(counts.torn, 0, "torn reads");
    assert_eq!(counts.deadlocks, 0, "deadlocks");
    assert!(
        counts.errors.is_empty(),
        "errors: {:?}",
        &counts.errors[..counts.errors.len().min(10)]
    );
    assert!(counts.reads > 0 && counts.writes > 0, "{counts:?}");
    assert_eq!(
        env.file_objects(),
        (SLOTS_USED as usize, SLOTS_USED as usize),
        "exactly the files' objects after recover ({report:?}): {:?}",
        env.objects()
    );
    for s in 0..SLOTS_USED {
        let name = format!("shmem://h{s}");
        let bytes = read_file(&mut d, &name, Wait::No).unwrap();
        assert!(content::verify(&bytes).is_ok(), "{name} torn at the end");
        d.delete(&name).unwrap();
    }
    d.shutdown().unwrap();
    assert!(env.objects().is_empty(), "leaked {:?}", env.objects());
}

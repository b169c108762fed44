//! Issue 5's crash scenarios on the mock, replayable from a seed: the same roles as the real
//! fault suite (rewrite in shadow and in place, create, delete, close), with the writer's
//! simulated process killed at a named step (`MockProcess::crash_at_step`, the mock's side of
//! the test-only `SharedMem::checkpoint` hook). A seeded sweep picks step, hit and role; a
//! failure prints the seed, and `SHMFITS_FAULT_SEED=<seed>` replays exactly that case.

use shmfits_core::shm::{Config, Driver, Error, Mode, SharedMem, Step, Wait, WriteMode};
use shmfits_mock::{MockKernel, MockProcess};
use shmfits_tests::fault::content;

type D = Driver<MockProcess, 8>;
const K: i32 = 0x5348_E000;
const M: u32 = 16;

fn driver(p: MockProcess) -> D {
    Driver::new(p, Config::new(K, M)).unwrap()
}

fn write_all(
    d: &mut D,
    h: shmfits_core::shm::Handle,
    bytes: &[u8],
    chunk: usize,
) -> Result<(), String> {
    d.seek(h, 0).map_err(|e| e.to_string())?;
    for part in bytes.chunks(chunk) {
        d.write(h, part).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn create(d: &mut D, name: &str, v: u64, len: usize) {
    let h = d.create(name).unwrap();
    write_all(d, h, &content::file(v, len), 4096).unwrap();
    d.close(h).unwrap();
}

fn read(d: &mut D, name: &str) -> Result<Vec<u8>, Error<shmfits_mock::MockError>> {
    let h = d.open(name, Mode::ReadOnly, Wait::No)?;
    let n = d.size(h)? as usize;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        got += d.read(h, &mut buf[got..])?;
    }
    d.close(h)?;
    Ok(buf)
}

#[derive(Clone, Copy, Debug)]
enum Role {
    RewriteShadow,
    RewriteInPlace,
    Create,
    Delete,
    DeleteWithReader,
}

/// One scenario: bystander h2 (v7), victim h1 (v1) unless the role creates it; the victim
/// process runs `role` and dies at the `hit`-th `step`. Returns a description of what went
/// wrong, if anything.
fn scenario(role: Role, step: Step, hit: u32) -> Result<bool, String> {
    let kernel = MockKernel::new();
    let mut d = driver(kernel.spawn());
    create(&mut d, "shmem://h2", 7, 1234);
    if !matches!(role, Role::Create) {
        create(&mut d, "shmem://h1", 1, 3000);
    }
    let victim = kernel.spawn();
    victim.crash_at_step(Some((step, hit)));
    let mut v = driver(victim.clone());
    let mut reader = None;
    let _ = (|| -> Result<(), String> {
        match role {
            Role::RewriteShadow | Role::RewriteInPlace => {
                let h = v
                    .open("shmem://h1", Mode::ReadWrite, Wait::No)
                    .map_err(|e| e.to_string())?;
                let mode = if matches!(role, Role::RewriteShadow) {
                    WriteMode::Shadow
                } else {
                    WriteMode::InPlace
                };
                v.set_write_mode(h, mode).map_err(|e| e.to_string())?;
                write_all(&mut v, h, &content::file(2, 40_000), 5000)?;
                v.close(h).map_err(|e| e.to_string())
            }
            Role::Create => {
                let h = v.create("shmem://h1").map_err(|e| e.to_string())?;
                write_all(&mut v, h, &content::file(2, 2000), 4096)?;
                v.close(h).map_err(|e| e.to_string())
            }
            Role::Delete => v.delete("shmem://h1").map_err(|e| e.to_string()),
            Role::DeleteWithReader => {
                let mut r = driver(kernel.spawn());
                let h = r
                    .open("shmem://h1", Mode::ReadOnly, Wait::No)
                    .map_err(|e| e.to_string())?;
                reader = Some((r, h));
                v.delete("shmem://h1").map_err(|e| e.to_string())
            }
        }
    })();
    let crashed = !victim.is_alive();
    if !crashed {
        victim.exit();
    }
    if let Some((mut r, h)) = reader {
        r.close(h).map_err(|e| format!("reader close: {e}"))?;
        r.shutdown().map_err(|e| format!("reader shutdown: {e}"))?;
    }
    // Before repair: h1 is absent (create/delete) or one whole version.
    let published = match read(&mut d, "shmem://h1") {
        Ok(bytes) => match content::verify(&bytes) {
            Ok(ver) => Some(ver),
            Err(_) if matches!(role, Role::Create) && bytes.len() == 2880 => Some(0),
            Err(e) if matches!(role, Role::RewriteInPlace) => {
                let _ = e;
                Some(u64::MAX)
            }
            Err(e) => return Err(format!("torn: {e}")),
        },
        Err(Error::NotFound { .. }) => None,
        Err(e) => return Err(format!("read h1: {e}")),
    };
    match role {
        Role::RewriteShadow if published != Some(1) && published != Some(2) => {
            return Err(format!("shadow rewrite left {published:?}"))
        }
        Role::Delete | Role::DeleteWithReader if published.is_some() => {
            return Err(format!("deleted file still opens: {published:?}"))
        }
        Role::RewriteInPlace if published.is_none() => {
            return Err("in-place grow lost the name".into())
        }
        _ => {}
    }
    d.recover(None).map_err(|e| format!("recover: {e}"))?;
    let bystander = read(&mut d, "shmem://h2").map_err(|e| e.to_string())?;
    if content::verify(&bystander) != Ok(7) {
        return Err("bystander changed".into());
    }
    let exists = read(&mut d, "shmem://h1").is_ok();
    let want_files = 1 + usize::from(exists);
    let o = kernel.stats().objects;
    if o.segments_live != 1 + want_files
        || o.counters != want_files
        || o.segments_removed_attached != 0
    {
        return Err(format!("after recover: {o:?}, want {want_files} files"));
    }
    if exists {
        d.delete("shmem://h1").map_err(|e| e.to_string())?;
    }
    d.delete("shmem://h2").map_err(|e| e.to_string())?;
    d.shutdown().map_err(|e| e.to_string())?;
    let o = kernel.stats().objects;
    if o.segments_live != 0 || o.counters != 0 {
        return Err(format!("leaked: {o:?}"));
    }
    Ok(crashed)
}

/// Every step, first three hits, every role: the invariants hold whether or not the step is
/// reached (if it is not, the role simply completed).
#[test]
fn crash_at_every_step_on_the_mock() {
    let mut crashes = 0;
    for role in [
        Role::RewriteShadow,
        Role::RewriteInPlace,
        Role::Create,
        Role::Delete,
        Role::DeleteWithReader,
    ] {
        for step in Step::ALL {
            for hit in 1..=3 {
                match scenario(role, step, hit) {
                    Ok(c) => crashes += u32::from(c),
                    Err(e) => panic!("{role:?} killed at {step}:{hit}: {e}"),
                }
            }
        }
    }
    assert!(crashes > 40, "only {crashes} scenarios reached their step");
}

/// The seeded sweep: each seed picks role, step and hit; replay one with
/// `SHMFITS_FAULT_SEED`.
#[test]
fn seeded_crash_sweep_replays() {
    let seeds: Vec<u64> = match std::env::var("SHMFITS_FAULT_SEED") {
        Ok(s) => vec![s.parse().expect("SHMFITS_FAULT_SEED")],
        Err(_) => (1..=200).collect(),
    };
    for seed in seeds {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = |n: u64| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        };
        let role = [
            Role::RewriteShadow,
            Role::RewriteInPlace,
            Role::Create,
            Role::Delete,
            Role::DeleteWithReader,
        ][next(5) as usize];
        let step = Step::ALL[next(Step::ALL.len() as u64) as usize];
        let hit = next(8) as u32 + 1;
        let first = scenario(role, step, hit);
        let again = scenario(role, step, hit);
        if let Err(e) = &first {
            panic!("seed {seed} ({role:?} at {step}:{hit}): {e} — replay with SHMFITS_FAULT_SEED={seed}");
        }
        assert_eq!(first, again, "seed {seed}: not deterministic");
    }
}

/// The hook on a process without an armed step does nothing.
#[test]
fn unarmed_checkpoint_is_inert() {
    let kernel = MockKernel::new();
    let p = kernel.spawn();
    for s in Step::ALL {
        p.checkpoint(s);
    }
    assert!(p.is_alive());
}

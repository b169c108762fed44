//! The child process of the fault suite (issue 5): one role per run, on the key range and
//! lock directory of its environment (`SHMEM_LIB_KEYBASE`, `SHMEM_LIB_MAXSEG`,
//! `SHMFITS_LOCK_DIR`), optionally stopped at a driver step by `SHMFITS_TEST_STOP_AT`.
//!
//! ```text
//! create NAME VERSION LEN                 create and write a self-checking version, close
//! rewrite NAME VERSION LEN MODE CHUNK     open read-write, write the version (MODE shadow|inplace)
//!                                         in CHUNK-byte writes, close
//! read NAME                               open read-only, read, verify: "ok V" or "torn MSG"
//! hold NAME ro|rw                         open without waiting, print "held", then on stdin
//!                                         "close" closes ("closed"), "exit" exits without close
//! cycle A B [forever]                     hold A read-only, on a stdin line ask for B read-write
//!                                         (300 ms timeout, or waiting forever): "refused MSG",
//!                                         "deadlock SLOT" (then A is closed: "closed") or
//!                                         "got it"
//! exitnoclose NAME VERSION LEN            open read-write, write the version, exit without close
//! badwrite NAME                           open read-write, write past the format's limit, exit
//! delete NAME                             delete, print "deleted"
//! recover                                 recover(None), print the report
//! squat KEY...                            (no driver) create a segment under each key, print
//!                                         "squatted", remove them on a stdin line
//! stress-reader SLOTS SEED                read random slots forever: one line per read
//! stress-writer SLOTS SEED                rewrite random slots forever: one line per write
//! ```
//! Errors print `error <message>` and exit with status 2.

use std::io::BufRead;
use std::time::Duration;

use shmfits_core::shm::{Mode, Wait, WriteMode, MAX_FITS_SIZE};
use shmfits_tests::fault::{content, driver_from_env, read_file, write_through, Drv, Rng};

fn fail(msg: impl std::fmt::Display) -> ! {
    println!("error {msg}");
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| fail(format!("argument {i} missing or invalid: {args:?}")))
}

const WAIT: Wait = Wait::Timeout(Duration::from_secs(20));

fn rewrite(d: &mut Drv, name: &str, version: u64, len: usize, mode: WriteMode, chunk: usize) {
    let h = d
        .open(name, Mode::ReadWrite, WAIT)
        .unwrap_or_else(|e| fail(e));
    d.set_write_mode(h, mode).unwrap_or_else(|e| fail(e));
    write_through(d, h, &content::file(version, len), chunk).unwrap_or_else(|e| fail(e));
    d.close(h).unwrap_or_else(|e| fail(e));
}

fn stdin_command() -> String {
    let mut l = String::new();
    let _ = std::io::stdin().lock().read_line(&mut l);
    l.trim().to_string()
}

/// `squat KEY...`: as a hostile user, create a 0600 segment under each key (no driver),
/// print "squatted", wait for stdin, then remove them.
fn squat(keys: &[String]) {
    use shmfits_core::shm::SharedMem;
    let mut config = shmfits_unix::Config::from_env().unwrap_or_else(|e| fail(e));
    // its own lock file, away from the victim's
    config.lock_dir = std::env::var_os("SHMFITS_SQUAT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| fail("SHMFITS_SQUAT_DIR not set"));
    let sysv = shmfits_unix::SysV::new(config).unwrap_or_else(|e| fail(e));
    let mut made = Vec::new();
    for k in keys {
        let key: i32 = k.parse().unwrap_or_else(|_| fail(format!("bad key {k}")));
        made.push(sysv.segment_create(key, 448).unwrap_or_else(|e| fail(e)));
    }
    println!("squatted");
    let _ = stdin_command();
    for id in made {
        let _ = sysv.segment_remove(id);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let role = args.get(1).map(String::as_str).unwrap_or("");
    if role == "squat" {
        squat(&args[2..]);
        return;
    }
    let mut d = driver_from_env().unwrap_or_else(|e| fail(e));
    match role {
        "create" => {
            let (name, v, len): (String, u64, usize) =
                (arg(&args, 2), arg(&args, 3), arg(&args, 4));
            let h = d.create(&name).unwrap_or_else(|e| fail(e));
            write_through(&mut d, h, &content::file(v, len), 4096).unwrap_or_else(|e| fail(e));
            d.close(h).unwrap_or_else(|e| fail(e));
            println!("created");
        }
        "rewrite" => {
            let name: String = arg(&args, 2);
            let mode = match args.get(5).map(String::as_str) {
                Some("inplace") => WriteMode::InPlace,
                _ => WriteMode::Shadow,
            };
            rewrite(
                &mut d,
                &name,
                arg(&args, 3),
                arg(&args, 4),
                mode,
                arg(&args, 6),
            );
            println!("rewritten");
        }
        "read" => {
            let name: String = arg(&args, 2);
            let bytes = read_file(&mut d, &name, WAIT).unwrap_or_else(|e| fail(e));
            match content::verify(&bytes) {
                Ok(v) => println!("ok {v}"),
                Err(e) => println!("torn {e}"),
            }
        }
        "hold" => {
            let name: String = arg(&args, 2);
            let mode = if args.get(3).map(String::as_str) == Some("rw") {
                Mode::ReadWrite
            } else {
                Mode::ReadOnly
            };
            let h = d.open(&name, mode, Wait::No).unwrap_or_else(|e| fail(e));
            println!("held");
            match stdin_command().as_str() {
                "exit" => std::process::exit(0),
                _ => {
                    d.close(h).unwrap_or_else(|e| fail(e));
                    println!("closed");
                }
            }
        }
        "cycle" => {
            // hold A read-only; on "go", ask for B read-write with a 300 ms timeout (or
            // waiting forever)
            let (a, b): (String, String) = (arg(&args, 2), arg(&args, 3));
            let wait = if args.get(4).map(String::as_str) == Some("forever") {
                Wait::Forever
            } else {
                Wait::Timeout(Duration::from_millis(300))
            };
            let h = d
                .open(&a, Mode::ReadOnly, Wait::No)
                .unwrap_or_else(|e| fail(e));
            println!("held");
            let _ = stdin_command();
            match d.open(&b, Mode::ReadWrite, wait) {
                Ok(hb) => {
                    println!("got it");
                    d.close(hb).unwrap_or_else(|e| fail(e));
                }
                Err(shmfits_core::shm::Error::Deadlock { slot }) => {
                    println!("deadlock {slot}");
                    // giving up A lets the other side's wait complete
                    d.close(h).unwrap_or_else(|e| fail(e));
                    println!("closed");
                    return;
                }
                Err(e) => println!("refused {e}"),
            }
            d.close(h).unwrap_or_else(|e| fail(e));
        }
        "exitnoclose" => {
            let name: String = arg(&args, 2);
            let h = d
                .open(&name, Mode::ReadWrite, WAIT)
                .unwrap_or_else(|e| fail(e));
            write_through(
                &mut d,
                h,
                &content::file(arg(&args, 3), arg(&args, 4)),
                4096,
            )
            .unwrap_or_else(|e| fail(e));
            println!("written");
            std::process::exit(0);
        }
        "badwrite" => {
            let name: String = arg(&args, 2);
            let h = d
                .open(&name, Mode::ReadWrite, WAIT)
                .unwrap_or_else(|e| fail(e));
            d.seek(h, MAX_FITS_SIZE as u64 - 10)
                .unwrap_or_else(|e| fail(e));
            match d.write(h, &[7u8; 100]) {
                Ok(n) => fail(format!("write past the limit wrote {n} bytes")),
                Err(e) => println!("refused {e}"),
            }
            std::process::exit(0);
        }
        "delete" => {
            let name: String = arg(&args, 2);
            d.delete(&name).unwrap_or_else(|e| fail(e));
            println!("deleted");
        }
        "recover" => {
            let r = d.recover(None).unwrap_or_else(|e| fail(e));
            println!("recovered {r:?}");
        }
        "stress-reader" | "stress-writer" => {
            let slots: u32 = arg(&args, 2);
            let mut rng = Rng(arg::<u64>(&args, 3) | 1);
            let reader = role == "stress-reader";
            let wait = Wait::Timeout(Duration::from_secs(10));
            loop {
                let name = format!("shmem://h{}", rng.below(u64::from(slots)));
                if reader {
                    match read_file(&mut d, &name, wait) {
                        Ok(bytes) => match content::verify(&bytes) {
                            Ok(v) => println!("read ok {v}"),
                            Err(e) => println!("read torn {name}: {e}"),
                        },
                        Err(e) if e.contains("timed out") => println!("read timeout {name}: {e}"),
                        Err(e) => println!("read error {name}: {e}"),
                    }
                } else {
                    let version = rng.below(1_000_000) + 1;
                    let len = 1000 + rng.below(40_000) as usize;
                    let h = match d.open(&name, Mode::ReadWrite, wait) {
                        Ok(h) => h,
                        Err(e) if e.to_string().contains("timed out") => {
                            println!("write timeout {name}: {e}");
                            continue;
                        }
                        Err(e) => {
                            println!("write error {name}: {e}");
                            continue;
                        }
                    };
                    // A shorter version would leave the old tail: grow only.
                    let cur = d.size(h).unwrap_or(0) as usize;
                    let len = len.max(cur.saturating_sub(2880));
                    let r = write_through(&mut d, h, &content::file(version, len), 3000);
                    let c = d.close(h);
                    match (r, c) {
                        (Ok(()), Ok(())) => println!("write ok {version}"),
                        (Err(e), _) => println!("write error {name}: {e}"),
                        (_, Err(e)) => println!("write error {name}: {e}"),
                    }
                }
            }
        }
        other => fail(format!("unknown role {other:?}")),
    }
}

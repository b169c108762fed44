//! The parent process: runs every case's children in alternation, collects medians, prints
//! the table (Markdown), writes `results.tsv`, `results.md` and the plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use shmfits_core::fits::Hdus;
use shmfits_tests::{cfitsio, ipc::CfitsioKeys};

use crate::plot::{self, Series};
use crate::stats::{loglog_fit, median, predict};
use crate::work::NAME;

/// Harness options.
#[derive(Debug)]
pub struct Options {
    /// Repetitions per case and size (medians are taken over them).
    pub reps: usize,
    /// Also run CFITSIO row by row at 32 MiB, once (a minute or more); otherwise its time
    /// there is extrapolated from 1–8 MiB.
    pub cfitsio_32: bool,
    /// Where results and plots go.
    pub out: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reps: 3,
            cfitsio_32: false,
            out: PathBuf::from("docs/perf"),
        }
    }
}

const KEY_OURS: i32 = 0x5349_0000;
const KEY_CFITSIO: i32 = 0x5349_0100;
const KEY_FRESH: i32 = 0x5349_0200;
const SLOTS: i32 = 16;

const OURS_MIB: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const CF_ROW_MIB: [u64; 4] = [1, 2, 4, 8];
const CF_ROW_BIG_MIB: u64 = 32;
const CF_CHUNK_MIB: [u64; 7] = [1, 2, 4, 8, 16, 32, 64];
const OPEN_CYCLES: u32 = 2000;
const STRACE_LOW: u32 = 100;
const STRACE_HIGH: u32 = 300;

/// Samples by (case, side, MiB).
#[derive(Debug, Default)]
struct Samples(BTreeMap<(&'static str, &'static str, u64), Vec<f64>>);

impl Samples {
    fn add(&mut self, case: &'static str, side: &'static str, mib: u64, v: f64) {
        self.0.entry((case, side, mib)).or_default().push(v);
    }
    fn median(&self, case: &str, side: &str, mib: u64) -> Option<f64> {
        self.0
            .get(&(case, side, mib))
            .map(|v| median(v))
            .filter(|m| m.is_finite())
    }
    fn series(&self, case: &str, side: &str) -> Vec<(f64, f64)> {
        self.0
            .iter()
            .filter(|((c, s, _), _)| *c == case && *s == side)
            .map(|((_, _, mib), v)| (*mib as f64, median(v)))
            .collect()
    }
    fn count(&self, case: &str, side: &str, mib: u64) -> usize {
        self.0.get(&(case, side, mib)).map_or(0, Vec::len)
    }
}

struct Ctx {
    exe: PathBuf,
    write_c: PathBuf,
    open_c: PathBuf,
    lock_dir: PathBuf,
    ours: CfitsioKeys,
    cf: CfitsioKeys,
    fresh_keys: CfitsioKeys,
}

fn parse_line(out: &str) -> BTreeMap<String, f64> {
    let line = out.lines().last().unwrap_or("");
    let f: Vec<&str> = line.split_whitespace().collect();
    f.chunks(2)
        .filter_map(|kv| Some((kv.first()?.to_string(), kv.get(1)?.parse().ok()?)))
        .collect()
}

fn exec(cmd: &mut Command, what: &str) -> Result<BTreeMap<String, f64>, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(parse_line(&String::from_utf8_lossy(&out.stdout)))
}

fn get(m: &BTreeMap<String, f64>, k: &str, what: &str) -> Result<f64, String> {
    m.get(k)
        .copied()
        .ok_or(format!("{what}: no {k} in its output"))
}

impl Ctx {
    /// Run `f`; if it fails, clean every key range (no child is alive between runs), wait
    /// a moment and try once more: other work on a shared machine can hit a kernel limit
    /// for a while. The retry is announced on stderr.
    fn retry<T>(&self, what: &str, f: impl Fn() -> Result<T, String>) -> Result<T, String> {
        f().or_else(|e| {
            eprintln!("[bench] {what} failed, retrying once after cleanup: {e}");
            self.ours.cleanup();
            self.cf.cleanup();
            self.fresh_keys.cleanup();
            std::thread::sleep(Duration::from_secs(2));
            f()
        })
    }

    fn child(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.exe);
        c.arg("child").args(args);
        c
    }

    fn ours(&self, kind: &str, extra: &[String]) -> Vec<String> {
        let mut v = vec![
            kind.to_owned(),
            self.ours.keybase().to_string(),
            self.lock_dir.display().to_string(),
        ];
        v.extend_from_slice(extra);
        v
    }

    fn cf(&self, prog: &Path) -> Command {
        let mut c = Command::new(prog);
        c.envs(self.cf.env());
        c
    }

    fn ours_write(&self, mib: u64, chunk: usize, reserve: bool) -> Result<(f64, f64), String> {
        self.retry("ours-write", || self.ours_write_once(mib, chunk, reserve))
    }

    fn ours_write_once(&self, mib: u64, chunk: usize, reserve: bool) -> Result<(f64, f64), String> {
        let mut a = self.ours("ours-write", &[(mib << 20).to_string(), chunk.to_string()]);
        if reserve {
            a.push("reserve".into());
        }
        let m = exec(&mut self.child(&a), "ours-write")?;
        Ok((
            get(&m, "TIME", "ours-write")?,
            get(&m, "RSS", "ours-write")?,
        ))
    }

    fn cf_write(&self, mib: u64, mode: &str) -> Result<(f64, f64), String> {
        self.retry("shmbench_write", || self.cf_write_once(mib, mode))
    }

    fn cf_write_once(&self, mib: u64, mode: &str) -> Result<(f64, f64), String> {
        let what = "shmbench_write";
        let m = exec(
            self.cf(&self.write_c)
                .args([NAME, mode])
                .arg((mib << 20).to_string()),
            what,
        );
        // whatever happened, nothing of CFITSIO's may stay behind for the next run
        self.cf.cleanup();
        let m = m?;
        Ok((get(&m, "TIME", what)?, get(&m, "RSS", what)?))
    }

    fn fresh(&self, mib: u64) -> Result<f64, String> {
        self.retry("fresh", || self.fresh_once(mib))
    }

    fn fresh_once(&self, mib: u64) -> Result<f64, String> {
        let a = vec![
            "fresh".to_owned(),
            KEY_FRESH.to_string(),
            self.lock_dir.display().to_string(),
            (mib << 20).to_string(),
        ];
        get(&exec(&mut self.child(&a), "fresh")?, "TIME", "fresh")
    }
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// `strace -f -c` of a command: calls per syscall name, and the total.
fn strace_counts(cmd: Command, what: &str) -> Result<BTreeMap<String, f64>, String> {
    let tmp = std::env::temp_dir().join(format!("shmfits-strace-{}.txt", std::process::id()));
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    let out = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&tmp)
        .arg(prog)
        .args(args)
        .envs(envs)
        .output()
        .map_err(|e| format!("{what}: cannot run strace: {e} (apt-get install strace)"))?;
    let text = std::fs::read_to_string(&tmp).unwrap_or_default();
    let _ = std::fs::remove_file(&tmp);
    if !out.status.success() {
        return Err(format!(
            "{what} under strace: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if f.len() >= 5 && f[0].parse::<f64>().is_ok() {
            if let (Ok(calls), Some(name)) = (f[3].parse::<f64>(), f.last()) {
                counts.insert((*name).to_owned(), calls);
            }
        }
    }
    if !counts.contains_key("total") {
        return Err(format!("{what}: no total in strace's summary:\n{text}"));
    }
    Ok(counts)
}

/// Per-cycle syscalls: (high − low) / (cycles difference), per name.
fn per_cycle(low: &BTreeMap<String, f64>, high: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let d = f64::from(STRACE_HIGH - STRACE_LOW);
    high.iter()
        .map(|(k, v)| (k.clone(), (v - low.get(k).copied().unwrap_or(0.0)) / d))
        .filter(|(_, v)| *v > 0.004)
        .collect()
}

fn fmt_s(t: Option<f64>) -> String {
    match t {
        None => "—".into(),
        Some(t) if t < 1e-3 => format!("{:.1} µs", t * 1e6),
        Some(t) if t < 1.0 => format!("{:.2} ms", t * 1e3),
        Some(t) => format!("{t:.2} s"),
    }
}

fn fmt_x(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

fn fit_text(points: &[(f64, f64)]) -> String {
    loglog_fit(points).map_or("—".into(), |(k, _)| format!("{k:.2}"))
}

fn fit_top(points: &[(f64, f64)], from_mib: f64) -> Vec<(f64, f64)> {
    points.iter().copied().filter(|p| p.0 >= from_mib).collect()
}

/// Runs everything.
///
/// # Errors
/// A child that failed, a missing tool, a plot that could not be written.
pub fn run(o: &Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run with --release for meaningful figures");
    }
    let started = Instant::now();
    let write_c = cfitsio::build_program(
        "shmbench_write",
        include_str!("../../tests/c/shmbench_write.c"),
    )?;
    let open_c = cfitsio::build_program(
        "shmbench_open",
        include_str!("../../tests/c/shmbench_open.c"),
    )?;
    let ctx = Ctx {
        exe: std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?,
        write_c,
        open_c,
        lock_dir: PathBuf::from("/tmp"),
        ours: CfitsioKeys::new(KEY_OURS, SLOTS),
        cf: CfitsioKeys::new(KEY_CFITSIO, SLOTS),
        fresh_keys: CfitsioKeys::new(KEY_FRESH, SLOTS),
    };
    let mut s = Samples::default();
    let reps = o.reps.max(1);

    // a, c: row by row, with the fresh-page limit alongside
    for rep in 0..reps {
        progress(&format!("row-by-row writes, repetition {}/{reps}", rep + 1));
        for &mib in &OURS_MIB {
            let (t, rss) = ctx.ours_write(mib, 2048, false)?;
            s.add("row", "ours", mib, t);
            s.add("rss", "ours", mib, rss / 1024.0);
            let (t, rss) = ctx.ours_write(mib, 2048, true)?;
            s.add("row-hint", "ours", mib, t);
            s.add("rss-hint", "ours", mib, rss / 1024.0);
            s.add("fresh", "machine", mib, ctx.fresh(mib)?);
            if CF_ROW_MIB.contains(&mib) {
                let (t, rss) = ctx.cf_write(mib, "row")?;
                s.add("row", "cfitsio", mib, t);
                s.add("rss", "cfitsio", mib, rss / 1024.0);
            }
        }
    }
    if o.cfitsio_32 {
        progress("CFITSIO row by row at 32 MiB (one run, about a minute)");
        let (t, rss) = ctx.cf_write(CF_ROW_BIG_MIB, "row")?;
        s.add("row", "cfitsio", CF_ROW_BIG_MIB, t);
        s.add("rss", "cfitsio", CF_ROW_BIG_MIB, rss / 1024.0);
    }

    // b, c: 1 MiB chunks (both), 2880-byte writes (ours), warm memcpy
    for rep in 0..reps {
        progress(&format!("chunked writes, repetition {}/{reps}", rep + 1));
        for &mib in &OURS_MIB {
            s.add("chunk", "ours", mib, ctx.ours_write(mib, 1 << 20, false)?.0);
            s.add("block", "ours", mib, ctx.ours_write(mib, 2880, false)?.0);
            s.add(
                "chunk-hint",
                "ours",
                mib,
                ctx.ours_write(mib, 1 << 20, true)?.0,
            );
            s.add(
                "block-hint",
                "ours",
                mib,
                ctx.ours_write(mib, 2880, true)?.0,
            );
            let m = exec(
                &mut ctx.child(&["memcpy".into(), (mib << 20).to_string()]),
                "memcpy",
            )?;
            s.add("memcpy", "machine", mib, get(&m, "TIME", "memcpy")?);
            if CF_CHUNK_MIB.contains(&mib) {
                s.add("chunk", "cfitsio", mib, ctx.cf_write(mib, "chunk")?.0);
            }
        }
    }

    // d: zero-copy and copied reads
    for rep in 0..reps {
        progress(&format!("reads, repetition {}/{reps}", rep + 1));
        for &mib in &OURS_MIB {
            let mut extra = vec![(mib << 20).to_string()];
            if mib == 256 {
                extra.push("copy".into());
            }
            let m = ctx.retry("ours-read", || {
                exec(&mut ctx.child(&ctx.ours("ours-read", &extra)), "ours-read")
            })?;
            s.add("zero-copy", "ours", mib, get(&m, "ZC", "ours-read")?);
            if mib == 256 {
                s.add("read-copy", "ours", mib, get(&m, "COPY", "ours-read")?);
                s.add("read-cold", "ours", mib, get(&m, "COLD", "ours-read")?);
                s.add("read-copy", "machine", mib, get(&m, "MEMCPY", "ours-read")?);
            }
        }
    }

    // e: open/close
    progress("open/close cycles");
    let cf_make = || -> Result<(), String> {
        exec(
            ctx.cf(&ctx.write_c)
                .args([NAME, "chunk", "1048576", "keep"]),
            "shmbench_write keep",
        )
        .map(|_| ())
    };
    cf_make()?;
    let open_result = (|| -> Result<_, String> {
        for _ in 0..reps {
            let m = exec(
                &mut ctx.child(&ctx.ours("ours-open", &[OPEN_CYCLES.to_string()])),
                "ours-open",
            )?;
            s.add("open", "ours", 0, get(&m, "TIME", "ours-open")?);
            let m = exec(
                ctx.cf(&ctx.open_c).args([NAME, &OPEN_CYCLES.to_string()]),
                "shmbench_open",
            )?;
            s.add("open", "cfitsio", 0, get(&m, "TIME", "shmbench_open")?);
        }
        let ours_sc = |n: u32| {
            strace_counts(
                ctx.child(&ctx.ours("ours-open", &[n.to_string()])),
                "ours-open",
            )
        };
        let cf_sc = |n: u32| {
            let mut c = ctx.cf(&ctx.open_c);
            c.args([NAME, &n.to_string()]);
            strace_counts(c, "shmbench_open")
        };
        let ours = per_cycle(&ours_sc(STRACE_LOW)?, &ours_sc(STRACE_HIGH)?);
        let theirs = per_cycle(&cf_sc(STRACE_LOW)?, &cf_sc(STRACE_HIGH)?);
        Ok((ours, theirs))
    })();
    ctx.cf.cleanup();
    let (sc_ours, sc_cf) = open_result?;

    // f: header parsing
    progress("header parsing");
    let (hdr_ours, hdr_cf) = headers()?;

    let elapsed = started.elapsed();
    let md = report(&s, &sc_ours, &sc_cf, hdr_ours, hdr_cf, o, elapsed);
    println!("{md}");
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    std::fs::write(o.out.join("results.md"), &md).map_err(|e| e.to_string())?;
    std::fs::write(o.out.join("results.tsv"), tsv(&s)).map_err(|e| e.to_string())?;
    plots(&s, &o.out)?;
    progress(&format!("done in {:.0} s", elapsed.as_secs_f64()));
    Ok(())
}

/// Header parsing MB/s of 80-byte cards: ours ((walk: header scan, mandatory keywords,
/// layout), (walk + every card's keyword, value, comment)) on `header1000.fits`, and
/// CFITSIO's `fits_read_keyn` on the same file (`hdrbench`).
fn headers() -> Result<((f64, f64), f64), String> {
    let c = cfitsio::programs().map_err(|e| e.to_owned())?;
    let file = c.corpus().join("header1000.fits");
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let pass = || -> usize {
        let Some(Ok(hdu)) = Hdus::new(std::hint::black_box(&bytes)).next() else {
            return 0;
        };
        let mut n = 0;
        for card in hdu.cards().flatten() {
            std::hint::black_box((card.keyword(), card.raw_value(), card.comment()));
            n += 1;
        }
        n
    };
    let walk = || -> usize {
        match Hdus::new(std::hint::black_box(&bytes)).next() {
            Some(Ok(hdu)) => hdu.cards().len(),
            _ => 0,
        }
    };
    let cards = pass();
    if cards < 1000 || walk() != cards {
        return Err(format!("header1000.fits: only {cards} cards parsed"));
    }
    let rate = |f: &dyn Fn() -> usize| {
        let budget = Duration::from_secs(1);
        let start = Instant::now();
        let mut passes = 0u64;
        while start.elapsed() < budget {
            std::hint::black_box(f());
            passes += 1;
        }
        (passes * cards as u64 * 80) as f64 / start.elapsed().as_secs_f64() / 1e6
    };
    let ours = (rate(&walk), rate(&pass));
    let out = Command::new(&c.hdrbench)
        .arg(&file)
        .arg("2000")
        .output()
        .map_err(|e| format!("hdrbench: {e}"))?;
    let theirs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.first() == Some(&"METHOD") && f.get(1) == Some(&"read_keyn"))
                .then(|| f.get(5)?.parse::<f64>().ok())?
        })
        .next()
        .ok_or("hdrbench printed no read_keyn line")?;
    Ok((ours, theirs))
}

fn tsv(s: &Samples) -> String {
    let mut t = String::from("case\tside\tmib\tn\tmedian\tsamples\n");
    for ((c, side, mib), v) in &s.0 {
        let samples: Vec<String> = v.iter().map(|x| format!("{x:.9}")).collect();
        let _ = writeln!(
            t,
            "{c}\t{side}\t{mib}\t{}\t{:.9}\t{}",
            v.len(),
            median(v),
            samples.join(",")
        );
    }
    t
}

fn report(
    s: &Samples,
    sc_ours: &BTreeMap<String, f64>,
    sc_cf: &BTreeMap<String, f64>,
    hdr_ours: (f64, f64),
    hdr_cf: f64,
    o: &Options,
    elapsed: Duration,
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Medians of {} runs (n=1 where marked). Ratio = CFITSIO's time / ours. \
         Limit = the machine's: fresh-page streaming (new segment, every byte written) for \
         writes, warm memcpy for reads. Harness wall time {:.0} s.\n",
        o.reps,
        elapsed.as_secs_f64()
    );
    t += "| case | size | ours | CFITSIO | ratio | limit | ours / limit |\n";
    t += "|---|---|---|---|---|---|---|\n";
    let cases: [(&str, &str, &str); 7] = [
        ("row", "row by row (2048 B writes)", "fresh"),
        ("row-hint", "row by row, size hint", "fresh"),
        ("chunk", "1 MiB writes", "fresh"),
        ("chunk-hint", "1 MiB writes, size hint", "fresh"),
        ("block", "2880 B writes", "fresh"),
        ("block-hint", "2880 B writes, size hint", "fresh"),
        ("zero-copy", "zero-copy open+view+close", ""),
    ];
    for (case, label, limit) in cases {
        for &mib in &OURS_MIB {
            let ours = s.median(case, "ours", mib);
            let cf = s.median(case, "cfitsio", mib);
            let lim = if limit.is_empty() {
                None
            } else {
                s.median(limit, "machine", mib)
            };
            let n1 = if s.count(case, "cfitsio", mib) == 1 {
                " (n=1)"
            } else {
                ""
            };
            let _ = writeln!(
                t,
                "| {label} | {mib} MiB | {} | {}{n1} | {} | {} | {} |",
                fmt_s(ours),
                fmt_s(cf),
                fmt_x(cf, ours),
                fmt_s(lim),
                fmt_x(ours, lim)
            );
        }
    }
    let copy = s.median("read-copy", "ours", 256);
    let mc = s.median("read-copy", "machine", 256);
    let _ = writeln!(
        t,
        "| copied read (`Driver::read`), mapping warm | 256 MiB | {} | — | — | {} (memcpy) | {} |",
        fmt_s(copy),
        fmt_s(mc),
        fmt_x(copy, mc)
    );
    let cold = s.median("read-cold", "ours", 256);
    let _ = writeln!(
        t,
        "| copied read, first after open | 256 MiB | {} | — | — | {} (memcpy) | {} |",
        fmt_s(cold),
        fmt_s(mc),
        fmt_x(cold, mc)
    );
    if let (Some(c), Some(m), Some(k)) = (copy, mc, cold) {
        let gb = |t: f64| 268_435_456.0 / t / 1e9;
        let _ = writeln!(
            t,
            "\nCopied read bandwidth, 256 MiB: {:.2} GB/s = {:.2}× warm memcpy ({:.2} GB/s); \
             first read after open (page tables of the new mapping filled on the way): \
             {:.2} GB/s = {:.2}× memcpy.",
            gb(c),
            m / c,
            gb(m),
            gb(k),
            m / k
        );
    }
    let (oo, oc) = (s.median("open", "ours", 0), s.median("open", "cfitsio", 0));
    let (so, sf) = (sc_ours.get("total"), sc_cf.get("total"));
    let _ = writeln!(
        t,
        "\nOpen+close (READONLY, 1 MiB file, {OPEN_CYCLES} cycles): ours {} per cycle, \
         CFITSIO {} per cycle (CFITSIO/ours {}); syscalls per cycle: ours {:.1}, CFITSIO {:.1}.",
        fmt_s(oo),
        fmt_s(oc),
        fmt_x(oc, oo),
        so.copied().unwrap_or(f64::NAN),
        sf.copied().unwrap_or(f64::NAN)
    );
    let list = |m: &BTreeMap<String, f64>| {
        m.iter()
            .filter(|(k, _)| *k != "total")
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(t, "\n- ours: {}\n- CFITSIO: {}", list(sc_ours), list(sc_cf));
    let _ = writeln!(
        t,
        "\nHeader parsing, 1000-card header, MB/s of cards: ours walk (END, mandatory \
         keywords, layout) {:.0} MB/s; ours walk + keyword/value/comment of every card {:.0} \
         MB/s; CFITSIO fits_read_keyn of every card (header parsed at open) {hdr_cf:.0} MB/s.",
        hdr_ours.0, hdr_ours.1
    );

    t += "\nGrowth exponents (least squares on log-log, all sizes / sizes ≥ 16 MiB):\n\n";
    for (case, side, label) in [
        ("row", "ours", "row by row, ours"),
        ("row-hint", "ours", "row by row with size hint, ours"),
        ("row", "cfitsio", "row by row, CFITSIO"),
        ("chunk", "ours", "1 MiB writes, ours"),
        ("chunk-hint", "ours", "1 MiB writes with size hint, ours"),
        ("block", "ours", "2880 B writes, ours"),
        ("block-hint", "ours", "2880 B writes with size hint, ours"),
        ("chunk", "cfitsio", "1 MiB writes, CFITSIO"),
        ("fresh", "machine", "fresh-page limit"),
        ("zero-copy", "ours", "zero-copy open+view+close"),
    ] {
        let p = s.series(case, side);
        let _ = writeln!(
            t,
            "- {label}: {} / {}",
            fit_text(&p),
            fit_text(&fit_top(&p, 16.0))
        );
    }
    let cf_row = s.series("row", "cfitsio");
    let cf_small: Vec<(f64, f64)> = cf_row.iter().copied().filter(|p| p.0 <= 8.0).collect();
    if let Some(fit) = loglog_fit(&cf_small) {
        let at32 = predict(fit, 32.0);
        let _ = writeln!(
            t,
            "\nCFITSIO row by row at 32 MiB extrapolated from 1–8 MiB (exponent {:.2}): {}; \
             measured: {}. Ours at 32 MiB: {} → ratio {} (extrapolated) / {} (measured).",
            fit.0,
            fmt_s(Some(at32)),
            fmt_s(s.median("row", "cfitsio", 32)),
            fmt_s(s.median("row", "ours", 32)),
            fmt_x(Some(at32), s.median("row", "ours", 32)),
            fmt_x(s.median("row", "cfitsio", 32), s.median("row", "ours", 32)),
        );
    }
    t += "\nPeak RSS of a process that only streams row by row (ru_maxrss):\n\n";
    t += "| size | ours | ours, size hint | CFITSIO |\n|---|---|---|---|\n";
    for &mib in &OURS_MIB {
        let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1} MiB"));
        let _ = writeln!(
            t,
            "| {mib} MiB | {} | {} | {} |",
            f(s.median("rss", "ours", mib)),
            f(s.median("rss-hint", "ours", mib)),
            f(s.median("rss", "cfitsio", mib))
        );
    }
    t
}

fn plots(s: &Samples, dir: &Path) -> Result<(), String> {
    let series = |case: &str, side: &str, label: &str| Series {
        label: label.to_owned(),
        points: s.series(case, side),
    };
    plot::loglog(
        &dir.join("write_row.svg"),
        "Streaming a 16-bit image row by row (2048-byte writes)",
        "seconds",
        &[
            series("row", "cfitsio", "CFITSIO fits_write_img per row"),
            series("row", "ours", "shmfits Driver::write per row"),
            series("row-hint", "ours", "shmfits, size hint after the header"),
            series("fresh", "machine", "limit: fresh shared memory, memcpy in"),
        ],
    )?;
    plot::loglog(
        &dir.join("write_chunk.svg"),
        "Streaming in 1 MiB and 2880-byte writes",
        "seconds",
        &[
            series("chunk", "cfitsio", "CFITSIO fits_write_img, 1 MiB"),
            series("chunk", "ours", "shmfits Driver::write, 1 MiB"),
            series("block", "ours", "shmfits Driver::write, 2880 B"),
            series("chunk-hint", "ours", "shmfits 1 MiB, size hint"),
            series("block-hint", "ours", "shmfits 2880 B, size hint"),
            series("fresh", "machine", "limit: fresh shared memory, memcpy in"),
        ],
    )?;
    plot::loglog(
        &dir.join("read.svg"),
        "Reading: zero-copy view vs warm memcpy of the file",
        "seconds",
        &[
            series(
                "zero-copy",
                "ours",
                "shmfits open + &[u8] + typed view + close",
            ),
            series("memcpy", "machine", "warm memcpy of the same bytes"),
        ],
    )?;
    plot::loglog(
        &dir.join("rss.svg"),
        "Peak RSS of a process streaming row by row",
        "MiB",
        &[
            series("rss", "ours", "shmfits"),
            series("rss-hint", "ours", "shmfits, size hint"),
            series("rss", "cfitsio", "CFITSIO"),
            Series {
                label: "file size".into(),
                points: OURS_MIB.iter().map(|&m| (m as f64, m as f64)).collect(),
            },
        ],
    )
}

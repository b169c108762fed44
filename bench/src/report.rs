//! The Markdown report and the raw table of a harness run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::harness::{Options, Samples, OPEN_CYCLES, OURS_MIB};
use crate::stats::{loglog_fit, median, predict};

pub(crate) fn fmt_s(t: Option<f64>) -> String {
    match t {
        None => "—".into(),
        Some(t) if t < 1e-3 => format!("{:.1} µs", t * 1e6),
        Some(t) if t < 1.0 => format!("{:.2} ms", t * 1e3),
        Some(t) => format!("{t:.2} s"),
    }
}

pub(crate) fn fmt_x(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

pub(crate) fn fit_text(points: &[(f64, f64)]) -> String {
    loglog_fit(points).map_or("—".into(), |(k, _)| format!("{k:.2}"))
}

pub(crate) fn fit_top(points: &[(f64, f64)], from_mib: f64) -> Vec<(f64, f64)> {
    points.iter().copied().filter(|p| p.0 >= from_mib).collect()
}

pub(crate) fn tsv(s: &Samples) -> String {
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

pub(crate) fn report(
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
    let cases: [(&str, &str, &str); 10] = [
        ("row", "row by row (2048 B writes)", "fresh"),
        ("row-hint", "row by row, size hint", "fresh"),
        ("file-row", "`ShmFile` row by row, no manual hint", "fresh"),
        (
            "file-block",
            "`ShmFile` 2880 B writes, no manual hint",
            "fresh",
        ),
        (
            "file-chunk",
            "`ShmFile` 1 MiB writes, no manual hint",
            "fresh",
        ),
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
    let r = |case: &str| s.median(case, "ours", 256);
    if let (Some(read), Some(seg), Some(heap)) = (r("file-read"), r("seg-memcpy"), r("heap-memcpy"))
    {
        let _ = writeln!(
            t,
            "\n`ShmFile::read` of 256 MiB, same process, warm mapping, warm destination (best of \
             5, interleaved): read {} = {:.2}× heap→heap memcpy ({}), {:.2}× memcpy from the \
             same segment into the same destination ({}). Segment source with the destination \
             at the same line offset: {}; heap→heap with the source 24 bytes into a page (as \
             FITS bytes in a segment): {}. First read after open: {}. `read_to_end` into a \
             new `Vec` (cold destination): {}.",
            fmt_s(Some(read)),
            heap / read,
            fmt_s(Some(heap)),
            seg / read,
            fmt_s(Some(seg)),
            fmt_s(r("seg-memcpy-aligned")),
            fmt_s(r("heap-memcpy-24")),
            fmt_s(r("file-read-cold")),
            fmt_s(r("file-read-to-end")),
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
        ("file-row", "ours", "`ShmFile` row by row, ours"),
        ("file-block", "ours", "`ShmFile` 2880 B writes, ours"),
        ("file-chunk", "ours", "`ShmFile` 1 MiB writes, ours"),
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
    t += "| size | ours (`Driver`, no hint) | ours, size hint | ours, `ShmFile` | CFITSIO |\n";
    t += "|---|---|---|---|---|\n";
    for &mib in &OURS_MIB {
        let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1} MiB"));
        let _ = writeln!(
            t,
            "| {mib} MiB | {} | {} | {} | {} |",
            f(s.median("rss", "ours", mib)),
            f(s.median("rss-hint", "ours", mib)),
            f(s.median("rss-file", "ours", mib)),
            f(s.median("rss", "cfitsio", mib))
        );
    }
    t
}

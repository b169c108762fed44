//! Header parsing speed, ours against CFITSIO's, on the same 1000-card header, in one run.
//!
//! ```text
//! cargo run --release -p shmfits-tests --bin bench_headers [-- SECONDS_PER_CASE]
//! ```
//!
//! The header is `header1000.fits` of the CFITSIO-made corpus (`tests/c/mkfits.c`): a primary
//! header of exactly 1000 cards before END (integers, reals, strings, logicals, HISTORY).
//! Both sides read it from memory: CFITSIO from its buffers (the file is opened once), ours
//! from a byte slice. Throughput counts the same 1000 cards × 80 bytes for every method.
//!
//! Ours:
//! * `walk`: `Hdus::new(bytes).next()` — header scan, mandatory keywords, layout.
//! * `walk+cards`: the walk, then every card's keyword, value text and comment
//!   (what `fits_read_keyn` gives).
//! * `cards`: every card's keyword, value text and comment of a header walked once before
//!   timing — what CFITSIO's `read_keyn` does on a file it opened (and parsed) already.
//! * `walk+values`: the walk, then every card's typed value.
//!
//! CFITSIO (`tests/c/hdrbench.c`, gcc -O2): `read_record` (the 80 bytes of each card, no
//! parsing), `read_keyn` (keyword, value, comment of each card), `hdr2str` (whole header to
//! one string). The ratios compare `cards` (like for like) and `walk+cards` (ours including
//! the header parse CFITSIO did at open) with `read_keyn`.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use shmfits_core::fits::{CardKind, Hdus};
use shmfits_tests::cfitsio;

const CARDS: usize = 1000;

struct Rate {
    name: &'static str,
    ns_per_card: f64,
}

impl Rate {
    fn mb_per_s(&self) -> f64 {
        80.0 / self.ns_per_card * 1e3
    }
}

/// Runs `pass` (one pass over the header) until `budget` has elapsed; ns per card.
fn measure(budget: Duration, mut pass: impl FnMut() -> usize) -> f64 {
    // warm up and check the pass really sees every card
    let seen = pass();
    assert!(seen >= CARDS, "a pass saw only {seen} cards");
    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            black_box(pass());
        }
        passes += 16;
    }
    start.elapsed().as_nanos() as f64 / (passes as f64 * CARDS as f64)
}

fn ours(bytes: &[u8], budget: Duration) -> Vec<Rate> {
    let walk = || -> usize {
        let hdu = Hdus::new(black_box(bytes))
            .next()
            .and_then(Result::ok)
            .expect("valid header");
        hdu.cards().len()
    };
    let cards = || -> usize {
        let hdu = Hdus::new(black_box(bytes))
            .next()
            .and_then(Result::ok)
            .expect("valid header");
        let mut n = 0;
        for card in hdu.cards() {
            let card = card.expect("card");
            black_box((card.keyword(), card.raw_value(), card.comment()));
            n += 1;
        }
        n
    };
    // like CFITSIO's read_keyn on an open file: the header was walked once, before timing
    let walked = Hdus::new(bytes)
        .next()
        .and_then(Result::ok)
        .expect("valid header");
    let cards_only = || -> usize {
        let mut n = 0;
        for card in black_box(&walked).cards() {
            let card = card.expect("card");
            black_box((card.keyword(), card.raw_value(), card.comment()));
            n += 1;
        }
        n
    };
    let values = || -> usize {
        let hdu = Hdus::new(black_box(bytes))
            .next()
            .and_then(Result::ok)
            .expect("valid header");
        let mut n = 0;
        for card in hdu.cards() {
            let card = card.expect("card");
            if card.kind() == CardKind::Value {
                black_box(card.value());
            }
            n += 1;
        }
        n
    };
    vec![
        Rate {
            name: "walk",
            ns_per_card: measure(budget, walk),
        },
        Rate {
            name: "walk+cards",
            ns_per_card: measure(budget, cards),
        },
        Rate {
            name: "cards",
            ns_per_card: measure(budget, cards_only),
        },
        Rate {
            name: "walk+values",
            ns_per_card: measure(budget, values),
        },
    ]
}

fn theirs(c: &cfitsio::Cfitsio, file: &std::path::Path, budget: Duration) -> Vec<Rate> {
    // calibrate: one quick run gives the speed, then run for about `budget` per method
    let run = |passes: u64| -> Vec<(String, f64)> {
        let out = Command::new(&c.hdrbench)
            .arg(file)
            .arg(passes.to_string())
            .output()
            .expect("run hdrbench");
        assert!(
            out.status.success(),
            "hdrbench: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.first() == Some(&"METHOD")).then(|| (f[1].to_owned(), f[4].parse().unwrap()))
            })
            .collect()
    };
    let quick = run(50);
    let slowest = quick.iter().map(|(_, ns)| *ns).fold(1.0, f64::max);
    let passes = (budget.as_nanos() as f64 / (slowest * CARDS as f64)).max(50.0) as u64;
    run(passes)
        .into_iter()
        .map(|(name, ns_per_card)| Rate {
            name: match name.as_str() {
                "read_record" => "read_record",
                "read_keyn" => "read_keyn",
                _ => "hdr2str",
            },
            ns_per_card,
        })
        .collect()
}

fn print(side: &str, rates: &[Rate]) {
    for r in rates {
        println!(
            "{side:<8} {:<12} {:>9.2} ns/card {:>9.1} MB/s",
            r.name,
            r.ns_per_card,
            r.mb_per_s()
        );
    }
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run with --release for meaningful figures");
    }
    let Some(c) = cfitsio::require("bench_headers") else {
        eprintln!("bench_headers needs the CFITSIO-made header1000.fits and hdrbench");
        std::process::exit(1);
    };
    let file = c.corpus().join("header1000.fits");
    let bytes = std::fs::read(&file).expect("read header1000.fits");
    let hdu = Hdus::new(&bytes)
        .next()
        .and_then(Result::ok)
        .expect("header1000.fits parses");
    assert_eq!(
        hdu.cards().len(),
        CARDS,
        "the benchmark header must have {CARDS} cards"
    );
    println!(
        "header: {} ({CARDS} cards, {} header bytes)",
        file.display(),
        hdu.data_start()
    );

    let ours = ours(&bytes, budget);
    let theirs = theirs(c, &file, budget);
    print("shmfits", &ours);
    print("cfitsio", &theirs);
    let find =
        |rates: &[Rate], name: &str| rates.iter().find(|r| r.name == name).map(Rate::mb_per_s);
    if let (Some(a), Some(b)) = (find(&ours, "cards"), find(&theirs, "read_keyn")) {
        println!("ratio    cards / read_keyn      = {:.2}x", a / b);
    }
    if let (Some(a), Some(b)) = (find(&ours, "walk+cards"), find(&theirs, "read_keyn")) {
        println!("ratio    walk+cards / read_keyn = {:.2}x", a / b);
    }
    if let (Some(a), Some(b)) = (find(&ours, "walk"), find(&theirs, "read_record")) {
        println!("ratio    walk / read_record     = {:.2}x", a / b);
    }
}

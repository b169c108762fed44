//! The real CFITSIO library as a test oracle: the C programs under `tests/c/`, compiled at run
//! time with `gcc` against the system's libcfitsio, plus `fitsverify`.
//!
//! CFITSIO is optional on a developer machine: [`require`] prints a loud `CFITSIO NOT FOUND`
//! notice and returns `None` so the calling test can skip. With `SHMFITS_REQUIRE_CFITSIO=1` in
//! the environment (CI), a missing CFITSIO panics instead, so a broken setup cannot pass
//! silently.
//!
//! ```no_run
//! let Some(c) = shmfits_tests::cfitsio::require("my test") else { return };
//! let listing = c.listhdus(&c.corpus().join("keywords.fits")).unwrap();
//! assert_eq!(listing.hdus.len(), 2);
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Environment variable that turns a missing CFITSIO from a skip into a failure.
pub const REQUIRE_ENV: &str = "SHMFITS_REQUIRE_CFITSIO";

/// A C program of `tests/c/`: its name and source text.
struct Source {
    name: &'static str,
    text: &'static str,
}

macro_rules! source {
    ($name:literal) => {
        Source {
            name: $name,
            text: include_str!(concat!("../c/", $name, ".c")),
        }
    };
}

/// The compiled C programs and the tools found on this machine.
#[derive(Debug)]
pub struct Cfitsio {
    dir: PathBuf,
    /// `mkfits OUTDIR`: writes the CFITSIO-made test corpus.
    pub mkfits: PathBuf,
    /// `listhdus FILE`: CFITSIO's view of every HDU and card.
    pub listhdus: PathBuf,
    /// `hdrbench FILE [ITERATIONS] [HDU]`: CFITSIO's header reading speed.
    pub hdrbench: PathBuf,
    /// `shmwrite NAME NX NY [NEXT]`: creates a `shmem://` file through CFITSIO.
    pub shmwrite: PathBuf,
    /// `shmlock NAME [rw|ro]`: holds a `shmem://` file open until stdin closes.
    pub shmlock: PathBuf,
    /// `fitscopy` (libcfitsio-bin), when installed.
    pub fitscopy: Option<PathBuf>,
    /// `fitsverify`, when installed.
    pub fitsverify: Option<PathBuf>,
    corpus: OnceLock<Result<PathBuf, String>>,
}

static BUILT: OnceLock<Result<Cfitsio, String>> = OnceLock::new();

/// Whether gcc and libcfitsio are usable here (compiles the C programs on first use).
pub fn available() -> bool {
    programs().is_ok()
}

/// The compiled programs, or why they could not be built.
///
/// # Errors
/// A message naming what is missing (gcc, pkg-config, the library) or the compiler output.
pub fn programs() -> Result<&'static Cfitsio, &'static str> {
    BUILT.get_or_init(build).as_ref().map_err(String::as_str)
}

/// The programs for a test that needs CFITSIO, or `None` after a loud notice on stderr when it
/// is missing, so that the test can `return` (skip).
///
/// # Panics
/// When CFITSIO is missing and `SHMFITS_REQUIRE_CFITSIO=1` is set.
pub fn require(what: &str) -> Option<&'static Cfitsio> {
    match programs() {
        Ok(c) => Some(c),
        Err(why) => {
            skip_or_fail(what, why);
            None
        }
    }
}

/// Like [`require`], and `fitsverify` must be installed too.
///
/// # Panics
/// When something is missing and `SHMFITS_REQUIRE_CFITSIO=1` is set.
pub fn require_fitsverify(what: &str) -> Option<(&'static Cfitsio, &'static Path)> {
    let c = require(what)?;
    match &c.fitsverify {
        Some(v) => Some((c, v.as_path())),
        None => {
            skip_or_fail(
                what,
                "fitsverify is not installed (apt-get install fitsverify)",
            );
            None
        }
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

fn skip_or_fail(what: &str, why: &str) {
    let bar = "=".repeat(78);
    let msg = format!(
        "{bar}\nCFITSIO NOT FOUND: skipping {what}\n  reason: {why}\n  (install gcc, pkg-config, \
         libcfitsio-dev, fitsverify; set {REQUIRE_ENV}=1 to make this a failure)\n{bar}"
    );
    assert!(
        !required(),
        "{msg}\n{REQUIRE_ENV}=1 is set, so this is a failure"
    );
    // once per test (proptest cases would repeat it), straight to fd 2, past the test
    // harness's output capture, so a skip is never silent
    static SHOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut shown = SHOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !shown.iter().any(|w| w == what) {
        shown.push(what.to_owned());
        let _ = writeln!(std::io::stderr(), "{msg}");
    }
}

/// FNV-1a, to name compiled programs after their source so stale binaries are never reused.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Where compiled programs live: two levels above the running executable (tests run from
/// `target/<profile>/deps`, so `target/<profile>/shmfits-c`), so
/// they are reused across runs and removed by `cargo clean`.
fn build_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|p| p.join("shmfits-c")))
        .unwrap_or_else(|| std::env::temp_dir().join("shmfits-c"))
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn cfitsio_flags() -> Result<Vec<String>, String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "cfitsio"])
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run pkg-config: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pkg-config does not know cfitsio: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

fn compile(dir: &Path, src: &Source, flags: &[String]) -> Result<PathBuf, String> {
    let exe = dir.join(format!(
        "{}-{:016x}",
        src.name,
        fnv(&[src.text, &flags.join(" ")])
    ));
    if exe.is_file() {
        return Ok(exe);
    }
    let pid = std::process::id();
    let c_file = dir.join(format!("{}.{pid}.c", src.name));
    let tmp_exe = dir.join(format!("{}.{pid}.tmp", src.name));
    std::fs::write(&c_file, src.text).map_err(|e| format!("writing {}: {e}", c_file.display()))?;
    let out = Command::new("gcc")
        .args(["-std=gnu99", "-O2", "-Wall", "-o"])
        .arg(&tmp_exe)
        .arg(&c_file)
        .args(flags)
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"));
    let _ = std::fs::remove_file(&c_file);
    let out = out?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp_exe);
        return Err(format!(
            "gcc failed on tests/c/{}.c:\n{}",
            src.name,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // rename is atomic: parallel test processes never see a half-written binary
    std::fs::rename(&tmp_exe, &exe).map_err(|e| format!("rename to {}: {e}", exe.display()))?;
    Ok(exe)
}

/// Compile one extra C program against libcfitsio (as the programs of [`Cfitsio`] are), for
/// tools outside this crate such as the benchmark harness: `name` names the binary, `text` is
/// the C source. The binary is cached next to the others, keyed by a hash of the source.
///
/// # Errors
/// A message naming what is missing (gcc, pkg-config, the library) or the compiler output.
pub fn build_program(name: &'static str, text: &'static str) -> Result<PathBuf, String> {
    if find_tool("gcc").is_none() {
        return Err("gcc is not on PATH".into());
    }
    let flags = cfitsio_flags()?;
    let dir = build_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    compile(&dir, &Source { name, text }, &flags)
}

fn build() -> Result<Cfitsio, String> {
    if find_tool("gcc").is_none() {
        return Err("gcc is not on PATH".into());
    }
    let flags = cfitsio_flags()?;
    let dir = build_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let build = |src: Source| compile(&dir, &src, &flags);
    Ok(Cfitsio {
        mkfits: build(source!("mkfits"))?,
        listhdus: build(source!("listhdus"))?,
        hdrbench: build(source!("hdrbench"))?,
        shmwrite: build(source!("shmwrite"))?,
        shmlock: build(source!("shmlock"))?,
        fitscopy: find_tool("fitscopy"),
        fitsverify: find_tool("fitsverify"),
        dir,
        corpus: OnceLock::new(),
    })
}

impl Cfitsio {
    /// `fitscopy` for a test that needs it, or `None` after the loud skip notice.
    ///
    /// # Panics
    /// When it is missing and `SHMFITS_REQUIRE_CFITSIO=1` is set.
    pub fn require_fitscopy(&self, what: &str) -> Option<&Path> {
        if self.fitscopy.is_none() {
            skip_or_fail(
                what,
                "fitscopy is not installed (apt-get install libcfitsio-bin)",
            );
        }
        self.fitscopy.as_deref()
    }

    /// The directory of files that `mkfits` wrote (made once per source version).
    ///
    /// # Panics
    /// When `mkfits` fails: CFITSIO is present, so that is a real failure.
    pub fn corpus(&self) -> &Path {
        match self.corpus.get_or_init(|| self.make_corpus()) {
            Ok(p) => p,
            Err(e) => panic!("mkfits failed: {e}"),
        }
    }

    /// Names of the corpus files, sorted.
    pub fn corpus_files(&self) -> Vec<PathBuf> {
        let dir = self.corpus();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "fits"))
            .collect();
        files.sort();
        files
    }

    fn make_corpus(&self) -> Result<PathBuf, String> {
        let stem = self
            .mkfits
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("mkfits");
        let dir = self.dir.join(format!("corpus-{stem}"));
        if dir.join("DONE").is_file() {
            return Ok(dir);
        }
        let tmp = self
            .dir
            .join(format!("corpus-{stem}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let out = Command::new(&self.mkfits)
            .arg(&tmp)
            .output()
            .map_err(|e| format!("running mkfits: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::fs::write(tmp.join("DONE"), &out.stdout).map_err(|e| e.to_string())?;
        match std::fs::rename(&tmp, &dir) {
            Ok(()) => Ok(dir),
            // another test process won the race: use its copy
            Err(_) if dir.join("DONE").is_file() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(dir)
            }
            Err(e) => Err(format!("rename to {}: {e}", dir.display())),
        }
    }

    /// Runs `listhdus` on `name` (a path, or any CFITSIO file name such as `shmem://h2`).
    ///
    /// # Errors
    /// When the program cannot run or prints something that is not its format.
    pub fn listhdus(&self, name: &Path) -> Result<Listing, String> {
        self.listhdus_env(name, &[])
    }

    /// [`Cfitsio::listhdus`] with extra environment variables (e.g. `SHMEM_LIB_KEYBASE`).
    ///
    /// # Errors
    /// As [`Cfitsio::listhdus`].
    pub fn listhdus_env(&self, name: &Path, env: &[(&str, &str)]) -> Result<Listing, String> {
        let out = self
            .listhdus_command(name, env)
            .output()
            .map_err(|e| format!("running listhdus: {e}"))?;
        Listing::from_output(out)
    }

    /// The command [`Cfitsio::listhdus_env`] runs, to start it in the background
    /// (stdout piped); read its result with [`Listing::from_output`].
    pub fn listhdus_command(&self, name: &Path, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.listhdus);
        cmd.arg(name)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// Runs `fitsverify` on a file.
    ///
    /// # Errors
    /// When `fitsverify` is missing or cannot run.
    pub fn fitsverify(&self, file: &Path) -> Result<Verify, String> {
        let tool = self
            .fitsverify
            .as_ref()
            .ok_or("fitsverify is not installed")?;
        let out = Command::new(tool)
            .arg(file)
            .output()
            .map_err(|e| format!("running fitsverify: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let count = |word: &str| -> Option<u32> {
            // "**** Verification found 2 warning(s) and 0 error(s). ****"
            let line = text.lines().find(|l| l.contains("Verification found"))?;
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| w.starts_with(word))?;
            words.get(at.checked_sub(1)?)?.parse().ok()
        };
        Ok(Verify {
            warnings: count("warning").unwrap_or(u32::MAX),
            errors: count("error").unwrap_or(u32::MAX),
            report: text,
        })
    }
}

/// What `fitsverify` said about a file.
#[derive(Debug, Clone)]
pub struct Verify {
    /// Number of warnings (`u32::MAX` when the summary line was not found).
    pub warnings: u32,
    /// Number of errors (`u32::MAX` when the summary line was not found).
    pub errors: u32,
    /// The full report.
    pub report: String,
}

/// CFITSIO's view of a file, as printed by `listhdus`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// Number of HDUs CFITSIO counted (`None` if it failed before that).
    pub nhdus: Option<usize>,
    /// The HDUs listed before the end or the error.
    pub hdus: Vec<CHdu>,
    /// CFITSIO's status code and message, if it failed.
    pub error: Option<(i32, String)>,
}

/// One HDU as CFITSIO sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CHdu {
    /// Index from 0.
    pub index: usize,
    /// `fits_get_hdu_type`: 0 IMAGE_HDU (primary too), 1 ASCII_TBL, 2 BINARY_TBL.
    pub hdutype: i32,
    /// Byte offset of the header.
    pub headstart: u64,
    /// Byte offset of the data.
    pub datastart: u64,
    /// Byte offset just past the padded data (where the next HDU starts).
    pub dataend: u64,
    /// `fits_get_hdrspace`: number of cards before END.
    pub nkeys: usize,
    /// `fits_get_img_param`: BITPIX and axes (IMAGE_HDU only).
    pub image: Option<(i32, Vec<u64>)>,
    /// Rows and columns (tables only).
    pub table: Option<(u64, u32)>,
    /// The cards, in order.
    pub cards: Vec<CCard>,
}

/// One card as CFITSIO parses it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CCard {
    /// `fits_get_keyname` (for HIERARCH: the words after `HIERARCH`).
    pub name: String,
    /// `fits_parse_value`: value text, strings with quotes; empty for commentary.
    pub value: String,
    /// `fits_parse_value`: comment (for commentary cards: bytes 9.. of the card).
    pub comment: String,
    /// `fits_get_keytype`: C, L, I, F, X; U when the value is empty; ? when unparsable.
    pub dtype: char,
    /// `fits_read_record`: the card, trailing spaces removed.
    pub card: String,
    /// For a string ending in `&` (long-string convention): the whole string as
    /// `fits_read_key_longstr` reads it, unquoted and unescaped.
    pub long: Option<String>,
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let b = u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?;
                out.push(char::from(b));
            }
            other => return Err(format!("bad escape \\{other:?}")),
        }
    }
    Ok(out)
}

fn num<T: std::str::FromStr>(f: Option<&str>, what: &str, line: &str) -> Result<T, String> {
    f.and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("listhdus: bad {what} in {line:?}"))
}

impl Listing {
    /// The listing a finished `listhdus` printed.
    ///
    /// # Errors
    /// When its output is not its format or disagrees with its exit status.
    pub fn from_output(out: std::process::Output) -> Result<Listing, String> {
        let text = String::from_utf8(out.stdout).map_err(|e| format!("listhdus output: {e}"))?;
        let listing = Listing::parse(&text)?;
        if out.status.success() != listing.error.is_none() {
            return Err(format!(
                "listhdus exit status {} disagrees with its output",
                out.status
            ));
        }
        Ok(listing)
    }

    /// Parses `listhdus` output.
    ///
    /// # Errors
    /// On a line that is not in the documented format.
    pub fn parse(text: &str) -> Result<Listing, String> {
        let mut l = Listing::default();
        let mut ended = false;
        for line in text.lines() {
            let mut f = line.split('\t');
            match f.next() {
                Some("FILE") => l.nhdus = Some(num(f.next(), "HDU count", line)?),
                Some("HDU") => l.hdus.push(CHdu {
                    index: num(f.next(), "index", line)?,
                    hdutype: num(f.next(), "hdutype", line)?,
                    headstart: num(f.next(), "headstart", line)?,
                    datastart: num(f.next(), "datastart", line)?,
                    dataend: num(f.next(), "dataend", line)?,
                    nkeys: num(f.next(), "nkeys", line)?,
                    ..CHdu::default()
                }),
                Some("LSTR") => {
                    let n: usize = num(f.next(), "card number", line)?;
                    let card = l
                        .hdus
                        .last_mut()
                        .and_then(|h| h.cards.last_mut())
                        .filter(|_| n > 0)
                        .ok_or_else(|| format!("listhdus: LSTR {n} without its card"))?;
                    card.long = Some(unescape(f.next().unwrap_or_default())?);
                }
                Some(tag @ ("IMAGE" | "TABLE" | "CARD")) => {
                    let hdu = l
                        .hdus
                        .last_mut()
                        .ok_or_else(|| format!("{tag} before HDU"))?;
                    match tag {
                        "IMAGE" => {
                            let bitpix = num(f.next(), "bitpix", line)?;
                            let naxis: usize = num(f.next(), "naxis", line)?;
                            let axes = (0..naxis)
                                .map(|_| num(f.next(), "axis", line))
                                .collect::<Result<Vec<u64>, _>>()?;
                            hdu.image = Some((bitpix, axes));
                        }
                        "TABLE" => {
                            hdu.table =
                                Some((num(f.next(), "rows", line)?, num(f.next(), "cols", line)?));
                        }
                        _ => {
                            let n: usize = num(f.next(), "card number", line)?;
                            if n != hdu.cards.len() + 1 {
                                return Err(format!("listhdus: card {n} out of order"));
                            }
                            let mut field = || unescape(f.next().unwrap_or_default());
                            let name = field()?;
                            let value = field()?;
                            let comment = field()?;
                            let dtype = field()?.chars().next().unwrap_or('?');
                            let card = field()?;
                            hdu.cards.push(CCard {
                                name,
                                value,
                                comment,
                                dtype,
                                card,
                                long: None,
                            });
                        }
                    }
                }
                Some("END") => ended = true,
                Some("ERROR") => {
                    let status = num(f.next(), "status", line)?;
                    l.error = Some((status, unescape(f.next().unwrap_or_default())?));
                }
                _ => return Err(format!("listhdus: unexpected line {line:?}")),
            }
        }
        if !ended && l.error.is_none() {
            return Err("listhdus: output ends without END or ERROR".into());
        }
        Ok(l)
    }

    /// A one-line-per-HDU summary, for assertion messages.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for h in &self.hdus {
            let _ = writeln!(
                s,
                "hdu {} type {} header {} data {}..{} cards {}",
                h.index, h.hdutype, h.headstart, h.datastart, h.dataend, h.nkeys
            );
        }
        if let Some((st, msg)) = &self.error {
            let _ = writeln!(s, "error {st}: {msg}");
        }
        s
    }
}

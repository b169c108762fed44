//! [`Config`]: key base, slot count, lock-file directory and create mode of the System V
//! platform, with CFITSIO's defaults and its environment variables.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// CFITSIO's default key base (`SHARED_KEYBASE`).
pub const DEFAULT_KEY_BASE: i32 = 14_011_963;
/// CFITSIO's default slot count (`SHARED_MAXSEG`).
pub const DEFAULT_SLOTS: u32 = 16;
/// The largest slot count this crate accepts (the lock file has one byte per slot).
pub const MAX_SLOTS: u32 = 65_536;
/// Environment variable for the key base, as CFITSIO reads it.
pub const ENV_KEYBASE: &str = "SHMEM_LIB_KEYBASE";
/// Environment variable for the slot count, as CFITSIO reads it.
pub const ENV_MAXSEG: &str = "SHMEM_LIB_MAXSEG";
/// Environment variable overriding the lock-file directory (shmfits only).
pub const ENV_LOCK_DIR: &str = "SHMFITS_LOCK_DIR";

/// Who must own the lock file (root-owned files are always accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedOwner {
    /// The effective user of the calling process.
    CurrentUser,
    /// This uid.
    Uid(u32),
}

/// Configuration of the System V platform.
///
/// [`Config::default`] equals CFITSIO's defaults (key base 14011963, 16 slots, lock file
/// `/tmp/.shmem-lockfile.14011963.16`), except that objects and the lock file are created
/// owner-only (`0o600`) instead of `0o666`.
///
/// ```
/// use std::path::Path;
/// use shmfits_unix::Config;
///
/// let private = Config {
///     key_base: 0x5348_F000,
///     lock_dir: "/run/shmfits".into(),
///     ..Config::default()
/// };
/// assert_eq!(
///     private.lock_file_path(),
///     Path::new("/run/shmfits/.shmem-lockfile.1397288960.16")
/// );
/// assert_eq!(private.create_mode, 0o600);
/// private.validate()?;
/// # Ok::<(), shmfits_unix::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Key base `K`: the global table has key `K`, data segments keys `K + 0 .. K + 3M`.
    pub key_base: i32,
    /// Slot count `M` (`h0 .. h{M-1}`).
    pub slots: u32,
    /// Directory of the lock file `.shmem-lockfile.K.M`.
    pub lock_dir: PathBuf,
    /// Permission bits for new segments, counters and the lock file (the umask may reduce
    /// them for the lock file). Group/world write on an existing lock file is refused unless
    /// these bits allow it.
    pub create_mode: u32,
    /// Who must own the lock file.
    pub lock_file_owner: ExpectedOwner,
    /// Accept an existing lock file that is writable by group or others when it is owned by
    /// the expected owner (default `true`). CFITSIO always creates its lock file `0o666`
    /// (it clears the umask first), so without this a slot that a CFITSIO program touched
    /// first could not be used by us. The owner check still refuses a lock file planted by
    /// another user; set `false` to also refuse our own user's group/world-writable file.
    pub accept_cfitsio_lock_file: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            key_base: DEFAULT_KEY_BASE,
            slots: DEFAULT_SLOTS,
            lock_dir: PathBuf::from("/tmp"),
            create_mode: 0o600,
            lock_file_owner: ExpectedOwner::CurrentUser,
            accept_cfitsio_lock_file: true,
        }
    }
}

/// A configuration value that was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable or field that held the value.
    pub what: &'static str,
    /// The value as given.
    pub value: String,
    /// Why it was refused.
    pub reason: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} = {:?}: {}",
            self.what, self.value, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The lock file's path: `<lock_dir>/.shmem-lockfile.<K>.<M>` (CFITSIO's name).
    pub fn lock_file_path(&self) -> PathBuf {
        self.lock_dir
            .join(format!(".shmem-lockfile.{}.{}", self.key_base, self.slots))
    }

    /// The number of keys used for data segments: `3 M`.
    pub fn key_range(&self) -> u32 {
        self.slots.saturating_mul(3)
    }

    /// Check that the values are usable: `K ≥ 1`, `1 ≤ M ≤ MAX_SLOTS`, `K + 3M` fits an
    /// `i32`, the mode has only permission bits.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_pair(self.key_base, self.slots, "key_base", "slots")?;
        if self.create_mode & !0o777 != 0 {
            return Err(ConfigError {
                what: "create_mode",
                value: format!("{:o}", self.create_mode),
                reason: "only permission bits (0o777) are allowed",
            });
        }
        Ok(())
    }

    /// The defaults, overridden by `SHMEM_LIB_KEYBASE`, `SHMEM_LIB_MAXSEG` and
    /// `SHMFITS_LOCK_DIR` from the environment.
    ///
    /// # Errors
    /// A value that is not a positive decimal integer in range is an error naming the
    /// variable and the value (CFITSIO silently falls back to the default; we do not).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// As [`Config::from_env`], with the environment given by `lookup` (for tests and for
    /// callers that keep their own environment).
    ///
    /// ```
    /// use shmfits_unix::{Config, ENV_KEYBASE, ENV_MAXSEG};
    ///
    /// let c = Config::from_lookup(|name| (name == ENV_MAXSEG).then(|| "4".into()))?;
    /// assert_eq!((c.key_base, c.slots), (14_011_963, 4));
    /// // CFITSIO would silently use its default here; we name the variable and value.
    /// let e = Config::from_lookup(|name| (name == ENV_KEYBASE).then(|| "0x10".into()));
    /// assert_eq!(e.unwrap_err().to_string(),
    ///            "invalid SHMEM_LIB_KEYBASE = \"0x10\": not a positive decimal integer");
    /// # Ok::<(), shmfits_unix::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Config::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(v) = lookup(ENV_KEYBASE) {
            config.key_base = parse_positive(ENV_KEYBASE, &v, i32::MAX as u64)? as i32;
        }
        if let Some(v) = lookup(ENV_MAXSEG) {
            config.slots = parse_positive(ENV_MAXSEG, &v, u64::from(MAX_SLOTS))? as u32;
        }
        if let Some(v) = lookup(ENV_LOCK_DIR) {
            if v.is_empty() {
                return Err(ConfigError {
                    what: ENV_LOCK_DIR,
                    value: String::new(),
                    reason: "must name a directory",
                });
            }
            config.lock_dir = PathBuf::from(v);
        }
        let (kname, mname) = (ENV_KEYBASE, ENV_MAXSEG);
        check_pair(config.key_base, config.slots, kname, mname)?;
        Ok(config)
    }
}

/// Check a key base and slot count together.
fn check_pair(
    key_base: i32,
    slots: u32,
    kname: &'static str,
    mname: &'static str,
) -> Result<(), ConfigError> {
    if key_base < 1 {
        return Err(ConfigError {
            what: kname,
            value: key_base.to_string(),
            reason: "must be a positive integer (0 is IPC_PRIVATE)",
        });
    }
    if slots == 0 || slots > MAX_SLOTS {
        return Err(ConfigError {
            what: mname,
            value: slots.to_string(),
            reason: "must be between 1 and 65536",
        });
    }
    let last = i64::from(key_base) + 3 * i64::from(slots);
    if last > i64::from(i32::MAX) {
        return Err(ConfigError {
            what: kname,
            value: key_base.to_string(),
            reason: "key base + 3 × slot count exceeds the largest key (2147483647)",
        });
    }
    Ok(())
}

/// Parse a positive decimal integer `1..=max` from an environment value.
fn parse_positive(what: &'static str, value: &OsString, max: u64) -> Result<u64, ConfigError> {
    let err = |reason| ConfigError {
        what,
        value: value.to_string_lossy().into_owned(),
        reason,
    };
    let s = value.to_str().ok_or_else(|| err("not valid UTF-8"))?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("not a positive decimal integer"));
    }
    let n: u64 = s.parse().map_err(|_| err("too large"))?;
    if n == 0 {
        return Err(err("must be at least 1"));
    }
    if n > max {
        return Err(err("too large"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn defaults_match_cfitsio() {
        let c = Config::default();
        assert_eq!(c.key_base, 14011963);
        assert_eq!(c.slots, 16);
        assert_eq!(c.create_mode, 0o600);
        assert_eq!(
            c.lock_file_path(),
            PathBuf::from("/tmp/.shmem-lockfile.14011963.16")
        );
        assert_eq!(Config::from_lookup(env(&[])).unwrap(), c);
        c.validate().unwrap();
    }

    #[test]
    fn valid_overrides() {
        let c = Config::from_lookup(env(&[
            (ENV_KEYBASE, "1397231616"),
            (ENV_MAXSEG, "4"),
            (ENV_LOCK_DIR, "/run/x"),
        ]))
        .unwrap();
        assert_eq!(
            (c.key_base, c.slots, c.lock_dir.clone()),
            (1397231616, 4, PathBuf::from("/run/x"))
        );
        assert_eq!(
            c.lock_file_path(),
            PathBuf::from("/run/x/.shmem-lockfile.1397231616.4")
        );
    }

    #[test]
    fn invalid_values_name_variable_and_value() {
        let cases: &[(&str, &str)] = &[
            (ENV_KEYBASE, "abc"),
            (ENV_KEYBASE, "0"),
            (ENV_KEYBASE, "-5"),
            (ENV_KEYBASE, ""),
            (ENV_KEYBASE, " 12"),
            (ENV_KEYBASE, "2147483647"),
            (ENV_KEYBASE, "99999999999999999999999"),
            (ENV_MAXSEG, "0"),
            (ENV_MAXSEG, "x16"),
            (ENV_MAXSEG, "65537"),
            (ENV_LOCK_DIR, ""),
        ];
        for &(var, value) in cases {
            let e = Config::from_lookup(env(&[(var, value)])).unwrap_err();
            let text = e.to_string();
            assert_eq!(e.what, var, "{var}={value:?}: {text}");
            assert!(text.contains(var), "{text}");
            assert!(text.contains(&format!("{value:?}")), "{text}");
        }
    }

    #[test]
    fn overflow_of_key_range_is_refused() {
        // K + 3M = 2147483600 + 48 > i32::MAX
        let e = Config::from_lookup(env(&[(ENV_KEYBASE, "2147483600")])).unwrap_err();
        assert_eq!(e.what, ENV_KEYBASE);
        let ok = Config::from_lookup(env(&[(ENV_KEYBASE, "2147483599")])).unwrap();
        assert_eq!(ok.key_base, 2147483599);
    }

    #[test]
    fn validate_fields() {
        let bad_mode = Config {
            create_mode: 0o4600,
            ..Config::default()
        };
        assert_eq!(bad_mode.validate().unwrap_err().what, "create_mode");
        let bad_slots = Config {
            slots: 0,
            ..Config::default()
        };
        assert_eq!(bad_slots.validate().unwrap_err().what, "slots");
    }
}

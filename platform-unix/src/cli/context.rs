//! What every `smem` subcommand needs: the configuration from the environment, the std API
//! driver, slot names as users type them (`hN`, `shmem://hN`), the `--wait`/`--no-wait`
//! options and an open that says who holds a busy slot.

use std::time::Duration;

use shmfits_core::shm::{
    self, parse_name, Config as DriverConfig, Driver, HduSelector, Mode, Wait,
};

use super::exit::{Failure, EXIT_BUSY, EXIT_USAGE};
use super::holder;
use crate::{Config, Error, Shm, ShmFile, SysV};

/// How long opening a locked slot waits when neither `--wait` nor `--no-wait` is given.
pub const DEFAULT_WAIT_SECS: f64 = 10.0;

/// `--wait SECS` / `--no-wait`: how long to wait for a slot that another process holds.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WaitArgs {
    /// Wait at most SECS seconds for a slot locked by another process, then exit 5
    /// (default 10; 0 = do not wait).
    #[arg(long, value_name = "SECS", value_parser = parse_secs, conflicts_with = "no_wait")]
    pub wait: Option<f64>,
    /// Do not wait for a locked slot: exit 5 at once.
    #[arg(long)]
    pub no_wait: bool,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1e9).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds (0 or more)")),
    }
}

impl WaitArgs {
    /// `--no-wait`.
    pub fn no_wait() -> WaitArgs {
        WaitArgs {
            wait: None,
            no_wait: true,
        }
    }

    /// The seconds to wait (0 for `--no-wait`).
    pub fn seconds(&self) -> f64 {
        if self.no_wait {
            0.0
        } else {
            self.wait.unwrap_or(DEFAULT_WAIT_SECS)
        }
    }

    /// As a driver wait.
    pub fn to_wait(&self) -> Wait {
        match self.seconds() {
            s if s > 0.0 => Wait::Timeout(Duration::from_secs_f64(s)),
            _ => Wait::No,
        }
    }

    /// What to add to a "busy" message.
    fn hint(&self) -> String {
        match self.seconds() {
            s if s > 0.0 => format!("gave up after {s} s (--wait SECS to wait longer)"),
            _ => "not waiting (--wait SECS to wait)".to_owned(),
        }
    }
}

/// The configuration from the environment (`SHMEM_LIB_KEYBASE`, `SHMEM_LIB_MAXSEG`,
/// `SHMFITS_LOCK_DIR`).
///
/// # Errors
/// [`EXIT_USAGE`] naming the variable and its value.
pub fn config() -> Result<Config, Failure> {
    Config::from_env().map_err(|e| Failure::usage(format!("environment: {e}")))
}

/// The std API driver for the environment's configuration.
///
/// # Errors
/// As [`config`]; lock-file and table failures with their exit status.
pub fn shm(config: &Config) -> Result<Shm, Failure> {
    Shm::new(config.clone()).map_err(|e| Failure::of("shared memory", &e))
}

/// Runs `f` on a one-handle driver (for list, recover, delete), then shuts it down
/// (detaching, and removing the global table if nothing uses it).
///
/// # Errors
/// The first failure of setup, `f` or shutdown.
pub fn with_driver<T>(
    config: &Config,
    f: impl FnOnce(&mut Driver<SysV, 1>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut dc = DriverConfig::new(config.key_base, config.slots);
    // waits only when the global table must be created: nobody holds slot locks then
    dc.init_wait = Wait::Timeout(Duration::from_secs(5));
    let sysv =
        SysV::new(config.clone()).map_err(|e| Failure::of("shared memory", &Error::Setup(e)))?;
    let mut driver: Driver<SysV, 1> =
        Driver::new(sysv, dc).map_err(|e| Failure::of("shared memory", &Error::Driver(e)))?;
    let result = f(&mut driver);
    let shut = driver
        .shutdown()
        .map_err(|e| Failure::of("shared memory", &Error::Driver(e)));
    let value = result?;
    shut?;
    Ok(value)
}

/// A slot argument (`hN` or `shmem://hN`) as the canonical `shmem://hN`, with its slot.
///
/// # Errors
/// [`EXIT_USAGE`] naming the argument: not a slot name, slot beyond the slot count, or an
/// HDU selector (not allowed for whole-file commands).
pub fn slot_name(arg: &str, slots: u32) -> Result<(String, u32), Failure> {
    let parsed = parse_name(arg, slots).map_err(|e| bad_name(arg, slots, &e.to_string()))?;
    if parsed.hdu.is_some() {
        return Err(Failure::usage(format!(
            "{arg}: an HDU selector [..] is not allowed here (the command works on whole files)"
        )));
    }
    Ok((format!("shmem://h{}", parsed.slot), parsed.slot))
}

/// A CFITSIO-style numeric id (`2`) or a slot name, as a slot.
///
/// # Errors
/// As [`slot_name`].
pub fn slot_id(arg: &str, slots: u32) -> Result<u32, Failure> {
    let name = if arg.bytes().all(|b| b.is_ascii_digit()) && !arg.is_empty() {
        format!("h{arg}")
    } else {
        arg.to_owned()
    };
    slot_name(&name, slots)
        .map(|(_, s)| s)
        .map_err(|_| bad_name(arg, slots, "not a slot id (N, hN or shmem://hN)"))
}

fn bad_name(arg: &str, slots: u32, why: &str) -> Failure {
    Failure::new(
        EXIT_USAGE,
        format!(
            "{arg:?} is not a slot name: {why} (expected hN or shmem://hN, N from 0 to {})",
            slots.saturating_sub(1)
        ),
    )
}

/// Whether a bare argument is meant as a slot (`h12`, `h3[SCI]`) rather than a path.
pub fn looks_like_slot(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('h') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    digits > 0 && (tail.is_empty() || (tail.starts_with('[') && tail.ends_with(']')))
}

/// The selector of a parsed name, owned.
pub fn selector(sel: Option<HduSelector<'_>>) -> Option<super::source::Selected> {
    sel.map(|s| match s {
        HduSelector::Index(i) => super::source::Selected::Index(i),
        HduSelector::Name(n) => super::source::Selected::Name(n.to_owned()),
    })
}

/// A "busy" failure for `name` (slot `slot`): who holds it, if `/proc` tells.
pub fn busy(config: &Config, name: &str, slot: u32, wait: &WaitArgs) -> Failure {
    let who = holder::describe(&holder::holders(&config.lock_file_path(), slot));
    Failure::new(
        EXIT_BUSY,
        format!("{name} is locked by {who}; {}", wait.hint()),
    )
}

/// Open `name` (canonical, see [`slot_name`]) with `mode`, waiting as `wait` says.
///
/// # Errors
/// [`EXIT_BUSY`] naming the slot and its holder; the others from the error table.
pub fn open(shm: &Shm, name: &str, mode: Mode, wait: &WaitArgs) -> Result<ShmFile, Failure> {
    shm.open_with(name, mode, wait.to_wait())
        .map_err(|e| failure(shm.platform().config(), name, &e, wait))
}

/// The failure for an error of an operation on `name`, with the holder for a busy slot.
pub fn failure(config: &Config, name: &str, e: &Error, wait: &WaitArgs) -> Failure {
    match e {
        Error::Driver(
            shm::Error::WouldBlock { slot }
            | shm::Error::TimedOut { slot }
            | shm::Error::Deadlock { slot },
        ) => busy(config, name, *slot, wait),
        Error::Driver(shm::Error::NotFound { .. }) => Failure::new(
            super::exit::EXIT_NOT_FOUND,
            format!("{name}: no such file (the slot is empty or deleted)"),
        ),
        e => Failure::of(name, e),
    }
}

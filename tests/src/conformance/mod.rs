//! The conformance suite: one set of generic driver scenarios, run against every platform.
//!
//! A platform takes part by implementing [`World`]: it can start a "process" (a value of its
//! [`SharedMem`] type that makes every kernel call *as that process*), kill one, end one
//! cleanly, and list the kernel objects left in the test's key range. The scenarios in
//! [`cases`] are written once against that trait and instantiated per platform with
//! [`conformance_suite!`](crate::conformance_suite):
//!
//! * [`mock::MockWorld`]: processes are [`shmfits_mock::MockKernel::spawn`], a crash is
//!   [`shmfits_mock::MockKernel::kill`] (`tests/tests/conformance_mock.rs`);
//! * [`unix::UnixWorld`]: processes are real child processes (the test binary started
//!   again), each serving the [`SharedMem`] calls of one [`unix::Remote`] over its
//!   stdin/stdout; a crash is `SIGKILL` of that child (`tests/tests/conformance_unix.rs`).
//!
//! Every scenario ends with every process gone and every file removed, and [`run`] then
//! asserts that no kernel object is left in the key range; the world's `Drop` removes
//! whatever a failing scenario left behind.
//!
//! ```
//! use shmfits_tests::conformance::{cases, mock::MockWorld, run};
//! run(&mut MockWorld::new(), cases::round_trip);
//! ```

pub mod cases;
pub mod mock;
pub mod unix;

use std::fmt;

use shmfits_core::shm::{Config, Driver, SharedMem};

/// Handles per driver in the scenarios.
pub const CAPACITY: usize = 8;

/// The driver the scenarios run.
pub type Drv<P> = Driver<P, CAPACITY>;

/// A process started by a [`World`]: its id and the platform value that acts as it.
#[derive(Debug)]
pub struct Proc<P> {
    /// Process id (the mock's pid, or the child's real pid).
    pub pid: u32,
    /// The platform, making every call as this process.
    pub platform: P,
}

/// A kernel object found in a test's key range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// A shared-memory segment (key `None`: removed but still attached somewhere).
    Segment {
        /// Its key.
        key: Option<i32>,
        /// Its id.
        id: i32,
    },
    /// A counter (semaphore set).
    Counter {
        /// Its key.
        key: Option<i32>,
        /// Its id.
        id: i32,
    },
    /// A lock still held on the lock file.
    Lock {
        /// First byte.
        start: u32,
        /// Number of bytes.
        len: u32,
    },
    /// A process the world started that is still alive.
    Process {
        /// Its pid.
        pid: u32,
    },
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leftover::Segment { key, id } => write!(f, "segment id {id} key {key:?}"),
            Leftover::Counter { key, id } => write!(f, "counter id {id} key {key:?}"),
            Leftover::Lock { start, len } => write!(f, "lock on bytes {start}+{len}"),
            Leftover::Process { pid } => write!(f, "process {pid} still alive"),
        }
    }
}

/// What a platform provides to run the conformance scenarios.
///
/// Implementations remove everything they made when dropped (kill their processes, remove
/// the objects in their key range, delete their lock file), so a failing scenario leaves
/// nothing behind.
pub trait World {
    /// The platform type; a value of it acts as one process.
    type P: SharedMem + Clone;

    /// The driver configuration of this world (its own key base and slot count).
    fn config(&self) -> Config;

    /// Start a new process.
    ///
    /// # Panics
    /// If the process cannot be started (the test cannot go on).
    fn spawn(&mut self) -> Proc<Self::P>;

    /// Kill process `pid` as `SIGKILL` would: no cleanup code of it runs; the kernel
    /// releases its locks, undoes its counter changes and detaches its mappings.
    fn kill(&mut self, pid: u32);

    /// End process `pid` normally (after its drivers were shut down).
    fn exit(&mut self, pid: u32);

    /// The kernel objects in this world's key range, the locks on its lock file and the
    /// processes it started that are still alive.
    fn leftovers(&self) -> Vec<Leftover>;

    /// Kill every process and remove every object in the key range; returns what was there.
    fn cleanup(&mut self) -> Vec<Leftover>;

    /// A new process with a driver on this world's configuration.
    ///
    /// # Panics
    /// If the driver cannot be made.
    fn driver(&mut self) -> (u32, Drv<Self::P>) {
        let p = self.spawn();
        let config = self.config();
        match Drv::new(p.platform, config) {
            Ok(d) => (p.pid, d),
            Err(e) => panic!("driver in process {}: {e}", p.pid),
        }
    }

    /// Shut a process's driver down and end the process normally.
    ///
    /// # Panics
    /// If the shutdown fails.
    fn finish(&mut self, pid: u32, d: Drv<Self::P>) {
        if let Err(e) = d.shutdown() {
            panic!("shutdown of process {pid}: {e}");
        }
        self.exit(pid);
    }
}

/// Run one scenario and then check that it left nothing in the key range: no segment, no
/// counter, no lock, no live process.
///
/// # Panics
/// When the scenario panics, or when something is left (listed in the message; the world's
/// cleanup removes it either way).
pub fn run<W: World>(world: &mut W, case: fn(&mut W)) {
    case(world);
    let left = world.leftovers();
    if !left.is_empty() {
        let removed = world.cleanup();
        let list: Vec<String> = left.iter().map(ToString::to_string).collect();
        panic!(
            "scenario left {} object(s) behind: {} (cleanup removed {})",
            left.len(),
            list.join(", "),
            removed.len()
        );
    }
}

/// Instantiate every scenario of [`cases`] as a `#[test]`, each on a world made by
/// `$make(n)` where `n` (0, 1, 2, …) numbers the scenario, so that each can get its own key
/// base.
///
/// ```
/// use shmfits_tests::conformance::mock::MockWorld;
///
/// shmfits_tests::conformance_suite!(|n: i32| MockWorld::with_key_base(60_000 + 100 * n));
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            0 round_trip,
            1 readers_share_writer_excluded,
            2 reader_close_does_not_wait,
            3 delete_while_reader_in,
            4 writer_crash_keeps_published_version,
            5 reader_crash_undoes_counter,
            6 recovery_spares_healthy_files,
            7 growth_by_small_writes,
            8 list_shows_processes_and_locks,
            9 two_owners_in_one_process,
            10 flushed_writes_survive_crash,
        );
    };
    (@cases $make:expr; $($n:literal $name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                let make = $make;
                let mut world = make($n);
                $crate::conformance::run(&mut world, $crate::conformance::cases::$name);
            }
        )*
    };
}

//! The std API: [`Shm`] (a driver for one key base, shared by its handles) and [`ShmFile`]
//! (one open `shmem://hN` file: `Read`, `Write`, `Seek`, zero-copy views, HDU walk).
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use shmfits_unix::{Mode, ShmFile};
//!
//! let mut w = ShmFile::create("shmem://h2")?;       // read-write, exclusive lock held
//! w.write_all(&[b' '; 2880])?;
//! w.close()?;                                        // publishes and unlocks
//! let r = ShmFile::open("shmem://h2", Mode::ReadOnly)?;
//! let bytes: &[u8] = r.as_bytes()?;                     // no copy, valid while `r` is open
//! assert_eq!(bytes.len(), 2880);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Two handles in one process obey the same reader/writer rules as two processes: each has its
//! own lock owner (an open file description of the lock file).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use shmfits_core::fits::{Hdu, Hdus};
use shmfits_core::shm::{
    self, Driver, Handle, LockRange, Mode, PlatformError, SharedMem, Wait, WriteMode,
};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::config::Config;
use crate::file_error::Error;
use crate::file_hint::HintTracker;
use crate::sys::SysMapping;
use crate::sysv::{LockOwner, LockPin, SysV};

/// How many files one [`Shm`] can have open at once.
pub const HANDLES: usize = 64;

type Drv = Driver<SysV, HANDLES>;

#[derive(Debug)]
struct ShmInner {
    sysv: SysV,
    driver: Mutex<Option<Box<Drv>>>,
}

impl Drop for ShmInner {
    fn drop(&mut self) {
        let slot = self
            .driver
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(driver) = slot {
            // Closes what is still open (keeping data) and detaches the table.
            let _ = driver.shutdown();
        }
    }
}

/// A driver for one configuration (key base, slots, lock file), shared by the files opened
/// through it. Cheap to clone; `Send + Sync`.
///
/// Handles obey the reader/writer rules among themselves as between processes:
///
/// ```
/// use std::io::{ErrorKind, Write};
/// use shmfits_unix::{Config, Mode, Shm};
///
/// # let dir = tempfile::tempdir()?;
/// let shm = Shm::new(Config {
///     key_base: 0x5348_F230, // a private table, not CFITSIO's default 14011963
/// #   lock_dir: dir.path().into(),
///     ..Config::default()
/// })?;
/// let mut w = shm.create("shmem://h1")?;
/// w.write_all(&[b' '; 2880])?;
/// w.close()?;
///
/// let r1 = shm.open("shmem://h1", Mode::ReadOnly)?;
/// let r2 = shm.try_open("shmem://h1", Mode::ReadOnly)?; // readers share the slot
/// let busy = shm.try_open("shmem://h1", Mode::ReadWrite).unwrap_err();
/// assert_eq!(busy.io_kind(), ErrorKind::WouldBlock); // a writer waits for them
/// drop(r2);
/// r1.remove()?; // deleted now for new opens, freed by this last close
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Shm {
    inner: Arc<ShmInner>,
}

impl Shm {
    /// A driver for `config`: checks the lock file and attaches (or creates) the global table.
    ///
    /// # Errors
    /// [`Error::Setup`] for the configuration or lock file; [`Error::Driver`] for the table.
    pub fn new(config: Config) -> Result<Shm, Error> {
        let driver_config = shm::Config::new(config.key_base, config.slots);
        let sysv = SysV::new(config)?;
        let driver = Driver::new(sysv.clone(), driver_config)?;
        Ok(Shm {
            inner: Arc::new(ShmInner {
                sysv,
                driver: Mutex::new(Some(Box::new(driver))),
            }),
        })
    }

    /// The process-wide driver configured by [`Config::from_env`] (made on first use).
    ///
    /// # Errors
    /// As [`Shm::new`]; an invalid environment value is an error naming the variable.
    pub fn global() -> Result<Shm, Error> {
        static GLOBAL: Mutex<Option<Shm>> = Mutex::new(None);
        let mut g = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shm) = g.as_ref() {
            return Ok(shm.clone());
        }
        let shm = Shm::new(Config::from_env()?)?;
        *g = Some(shm.clone());
        Ok(shm)
    }

    /// The platform.
    pub fn platform(&self) -> &SysV {
        &self.inner.sysv
    }

    /// Run `f` on the driver, under its mutex.
    fn with<T>(&self, f: impl FnOnce(&mut Drv) -> Result<T, Error>) -> Result<T, Error> {
        let mut guard: MutexGuard<'_, Option<Box<Drv>>> =
            self.inner.driver.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(driver) => f(driver),
            None => Err(Error::Driver(shm::Error::LogicBug {
                what: "driver already shut down",
            })),
        }
    }

    /// Create `name` (e.g. `shmem://h2`): an empty, persistent file, open read-write.
    ///
    /// # Errors
    /// [`Error::Driver`]: bad name, slot in use or locked, kernel limits.
    pub fn create(&self, name: &str) -> Result<ShmFile, Error> {
        let (handle, slot) = self.with(|d| {
            let h = d.create(name)?;
            Ok((h, d.slot_of(h)?))
        })?;
        let Some(owner) = self.inner.sysv.exclusive_holder(LockRange::slot(slot)) else {
            let _ = self.with(|d| Ok(d.close(handle)?));
            return Err(Error::Driver(shm::Error::LogicBug {
                what: "created file without an exclusive lock holder",
            }));
        };
        Ok(ShmFile::new(
            self.clone(),
            handle,
            slot,
            owner,
            Mode::ReadWrite,
        ))
    }

    /// Create `name` with room for `fits_len` FITS bytes: writes up to that size never move
    /// the file (one segment, each page touched once). Its length is that of any new file; see
    /// [`ShmFile::reserve`]. A writer that streams a FITS file from offset 0 does not need
    /// this: [`ShmFile`] reserves by itself once the primary header is written.
    ///
    /// # Errors
    /// As [`Shm::create`]; `TooLarge` past [`MAX_FITS_SIZE`](shmfits_core::shm::MAX_FITS_SIZE)
    /// (the file is then not created).
    pub fn create_with_capacity(&self, name: &str, fits_len: u64) -> Result<ShmFile, Error> {
        let mut f = self.create(name)?;
        if let Err(e) = f.reserve(fits_len) {
            let _ = f.remove();
            return Err(e);
        }
        Ok(f)
    }

    /// Open `name`, waiting for the slot lock as `wait` says.
    ///
    /// # Errors
    /// [`Error::Driver`] with `WouldBlock`, `TimedOut`, `Deadlock` (a handle of this
    /// [`Shm`] already holds a conflicting lock and `wait` would wait for it, or, with
    /// `Wait::Forever`, the kernel found that waiting would close a lock cycle with other
    /// processes; see [`SysV`](crate::SysV) for what is and is not detected, including
    /// possible false reports in multi-threaded processes), `NotFound`, `BadName`,
    /// `Corrupt`…
    pub fn open_with(&self, name: &str, mode: Mode, wait: Wait) -> Result<ShmFile, Error> {
        let pending = self.with(|d| {
            let slot = d.parse(name)?.slot;
            let conflict = d.holds(slot, Mode::ReadWrite)
                || (mode == Mode::ReadWrite && d.holds(slot, Mode::ReadOnly));
            if wait != Wait::No && conflict {
                return Err(Error::Driver(shm::Error::Deadlock { slot }));
            }
            Ok(d.open_start(name, mode)?)
        })?;
        let (slot, owner) = (pending.slot(), pending.owner());
        // Wait for the lock without holding the driver's mutex.
        let locked = self
            .inner
            .sysv
            .lock(owner, pending.range(), pending.kind(), wait);
        if let Err(e) = locked {
            let err = match e.kind() {
                shm::ErrorKind::WouldBlock => shm::Error::WouldBlock { slot },
                shm::ErrorKind::TimedOut => shm::Error::TimedOut { slot },
                shm::ErrorKind::Deadlock => shm::Error::Deadlock { slot },
                _ => shm::Error::Platform {
                    slot: Some(slot),
                    step: "lock slot",
                    error: e,
                },
            };
            self.with(|d| Ok(d.open_abort(pending)?))?;
            return Err(Error::Driver(err));
        }
        let handle = self.with(|d| Ok(d.open_finish(pending)?))?;
        Ok(ShmFile::new(self.clone(), handle, slot, owner, mode))
    }

    /// Open `name`, waiting as long as it takes for the lock.
    ///
    /// # Errors
    /// As [`Shm::open_with`].
    pub fn open(&self, name: &str, mode: Mode) -> Result<ShmFile, Error> {
        self.open_with(name, mode, Wait::Forever)
    }

    /// Open `name` only if the lock can be had at once (else `WouldBlock`).
    ///
    /// # Errors
    /// As [`Shm::open_with`].
    pub fn try_open(&self, name: &str, mode: Mode) -> Result<ShmFile, Error> {
        self.open_with(name, mode, Wait::No)
    }

    /// Open `name`, waiting at most `timeout` for the lock (else `TimedOut`).
    ///
    /// # Errors
    /// As [`Shm::open_with`].
    pub fn open_timeout(
        &self,
        name: &str,
        mode: Mode,
        timeout: Duration,
    ) -> Result<ShmFile, Error> {
        self.open_with(name, mode, Wait::Timeout(timeout))
    }

    /// Delete `name`: new opens fail at once; the last close frees it. Never waits.
    ///
    /// # Errors
    /// `NotFound`, `WouldBlock` (another process has it open read-write), …
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        self.with(|d| Ok(d.delete(name)?))
    }
}

/// The zero-copy view state of a handle: its own attachment of the current segment and a pin
/// on its slot lock (so the lock cannot be released while views are borrowed).
#[derive(Debug)]
struct View {
    mapping: SysMapping,
    range: Range<usize>,
    pin: LockPin,
}

/// An open `shmem://` file. Holds its slot lock (shared for [`Mode::ReadOnly`], exclusive
/// for [`Mode::ReadWrite`]) until closed or dropped. `Send`.
#[derive(Debug)]
pub struct ShmFile {
    shm: Shm,
    handle: Handle,
    slot: u32,
    owner: LockOwner,
    mode: Mode,
    view: OnceLock<View>,
    open: bool,
    hint: HintTracker,
}

impl ShmFile {
    fn new(shm: Shm, handle: Handle, slot: u32, owner: LockOwner, mode: Mode) -> Self {
        ShmFile {
            shm,
            handle,
            slot,
            owner,
            mode,
            view: OnceLock::new(),
            open: true,
            hint: HintTracker::default(),
        }
    }

    /// Create `name` through [`Shm::global`].
    ///
    /// # Errors
    /// As [`Shm::global`] and [`Shm::create`].
    pub fn create(name: &str) -> Result<ShmFile, Error> {
        Shm::global()?.create(name)
    }

    /// Open `name` through [`Shm::global`], waiting for the lock.
    ///
    /// # Errors
    /// As [`Shm::global`] and [`Shm::open`].
    pub fn open(name: &str, mode: Mode) -> Result<ShmFile, Error> {
        Shm::global()?.open(name, mode)
    }

    /// Open `name` through [`Shm::global`] without waiting.
    ///
    /// # Errors
    /// As [`Shm::global`] and [`Shm::try_open`].
    pub fn try_open(name: &str, mode: Mode) -> Result<ShmFile, Error> {
        Shm::global()?.try_open(name, mode)
    }

    /// Open `name` through [`Shm::global`], waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Shm::global`] and [`Shm::open_timeout`].
    pub fn open_timeout(name: &str, mode: Mode, timeout: Duration) -> Result<ShmFile, Error> {
        Shm::global()?.open_timeout(name, mode, timeout)
    }

    /// The slot (`N` of `hN`).
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The mode it was opened with.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Length of the file in bytes.
    ///
    /// # Errors
    /// [`Error::Driver`] (`BadHandle` after a failed close).
    pub fn len(&self) -> Result<u64, Error> {
        self.shm.with(|d| Ok(d.size(self.handle)?))
    }

    /// Whether the file is empty.
    ///
    /// # Errors
    /// As [`ShmFile::len`].
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// FITS bytes the file can hold before its segment has to grow (at least [`ShmFile::len`]).
    ///
    /// # Errors
    /// [`Error::Driver`] (`BadHandle` after a failed close).
    pub fn capacity(&self) -> Result<u64, Error> {
        self.shm.with(|d| {
            let (m, range) = d.view(self.handle)?;
            let seg = d.platform().mapping_len(m);
            Ok(seg.saturating_sub(range.start) as u64)
        })
    }

    /// Size hint: make room for a file of `fits_len` FITS bytes, so that writes up to that
    /// size never move the file again (one copy of what is written so far, if anything).
    /// Never shrinks; the file's length and contents do not change.
    ///
    /// Streaming writers rarely need it: a write sequence that starts at offset 0 with a
    /// primary header reserves header + padded data of the primary HDU by itself when the
    /// header's `END` card has been written.
    ///
    /// # Errors
    /// [`Error::Driver`]: `ReadOnly`, `TooLarge` past
    /// [`MAX_FITS_SIZE`](shmfits_core::shm::MAX_FITS_SIZE), growth failures (the file
    /// stays as it was).
    pub fn reserve(&mut self, fits_len: u64) -> Result<(), Error> {
        self.view.take();
        self.shm.with(|d| Ok(d.reserve(self.handle, fits_len)?))
    }

    /// Make everything written visible to the next opener and safe from this process's death.
    ///
    /// # Errors
    /// [`Error::Driver`].
    pub fn sync(&mut self) -> Result<(), Error> {
        self.view.take();
        self.shm.with(|d| Ok(d.flush(self.handle)?))
    }

    /// Set the length to `len` bytes: shrinking forgets the bytes past `len`, growing appends
    /// zeros; the position does not move. Like a write, the change is published by
    /// [`ShmFile::sync`] or [`ShmFile::close`] (with the default shadow writes).
    ///
    /// # Errors
    /// [`Error::Driver`]: `ReadOnly` for a read-only handle, `TooLarge`, growth failures.
    pub fn set_len(&mut self, len: u64) -> Result<(), Error> {
        self.view.take();
        self.shm.with(|d| Ok(d.set_len(self.handle, len)?))
    }

    /// Forget everything written since the open or the last [`ShmFile::sync`]: readers never
    /// see it, and this handle reads the published version again. Only shadow writes (the
    /// default) can be forgotten; in place there is nothing pending.
    ///
    /// # Errors
    /// [`Error::Driver`].
    pub fn discard(&mut self) -> Result<(), Error> {
        self.view.take();
        self.shm.with(|d| Ok(d.discard(self.handle)?))
    }

    /// Where this handle's writes go: a shadow copy published on flush/close (the default),
    /// or the published segment itself ([`WriteMode::InPlace`], only when asked for).
    ///
    /// # Errors
    /// [`Error::Driver`].
    pub fn write_mode(&self) -> Result<WriteMode, Error> {
        self.shm.with(|d| Ok(d.write_mode(self.handle)?))
    }

    /// Change where this handle's writes go; leaving [`WriteMode::Shadow`] publishes first.
    ///
    /// # Errors
    /// [`Error::Driver`] (the errors of a flush).
    pub fn set_write_mode(&mut self, mode: WriteMode) -> Result<(), Error> {
        self.view.take();
        self.shm.with(|d| Ok(d.set_write_mode(self.handle, mode)?))
    }

    /// The whole file as bytes, without copying. (Named `as_bytes`, not `bytes`, because
    /// `std::io::Read::bytes` would shadow it wherever `Read` is in scope.)
    /// Valid while `self` is borrowed: the handle's
    /// lock keeps writers out (and `&mut self` operations cannot run meanwhile).
    ///
    /// # Errors
    /// [`Error::Platform`] if the segment cannot be attached for the view.
    pub fn as_bytes(&self) -> Result<&[u8], Error> {
        if let Some(v) = self.view.get() {
            return v
                .pin
                .view(&v.mapping, v.range.start, v.range.len())
                .map_err(Error::Platform);
        }
        let (id, range) = self.shm.with(|d| {
            let (m, range) = d.view(self.handle)?;
            Ok((d.platform().mapping_id(m), range))
        })?;
        let sysv = self.shm.platform();
        let mapping = sysv.segment_attach(id).map_err(Error::Platform)?;
        let pin = sysv
            .pin(self.owner, LockRange::slot(self.slot))
            .map_err(Error::Platform)?;
        let view = View {
            mapping,
            range,
            pin,
        };
        // Only `&mut self` methods take the view, so nobody set it since the check above.
        let v = self.view.get_or_init(|| view);
        v.pin
            .view(&v.mapping, v.range.start, v.range.len())
            .map_err(Error::Platform)
    }

    /// `count` values of type `T` starting `offset` bytes into the file, without copying.
    /// `T` is an unaligned big-endian type such as `zerocopy::byteorder::I16<BigEndian>`
    /// (FITS data start 24 bytes into the segment: never assume alignment).
    ///
    /// ```
    /// use std::io::Write;
    /// use shmfits_unix::{Config, Mode, Shm};
    /// use zerocopy::byteorder::{BigEndian, I16};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # let shm = Shm::new(Config {
    /// #     key_base: 0x5348_F260,
    /// #     lock_dir: dir.path().into(),
    /// #     ..Config::default()
    /// # })?;
    /// let mut w = shm.create("shmem://h2")?;
    /// w.write_all(&[0x00, 0x01, 0xFF, 0xFE])?; // big-endian 1 and -2
    /// w.close()?;
    /// let r = shm.open("shmem://h2", Mode::ReadOnly)?;
    /// let v: &[I16<BigEndian>] = r.values(0, 2)?; // in place, no copy
    /// assert_eq!((v[0].get(), v[1].get()), (1, -2));
    /// r.remove()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the values do not fit in the file.
    pub fn values<T>(&self, offset: usize, count: usize) -> Result<&[T], Error>
    where
        T: FromBytes + KnownLayout + Immutable + Unaligned,
    {
        let bytes = self.as_bytes()?;
        let len = count.checked_mul(std::mem::size_of::<T>());
        let end = len.and_then(|l| offset.checked_add(l));
        let slice = end
            .and_then(|end| bytes.get(offset..end))
            .ok_or(Error::OutOfRange {
                offset,
                len: len.unwrap_or(usize::MAX),
                file_len: bytes.len(),
            })?;
        <[T]>::ref_from_bytes(slice).map_err(|_| Error::OutOfRange {
            offset,
            len: slice.len(),
            file_len: bytes.len(),
        })
    }

    /// The HDUs of the file, parsed from the zero-copy bytes.
    ///
    /// # Errors
    /// As [`ShmFile::as_bytes`]; each HDU is a `Result` of the walk.
    pub fn hdus(&self) -> Result<Hdus<'_>, Error> {
        Ok(Hdus::new(self.as_bytes()?))
    }

    /// The (unpadded) data bytes of `hdu`, an HDU of this file.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] if `hdu` does not lie in this file.
    pub fn hdu_data(&self, hdu: &Hdu<'_>) -> Result<&[u8], Error> {
        let bytes = self.as_bytes()?;
        let (start, end) = (hdu.data_start(), hdu.data_end());
        bytes.get(start..end).ok_or(Error::OutOfRange {
            offset: start,
            len: end.saturating_sub(start),
            file_len: bytes.len(),
        })
    }

    /// Delete the file and close this handle; the last close in any process frees it.
    ///
    /// # Errors
    /// [`Error::Driver`].
    pub fn remove(mut self) -> Result<(), Error> {
        self.view.take();
        self.open = false;
        self.shm.with(|d| Ok(d.remove(self.handle)?))
    }

    /// Close, reporting errors (dropping closes too, ignoring them). A read-write handle
    /// publishes what it wrote.
    ///
    /// # Errors
    /// [`Error::Driver`].
    pub fn close(mut self) -> Result<(), Error> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<(), Error> {
        self.view.take();
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        self.shm.with(|d| Ok(d.close(self.handle)?))
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = self.close_inner();
    }
}

impl Read for ShmFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let h = self.handle;
        Ok(self.shm.with(|d| Ok(d.read(h, buf)?))?)
    }

    /// The rest of the file in one copy: the length is known, so the buffer grows once
    /// (std's default probes with small reads and grows the buffer step by step, about ten
    /// times slower for a 256 MiB file).
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let h = self.handle;
        let left = self
            .shm
            .with(|d| Ok(d.size(h)?.saturating_sub(d.position(h)?)))?;
        let no_room = |_| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("read_to_end: no memory for the {left} bytes left in the file"),
            )
        };
        let left = usize::try_from(left).map_err(|_| no_room(()))?;
        buf.try_reserve_exact(left).map_err(|_| no_room(()))?;
        let start = buf.len();
        buf.resize(start + left, 0);
        let r = match buf.get_mut(start..) {
            Some(dst) => self.read(dst),
            None => Ok(0),
        };
        // The lock keeps the length fixed, so `n == left`; never leave zeros behind.
        buf.truncate(start + *r.as_ref().unwrap_or(&0));
        r
    }
}

impl Write for ShmFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.view.take();
        let h = self.handle;
        let hint = &mut self.hint;
        Ok(self.shm.with(|d| {
            let pos = d.position(h)?;
            let n = d.write(h, data)?;
            let written = data.get(..n).unwrap_or(data);
            if let Some(want) = hint.wrote(pos, written) {
                // The automatic size hint (see `file_hint`). Only an optimization: sizes past
                // the limit are left to the write that reaches them (it reports TooLarge),
                // and a failed reserve leaves the file as it was, to grow as usual.
                if want <= shm::MAX_FITS_SIZE as u64 {
                    let _ = d.reserve(h, want);
                }
            }
            Ok(n)
        })?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(self.sync()?)
    }
}

impl Seek for ShmFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let h = self.handle;
        Ok(self.shm.with(|d| {
            let (base, delta) = match pos {
                SeekFrom::Start(n) => (n, 0),
                SeekFrom::End(i) => (d.size(h)?, i),
                SeekFrom::Current(i) => (d.position(h)?, i),
            };
            let new = base.checked_add_signed(delta).ok_or(Error::OutOfRange {
                offset: usize::try_from(base).unwrap_or(usize::MAX),
                len: 0,
                file_len: usize::try_from(d.size(h)?).unwrap_or(usize::MAX),
            })?;
            d.seek(h, new)?;
            Ok(new)
        })?)
    }
}

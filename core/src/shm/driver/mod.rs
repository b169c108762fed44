//! The `shmem://` driver: CFITSIO's protocol on the wire, without CFITSIO's defects.
//!
//! [`Driver`] owns a platform `P: SharedMem`, a [`Config`], the attached global table and a
//! fixed local table of `N` handles (no allocation). Each handle is a small state machine
//! ([`State`]); every change goes through one `set_state()` that refuses illegal transitions
//! with [`Error::IllegalTransition`].
//!
//! ```text
//! create(name)            -> Handle (read-write, exclusive lock held)
//! open(name, mode, wait)  -> Handle (= open_start + platform lock + open_finish)
//! read / write / seek / size / flush / view (handle)   view: mapping + FITS byte range
//! close(handle)
//! delete(name)            marks the file deleted; the last close frees it
//! remove(handle)          delete through an open handle, then close it
//! list(&mut [SlotStatus]) snapshot of the table with lock states
//! recover(slot)           repairs or removes only what is really broken
//! shutdown()              closes everything, detaches (and if unused removes) the table
//! ```
//!
//! # Protocol reasoning
//!
//! Shared state is the global table (one 28-byte entry per slot, see [`layout`](super::layout)),
//! one data segment and one counter per file, and one lock byte per slot. The invariant both
//! CFITSIO and this driver keep is: **an entry, and the segment it names, change only under
//! the exclusive lock of the slot's byte**. CFITSIO takes it for create (`shared_malloc`),
//! attach, free, write/realloc and set_attr; we take it for create, read-write open, grow,
//! free and delete-with-no-reader. Everything below follows from that.
//!
//! ## Global table
//! Found by key `K` and attached once per [`Driver`]; its real size (from
//! [`SharedMem::segment_info`]) must equal `28·M`, otherwise [`Error::TableMismatch`]
//! (CFITSIO crashes or lets two writers in when `SHMEM_LIB_MAXSEG` differs). If it does not
//! exist we take the exclusive lock on *all* slot bytes, create it `EXCL`, write the cleared
//! state into every entry and only then unlock: none of our processes reads an entry without
//! a slot lock, so none sees the zero-filled table. (A CFITSIO process may still see zeros for
//! an instant; it then treats the slot as busy, which is harmless.) If the `EXCL` create loses
//! a race, we attach the winner's table.
//!
//! ## Create
//! Exclusive lock without waiting (as CFITSIO); the entry must be the cleared entry. A key is
//! drawn as CFITSIO draws it, `K + ((j + hash) mod 3M)`, trying `j = 0, 1, …` until both the
//! segment and the counter can be created `EXCL` under it: segment, attach, block header and
//! file header, counter; then counter +1 and the entry filled (attr `RESIZE|PERSIST`,
//! `nprocdebug` = 1 for our write lock). The lock is kept: the new handle is read-write.
//! A read-write open sets `nprocdebug` to 1 and its close to 0, rather than adding and
//! subtracting: under the exclusive lock ours is the only write lock, so counts left behind
//! by crashed writers (ours or CFITSIO's) heal on the next write open.
//! *Crash:* before the entry is written, a segment (and perhaps a counter) is left under a
//! key no entry names. [`Driver::recover`] with `None` removes such orphans: segments with
//! our block header under their slot's lock, segments without one (crash before the header
//! write) and counters under the lock on all slots — a creator or grower holds its slot's
//! lock until the entry names its objects, so a live one is never disturbed. After the entry
//! is written, the file exists, empty, with `nprocdebug` = 1 and no writer: `recover` resets
//! `nprocdebug`.
//!
//! ## Open read-only — readers do not serialize
//! CFITSIO *attaches* under the exclusive lock and then takes the shared lock. We take the
//! shared lock directly and keep it until close: while it is held nobody can hold the
//! exclusive lock, so the entry and the segment cannot change (every change needs it — see the
//! invariant), and reading them is safe. Then we check the entry, attach, check both headers
//! and the size against the real segment length, and add 1 to the counter. Many readers hold
//! the shared lock at once; a CFITSIO reader waits for them (its attach wants the exclusive
//! lock), a CFITSIO or our writer waits for them, exactly as with CFITSIO's own readers.
//! *Crash:* the kernel releases the lock, undoes the counter increment and detaches. Nothing
//! in shared memory was changed.
//! CFITSIO's create fills the entry, *unlocks*, re-locks for writing and only then writes the
//! file header; a reader that comes in between finds a blank file header and gets
//! [`Error::WouldBlock`] (try again). If that creator died there, a read-write open or
//! `recover` (both hold the exclusive lock, so no creator is alive) writes the header.
//!
//! ## Open read-write
//! Exclusive lock (waiting or not, or with a timeout, as asked), checks as above, attach,
//! counter +1, `nprocdebug` set to 1. *Crash:* lock released, counter undone, `nprocdebug`
//! stays 1; the next read-write open sets it right, and `recover` sees `nprocdebug > 0`
//! while it holds the exclusive lock itself (so no writer can be alive) and resets it to 0 —
//! the data is intact and stays.
//!
//! ## Close — never waits for other readers
//! Read-only: counter −1, read the attributes (still under our shared lock); if the file is
//! deleted, make sure its file header carries the delete mark (a deleter that died before
//! making it left it out); detach; unlock.
//! If the file is deleted (PERSIST clear) and the counter read 0, try the exclusive lock
//! *without waiting*; under it re-check that the entry still names the same segment and
//! counter, that it is still deleted and the counter still 0, and free it. If the try fails,
//! someone else holds the slot and their close (ours or CFITSIO's `shared_free`) frees it.
//! Counter decrement happens before the attribute read, the counter is read (only when the
//! attribute says deleted) after it, and delete clears the attribute before it reads the
//! counter, so at least one of a closing reader and a concurrent delete sees both "deleted"
//! and "0". A close of a file that is not deleted reads no counter. A read-only operation never removes a file that is not
//! deleted (attr exactly `RESIZE`): attributes other than `RESIZE` and `RESIZE|PERSIST` are
//! reported as corrupt, never acted on.
//! Read-write: publish a pending shadow (with the delete mark if the file was deleted
//! through this handle), `nprocdebug` set to 0, counter −1, detach; if deleted and the
//! counter is 0 free it (we still hold the exclusive lock); unlock.
//!
//! ## Write, shadow and growth
//! A read-write handle holds the exclusive lock, so nobody else reads or changes the file
//! while it writes. Two write modes ([`WriteMode`], from [`Config`], changeable per handle
//! with [`Driver::set_write_mode`]):
//!
//! * **Shadow** (default, issue 5 row 1): the first write after an open or a flush copies
//!   the file into a new segment under a fresh key (the "shadow"); writes go there and the
//!   table keeps naming the published segment. [`Driver::flush`] and [`Driver::close`]
//!   publish: one 28-byte store of the entry (`key`, `handle`, `size`; `nprocdebug`, `attr`
//!   and the counter as the table has them), then the old segment is removed.
//!   *Crash* before the store: the published version is intact and complete; the shadow is an
//!   orphan (our block header, named by no entry) that `recover(None)` removes. After the
//!   store: the new version is published; the old segment is the orphan. A reader therefore
//!   never sees a half-written version. A write that fails part-way (a kernel limit while
//!   growing, a failed copy) abandons the shadow: it is never published, close discards it
//!   and reports [`Error::WriteFailed`].
//! * **In place**: writes go into the published segment and every write that extends the
//!   file stores the new `size` in the table before it returns, so a writer that dies loses
//!   nothing it wrote (but a reader after that may see a half-done update).
//!
//! When a write needs more room the new segment is at least twice the old one (rounded to the
//! granule), so `n` small writes cost `O(n)` copying in total (CFITSIO copies the whole file at
//! every granule). Order: create the new segment `EXCL` under a fresh key, copy header and
//! data, then (in place only) store the entry, then remove the old segment; the crash cases
//! are those of the shadow above. CFITSIO reads a segment larger than it needs (it finds it by
//! key with size 1) and, when it writes, reallocates by its own rule, which works on our
//! segments too. A size beyond what the `int` field can express ([`MAX_FITS_SIZE`] FITS
//! bytes) is refused with [`Error::TooLarge`] before anything changes.
//!
//! ## Delete — returns at once
//! With nobody in the slot (exclusive lock without waiting): clear PERSIST and, if the
//! counter is 0, free the file now. With readers in it (only the shared lock can be had
//! without waiting): clear the PERSIST bit under the shared lock — a one-byte store that no
//! holder of a shared lock reads except at open (where it makes new opens of ours fail with
//! [`Error::NotFound`]) and at close (see above); the last close frees the file. With a writer
//! in it: [`Error::WouldBlock`] (or, if the writer is a handle of this driver, the flag is
//! cleared through that handle and its close frees the file).
//!
//! A file that is not freed at once also gets the *delete mark*: its file header's id becomes
//! [`FILE_ID_DELETED`](crate::shm::layout::FILE_ID_DELETED) (the segment stays otherwise
//! untouched; holders never read the file header after their open). CFITSIO's `smem_open`
//! checks that id once it holds the slot lock and fails for any other value than
//! `DAL_SHM_SEGHEAD_ID`, while its read, write and close never look at it. So a CFITSIO open
//! of a deleted file fails: at once if nobody holds the slot (and its failed open, which runs
//! its own close, frees the file when the counter drops to 0), or — because CFITSIO's attach
//! takes the slot's exclusive lock and waits, as it does for every held file — as soon as the
//! holders are gone. A CFITSIO reader's last close frees the file as CFITSIO's own
//! `smem_remove` would. If the deleter dies between clearing PERSIST and the mark, the next
//! close of a holder (under its lock) or `recover` (for a file attached but not locked)
//! makes it.
//!
//! ## Recover
//! For every slot whose exclusive lock can be had without waiting (a held lock means someone
//! alive is using it): a half-cleared entry is cleared; an entry whose segment is gone, or
//! whose size, block header or keys are impossible, is removed (removing only kernel objects
//! that match the entry by key and id and are ours); a missing counter is recreated under its
//! key; a blank or damaged file header is rewritten (data kept), and a deleted file that is
//! still attached gets its missing delete mark; a positive `nprocdebug` is
//! reset to 0 (dead writer, data kept); a deleted file with no process is freed (counter 0,
//! or a counter above 0 while the kernel counts no attachment of the segment: every opener
//! attaches before it counts, so that count drifted — a neighbour's `semctl(SETVAL)` clears
//! the undo adjustments of processes that later exit). A healthy
//! persistent file with no process attached is left alone (CFITSIO's `smem -r` deletes it).
//! With `None`, orphans are removed too (see create and write above).
//!
//! ## Whose objects
//! Unless [`Config::allow_foreign_owners`] is set, the global table, data segments and
//! counters must belong to the calling user ([`Error::ForeignOwner`] otherwise), and nothing
//! is ever removed unless its kernel key matches what the table claims and it belongs to the
//! calling user: an edited table cannot make us remove someone else's segment or semaphore.
//!
//! ## Known limits
//! * A crash inside create between making the counter and storing the entry leaves a counter
//!   (value 0) under a key no entry names. `recover(None)` removes it under the lock on all
//!   slots when the platform implements the optional [`SharedMem::counter_find`]; otherwise
//!   it stays (harmless: the next create draws another key; it counts against `SEMMNI`).
//! * CFITSIO does not look at PERSIST on open, and its open takes the slot's exclusive lock,
//!   waiting, before it can see the delete mark: while any process holds a deleted file a
//!   CFITSIO open of it waits (as it waits for every held file — CFITSIO's own protocol,
//!   which we cannot change from outside), then fails. Unlinking the segment's key at delete
//!   instead was tried and rejected (issue 5, row 6): CFITSIO's close runs the same checks as
//!   its open (`shared_map`), so it then fails and leaves the counter and entry. The block
//!   header cannot carry the mark either: CFITSIO's close checks it.
//! * [`Driver::open_finish`] trusts the caller to have taken `pending.kind()` on
//!   `pending.range()` with `pending.owner()`.
//!
//! # Memory
//! A driver takes `size_of::<Driver<P, N>>()` bytes; each handle adds
//! [`Driver::BYTES_PER_HANDLE`] (about 100 bytes plus the size of `P::Mapping` and
//! `P::LockOwner`). `N` = 1024 and beyond is supported; put big drivers in a `static` or a
//! `Box` rather than on a small stack.

mod delete;
mod io;
mod lifecycle;
mod list;
mod open;
mod recover;

pub use list::{LockState, SlotStatus};
pub use recover::{RecoverAction, RecoverReport};

use core::fmt;

use zerocopy::{FromBytes, IntoBytes};

use super::error::{lock_error, plat, Error};
use super::layout::{
    check_entry, Entry, EntryState, KeySpace, RawEntry, ENTRY_SIZE, MAX_FITS_SIZE,
};
use super::name::{parse_name, SlotName};
use super::platform::{Key, LockKind, LockRange, SegmentId, SharedMem, Wait};
use super::state::State;

/// Configuration of a driver: which table, how many slots, how to wait for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Key of the global table, `K` (CFITSIO: `SHMEM_LIB_KEYBASE`, default 14011963).
    /// Must be at least 1, and `K + 3·slots` must fit in an `i32`.
    pub key_base: Key,
    /// Number of slots, `M` (CFITSIO: `SHMEM_LIB_MAXSEG`, default 16). At least 1.
    pub slots: u32,
    /// How long [`Driver::new`] waits for the lock on all slots when it has to create the
    /// global table.
    pub init_wait: Wait,
    /// Where read-write handles write: a shadow copy published on flush/close (default), or
    /// the published segment itself.
    pub write_mode: WriteMode,
    /// Whether kernel objects (table, segments, counters) owned by another user are used.
    /// `false` (default): every object must belong to the calling user, else
    /// [`Error::ForeignOwner`]; objects of others are never attached or removed.
    pub allow_foreign_owners: bool,
}

/// Where writes of a read-write handle go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// The first write after an open or flush copies the file into a private shadow segment;
    /// writes go there; [`Driver::flush`] and [`Driver::close`] publish it in one table
    /// store. A writer that dies leaves the last published version intact (its shadow is an
    /// orphan that [`Driver::recover`] removes); a reader never sees a half-written version.
    /// Costs one copy of the file per flush cycle that writes.
    Shadow,
    /// Writes go into the published segment and the table's size follows every write that
    /// extends the file: nothing written is lost when the writer dies, but a reader after
    /// that death may see a half-done update.
    InPlace,
}

impl Config {
    /// CFITSIO's defaults: key base 14011963, 16 slots.
    pub const CFITSIO_DEFAULT: Config = Config {
        key_base: 14_011_963,
        slots: 16,
        init_wait: Wait::Forever,
        write_mode: WriteMode::Shadow,
        allow_foreign_owners: false,
    };

    /// A configuration with this key base and slot count (waiting forever on init, shadow
    /// writes).
    pub const fn new(key_base: Key, slots: u32) -> Self {
        Config {
            key_base,
            slots,
            init_wait: Wait::Forever,
            write_mode: WriteMode::Shadow,
            allow_foreign_owners: false,
        }
    }

    /// The same configuration, accepting (or not) objects owned by other users.
    pub const fn with_foreign_owners(mut self, allow: bool) -> Self {
        self.allow_foreign_owners = allow;
        self
    }

    /// The same configuration with another write mode.
    pub const fn with_write_mode(mut self, write_mode: WriteMode) -> Self {
        self.write_mode = write_mode;
        self
    }

    fn check<E: super::platform::PlatformError>(&self) -> Result<KeySpace, Error<E>> {
        if self.key_base < 1 {
            return Err(Error::BadConfig {
                what: "key base",
                value: i64::from(self.key_base),
            });
        }
        if self.slots == 0 || self.slots > i32::MAX as u32 / ENTRY_SIZE as u32 {
            return Err(Error::BadConfig {
                what: "slot count",
                value: i64::from(self.slots),
            });
        }
        let top = i64::from(self.key_base) + 3 * i64::from(self.slots);
        if top > i64::from(i32::MAX) {
            return Err(Error::BadConfig {
                what: "key base + 3 * slot count",
                value: top,
            });
        }
        Ok(KeySpace {
            base: self.key_base,
            slots: self.slots,
        })
    }
}

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Shared lock: many readers at once, no writer.
    ReadOnly,
    /// Exclusive lock: one writer, no reader.
    ReadWrite,
}

impl Mode {
    /// The slot lock this mode holds.
    pub fn lock_kind(self) -> LockKind {
        match self {
            Mode::ReadOnly => LockKind::Shared,
            Mode::ReadWrite => LockKind::Exclusive,
        }
    }
}

/// An open file of a [`Driver`]: index into its local table plus a generation, so that a
/// handle that was closed (and whose entry was reused) is refused with
/// [`Error::BadHandle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    index: u32,
    generation: u32,
}

impl Handle {
    /// Position in the local table.
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

/// An open in progress (see [`Driver::open_start`]). Pass it to [`Driver::open_finish`] once
/// the lock is held, or to [`Driver::open_abort`].
#[derive(Debug)]
#[must_use = "an open in progress holds a local entry and a lock owner until finished or aborted"]
pub struct Pending<O> {
    handle: Handle,
    slot: u32,
    owner: O,
    mode: Mode,
}

impl<O: Copy> Pending<O> {
    /// The lock owner the caller must take the slot lock with.
    pub fn owner(&self) -> O {
        self.owner
    }
    /// The slot.
    pub fn slot(&self) -> u32 {
        self.slot
    }
    /// The lock range to take: [`LockRange::slot`] of the slot.
    pub fn range(&self) -> LockRange {
        LockRange::slot(self.slot)
    }
    /// The lock kind to take.
    pub fn kind(&self) -> LockKind {
        self.mode.lock_kind()
    }
    /// The mode asked for.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// One entry of the local table.
struct Local<P: SharedMem> {
    state: State,
    generation: u32,
    slot: u32,
    mode: Mode,
    owner: Option<P::LockOwner>,
    mapping: Option<P::Mapping>,
    /// The entry as this handle sees the file: as of open, kept current by our own writes
    /// (with a shadow: the shadow's key, id and size).
    entry: Option<Entry>,
    /// With an unpublished shadow: the entry as the table has it (the committed version).
    committed: Option<Entry>,
    /// Where this handle's writes go.
    write_mode: WriteMode,
    /// Whether our counter increment is in place.
    counted: bool,
    /// A shadow write failed part-way: the unpublished version is abandoned.
    write_failed: bool,
    /// Read/write position in FITS bytes.
    pos: u64,
}

impl<P: SharedMem> Local<P> {
    fn new() -> Self {
        Local {
            state: State::Free,
            generation: 0,
            slot: 0,
            mode: Mode::ReadOnly,
            owner: None,
            mapping: None,
            entry: None,
            committed: None,
            write_mode: WriteMode::Shadow,
            counted: false,
            write_failed: false,
            pos: 0,
        }
    }
}

/// The shared-memory driver. See the [module docs](self) for the protocol.
pub struct Driver<P: SharedMem, const N: usize> {
    platform: P,
    config: Config,
    keys: KeySpace,
    table: Option<P::Mapping>,
    locals: [Local<P>; N],
    hash_counter: u32,
}

impl<P: SharedMem, const N: usize> fmt::Debug for Driver<P, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = self
            .locals
            .iter()
            .filter(|l| l.state != State::Free)
            .count();
        f.debug_struct("Driver")
            .field("config", &self.config)
            .field("capacity", &N)
            .field("open", &open)
            .finish()
    }
}

type Res<T, P> = Result<T, Error<<P as SharedMem>::Error>>;

impl<P: SharedMem, const N: usize> Driver<P, N> {
    /// Bytes of local table per handle.
    pub const BYTES_PER_HANDLE: usize = core::mem::size_of::<Local<P>>();

    /// Attach (or create and clear) the global table for `config`.
    ///
    /// # Errors
    /// [`Error::BadConfig`] for an unusable configuration; [`Error::TableMismatch`] if the
    /// table exists with another size; lock errors while waiting for all slots when creating
    /// it; [`Error::Platform`] for the kernel calls.
    pub fn new(platform: P, config: Config) -> Res<Self, P> {
        let keys = config.check::<P::Error>()?;
        let table = Self::attach_table(&platform, &config, &keys)?;
        Ok(Driver {
            platform,
            config,
            keys,
            table: Some(table),
            locals: core::array::from_fn(|_| Local::new()),
            hash_counter: 0,
        })
    }

    fn table_err(step: &'static str) -> impl Fn(P::Error) -> Error<P::Error> {
        move |error| Error::Platform {
            slot: None,
            step,
            error,
        }
    }

    fn attach_found(
        platform: &P,
        config: &Config,
        id: SegmentId,
        expected: usize,
    ) -> Res<P::Mapping, P> {
        let info = platform
            .segment_info(id)
            .map_err(Self::table_err("global table stat"))?;
        let me = platform.current_uid();
        if info.owner_uid != me && !config.allow_foreign_owners {
            return Err(Error::ForeignOwner {
                slot: None,
                what: "global table",
                uid: info.owner_uid,
            });
        }
        if info.size != expected {
            return Err(Error::TableMismatch {
                expected,
                actual: info.size,
            });
        }
        let m = platform
            .segment_attach(id)
            .map_err(Self::table_err("global table attach"))?;
        if platform.mapping_len(&m) < expected {
            let actual = platform.mapping_len(&m);
            let _ = platform.segment_detach(m);
            return Err(Error::TableMismatch { expected, actual });
        }
        Ok(m)
    }

    fn attach_table(platform: &P, config: &Config, keys: &KeySpace) -> Res<P::Mapping, P> {
        use super::platform::{ErrorKind, PlatformError};
        let size = keys.table_size().ok_or(Error::BadConfig {
            what: "slot count",
            value: i64::from(config.slots),
        })?;
        // A table found may be removed by its last user (CFITSIO's exit) before we attach:
        // try again a few times, then create it.
        for _ in 0..3 {
            match platform.segment_find(config.key_base) {
                Ok(id) => match Self::attach_found(platform, config, id, size) {
                    Err(Error::Platform { error, .. }) if error.kind() == ErrorKind::NotFound => {
                        continue
                    }
                    other => return other,
                },
                Err(e) if e.kind() == ErrorKind::NotFound => break,
                Err(e) => return Err(Self::table_err("global table find")(e)),
            }
        }
        // Create it under the lock on all slots, so that none of our processes reads an
        // entry before it is cleared.
        let owner = platform
            .lock_owner_new()
            .map_err(Self::table_err("lock owner"))?;
        let all = LockRange::all(config.slots);
        let result = (|| {
            platform
                .lock(owner, all, LockKind::Exclusive, config.init_wait)
                .map_err(|e| lock_error(0, "lock all slots", e))?;
            let id = match platform.segment_create(config.key_base, size) {
                Ok(id) => id,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let id = platform
                        .segment_find(config.key_base)
                        .map_err(Self::table_err("global table find"))?;
                    return Self::attach_found(platform, config, id, size);
                }
                Err(e) => return Err(Self::table_err("global table create")(e)),
            };
            let m = platform
                .segment_attach(id)
                .map_err(Self::table_err("global table attach"))?;
            for slot in 0..config.slots {
                let off = slot as usize * ENTRY_SIZE;
                if let Err(e) = platform.write(&m, off, RawEntry::CLEARED.as_bytes()) {
                    let _ = platform.segment_detach(m);
                    let _ = platform.segment_remove(id);
                    return Err(Self::table_err("global table clear")(e));
                }
            }
            Ok(m)
        })();
        let _ = platform.unlock(owner, all);
        let released = platform.lock_owner_release(owner);
        let m = result?;
        if let Err(e) = released {
            let _ = platform.segment_detach(m);
            return Err(Self::table_err("lock owner release")(e));
        }
        Ok(m)
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Parse a name against this driver's slot count.
    ///
    /// # Errors
    /// [`Error::BadName`].
    pub fn parse<'n>(&self, name: &'n str) -> Res<SlotName<'n>, P> {
        Ok(parse_name(name, self.config.slots)?)
    }

    /// Number of handles in use.
    pub fn open_count(&self) -> usize {
        self.locals
            .iter()
            .filter(|l| l.state != State::Free)
            .count()
    }

    /// The state of a handle ([`State::Free`] for a stale one).
    pub fn state(&self, h: Handle) -> State {
        match self.locals.get(h.index()) {
            Some(l) if l.generation == h.generation => l.state,
            _ => State::Free,
        }
    }

    // ------------------------------------------------------------ internals

    fn table(&self) -> Res<&P::Mapping, P> {
        self.table.as_ref().ok_or(Error::LogicBug {
            what: "global table not attached",
        })
    }

    fn entry_offset(&self, slot: u32) -> Res<usize, P> {
        if slot >= self.config.slots {
            return Err(Error::LogicBug {
                what: "slot beyond the slot count",
            });
        }
        (slot as usize)
            .checked_mul(ENTRY_SIZE)
            .ok_or(Error::LogicBug {
                what: "entry offset overflow",
            })
    }

    fn read_raw(&self, slot: u32) -> Res<RawEntry, P> {
        let mut buf = [0u8; ENTRY_SIZE];
        let off = self.entry_offset(slot)?;
        self.platform
            .read(self.table()?, off, &mut buf)
            .map_err(plat(slot, "read table entry"))?;
        RawEntry::read_from_bytes(&buf[..]).map_err(|_| Error::LogicBug { what: "entry size" })
    }

    fn write_raw(&self, slot: u32, raw: &RawEntry) -> Res<(), P> {
        let off = self.entry_offset(slot)?;
        self.platform
            .write(self.table()?, off, raw.as_bytes())
            .map_err(plat(slot, "write table entry"))
    }

    fn read_entry(&self, slot: u32) -> Res<EntryState, P> {
        let raw = self.read_raw(slot)?;
        Ok(check_entry(&raw, slot, &self.keys)?)
    }

    fn local(&self, h: Handle) -> Res<&Local<P>, P> {
        match self.locals.get(h.index()) {
            Some(l) if l.generation == h.generation && l.state != State::Free => Ok(l),
            _ => Err(Error::BadHandle),
        }
    }

    fn local_mut(&mut self, h: Handle) -> Res<&mut Local<P>, P> {
        match self.locals.get_mut(h.index()) {
            Some(l) if l.generation == h.generation && l.state != State::Free => Ok(l),
            _ => Err(Error::BadHandle),
        }
    }

    /// The one place a handle's state changes.
    fn set_state(&mut self, h: Handle, to: State) -> Res<(), P> {
        let l = self
            .locals
            .get_mut(h.index())
            .filter(|l| l.generation == h.generation)
            .ok_or(Error::BadHandle)?;
        if !l.state.allows(to) {
            return Err(Error::IllegalTransition { from: l.state, to });
        }
        l.state = to;
        if to == State::Free {
            l.owner = None;
            l.mapping = None;
            l.entry = None;
            l.committed = None;
            l.counted = false;
            l.write_failed = false;
            l.pos = 0;
        }
        Ok(())
    }

    /// Take a free local entry for `slot`, moving it to `to`.
    fn alloc_local(&mut self, slot: u32, mode: Mode, to: State) -> Res<Handle, P> {
        let index = self
            .locals
            .iter()
            .position(|l| l.state == State::Free)
            .ok_or(Error::TooManyHandles { capacity: N })?;
        let l = self.locals.get_mut(index).ok_or(Error::LogicBug {
            what: "local index",
        })?;
        l.generation = l.generation.wrapping_add(1);
        l.slot = slot;
        l.mode = mode;
        l.write_mode = self.config.write_mode;
        let h = Handle {
            index: u32::try_from(index).map_err(|_| Error::LogicBug {
                what: "local index beyond u32",
            })?,
            generation: l.generation,
        };
        self.set_state(h, to)?;
        Ok(h)
    }

    /// Next hash for key selection, as CFITSIO's `shared_get_hash`.
    fn next_hash(&mut self, size: usize, slot: u32) -> u64 {
        let r = u64::from(self.keys.range()).max(1);
        let h = (u64::from(self.hash_counter) + (size as u64 % r) * u64::from(slot)) % r;
        self.hash_counter = ((u64::from(self.hash_counter) + 1) % r) as u32;
        h
    }

    /// Release a temporary or handle lock owner, ignoring errors (used on error paths).
    fn drop_owner(&self, owner: P::LockOwner, slot: u32) {
        let _ = self.platform.unlock(owner, LockRange::slot(slot));
        let _ = self.platform.lock_owner_release(owner);
    }

    /// Refuse an object of another user unless the configuration allows it.
    fn check_owner(&self, slot: u32, what: &'static str, uid: u32) -> Res<(), P> {
        if uid == self.platform.current_uid() || self.config.allow_foreign_owners {
            Ok(())
        } else {
            Err(Error::ForeignOwner {
                slot: Some(slot),
                what,
                uid,
            })
        }
    }

    /// Whether we may remove an object owned by `uid`: only our own.
    fn ours(&self, uid: u32) -> bool {
        uid == self.platform.current_uid()
    }

    fn fits_max() -> u64 {
        MAX_FITS_SIZE as u64
    }
}

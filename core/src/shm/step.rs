//! [`Step`]: named points inside the driver's operations, for crash tests (test-only hook).
//!
//! The driver calls [`SharedMem::checkpoint`](super::SharedMem::checkpoint) with a [`Step`]
//! at every point where a process death leaves a distinct state in shared memory. A platform
//! normally ignores it (the trait's default does nothing). Test platforms use it to stop or
//! kill the process exactly there: the System V adapter raises `SIGSTOP` when the
//! environment variable `SHMFITS_TEST_STOP_AT=<step>[:<n>]` names the step (so the test can
//! `SIGKILL` it), the mock kills the simulated process. **This hook is for tests only**: it
//! carries no data, changes nothing and must never be used to drive the protocol.
//!
//! ```
//! use shmfits_core::shm::Step;
//! assert_eq!(Step::from_name("before-publish"), Some(Step::BeforePublish));
//! assert_eq!(Step::BeforePublish.name(), "before-publish");
//! ```

use core::fmt;

/// A named step of a driver operation, for the test-only hook
/// [`SharedMem::checkpoint`](super::SharedMem::checkpoint): the System V adapter stops the
/// process at the step named by `SHMFITS_TEST_STOP_AT=<step>[:<n>]`, the mock kills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Create or grow: a data segment was just created `EXCL`, nothing written to it yet.
    AfterSegmentCreate,
    /// Create: both headers written into the new segment, no counter yet.
    AfterHeaders,
    /// Create: the counter was just created, no entry names it yet.
    AfterCounterCreate,
    /// Create or open: our +1 on the slot's counter is in place (entry not yet stored by a
    /// create).
    AfterCounterAdd,
    /// Create: the table entry was just stored (file exists, empty, `nprocdebug` = 1).
    AfterEntryStore,
    /// Shadow or growth: the file was copied into the new segment, nothing published.
    AfterCopy,
    /// Write: data bytes were copied into the handle's segment (shadow or published).
    AfterDataWrite,
    /// Publish (flush/close of a shadow, in-place growth): just before the one entry store.
    BeforePublish,
    /// Publish: the entry names the new segment; the old one is not removed yet.
    AfterPublish,
    /// Publish or growth: the old segment was just removed.
    AfterOldRemove,
    /// Open: the slot lock is held, nothing attached yet.
    AfterLock,
    /// Open: the entry was read and names a live file; its segment is not attached yet.
    AfterEntryRead,
    /// Close: our counter decrement is done, the lock is still held.
    AfterCounterRelease,
    /// Delete: PERSIST was just cleared; nothing freed yet.
    AfterMarkDeleted,
    /// Free (last close of a deleted file, or delete with nobody in it): the segment was
    /// removed, the counter and entry not yet.
    AfterFreeSegment,
    /// Recover: the slot's exclusive lock is held, nothing repaired yet.
    RecoverLocked,
}

impl Step {
    /// Every step, in protocol order.
    pub const ALL: [Step; 16] = [
        Step::AfterSegmentCreate,
        Step::AfterHeaders,
        Step::AfterCounterCreate,
        Step::AfterCounterAdd,
        Step::AfterEntryStore,
        Step::AfterCopy,
        Step::AfterDataWrite,
        Step::BeforePublish,
        Step::AfterPublish,
        Step::AfterOldRemove,
        Step::AfterLock,
        Step::AfterEntryRead,
        Step::AfterCounterRelease,
        Step::AfterMarkDeleted,
        Step::AfterFreeSegment,
        Step::RecoverLocked,
    ];

    /// The kebab-case name (`after-segment-create`, …) used in `SHMFITS_TEST_STOP_AT`.
    pub const fn name(self) -> &'static str {
        match self {
            Step::AfterSegmentCreate => "after-segment-create",
            Step::AfterHeaders => "after-headers",
            Step::AfterCounterCreate => "after-counter-create",
            Step::AfterCounterAdd => "after-counter-add",
            Step::AfterEntryStore => "after-entry-store",
            Step::AfterCopy => "after-copy",
            Step::AfterDataWrite => "after-data-write",
            Step::BeforePublish => "before-publish",
            Step::AfterPublish => "after-publish",
            Step::AfterOldRemove => "after-old-remove",
            Step::AfterLock => "after-lock",
            Step::AfterEntryRead => "after-entry-read",
            Step::AfterCounterRelease => "after-counter-release",
            Step::AfterMarkDeleted => "after-mark-deleted",
            Step::AfterFreeSegment => "after-free-segment",
            Step::RecoverLocked => "recover-locked",
        }
    }

    /// The step with this [`Step::name`], if any.
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| s.name() == name)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (i, s) in Step::ALL.iter().enumerate() {
            assert_eq!(Step::from_name(s.name()), Some(*s));
            for t in &Step::ALL[i + 1..] {
                assert_ne!(s.name(), t.name());
            }
        }
        assert_eq!(Step::from_name("after-copy "), None);
        assert_eq!(Step::from_name(""), None);
    }
}

//! The state of one local handle, and which changes are allowed.
//!
//! ```text
//!        open_start /           open_finish
//!          create
//!   free ──────────► opening ─────────────► attached ──► read-locked ──┐
//!    ▲  open_abort    │  │ create                  └───► write-locked ─┤ close
//!    ├────────────────┘  └──────► created ───────────────► write-locked │
//!    │                                                                 ▼
//!    ├──────────────────────── removed ◄─────────────────────────── detached
//!    └─────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Any state may go back to `free` when an operation fails half-way and has undone its
//! steps (or, on close, after its steps failed and it gave the handle up).

use core::fmt;

/// State of a local handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Unused local entry.
    Free,
    /// Local entry and lock owner allocated; the slot lock is being taken.
    Opening,
    /// Create made the segment and counter and filled the table entry (exclusive lock held).
    Created,
    /// Segment mapped, process counted.
    Attached,
    /// Open read-only: shared slot lock held.
    ReadLocked,
    /// Open read-write: exclusive slot lock held.
    WriteLocked,
    /// Close: unmapped and uncounted; the lock is still held.
    Detached,
    /// Close: the file was freed (last close of a deleted file).
    Removed,
}

impl State {
    /// Whether `self → to` is a transition the state machine allows.
    pub fn allows(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (Free, Opening)
                | (Opening, Created)
                | (Opening, Attached)
                | (Opening, Free)
                | (Created, WriteLocked)
                | (Attached, ReadLocked)
                | (Attached, WriteLocked)
                | (ReadLocked, Detached)
                | (WriteLocked, Detached)
                | (Detached, Removed)
                | (Detached, Free)
                | (Removed, Free)
                | (Created, Free)
                | (Attached, Free)
                | (ReadLocked, Free)
                | (WriteLocked, Free)
        )
    }

    /// Whether a handle in this state has the file open (mapped and locked).
    pub fn is_open(self) -> bool {
        matches!(self, State::ReadLocked | State::WriteLocked)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Free => "free",
            State::Opening => "opening",
            State::Created => "created",
            State::Attached => "attached",
            State::ReadLocked => "read-locked",
            State::WriteLocked => "write-locked",
            State::Detached => "detached",
            State::Removed => "removed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::State::*;

    #[test]
    fn transitions() {
        assert!(Free.allows(Opening));
        assert!(Attached.allows(ReadLocked));
        assert!(!Free.allows(ReadLocked));
        assert!(!ReadLocked.allows(WriteLocked));
        assert!(!Removed.allows(Attached));
        assert!(!Free.allows(Free));
    }
}

//! Deterministic fault injection: a [`FaultPlan`] of [`FaultRule`]s, driven by a seeded
//! xorshift64* generator, decides which calls fail with which errno.
//!
//! A fault is checked after the liveness check of the calling process and before any kernel
//! rule: an injected failure changes nothing in the kernel, exactly like a system call that
//! failed. Two consequences a driver must survive, and that a real kernel can produce too:
//! a failed `segment_detach` leaves the mapping attached (the token is consumed; the memory is
//! detached when the process exits), and a failed `lock_owner_release` leaves the owner and
//! its locks in place (the token is `Copy`, so it can be retried).
//!
//! ```
//! use shmfits_mock::{CallKind, FaultPlan, MockErrno, MockKernel};
//! use shmfits_core::shm::{ErrorKind, SharedMem};
//!
//! let kernel = MockKernel::new();
//! kernel.set_faults(FaultPlan::new(7).fail_nth(CallKind::SegmentCreate, 2, MockErrno::NoSpace));
//! let p = kernel.spawn();
//! assert!(p.segment_create(100, 10).is_ok());
//! let e = p.segment_create(101, 10).unwrap_err();
//! assert_eq!(e.kind, ErrorKind::LimitReached);
//! assert!(e.is_injected());
//! assert!(p.segment_create(101, 10).is_ok()); // a rule fires once
//! ```

use alloc::vec::Vec;

use crate::error::{CallKind, Fail, MockErrno, CRASHED, INJECTED};

/// xorshift64* (Vigna): small, fast, and the same sequence on every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XorShift64Star {
    state: u64,
}

impl XorShift64Star {
    /// A generator from `seed` (a zero seed, which xorshift cannot use, is replaced by a
    /// fixed non-zero constant).
    pub const fn new(seed: u64) -> Self {
        XorShift64Star {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..bound` (`0` when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }
}

/// When a [`FaultRule`] fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// On the `n`-th matching call from now (1 = the next one), once.
    Nth(u64),
    /// On each matching call with probability `per_mille / 1000`, drawn from the plan's seed.
    Random {
        /// Probability in thousandths (values above 1000 count as 1000).
        per_mille: u16,
    },
    /// On every matching call.
    Always,
}

/// One rule: calls of kind `call` (optionally only those of process `pid`) fail with `errno`
/// when `trigger` says so — or, for a crashing rule, the calling process is killed at that
/// call, before it takes effect (a `SIGKILL` in the middle of a driver operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// The trait method this rule targets. Rules on infallible methods never fire.
    pub call: CallKind,
    /// The errno of the injected failure.
    pub errno: MockErrno,
    /// When it fires.
    pub trigger: Trigger,
    /// Only calls made by this process count (`None`: every process).
    pub pid: Option<u32>,
    /// How often this rule has fired.
    pub fired: u64,
    /// Matching calls seen so far (for [`Trigger::Nth`] the countdown).
    pub seen: u64,
    /// Kill the calling process instead of failing the call with `errno`. The call, and
    /// every later call of the process, fails with `ESRCH`; the kernel does what
    /// [`crate::MockKernel::kill`] does.
    pub crash: bool,
}

impl FaultRule {
    /// Fail the `n`-th call of kind `call` from now (1-based; 0 counts as 1) with `errno`.
    pub const fn nth(call: CallKind, n: u64, errno: MockErrno) -> Self {
        FaultRule {
            call,
            errno,
            trigger: Trigger::Nth(if n == 0 { 1 } else { n }),
            pid: None,
            fired: 0,
            seen: 0,
            crash: false,
        }
    }

    /// Fail each call of kind `call` with probability `per_mille / 1000`.
    pub const fn random(call: CallKind, per_mille: u16, errno: MockErrno) -> Self {
        FaultRule {
            call,
            errno,
            trigger: Trigger::Random { per_mille },
            pid: None,
            fired: 0,
            seen: 0,
            crash: false,
        }
    }

    /// Fail every call of kind `call`.
    pub const fn always(call: CallKind, errno: MockErrno) -> Self {
        FaultRule {
            call,
            errno,
            trigger: Trigger::Always,
            pid: None,
            fired: 0,
            seen: 0,
            crash: false,
        }
    }

    /// Kill the calling process at the `n`-th call of kind `call` from now (1-based; 0 counts
    /// as 1), before the call takes effect.
    pub const fn crash_nth(call: CallKind, n: u64) -> Self {
        let mut rule = FaultRule::nth(call, n, MockErrno::Srch);
        rule.crash = true;
        rule
    }

    /// Restrict the rule to calls made by process `pid`.
    pub const fn in_process(mut self, pid: u32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Whether the rule can still fire (an [`Trigger::Nth`] rule fires once).
    pub fn is_pending(&self) -> bool {
        match self.trigger {
            Trigger::Nth(_) => self.fired == 0,
            Trigger::Random { per_mille } => per_mille > 0,
            Trigger::Always => true,
        }
    }
}

/// A seeded set of fault rules. Installed with [`crate::MockKernel::set_faults`]; the same
/// plan and the same sequence of calls give the same failures on every run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    seed: u64,
    rng: XorShift64Star,
    rules: Vec<FaultRule>,
    fired: u64,
}

impl Default for FaultPlan {
    /// No rules, seed 0.
    fn default() -> Self {
        FaultPlan::new(0)
    }
}

impl FaultPlan {
    /// An empty plan whose random draws come from `seed`.
    pub fn new(seed: u64) -> Self {
        FaultPlan {
            seed,
            rng: XorShift64Star::new(seed),
            rules: Vec::new(),
            fired: 0,
        }
    }

    /// Add a rule.
    pub fn with(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Add a rule in place.
    pub fn push(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    /// Fail the `n`-th call of kind `call` from now (1-based, all processes) with `errno`.
    pub fn fail_nth(self, call: CallKind, n: u64, errno: MockErrno) -> Self {
        self.with(FaultRule::nth(call, n, errno))
    }

    /// Fail each call of kind `call` with probability `per_mille / 1000`.
    pub fn fail_randomly(self, call: CallKind, per_mille: u16, errno: MockErrno) -> Self {
        self.with(FaultRule::random(call, per_mille, errno))
    }

    /// Kill the calling process at the `n`-th call of kind `call` from now.
    pub fn crash_nth(self, call: CallKind, n: u64) -> Self {
        self.with(FaultRule::crash_nth(call, n))
    }

    /// Fail every call of kind `call`.
    pub fn fail_always(self, call: CallKind, errno: MockErrno) -> Self {
        self.with(FaultRule::always(call, errno))
    }

    /// The seed the plan was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The rules, with their `fired` and `seen` counts.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Total faults injected by this plan.
    pub fn fired(&self) -> u64 {
        self.fired
    }

    /// Whether any rule can still fire.
    pub fn is_pending(&self) -> bool {
        self.rules.iter().any(FaultRule::is_pending)
    }

    /// Decide the fate of one call. Every matching rule sees the call (countdowns advance,
    /// random rules draw) in order; the first that fires decides the errno, and whether the
    /// process is killed (`true`).
    pub(crate) fn check(&mut self, call: CallKind, pid: u32) -> Option<(Fail, bool)> {
        if !call.is_fallible() {
            return None;
        }
        let mut verdict = None;
        for rule in &mut self.rules {
            if rule.call != call || rule.pid.is_some_and(|p| p != pid) {
                continue;
            }
            rule.seen = rule.seen.saturating_add(1);
            let fires = match rule.trigger {
                Trigger::Nth(n) => rule.fired == 0 && rule.seen == n,
                Trigger::Random { per_mille } => {
                    self.rng.below(1000) < u64::from(per_mille.min(1000))
                }
                Trigger::Always => true,
            };
            if fires {
                rule.fired = rule.fired.saturating_add(1);
                if verdict.is_none() {
                    let fail = if rule.crash {
                        Fail::new(MockErrno::Srch, CRASHED)
                    } else {
                        Fail::new(rule.errno, INJECTED)
                    };
                    verdict = Some((fail, rule.crash));
                }
            }
        }
        if verdict.is_some() {
            self.fired = self.fired.saturating_add(1);
        }
        verdict
    }
}

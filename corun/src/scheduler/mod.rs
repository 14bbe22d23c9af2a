//! Schedulers: [`run`](crate::run) on the current thread, or a
//! [`Scheduler`] of one or more cores on threads of their own, with a
//! handle usable from any thread.
//!
//! The loop itself is in `core`; what other threads may touch in `shared`;
//! the thread-local "current core" in `context`; the API a task uses on
//! its own core in `in_task`; the cores of one scheduler and the placement
//! rule in `group`; the handle in `sched`, its settings in `builder`. This
//! file holds the errors and counters they share, and must not reach into
//! a running core.

use std::fmt;

pub(crate) mod affinity;
pub(crate) mod blocking;
mod builder;
pub(crate) mod context;
pub(crate) mod core;
pub(crate) mod group;
pub(crate) mod in_task;
pub(crate) mod registry;
mod sched;
pub(crate) mod shared;
pub(crate) mod ticker;
mod try_spawn;

pub use builder::Builder;
pub use sched::Scheduler;
pub use try_spawn::TrySpawnError;

use crate::task::JoinError;

/// Why a call on a [`Scheduler`] handle (or `spawn_on`) could not be
/// carried out.
///
/// ```
/// let sched = corun::Scheduler::start().unwrap();
/// sched.shutdown().unwrap();
/// assert!(matches!(sched.spawn(async {}), Err(corun::SchedulerError::Shutdown)));
/// ```
pub enum SchedulerError {
    /// The scheduler has shut down.
    Shutdown,
    /// A blocking call (`join_all`, `block_on`) was made on the scheduler's
    /// own thread, where it would deadlock.
    OnSchedulerThread,
    /// The task run by `block_on` was killed or panicked.
    Join(JoinError),
    /// `spawn_on` named a core the scheduler does not have.
    NoSuchCore {
        /// The core asked for.
        core: usize,
        /// How many cores the scheduler has.
        cores: usize,
    },
}

impl fmt::Debug for SchedulerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulerError::Shutdown => f.write_str("Shutdown"),
            SchedulerError::OnSchedulerThread => f.write_str("OnSchedulerThread"),
            SchedulerError::Join(e) => write!(f, "Join({e:?})"),
            SchedulerError::NoSuchCore { core, cores } => {
                write!(f, "NoSuchCore {{ core: {core}, cores: {cores} }}")
            }
        }
    }
}

impl fmt::Display for SchedulerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulerError::Shutdown => f.write_str("the scheduler has shut down"),
            SchedulerError::OnSchedulerThread => f.write_str(
                "blocking call on the scheduler's own thread would deadlock; await instead",
            ),
            SchedulerError::Join(e) => write!(f, "{e}"),
            SchedulerError::NoSuchCore { core, cores } => {
                write!(f, "no core {core}: the scheduler has {cores} (0..{cores})")
            }
        }
    }
}

impl std::error::Error for SchedulerError {}

/// The old name of [`SchedulerError`], which covers only the calls of the
/// [`Scheduler`] handle (and `spawn_on`).
#[deprecated(since = "0.1.0", note = "renamed to `SchedulerError`")]
pub type Error = SchedulerError;

/// Counters of one scheduler (see [`Scheduler::stats`] and [`crate::stats`]).
///
/// ```
/// corun::run(async {
///     corun::spawn(async {}).await.unwrap();
///     let s = corun::stats();
///     assert!(s.spawned >= 2 && s.completed >= 1);
/// });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks spawned so far.
    pub spawned: u64,
    /// Tasks that returned.
    pub completed: u64,
    /// Tasks killed (including by shutdown).
    pub killed: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Task polls.
    pub polls: u64,
    /// Loop turns that looked at the OS poller.
    pub turns: u64,
    /// Of those, turns that were allowed to block (idle).
    pub parks: u64,
    /// Extra looks at the OS poller (non-blocking) made by the idle spin
    /// before a park, if one is configured (`Builder::idle_spin`; none by
    /// default). Calls to the poller in all: `turns + spin_polls`.
    pub spin_polls: u64,
    /// Live tasks now.
    pub tasks: u64,
    /// Pending timers now.
    pub timers: u64,
    /// Polls that ran at least the [slow-poll threshold](Builder::slow_poll).
    pub slow_polls: u64,
    /// Tasks spawned from other threads waiting for the scheduler to take
    /// them in, now (see [`Scheduler::try_spawn`]).
    pub queued_spawns: u64,
    /// Tasks looked up by id (kill, wait, `join_all` by id).
    pub id_lookups: u64,
    /// Registry entries those lookups examined: at most three per lookup
    /// (the id's hint, its page, the overflow table), whatever the number
    /// of tasks and however the id was obtained.
    pub id_probes: u64,
}

impl Stats {
    /// Adds `other`'s counters to these (the sum over a scheduler's cores).
    pub(crate) fn add(&mut self, other: &Stats) {
        let Stats {
            spawned,
            completed,
            killed,
            panicked,
            polls,
            turns,
            parks,
            spin_polls,
            tasks,
            timers,
            slow_polls,
            queued_spawns,
            id_lookups,
            id_probes,
        } = *other;
        self.spawned += spawned;
        self.completed += completed;
        self.killed += killed;
        self.panicked += panicked;
        self.polls += polls;
        self.turns += turns;
        self.parks += parks;
        self.spin_polls += spin_polls;
        self.tasks += tasks;
        self.timers += timers;
        self.slow_polls += slow_polls;
        self.queued_spawns += queued_spawns;
        self.id_lookups += id_lookups;
        self.id_probes += id_probes;
    }
}

#[cfg(test)]
mod tests {
    use super::core::{self, MAX_IDLE_SPIN};
    use super::*;
    use std::time::Duration;

    #[test]
    fn idle_spin_is_kept_up_to_its_maximum_and_cut_there() {
        let b = Builder::new();
        assert_eq!(b.options.idle_spin, core::DEFAULT_IDLE_SPIN);
        let b = b.idle_spin(Duration::from_micros(7));
        assert_eq!(b.options.idle_spin, Duration::from_micros(7));
        let b = b.idle_spin(Duration::MAX);
        assert_eq!(b.options.idle_spin, MAX_IDLE_SPIN);
        assert_eq!(MAX_IDLE_SPIN, Duration::from_millis(10));
    }
}

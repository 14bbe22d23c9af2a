//! Tasks: ids, the `Task<T>` handle, how a task ends, and what it waits for.
//!
//! The cell itself (memory layout, vtable) is in [`raw`]; wakers in
//! [`waker`]; the handle in [`handle`]. Nothing here decides scheduling
//! order: that is the scheduler's job.

use std::fmt;
use std::time::{Duration, Instant};

pub(crate) mod dump;
pub(crate) mod handle;
pub(crate) mod header;
pub(crate) mod join;
mod join_error;
pub(crate) mod protocol;
pub(crate) mod raw;
pub(crate) mod slab;
pub(crate) mod slim_waker;
mod vtable_ref;
pub(crate) mod waker;

pub use handle::Task;
pub use join_error::{JoinError, JoinErrorKind};

/// log2 of [`BLOCK`].
pub(crate) const BLOCK_SHIFT: u32 = 10;
/// Ids are handed out in blocks of this many consecutive sequence numbers
/// (a scheduler core or a spawning thread takes one block at a time from
/// one process-wide counter), so the hot spawn path touches no shared
/// counter and a registry can place a task by its id.
pub(crate) const BLOCK: usize = 1 << BLOCK_SHIFT;
/// The bit where an id's core index starts: an id is
/// `core << CORE_SHIFT | sequence number`.
pub(crate) const CORE_SHIFT: u32 = 56;
/// The most cores one scheduler may have (the core index is 8 bits).
pub(crate) const MAX_CORES: usize = 1 << (64 - CORE_SHIFT);

/// The sequence-number part of an id (unique in the process by itself).
#[inline]
pub(crate) fn seq_of(id: u64) -> u64 {
    id & ((1 << CORE_SHIFT) - 1)
}

/// The index of the core an id's task was placed on.
#[inline]
pub(crate) fn core_of(id: u64) -> usize {
    (id >> CORE_SHIFT) as usize
}

static NEXT_BLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A fresh block of sequence numbers: `[start, end)`; never 0.
pub(crate) fn next_block() -> (u64, u64) {
    let b = NEXT_BLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = b << BLOCK_SHIFT;
    // Sequence 0 is never used, so no id is 0 (on any core).
    (start.max(1), start + BLOCK as u64)
}

/// The id of a task: unique for the life of the process, never reused.
///
/// An id says which core of its scheduler the task runs on (see
/// [`Builder::cores`](crate::Builder::cores)), so any id, however obtained
/// (a handle, a snapshot, [`TaskId::from_u64`]), reaches its task without a
/// search.
///
/// ```
/// corun::run(async {
///     let a = corun::spawn(async {});
///     let b = corun::spawn(async {});
///     assert_ne!(a.id(), b.id());
///     println!("spawned {} and {}", a.id(), b.id());
/// });
/// ```
#[derive(Clone, Copy)]
pub struct TaskId {
    pub(crate) id: u64,
}

impl PartialEq for TaskId {
    fn eq(&self, other: &TaskId) -> bool {
        self.id == other.id
    }
}

impl Eq for TaskId {}

impl std::hash::Hash for TaskId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state)
    }
}

impl PartialOrd for TaskId {
    fn partial_cmp(&self, other: &TaskId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TaskId {
    fn cmp(&self, other: &TaskId) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.id)
    }
}

impl TaskId {
    /// The id of the task behind `h`.
    pub(crate) fn of(h: &raw::Header) -> TaskId {
        TaskId { id: h.id }
    }

    /// The id as a number (for logs and maps).
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(async {});
    ///     assert!(t.id().as_u64() > 0);
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.id
    }
}

/// `#N` for a task of core 0, `#C.N` for one of core C (N: the id's
/// sequence number); [`str::parse`] reads either form back (and a plain
/// [`TaskId::as_u64`] number).
///
/// ```
/// let out = corun::Builder::new().cores(2).run(async {
///     let here = corun::spawn(async {});
///     let there = corun::spawn_on(1, || async {}).unwrap();
///     (here.id(), there.id())
/// });
/// let (here, there) = out;
/// assert!(!here.to_string().contains('.'));
/// assert!(there.to_string().starts_with("#1."));
/// for id in [here, there] {
///     assert_eq!(id.to_string().parse::<corun::TaskId>().unwrap(), id);
///     assert_eq!(id.as_u64().to_string().parse::<corun::TaskId>().unwrap(), id);
/// }
/// assert!("#x".parse::<corun::TaskId>().is_err());
/// ```
impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core_of(self.id) {
            0 => write!(f, "#{}", self.id),
            core => write!(f, "#{core}.{}", seq_of(self.id)),
        }
    }
}

/// Why a string is not a task id (see [`TaskId`]'s `Display`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTaskIdError(String);

impl fmt::Display for ParseTaskIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a task id (write #N, #CORE.N or the number from as_u64)",
            self.0
        )
    }
}

impl std::error::Error for ParseTaskIdError {}

impl std::str::FromStr for TaskId {
    type Err = ParseTaskIdError;

    fn from_str(s: &str) -> Result<TaskId, ParseTaskIdError> {
        let bad = || ParseTaskIdError(s.to_string());
        let body = s.trim().strip_prefix('#').unwrap_or(s.trim());
        let id = match body.split_once('.') {
            None => body.parse::<u64>().map_err(|_| bad())?,
            Some((core, seq)) => {
                let core = core.parse::<u64>().map_err(|_| bad())?;
                let seq = seq.parse::<u64>().map_err(|_| bad())?;
                if core >= MAX_CORES as u64 || seq_of(seq) != seq {
                    return Err(bad());
                }
                core << CORE_SHIFT | seq
            }
        };
        Ok(TaskId::from_u64(id))
    }
}

/// How a task ended, as reported by [`Scheduler::join_all`](crate::Scheduler::join_all)
/// and [`wait_exit`](crate::wait_exit).
///
/// ```
/// let sched = corun::Scheduler::start().unwrap();
/// let ok = sched.spawn(async {}).unwrap();
/// let bad = sched.spawn(async { panic!("boom") }).unwrap();
/// let exits = sched.join_all(&[ok.id(), bad.id()]).unwrap();
/// // A task that had already ended before join_all is no longer known.
/// assert!(exits.iter().all(|e| matches!(
///     e,
///     corun::Exit::Completed | corun::Exit::Panicked | corun::Exit::NotFound
/// )));
/// sched.shutdown().unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// The future returned.
    Completed,
    /// The future panicked.
    Panicked,
    /// The task was killed (even if a destructor panicked while the kill
    /// dropped its future: see [`JoinError`](crate::JoinError)).
    Killed,
    /// No such task: the id never existed here, or the task had already ended.
    NotFound,
}

/// What a pending task waits for (recorded by corun's own futures when they
/// return `Pending`, shown by [`tasks()`](crate::Scheduler::tasks)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Nothing recorded (waiting on something corun does not know, e.g. a
    /// channel, or a plain wake).
    Nothing,
    /// A timer, at this tick of the scheduler clock.
    Sleep(u64),
    /// A timer that never fires (`Duration::MAX`).
    SleepForever,
    /// Readiness of an fd.
    Fd(i32, crate::io::Interest),
    /// Another task.
    Task(TaskId),
}

const TAG_SHIFT: u32 = 61;
const PAYLOAD: u64 = (1 << TAG_SHIFT) - 1;

impl Waiting {
    /// One word: a 3-bit tag over a 61-bit payload (ticks and ids stay far
    /// below 2^61; larger values saturate, which only blurs a snapshot).
    pub(crate) fn pack(self) -> u64 {
        let (tag, payload) = match self {
            Waiting::Nothing => (0, 0),
            Waiting::Sleep(tick) => (1, tick.min(PAYLOAD)),
            Waiting::SleepForever => (2, 0),
            Waiting::Fd(fd, interest) => {
                let dir = u64::from(interest == crate::io::Interest::Write);
                (3, (dir << 32) | u64::from(fd as u32))
            }
            Waiting::Task(id) => (4, id.id.min(PAYLOAD)),
        };
        (tag << TAG_SHIFT) | payload
    }

    /// The inverse of [`Waiting::pack`].
    pub(crate) fn unpack(word: u64) -> Waiting {
        let payload = word & PAYLOAD;
        match word >> TAG_SHIFT {
            1 => Waiting::Sleep(payload),
            2 => Waiting::SleepForever,
            3 => {
                let interest = if payload >> 32 == 1 {
                    crate::io::Interest::Write
                } else {
                    crate::io::Interest::Read
                };
                Waiting::Fd(payload as u32 as i32, interest)
            }
            4 => Waiting::Task(TaskId { id: payload }),
            _ => Waiting::Nothing,
        }
    }
}

/// The state of a task in a [`TaskInfo`] snapshot.
///
/// ```
/// let sched = corun::Scheduler::start().unwrap();
/// sched.spawn(corun::sleep(std::time::Duration::from_secs(60))).unwrap();
/// for info in sched.tasks().unwrap() {
///     println!("{info}");
/// }
/// sched.shutdown().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// In the ready queue, waiting for its turn.
    Ready,
    /// Being polled right now (it asked for the snapshot itself).
    Running,
    /// In `sleep`/`timeout`/`interval`, until about this instant.
    Sleeping {
        /// When the timer fires.
        until: Instant,
    },
    /// In `sleep(Duration::MAX)` or similar: no timer will ever fire.
    SleepingForever,
    /// Waiting for an fd to become readable or writable.
    Io {
        /// The file descriptor.
        fd: i32,
        /// Read or write.
        interest: crate::io::Interest,
    },
    /// Waiting for another task to end.
    Joining(TaskId),
    /// Waiting for a wake from something corun does not track (a channel, a
    /// custom future).
    Idle,
}

/// One task in a [`Scheduler::tasks`](crate::Scheduler::tasks) snapshot.
///
/// ```
/// corun::run(async {
///     let _t = corun::spawn_named("sleeper", corun::sleep(std::time::Duration::from_secs(9)));
///     corun::yield_now().await; // let it start sleeping
///     let infos = corun::tasks();
///     let sleeper = infos.iter().find(|i| i.name.as_deref() == Some("sleeper")).unwrap();
///     assert!(matches!(sleeper.state, corun::TaskState::Sleeping { .. }));
/// });
/// ```
#[derive(Clone, Debug)]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// The name given at spawn, if any.
    pub name: Option<String>,
    /// The index of the core it runs on (see
    /// [`Builder::cores`](crate::Builder::cores)).
    pub core: usize,
    /// What it is doing.
    pub state: TaskState,
    /// How many times it has been polled.
    pub polls: u64,
    /// Time spent in its `poll`, if the scheduler measures it
    /// ([`Builder::measure_busy_time`](crate::Builder::measure_busy_time)).
    pub busy: Option<Duration>,
    /// Its longest single poll so far, on the scheduler's coarse clock
    /// (exact to about 250 µs; zero if no poll lasted that long). See
    /// [`Builder::slow_poll`](crate::Builder::slow_poll).
    pub longest_poll: Duration,
    /// Where it was spawned (the caller of `spawn`), if known: a scheduler
    /// remembers its first 127 distinct spawn sites.
    pub spawned_at: Option<&'static std::panic::Location<'static>>,
    /// The task that spawned it (on any core, or even another scheduler),
    /// if the scheduler keeps [dump details](crate::Builder::dump_details);
    /// `None` too for `run`'s main task and tasks spawned from a thread
    /// that was running no task. The parent may have ended since.
    pub parent: Option<TaskId>,
    /// Since when it waits, if the scheduler keeps
    /// [dump details](crate::Builder::dump_details): the instant its last
    /// poll returned (its spawn, if it was never polled), on the
    /// scheduler's clock ([`corun::time::now`](crate::time::now)). For a
    /// ready task that covers its wait for a wake and then for its turn;
    /// `None` for the running task.
    pub waiting_since: Option<Instant>,
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:<16} ",
            self.id,
            self.name.as_deref().unwrap_or("-")
        )?;
        match &self.state {
            TaskState::Ready => write!(f, "ready")?,
            TaskState::Running => write!(f, "running")?,
            TaskState::Sleeping { until } => {
                let left = until.saturating_duration_since(Instant::now());
                write!(f, "sleeping ({left:?} left)")?
            }
            TaskState::SleepingForever => write!(f, "sleeping forever")?,
            TaskState::Io { fd, interest } => write!(f, "waiting on fd {fd} for {interest:?}")?,
            TaskState::Joining(id) => write!(f, "waiting on task {id}")?,
            TaskState::Idle => write!(f, "idle")?,
        }
        write!(f, ", {} polls", self.polls)?;
        if let Some(busy) = self.busy {
            write!(f, ", busy {busy:?}")?;
        }
        if !self.longest_poll.is_zero() {
            write!(f, ", longest poll {:?}", self.longest_poll)?;
        }
        if let Some(site) = self.spawned_at {
            write!(f, ", spawned at {site}")?;
        }
        if let Some(parent) = self.parent {
            write!(f, " by {parent}")?;
        }
        Ok(())
    }
}

/// Records what the current task waits for (no-op outside a task).
pub(crate) fn set_waiting(w: Waiting) {
    crate::scheduler::context::with_current_task(|h| h.set_waiting(w));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_packs_and_unpacks() {
        use crate::io::Interest;
        for w in [
            Waiting::Nothing,
            Waiting::Sleep(123_456),
            Waiting::SleepForever,
            Waiting::Fd(7, Interest::Read),
            Waiting::Fd(i32::MAX, Interest::Write),
        ] {
            assert_eq!(Waiting::unpack(w.pack()), w);
        }
        let id = crate::task::TaskId::from_u64(42);
        assert_eq!(Waiting::unpack(Waiting::Task(id).pack()), Waiting::Task(id));
    }
}

//! Schedulers: [`run`](crate::run) on the current thread, or
//! [`Scheduler::start`] on a thread of its own with a handle usable from any
//! thread.
//!
//! The loop itself is in `core`; what other threads may touch in `shared`;
//! the thread-local "current scheduler" in `context`; the API a task uses on
//! its own scheduler in `local`. This file holds the cross-thread handle,
//! its builder and errors, and must not reach into a running core except by
//! message.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::Duration;

pub(crate) mod blocking;
pub(crate) mod context;
pub(crate) mod core;
pub(crate) mod local;
pub(crate) mod registry;
pub(crate) mod shared;
mod try_spawn;
pub use try_spawn::TrySpawnError;
pub(crate) mod ticker;

use self::core::{Core, MAX_IDLE_SPIN, Options};
use self::shared::{Msg, Shared, TaskPtr};
use crate::task::raw;
use crate::task::{Exit, JoinError, Task, TaskId, TaskInfo};

/// Why a scheduler call could not be carried out.
///
/// ```
/// let sched = corun::Scheduler::start().unwrap();
/// sched.shutdown().unwrap();
/// assert!(matches!(sched.spawn(async {}), Err(corun::Error::Shutdown)));
/// ```
pub enum Error {
    /// The scheduler has shut down.
    Shutdown,
    /// A blocking call (`join_all`, `block_on`) was made on the scheduler's
    /// own thread, where it would deadlock.
    OnSchedulerThread,
    /// The task run by `block_on` was killed or panicked.
    Join(JoinError),
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shutdown => f.write_str("Shutdown"),
            Error::OnSchedulerThread => f.write_str("OnSchedulerThread"),
            Error::Join(e) => write!(f, "Join({e:?})"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shutdown => f.write_str("the scheduler has shut down"),
            Error::OnSchedulerThread => f.write_str(
                "blocking call on the scheduler's own thread would deadlock; await instead",
            ),
            Error::Join(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

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
    /// Live tasks now.
    pub tasks: u64,
    /// Pending timers now.
    pub timers: u64,
    /// Polls that ran at least the [slow-poll threshold](Builder::slow_poll).
    pub slow_polls: u64,
    /// Tasks spawned from other threads waiting for the scheduler to take
    /// them in, now (see [`Scheduler::try_spawn`]).
    pub queued_spawns: u64,
}

/// Configures a scheduler before starting it.
///
/// ```
/// let sched = corun::Builder::new().thread_name("io-0").measure_busy_time(true).start().unwrap();
/// let t = sched.spawn(async { 7 }).unwrap();
/// assert_eq!(sched.block_on(async move { t.await.unwrap() }).unwrap(), 7);
/// sched.shutdown().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    thread_name: String,
    options: Options,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Default settings: thread named `corun`, busy time not measured, 50 µs
    /// of [idle spin](Builder::idle_spin).
    ///
    /// ```
    /// let _b = corun::Builder::new();
    /// ```
    pub fn new() -> Builder {
        Builder {
            thread_name: "corun".to_string(),
            options: Options::default(),
        }
    }

    /// Name of the OS thread [`start`](Builder::start) creates.
    ///
    /// ```
    /// let s = corun::Builder::new().thread_name("net").start().unwrap();
    /// s.shutdown().unwrap();
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// Measure the time each task spends in `poll` (two clock readings per
    /// poll; off by default), shown by [`Scheduler::tasks`].
    ///
    /// ```
    /// let v = corun::Builder::new().measure_busy_time(true).run(async {
    ///     corun::tasks()[0].busy.is_some()
    /// });
    /// assert!(v);
    /// ```
    pub fn measure_busy_time(mut self, on: bool) -> Builder {
        self.options.measure_busy_time = on;
        self
    }

    /// How long the scheduler keeps polling for I/O and messages when it
    /// runs out of work, before it blocks in the kernel. Default 50 µs;
    /// `Duration::ZERO` blocks at once; anything above 10 ms counts as
    /// 10 ms.
    ///
    /// A blocked scheduler must be woken by whoever brings it work (a
    /// peer's write to one of its sockets, another thread's message), which
    /// costs the waker a cross-CPU wake-up and the scheduler the latency of
    /// getting its CPU back. Serving a steady stream of small requests, a
    /// scheduler often runs dry for only tens of microseconds; spinning
    /// through those gaps saves both. The price is up to this much CPU
    /// time each time it runs dry (with the default, up to 5 % of a core
    /// for a scheduler woken every millisecond). Timers are never delayed
    /// by it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // A scheduler that should cost nothing while it waits.
    /// let v = corun::Builder::new().idle_spin(Duration::ZERO).run(async {
    ///     corun::sleep(Duration::from_millis(1)).await;
    ///     7
    /// });
    /// assert_eq!(v, 7);
    /// ```
    pub fn idle_spin(mut self, spin: Duration) -> Builder {
        self.options.idle_spin = spin.min(MAX_IDLE_SPIN);
        self
    }

    /// Bounds the queue of tasks spawned from other threads and not yet
    /// taken in by the scheduler: [`Scheduler::try_spawn`] gives the future
    /// back once `n` wait there. Default: no bound. [`Scheduler::spawn`]
    /// ignores it (it never blocks nor refuses while the scheduler runs);
    /// the queue's length is in [`Stats::queued_spawns`]. `0` counts as 1.
    ///
    /// ```
    /// let s = corun::Builder::new().max_queued_spawns(10_000).start().unwrap();
    /// assert!(s.try_spawn(async {}).is_ok());
    /// s.shutdown().unwrap();
    /// ```
    pub fn max_queued_spawns(mut self, n: usize) -> Builder {
        self.options.max_queued_spawns = n.max(1);
        self
    }

    /// Report every poll that runs this long or longer without returning:
    /// a `tracing` warning names the task (id, name, spawn site) and how
    /// long it ran, [`Stats::slow_polls`] counts it, and
    /// [`TaskInfo::longest_poll`] keeps each task's longest poll. Default
    /// 10 ms; `Duration::MAX` turns the warning off.
    ///
    /// Every other task of the scheduler waits while one poll runs, so a
    /// slow poll is a missing yield (a loop over ready I/O or a long
    /// computation without `yield_now().await`) or blocking work that
    /// belongs in [`crate::unblock`]. Polls are timed on a coarse clock
    /// that advances every 250 µs while the scheduler runs, so durations are
    /// exact to about that much, and timing costs nothing per poll.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let slow = corun::Builder::new()
    ///     .slow_poll(Duration::from_millis(5))
    ///     .run(async {
    ///         // 20 ms without an await: every other task waits as long.
    ///         let t0 = Instant::now();
    ///         while t0.elapsed() < Duration::from_millis(20) {}
    ///         corun::yield_now().await;
    ///         corun::stats().slow_polls
    ///     });
    /// assert_eq!(slow, 1);
    /// ```
    pub fn slow_poll(mut self, threshold: Duration) -> Builder {
        self.options.slow_poll_us = u64::try_from(threshold.as_micros()).unwrap_or(u64::MAX);
        self
    }

    /// Starts the scheduler on a new OS thread.
    ///
    /// ```
    /// let s = corun::Builder::new().start().unwrap();
    /// s.shutdown().unwrap();
    /// ```
    pub fn start(self) -> std::io::Result<Scheduler> {
        let (tx, rx) = mpsc::channel();
        let options = self.options;
        let thread = std::thread::Builder::new()
            .name(self.thread_name)
            .spawn(move || {
                let core = match Core::new(options) {
                    Ok(core) => core,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(core.shared().clone()));
                drop(tx);
                let _enter = context::enter(&core);
                core.run_until(|| false);
                core.shutdown();
            })?;
        let shared = match rx.recv() {
            Ok(Ok(shared)) => shared,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(std::io::Error::other("scheduler thread failed to start")),
        };
        Ok(Scheduler {
            inner: Arc::new(Inner {
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Runs a scheduler on the current thread until `future` completes
    /// (see [`crate::run`]).
    ///
    /// ```
    /// assert_eq!(corun::Builder::new().run(async { 5 }), 5);
    /// ```
    #[track_caller]
    pub fn run<F: Future + 'static>(self, future: F) -> F::Output
    where
        F::Output: 'static,
    {
        local::run_with(self.options, future)
    }
}

struct Inner {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    fn stop(&self) {
        let _ = self.shared.push(Msg::Shutdown);
        if context::is_local(Arc::as_ptr(&self.shared)) {
            // On our own thread: the loop stops after this task; nobody can
            // join the thread from inside it.
            context::with_core(|c| c.request_stop());
            return;
        }
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A scheduler running on its own OS thread; the handle is `Clone`, `Send`
/// and `Sync`. When the last handle is dropped, the scheduler shuts down.
///
/// ```
/// use std::time::Duration;
/// let sched = corun::Scheduler::start().unwrap();
/// let a = sched.spawn(async { corun::sleep(Duration::from_millis(5)).await; 1 }).unwrap();
/// let b = sched.spawn(async { 2 }).unwrap();
/// let exits = sched.join_all(&[a.id(), b.id()]).unwrap();
/// assert_eq!(exits.len(), 2);
/// sched.shutdown().unwrap();
/// ```
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("closed", &self.inner.shared.is_closed())
            .finish()
    }
}

impl Scheduler {
    /// Starts a scheduler with default settings on a new thread.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// sched.shutdown().unwrap();
    /// ```
    pub fn start() -> std::io::Result<Scheduler> {
        Builder::new().start()
    }

    /// Spawns a task from any thread.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let t = sched.spawn(async { "hi" }).unwrap();
    /// assert_eq!(sched.block_on(t).unwrap().unwrap(), "hi");
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<Task<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, None)
    }

    /// Spawns a named task from any thread.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let t = sched.spawn_named("greeter", async {}).unwrap();
    /// assert_eq!(t.name(), Some("greeter"));
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(
        &self,
        name: impl Into<String>,
        future: F,
    ) -> Result<Task<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, Some(name.into().into_boxed_str()))
    }

    #[track_caller]
    fn spawn_inner<F>(&self, future: F, name: Option<Box<str>>) -> Result<Task<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner_with(future, name, false)
    }

    /// Spawns; `reserved`: a place in the bounded queue was taken for it.
    #[track_caller]
    pub(crate) fn spawn_inner_with<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        reserved: bool,
    ) -> Result<Task<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let site = Location::caller();
        let shared = &self.inner.shared;
        if context::is_local(Arc::as_ptr(shared)) {
            return Ok(
                context::with_core(|core| core.spawn(future, name, site)).expect("checked local")
            );
        }
        // Allocated here (from the global allocator: the slab belongs to
        // the scheduler thread), admitted by the scheduler thread.
        let ptr = raw::allocate(future, self::core::global_id(), name, shared, 2, false);
        let msg = Msg::Spawn(TaskPtr(ptr), site);
        let pushed = if reserved {
            shared.push_reserved(msg)
        } else {
            shared.push(msg)
        };
        match pushed {
            Ok(()) => Ok(Task::from_raw(ptr)),
            Err(_) => {
                // SAFETY: never published: this thread owns the task whole.
                // Drop the future (it is `Send`, so any thread may), then
                // both references.
                unsafe {
                    let h = raw::header(ptr);
                    (h.vtable.kill)(ptr);
                    (h.vtable.drop_stage)(ptr);
                    raw::ref_dec(ptr);
                    raw::ref_dec(ptr);
                }
                Err(Error::Shutdown)
            }
        }
    }

    /// Kills task `id` from any thread; false if no such task is alive.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let t = sched.spawn(corun::sleep(std::time::Duration::from_secs(3600))).unwrap();
    /// assert!(sched.kill(t.id()));
    /// assert!(!sched.kill(t.id()));
    /// sched.shutdown().unwrap();
    /// ```
    pub fn kill(&self, id: TaskId) -> bool {
        let shared = &self.inner.shared;
        if let Some(killed) = context::kill_if_local(Arc::as_ptr(shared), id) {
            return killed;
        }
        let (tx, rx) = mpsc::channel();
        if shared.push(Msg::Kill(id, Some(tx))).is_err() {
            return false;
        }
        rx.recv().unwrap_or(false)
    }

    /// Blocks the calling thread until every task in `ids` has ended, and
    /// says how each ended. Returns [`Error::OnSchedulerThread`] if called
    /// on the scheduler's own thread (await [`crate::join_all`] there).
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let t = sched.spawn(async { panic!("boom") }).unwrap();
    /// let id = t.id();
    /// t.detach();
    /// let exits = sched.join_all(&[id, corun::TaskId::from_u64(u64::MAX)]).unwrap();
    /// assert!(matches!(exits[0], corun::Exit::Panicked | corun::Exit::NotFound));
    /// assert_eq!(exits[1], corun::Exit::NotFound);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn join_all(&self, ids: &[TaskId]) -> Result<Vec<Exit>, Error> {
        let ids = ids.to_vec();
        self.block_on(async move {
            // Register every waiter before awaiting any: a task that ends
            // while an earlier one is awaited must still report its outcome.
            let mut waits: Vec<local::WaitExit> = ids.into_iter().map(local::wait_exit).collect();
            let mut first = Vec::with_capacity(waits.len());
            std::future::poll_fn(|cx| {
                first.extend(waits.iter_mut().map(|w| match Pin::new(w).poll(cx) {
                    Poll::Ready(exit) => Some(exit),
                    Poll::Pending => None,
                }));
                Poll::Ready(())
            })
            .await;
            let mut exits = Vec::with_capacity(waits.len());
            for (wait, first) in waits.into_iter().zip(first) {
                exits.push(match first {
                    Some(exit) => exit,
                    None => wait.await,
                });
            }
            exits
        })
    }

    /// Runs `future` as a task on this scheduler and blocks the calling
    /// thread until it ends.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let n = sched.block_on(async { corun::yield_now().await; 42 }).unwrap();
    /// assert_eq!(n, 42);
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn block_on<F>(&self, future: F) -> Result<F::Output, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if context::is_local(Arc::as_ptr(&self.inner.shared)) {
            return Err(Error::OnSchedulerThread);
        }
        let task = self.spawn(future)?;
        match blocking::block_on_thread(task) {
            Ok(v) => Ok(v),
            Err(e) if e.is_killed() && self.inner.shared.is_closed() => Err(Error::Shutdown),
            Err(e) => Err(Error::Join(e)),
        }
    }

    /// A snapshot of every live task: id, name, state, polls, busy time.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// sched.spawn_named("idler", corun::sleep(std::time::Duration::from_secs(60))).unwrap();
    /// let tasks = sched.tasks().unwrap();
    /// assert!(tasks.iter().any(|t| t.name.as_deref() == Some("idler")));
    /// sched.shutdown().unwrap();
    /// ```
    pub fn tasks(&self) -> Result<Vec<TaskInfo>, Error> {
        let shared = &self.inner.shared;
        if let Some(v) = context::with_core(|c| {
            std::ptr::eq(c.shared_ptr(), Arc::as_ptr(shared)).then(|| c.snapshot())
        })
        .flatten()
        {
            return Ok(v);
        }
        let (tx, rx) = mpsc::channel();
        shared.push(Msg::Tasks(tx)).map_err(|_| Error::Shutdown)?;
        rx.recv().map_err(|_| Error::Shutdown)
    }

    /// The scheduler's counters.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// assert_eq!(sched.stats().unwrap().tasks, 0);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn stats(&self) -> Result<Stats, Error> {
        let shared = &self.inner.shared;
        if let Some(s) = context::with_core(|c| {
            std::ptr::eq(c.shared_ptr(), Arc::as_ptr(shared)).then(|| c.stats())
        })
        .flatten()
        {
            return Ok(s);
        }
        let (tx, rx) = mpsc::channel();
        shared.push(Msg::Stats(tx)).map_err(|_| Error::Shutdown)?;
        rx.recv().map_err(|_| Error::Shutdown)
    }

    /// Stops the scheduler: kills the tasks still there (their destructors
    /// run on the scheduler thread), wakes blocked `join_all`/`block_on`
    /// callers, and joins the thread. Later `spawn` calls return
    /// [`Error::Shutdown`]. Idempotent.
    ///
    /// Called from a task of this scheduler, it asks the loop to stop and
    /// returns at once (a thread cannot join itself): the calling task runs
    /// on only until its next `Pending` await or yield, where it is killed
    /// like every other task; the loop polls no task after it.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// sched.spawn(corun::sleep(std::time::Duration::from_secs(3600))).unwrap();
    /// sched.shutdown().unwrap();
    /// sched.shutdown().unwrap();
    /// ```
    pub fn shutdown(&self) -> Result<(), Error> {
        self.inner.stop();
        Ok(())
    }
}

impl TaskId {
    /// Makes an id from a number (for ids read from logs or snapshots).
    ///
    /// ```
    /// let id = corun::TaskId::from_u64(12);
    /// assert_eq!(id.as_u64(), 12);
    /// ```
    pub fn from_u64(n: u64) -> TaskId {
        TaskId {
            id: n,
            slot: registry::NO_SLOT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

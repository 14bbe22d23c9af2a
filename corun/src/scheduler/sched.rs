//! [`Scheduler`]: the handle to a scheduler's cores, usable from any
//! thread. It reaches a core only through its injection queue (or directly
//! when the caller runs on that very core), and never waits for another
//! thread while it runs on a scheduler thread: such calls have an `async`
//! form, or return [`SchedulerError::OnSchedulerThread`]. Why, and how a kill from
//! another thread keeps its meaning: `docs/design/many-cores.md`.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;

use super::group::{Group, GroupSlot, Launch};
use super::shared::{CoreShared, Msg, TaskPtr};
use super::{Builder, SchedulerError, Stats, blocking, context, in_task};
use crate::sync::oneshot;
use crate::task::{Exit, Task, TaskId, TaskInfo, core_of};
use crate::task::{dump, raw};

struct Inner {
    slot: GroupSlot,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    fn group(&self) -> &Group {
        // Set by `Builder::start` before any handle exists.
        self.slot.get().expect("a started scheduler has its cores")
    }

    fn stop(&self) {
        for s in self.group().iter() {
            let _ = s.push(Msg::Shutdown);
        }
        if context::in_scheduler() {
            // On a scheduler thread, never wait for another one (two
            // schedulers stopping each other would wait forever). A core
            // of ours stops after the poll in progress; the threads are
            // joined by a later call from elsewhere, or run out alone.
            if self.runs_here() {
                context::with_core(|c| c.request_stop());
            }
            return;
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }

    /// True if this thread is one of this scheduler's cores.
    fn runs_here(&self) -> bool {
        let group = self.group();
        context::with_core(|c| {
            group
                .iter()
                .any(|s| std::ptr::eq(Arc::as_ptr(s), c.shared_ptr()))
        })
        .unwrap_or(false)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A scheduler on threads of its own (one per core); the handle is
/// `Clone`, `Send` and `Sync`. When the last handle is dropped, the
/// scheduler shuts down.
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
            .field("cores", &self.cores())
            .field("closed", &self.shared(0).is_closed())
            .finish()
    }
}

impl Scheduler {
    pub(super) fn from_parts(slot: GroupSlot, threads: Vec<JoinHandle<()>>) -> Scheduler {
        Scheduler {
            inner: Arc::new(Inner {
                slot,
                threads: Mutex::new(threads),
            }),
        }
    }

    /// Starts a scheduler with one core on a new OS thread (see
    /// [`Builder`] for more cores and other settings).
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// sched.shutdown().unwrap();
    /// ```
    pub fn start() -> std::io::Result<Scheduler> {
        Builder::new().start()
    }

    /// How many cores this scheduler runs on.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(3).start().unwrap();
    /// assert_eq!(sched.cores(), 3);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn cores(&self) -> usize {
        self.inner.group().len()
    }

    fn shared(&self, core: usize) -> &Arc<CoreShared> {
        self.inner.group().core(core).expect("core index checked")
    }

    fn check_core(&self, core: usize) -> Result<(), SchedulerError> {
        let cores = self.cores();
        if core < cores {
            Ok(())
        } else {
            Err(SchedulerError::NoSuchCore { core, cores })
        }
    }

    /// Spawns a task from any thread, on the core the placement rule picks
    /// (round-robin over the cores; see the crate docs' "Many cores").
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let t = sched.spawn(async { "hi" }).unwrap();
    /// assert_eq!(sched.block_on(t).unwrap().unwrap(), "hi");
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<Task<F::Output>, SchedulerError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let core = self.inner.group().place();
        self.spawn_to(core, future, None, false)
    }

    /// Spawns a named task from any thread (placed as [`Scheduler::spawn`]
    /// places it).
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
    ) -> Result<Task<F::Output>, SchedulerError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let core = self.inner.group().place();
        self.spawn_to(core, future, Some(name.into().into_boxed_str()), false)
    }

    /// Runs `make` on core `core` and spawns the future it returns there.
    /// The future need not be `Send` (only `make` and the output travel):
    /// it is made on the core that runs it, and tasks never move.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// let t = sched
    ///     .spawn_on(1, || {
    ///         let local = Rc::new(5); // not Send: fine, it never leaves core 1
    ///         async move { *local + corun::core() }
    ///     })
    ///     .unwrap();
    /// assert_eq!(sched.block_on(t).unwrap().unwrap(), 6);
    /// assert!(sched.spawn_on(2, || async {}).is_err()); // no core 2
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_on<M, Fut>(
        &self,
        core: usize,
        make: M,
    ) -> Result<Task<Fut::Output>, SchedulerError>
    where
        M: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.check_core(core)?;
        self.spawn_to(core, Launch::Start(Some(make)), None, false)
    }

    /// Starts one task per core, made on its core by `make(core index)`:
    /// the thread-per-core server, where each core binds its own
    /// `SO_REUSEPORT` listener (see [`TcpListenerBuilder::reuse_port`](crate::net::TcpListenerBuilder::reuse_port)).
    /// The handles come in core order.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// let tasks = sched.spawn_on_each(|i| async move { i * 10 }).unwrap();
    /// let outs: Vec<usize> = tasks.into_iter().map(|t| sched.block_on(t).unwrap().unwrap()).collect();
    /// assert_eq!(outs, [0, 10]);
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_on_each<M, Fut>(&self, make: M) -> Result<Vec<Task<Fut::Output>>, SchedulerError>
    where
        M: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let make = Arc::new(make);
        (0..self.cores())
            .map(|core| {
                let make = make.clone();
                self.spawn_on(core, move || make(core))
            })
            .collect()
    }

    /// Spawns on core `core`; `reserved`: a place in its bounded queue was
    /// taken for it (see [`Scheduler::try_spawn`]).
    #[track_caller]
    pub(super) fn spawn_to<F>(
        &self,
        core: usize,
        future: F,
        name: Option<Box<str>>,
        reserved: bool,
    ) -> Result<Task<F::Output>, SchedulerError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let site = Location::caller();
        let shared = self.shared(core);
        if context::is_local(Arc::as_ptr(shared)) {
            return Ok(context::with_core(|c| c.spawn(future, name, site)).expect("checked local"));
        }
        spawn_remote(core, shared, future, name, reserved, site)
    }

    /// Picks a core for `try_spawn` and the queue it would wait in.
    pub(super) fn place(&self) -> (usize, &Arc<CoreShared>) {
        let core = self.inner.group().place();
        (core, self.shared(core))
    }

    /// The core of `id` in this scheduler, if it has that core.
    fn core_of_id(&self, id: TaskId) -> Option<&Arc<CoreShared>> {
        self.inner.group().core(core_of(id.id))
    }

    /// Kills task `id` (of any core) and says whether it was alive: it ends
    /// at its next pending await, reports [`Exit::Killed`], and a task that
    /// returns in the very poll during which the kill arrives is killed
    /// too. `Ok(false)`: no such task (or the scheduler has shut down).
    ///
    /// Waits for the task's core to answer, so on a scheduler thread it
    /// only works for a task of that very core; for any other it returns
    /// [`SchedulerError::OnSchedulerThread`]: await [`Scheduler::kill_async`] there.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let t = sched.spawn(corun::sleep(std::time::Duration::from_secs(3600))).unwrap();
    /// assert!(sched.kill(t.id()).unwrap());
    /// assert!(!sched.kill(t.id()).unwrap());
    /// sched.shutdown().unwrap();
    /// ```
    pub fn kill(&self, id: TaskId) -> Result<bool, SchedulerError> {
        let Some(shared) = self.core_of_id(id) else {
            return Ok(false);
        };
        if let Some(killed) = context::kill_if_local(Arc::as_ptr(shared), id) {
            return Ok(killed);
        }
        if context::in_scheduler() {
            return Err(SchedulerError::OnSchedulerThread);
        }
        Ok(blocking::block_on_thread(kill_on(shared.clone(), id)))
    }

    /// [`Scheduler::kill`] for use inside tasks (of any scheduler) and
    /// anywhere else: the answer is awaited, never waited for.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// let victim = sched.spawn_on(1, || corun::sleep(std::time::Duration::from_secs(3600))).unwrap();
    /// let s = sched.clone();
    /// let id = victim.id();
    /// let killed = sched.spawn_on(0, move || async move { s.kill_async(id).await }).unwrap();
    /// assert!(sched.block_on(killed).unwrap().unwrap());
    /// assert!(sched.block_on(victim).unwrap().unwrap_err().is_killed());
    /// sched.shutdown().unwrap();
    /// ```
    pub fn kill_async(&self, id: TaskId) -> impl Future<Output = bool> + Send + 'static {
        let shared = self.core_of_id(id).cloned();
        let local = shared
            .as_ref()
            .and_then(|s| context::kill_if_local(Arc::as_ptr(s), id));
        async move {
            match (local, shared) {
                (Some(killed), _) => killed,
                (None, Some(shared)) => kill_on(shared, id).await,
                (None, None) => false,
            }
        }
    }

    /// Blocks the calling thread until every task in `ids` (of any core)
    /// has ended, and says how each ended. Returns
    /// [`SchedulerError::OnSchedulerThread`] on a scheduler thread (of any
    /// scheduler): await [`crate::wait_exit`] for each id there.
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
    pub fn join_all(&self, ids: &[TaskId]) -> Result<Vec<Exit>, SchedulerError> {
        let ids = ids.to_vec();
        self.block_on(async move {
            // Register every waiter before awaiting any: a task that ends
            // while an earlier one is awaited must still report its outcome.
            let mut waits: Vec<in_task::WaitExit> =
                ids.into_iter().map(in_task::wait_exit).collect();
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

    /// Runs `future` as a task on this scheduler (placed as
    /// [`Scheduler::spawn`] places it) and blocks the calling thread until
    /// it ends. Returns [`SchedulerError::OnSchedulerThread`] on a scheduler thread
    /// (of any scheduler), which it would stall.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// let n = sched.block_on(async { corun::yield_now().await; 42 }).unwrap();
    /// assert_eq!(n, 42);
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn block_on<F>(&self, future: F) -> Result<F::Output, SchedulerError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if context::in_scheduler() {
            return Err(SchedulerError::OnSchedulerThread);
        }
        let task = self.spawn(future)?;
        match blocking::block_on_thread(task) {
            Ok(v) => Ok(v),
            Err(e) if e.is_killed() && self.shared(0).is_closed() => Err(SchedulerError::Shutdown),
            Err(e) => Err(SchedulerError::Join(e)),
        }
    }

    /// A snapshot of every live task of every core (id, name, core, state,
    /// polls, busy time), by id. On a scheduler thread it answers only for
    /// a one-core scheduler running on that thread; otherwise it returns
    /// [`SchedulerError::OnSchedulerThread`]: await [`Scheduler::tasks_async`] there.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// sched.spawn_named("idler", corun::sleep(std::time::Duration::from_secs(60))).unwrap();
    /// let tasks = sched.tasks().unwrap();
    /// assert!(tasks.iter().any(|t| t.name.as_deref() == Some("idler")));
    /// sched.shutdown().unwrap();
    /// ```
    pub fn tasks(&self) -> Result<Vec<TaskInfo>, SchedulerError> {
        if self.cores() == 1 {
            if let Some(v) = self.local_answer(|c| c.snapshot()) {
                return Ok(v);
            }
        }
        if context::in_scheduler() {
            return Err(SchedulerError::OnSchedulerThread);
        }
        blocking::block_on_thread(self.tasks_async())
    }

    /// [`Scheduler::tasks`] for use inside tasks (of any scheduler) and
    /// anywhere else.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// sched.spawn_on_each(|_| corun::sleep(std::time::Duration::from_secs(60))).unwrap();
    /// let s = sched.clone();
    /// let cores = sched
    ///     .block_on(async move {
    ///         let mut cores: Vec<usize> = s.tasks_async().await.unwrap().iter().map(|t| t.core).collect();
    ///         cores.sort();
    ///         cores.dedup();
    ///         cores
    ///     })
    ///     .unwrap();
    /// assert_eq!(cores, [0, 1]);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn tasks_async(
        &self,
    ) -> impl Future<Output = Result<Vec<TaskInfo>, SchedulerError>> + Send + 'static {
        let parts = self.ask_every_core(Msg::Tasks, |c| c.core_tasks());
        async move {
            let mut all = Vec::new();
            for part in parts {
                all.extend(part.get().await?.tasks);
            }
            all.sort_by_key(|i| i.id);
            Ok(all)
        }
    }

    /// A text table of every live task of every core, for people: id,
    /// name, core, state, what it waits on, polls, longest poll and spawn
    /// site, and, if the scheduler keeps
    /// [dump details](Builder::dump_details), since when it waits and
    /// which task spawned it, drawn as a tree by parent. The layout is for
    /// reading, not parsing (use [`Scheduler::tasks`] for data). On a
    /// scheduler thread, as for [`Scheduler::tasks`]: await
    /// [`Scheduler::dump_async`] there.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sched = corun::Builder::new().cores(2).dump_details(true).start().unwrap();
    /// sched.spawn_named("sleeper", corun::sleep(Duration::from_secs(60))).unwrap();
    /// let table = sched.dump().unwrap();
    /// println!("{table}");
    /// assert!(table.contains("sleeper"));
    /// sched.shutdown().unwrap();
    /// ```
    pub fn dump(&self) -> Result<String, SchedulerError> {
        if self.cores() == 1 {
            if let Some(part) = self.local_answer(|c| c.core_tasks()) {
                return Ok(dump::render(&[part], 1));
            }
        }
        if context::in_scheduler() {
            return Err(SchedulerError::OnSchedulerThread);
        }
        blocking::block_on_thread(self.dump_async())
    }

    /// [`Scheduler::dump`] for use inside tasks (of any scheduler) and
    /// anywhere else.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// let s = sched.clone();
    /// let table = sched.block_on(async move { s.dump_async().await.unwrap() }).unwrap();
    /// assert!(table.starts_with("corun dump: 1 task on 2 cores"));
    /// sched.shutdown().unwrap();
    /// ```
    pub fn dump_async(
        &self,
    ) -> impl Future<Output = Result<String, SchedulerError>> + Send + 'static {
        let cores = self.cores();
        let parts = self.ask_every_core(Msg::Tasks, |c| c.core_tasks());
        async move {
            let mut all = Vec::with_capacity(parts.len());
            for part in parts {
                all.push(part.get().await?);
            }
            Ok(dump::render(&all, cores))
        }
    }

    /// The scheduler's counters, summed over its cores. On a scheduler
    /// thread, as for [`Scheduler::tasks`]: await
    /// [`Scheduler::stats_async`] there.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// assert_eq!(sched.stats().unwrap().tasks, 0);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn stats(&self) -> Result<Stats, SchedulerError> {
        if self.cores() == 1 {
            if let Some(s) = self.local_answer(|c| c.stats()) {
                return Ok(s);
            }
        }
        if context::in_scheduler() {
            return Err(SchedulerError::OnSchedulerThread);
        }
        blocking::block_on_thread(self.stats_async())
    }

    /// [`Scheduler::stats`] for use inside tasks and anywhere else.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// let s = sched.clone();
    /// let stats = sched.block_on(async move { s.stats_async().await.unwrap() }).unwrap();
    /// assert!(stats.tasks >= 1); // the block_on task itself
    /// sched.shutdown().unwrap();
    /// ```
    pub fn stats_async(
        &self,
    ) -> impl Future<Output = Result<Stats, SchedulerError>> + Send + 'static {
        let parts = self.ask_every_core(Msg::Stats, |c| c.stats());
        async move {
            let mut sum = Stats::default();
            for part in parts {
                sum.add(&part.get().await?);
            }
            Ok(sum)
        }
    }

    /// `f` of this thread's core, if it is this (one-core) scheduler.
    fn local_answer<R>(&self, f: impl FnOnce(&super::core::Core) -> R) -> Option<R> {
        let shared = self.shared(0);
        context::with_core(|c| std::ptr::eq(c.shared_ptr(), Arc::as_ptr(shared)).then(|| f(c)))
            .flatten()
    }

    /// Asks every core for an answer: at once from this thread's own core,
    /// by message from the others.
    fn ask_every_core<T: Send + 'static>(
        &self,
        msg: fn(super::shared::Reply<T>) -> Msg,
        local: impl Fn(&super::core::Core) -> T,
    ) -> Vec<Answer<T>> {
        self.inner
            .group()
            .iter()
            .map(|shared| {
                let here = context::with_core(|c| {
                    std::ptr::eq(c.shared_ptr(), Arc::as_ptr(shared)).then(|| local(c))
                })
                .flatten();
                match here {
                    Some(v) => Answer::Ready(Some(v)),
                    None => {
                        let (tx, rx) = oneshot::channel();
                        match shared.push(msg(tx)) {
                            Ok(()) => Answer::Waiting(rx),
                            Err(_) => Answer::Ready(None),
                        }
                    }
                }
            })
            .collect()
    }

    /// Stops the scheduler: kills the tasks still there (their destructors
    /// run on their cores' threads), wakes blocked `join_all`/`block_on`
    /// callers, and joins the threads. Later `spawn` calls return
    /// [`SchedulerError::Shutdown`]. Idempotent.
    ///
    /// On a scheduler thread (of any scheduler), it asks the cores to stop
    /// and returns without waiting for them. Called from one of its own
    /// tasks, the calling task runs on only until its next `Pending` await
    /// or yield, where it is killed like every other task; its core polls
    /// no task after it.
    ///
    /// ```
    /// let sched = corun::Scheduler::start().unwrap();
    /// sched.spawn(corun::sleep(std::time::Duration::from_secs(3600))).unwrap();
    /// sched.shutdown().unwrap();
    /// sched.shutdown().unwrap();
    /// ```
    pub fn shutdown(&self) -> Result<(), SchedulerError> {
        self.inner.stop();
        Ok(())
    }
}

/// Spawns on core `core` (whose cross-thread side is `shared`) from
/// another thread: the task is allocated here (the core's slab belongs to
/// its thread) and admitted by the core. `reserved`: a place in its
/// bounded queue was taken for it.
pub(super) fn spawn_remote<F>(
    core: usize,
    shared: &Arc<CoreShared>,
    future: F,
    name: Option<Box<str>>,
    reserved: bool,
    site: &'static Location<'static>,
) -> Result<Task<F::Output>, SchedulerError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let id = super::core::remote_id(core);
    let parent = context::with_core(|c| c.parent_id()).unwrap_or(0);
    let ptr = raw::allocate(future, id, name, shared, 2, false);
    let msg = Msg::Spawn(TaskPtr(ptr), site, parent);
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
                (h.vtable().kill)(ptr);
                (h.vtable().drop_stage)(ptr);
                raw::ref_dec(ptr);
                raw::ref_dec(ptr);
            }
            Err(SchedulerError::Shutdown)
        }
    }
}

/// Sends a kill for `id` to the core `shared` and awaits the answer.
async fn kill_on(shared: Arc<CoreShared>, id: TaskId) -> bool {
    let (tx, rx) = oneshot::channel();
    if shared.push_kill(id, Some(tx)).is_err() {
        return false;
    }
    rx.await.unwrap_or(false)
}

/// One core's answer to a query.
enum Answer<T> {
    Ready(Option<T>),
    Waiting(oneshot::Receiver<T>),
}

impl<T> Answer<T> {
    async fn get(self) -> Result<T, SchedulerError> {
        match self {
            Answer::Ready(Some(v)) => Ok(v),
            Answer::Ready(None) => Err(SchedulerError::Shutdown),
            Answer::Waiting(rx) => rx.await.map_err(|_| SchedulerError::Shutdown),
        }
    }
}

impl TaskId {
    /// Makes an id from a number (for ids read from logs or snapshots).
    /// It reaches its task like any other id.
    ///
    /// ```
    /// let id = corun::TaskId::from_u64(12);
    /// assert_eq!(id.as_u64(), 12);
    /// ```
    pub fn from_u64(n: u64) -> TaskId {
        TaskId { id: n }
    }
}

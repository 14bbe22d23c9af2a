//! The API a task uses on its own scheduler: `run`, `spawn`, `kill`,
//! `wait`, `current`, `join_all`, `yield_now`, `tasks`, `dump`, `stats`.
//!
//! Everything here acts on the scheduler of the calling thread through
//! `context`; nothing here crosses threads.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Stats;
use super::context;
use super::core::Core;
use super::group::Launch;
use super::shared::Msg;
use crate::sync::oneshot;
use crate::task::{Exit, JoinError, Task, TaskId, TaskInfo, Waiting, core_of};
use crate::task::{dump, raw};

const OUTSIDE: &str = crate::outside::MESSAGE;

/// Runs a scheduler on the current thread until `future` completes and
/// returns its output. Tasks still alive then are killed (their destructors
/// run before `run` returns). A panic of `future` itself is resumed here.
///
/// ```
/// use std::time::Duration;
/// let n = corun::run(async {
///     let t = corun::spawn(async {
///         corun::sleep(Duration::from_millis(10)).await;
///         20
///     });
///     t.await.unwrap() + 1
/// });
/// assert_eq!(n, 21);
/// ```
///
/// # Panics
///
/// If called from inside a running scheduler (it would block it), or if the
/// OS poller cannot be created.
#[track_caller]
pub fn run<F: Future + 'static>(future: F) -> F::Output
where
    F::Output: 'static,
{
    super::builder::run_default(future)
}

/// Runs `future` as the main task of `core` on this thread until it ends,
/// then shuts the core down. `site`: where the caller's `run` was called.
pub(crate) fn run_on<F: Future + 'static>(
    core: Core,
    future: F,
    site: &'static Location<'static>,
) -> F::Output
where
    F::Output: 'static,
{
    let _enter = context::enter(&core);
    let main = core.spawn(future, Some("main".into()), site);
    core.run_until(|| main.is_finished());
    core.shutdown();
    let waker = std::task::Waker::noop();
    let mut main = main;
    match Pin::new(&mut main).poll(&mut Context::from_waker(waker)) {
        Poll::Ready(Ok(v)) => v,
        Poll::Ready(Err(e)) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(_) => panic!("corun::run: the main task was killed"),
        },
        Poll::Pending => panic!("corun::run: the scheduler stopped before the main task ended"),
    }
}

fn with_core<R>(f: impl FnOnce(&Core) -> R) -> R {
    context::with_core(f).expect(OUTSIDE)
}

/// Spawns a task on the current scheduler. The future need not be `Send`:
/// tasks never leave their scheduler.
///
/// ```
/// use std::rc::Rc;
/// corun::run(async {
///     let shared = Rc::new(5); // not Send, and that is fine
///     let s = shared.clone();
///     let t = corun::spawn(async move { *s * 2 });
///     assert_eq!(t.await.unwrap(), 10);
/// });
/// ```
///
/// # Panics
///
/// Outside a scheduler thread (use [`Scheduler::spawn`](crate::Scheduler::spawn) there).
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let site = Location::caller();
    with_core(|core| core.spawn(future, None, site))
}

/// Runs `make` on core `core` of the current scheduler and spawns the
/// future it returns there (on this very core, at once). The future need
/// not be `Send`: it is made where it runs. Only `make` and the output
/// cross threads.
///
/// ```
/// use std::rc::Rc;
/// let n = corun::Builder::new().cores(2).run(async {
///     let t = corun::spawn_on(1, || {
///         let here = Rc::new(corun::core()); // not Send: stays on core 1
///         async move { *here }
///     })
///     .unwrap();
///     t.await.unwrap()
/// });
/// assert_eq!(n, 1);
/// ```
///
/// # Errors
///
/// [`SchedulerError::NoSuchCore`](crate::SchedulerError::NoSuchCore) if the scheduler has no
/// core `core`; [`SchedulerError::Shutdown`](crate::SchedulerError::Shutdown) if that core has
/// stopped.
///
/// # Panics
///
/// Outside a scheduler thread.
#[track_caller]
pub fn spawn_on<M, Fut>(core: usize, make: M) -> Result<Task<Fut::Output>, super::SchedulerError>
where
    M: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let site = Location::caller();
    with_core(|me| {
        if core == me.index() {
            return Ok(me.spawn(make(), None, site));
        }
        let cores = me.cores();
        let peer = me
            .peer(core)
            .ok_or(super::SchedulerError::NoSuchCore { core, cores })?;
        super::sched::spawn_remote(core, &peer, Launch::Start(Some(make)), None, false, site)
    })
}

/// The index of the core the calling task runs on (0 on a one-core
/// scheduler; see [`Builder::cores`](crate::Builder::cores)).
///
/// ```
/// assert_eq!(corun::run(async { corun::core() }), 0);
/// ```
///
/// # Panics
///
/// Outside a scheduler thread.
pub fn core() -> usize {
    with_core(|c| c.index())
}

/// How many cores the current scheduler has.
///
/// ```
/// assert_eq!(corun::Builder::new().cores(2).run(async { corun::cores() }), 2);
/// ```
///
/// # Panics
///
/// Outside a scheduler thread.
pub fn cores() -> usize {
    with_core(|c| c.cores())
}

/// Spawns a named task on the current scheduler (the name shows in
/// [`tasks`], logs and panics).
///
/// ```
/// corun::run(async {
///     let t = corun::spawn_named("fetcher", async { 1 });
///     assert_eq!(t.name(), Some("fetcher"));
///     t.await.unwrap();
/// });
/// ```
///
/// # Panics
///
/// Outside a scheduler thread.
#[track_caller]
pub fn spawn_named<F>(name: impl Into<String>, future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let site = Location::caller();
    let name = name.into().into_boxed_str();
    with_core(|core| core.spawn(future, Some(name), site))
}

/// Kills task `id` of the current core. False if there is no such task here
/// (never existed, already ended, or on another core); then nothing
/// changes. A task of another core is killed through its handle
/// ([`Task::kill`]) or with [`Scheduler::kill_async`](crate::Scheduler::kill_async).
///
/// ```
/// use std::time::Duration;
/// corun::run(async {
///     let t = corun::spawn(corun::sleep(Duration::from_secs(3600)));
///     assert!(corun::kill(t.id()));
///     assert!(!corun::kill(t.id()));
///     assert!(t.await.unwrap_err().is_killed());
/// });
/// ```
///
/// # Panics
///
/// Outside a scheduler thread.
pub fn kill(id: TaskId) -> bool {
    with_core(|core| core.kill(id))
}

/// The id of the task calling it; `None` outside a task.
///
/// ```
/// corun::run(async {
///     let me = corun::current().unwrap();
///     let t = corun::spawn(async { corun::current().unwrap() });
///     assert_ne!(t.await.unwrap(), me);
/// });
/// assert!(corun::current().is_none());
/// ```
pub fn current() -> Option<TaskId> {
    context::with_core(|core| {
        core.current().map(|p| {
            // SAFETY: the running task is alive.
            TaskId::of(unsafe { raw::header(p) })
        })
    })
    .flatten()
}

/// Waits until task `id` (of any core of the current scheduler) ends. True
/// if it existed and has now ended; false at once if there is no such task,
/// or if it is the caller itself.
///
/// ```
/// corun::run(async {
///     let t = corun::spawn(corun::sleep(std::time::Duration::from_millis(5)));
///     assert!(corun::wait(t.id()).await);
///     assert!(!corun::wait(t.id()).await); // gone now
///     assert!(!corun::wait(corun::current().unwrap()).await); // self
/// });
/// ```
///
/// # Panics
///
/// When polled outside a scheduler thread.
pub async fn wait(id: TaskId) -> bool {
    wait_exit(id).await != Exit::NotFound
}

/// Waits until task `id` (of any core of the current scheduler) ends and
/// says how. [`Exit::NotFound`] at once if there is no such task or it is
/// the caller itself.
///
/// ```
/// corun::run(async {
///     let t = corun::spawn(async { panic!("no") });
///     assert_eq!(corun::wait_exit(t.id()).await, corun::Exit::Panicked);
/// });
/// ```
///
/// # Panics
///
/// When polled outside a scheduler thread.
pub fn wait_exit(id: TaskId) -> WaitExit {
    WaitExit {
        target: id,
        key: None,
        remote: None,
        done: false,
    }
}

/// Future of [`wait_exit`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct WaitExit {
    target: TaskId,
    /// Waiter key on this core, for a task of this core.
    key: Option<u64>,
    /// The answer of another core, for a task of that core.
    remote: Option<oneshot::Receiver<Exit>>,
    done: bool,
}

impl WaitExit {
    /// The outcome, or `None` after registering to be woken with it.
    fn poll_exit(&mut self, core: &Core, cx: &mut Context<'_>) -> Option<Exit> {
        let target = self.target;
        if let Some(rx) = &mut self.remote {
            return match Pin::new(rx).poll(cx) {
                Poll::Ready(exit) => Some(exit.unwrap_or(Exit::NotFound)),
                Poll::Pending => None,
            };
        }
        if let Some(key) = self.key {
            return core.poll_id_waiter(target.id, key, cx.waker());
        }
        let home = core_of(target.id);
        if home != core.index() {
            // Another core's task: that core answers once it ends.
            let Some(peer) = core.peer(home) else {
                return Some(Exit::NotFound);
            };
            let (tx, rx) = oneshot::channel();
            if peer.push(Msg::WaitExit(target, tx)).is_err() {
                return Some(Exit::NotFound);
            }
            self.remote = Some(rx);
            return self.poll_exit(core, cx);
        }
        match core.add_id_waiter(target, cx.waker()) {
            None => Some(Exit::NotFound),
            Some(key) => {
                self.key = Some(key);
                None
            }
        }
    }
}

impl Future for WaitExit {
    type Output = Exit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exit> {
        if self.done {
            return Poll::Ready(Exit::NotFound);
        }
        let target = self.target;
        let this = &mut *self;
        let result = with_core(|core| this.poll_exit(core, cx));
        match result {
            Some(exit) => {
                self.done = true;
                self.key = None;
                Poll::Ready(exit)
            }
            None => {
                crate::task::set_waiting(Waiting::Task(target));
                Poll::Pending
            }
        }
    }
}

impl Drop for WaitExit {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let target = self.target;
            context::with_core(|core| core.remove_id_waiter(target.id, key));
        }
    }
}

/// Awaits every task and returns their results in order. Each task is
/// awaited once, so joining n tasks costs O(n) whatever order they end in.
///
/// ```
/// corun::run(async {
///     let tasks: Vec<_> = (0..10).map(|i| corun::spawn(async move { i * i })).collect();
///     let out: Vec<i32> = corun::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
///     assert_eq!(out[3], 9);
/// });
/// ```
pub async fn join_all<T, I>(tasks: I) -> Vec<Result<T, JoinError>>
where
    I: IntoIterator<Item = Task<T>>,
{
    let tasks = tasks.into_iter();
    let mut out = Vec::with_capacity(tasks.size_hint().0);
    for t in tasks {
        out.push(t.await);
    }
    out
}

/// Gives the CPU back: the task goes to the back of the ready queue and the
/// others get their turn. The one explicit cooperative yield point.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// corun::run(async {
///     let log = Rc::new(Cell::new(0));
///     let l = log.clone();
///     let _t = corun::spawn(async move { l.set(1) });
///     assert_eq!(log.get(), 0);
///     corun::yield_now().await;
///     assert_eq!(log.get(), 1);
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// Future of [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        // Straight to the back of the ready queue when polled by its own
        // task; through the waker when a combinator polls it.
        if !context::requeue_current(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// A snapshot of every live task of the current scheduler.
///
/// ```
/// corun::run(async {
///     let infos = corun::tasks();
///     assert_eq!(infos.len(), 1); // the main task itself
///     assert_eq!(infos[0].name.as_deref(), Some("main"));
/// });
/// ```
///
/// # Panics
///
/// Outside a scheduler thread (use [`Scheduler::tasks`](crate::Scheduler::tasks) there).
pub fn tasks() -> Vec<TaskInfo> {
    with_core(|core| core.snapshot())
}

/// A text table of every live task of the current core (every task, on a
/// one-core scheduler): the table of [`Scheduler::dump`](crate::Scheduler::dump).
/// [`dump_all`] has every core's tasks.
///
/// ```
/// corun::run(async {
///     let _t = corun::spawn_named("napper", corun::sleep(std::time::Duration::from_secs(60)));
///     corun::yield_now().await;
///     let table = corun::dump();
///     print!("{table}");
///     assert!(table.starts_with("corun dump: 2 tasks on 1 core"));
///     assert!(table.lines().any(|l| l.contains("napper") && l.contains("sleeping")));
/// });
/// ```
///
/// # Panics
///
/// Outside a scheduler thread (use [`Scheduler::dump`](crate::Scheduler::dump) there).
pub fn dump() -> String {
    with_core(|core| dump::render(&[core.core_tasks()], core.cores()))
}

/// [`dump`] of every core of the current scheduler: this core answers at
/// once, the others when they next look at their messages (after the poll
/// in progress). A core that has shut down is left out, and the table says
/// so.
///
/// ```
/// let table = corun::Builder::new().cores(2).run(async {
///     corun::spawn_on(1, || corun::sleep(std::time::Duration::from_secs(60)))
///         .unwrap()
///         .detach();
///     corun::dump_all().await
/// });
/// assert!(table.starts_with("corun dump: 2 tasks on 2 cores"));
/// ```
///
/// # Panics
///
/// Outside a scheduler thread (use [`Scheduler::dump_async`](crate::Scheduler::dump_async) there).
pub fn dump_all() -> impl Future<Output = String> {
    let (cores, parts) = with_core(|me| {
        let parts: Vec<_> = (0..me.cores())
            .filter_map(|i| {
                if i == me.index() {
                    return Some(Ok(me.core_tasks()));
                }
                let (tx, rx) = oneshot::channel();
                me.peer(i)?.push(Msg::Tasks(tx)).ok()?;
                Some(Err(rx))
            })
            .collect();
        (me.cores(), parts)
    });
    async move {
        let mut all = Vec::with_capacity(parts.len());
        for part in parts {
            match part {
                Ok(here) => all.push(here),
                Err(rx) => all.extend(rx.await.ok()),
            }
        }
        dump::render(&all, cores)
    }
}

/// The current scheduler's counters.
///
/// ```
/// corun::run(async {
///     assert_eq!(corun::stats().tasks, 1);
/// });
/// ```
///
/// # Panics
///
/// Outside a scheduler thread.
pub fn stats() -> Stats {
    with_core(|core| core.stats())
}

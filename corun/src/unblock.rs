//! The blocking pool: a small, process-global set of OS threads that run
//! blocking closures (file system calls, name lookups, or anything a user
//! hands to [`unblock`]) and wake the awaiting task through its `Waker`
//! when done.
//!
//! Rules users may rely on (repeated in [`unblock`]'s docs):
//! * started lazily by the first job; never started if nobody uses it;
//! * at most [`max_blocking_threads`] threads (default 16, or the
//!   `CORUN_BLOCKING_THREADS` environment variable read at first use, or
//!   [`set_max_blocking_threads`]); a thread is spawned only when a job
//!   arrives and no idle thread is waiting for it;
//! * jobs run in FIFO order of submission (several at once, one per thread);
//! * a thread idle for [`KEEP_ALIVE`] exits;
//! * a job always runs to completion; if the future awaiting it is dropped,
//!   its result is dropped on the pool thread.
//!
//! This file knows nothing of files or of the scheduler: the only coupling
//! is the `Waker` stored in a job's [`Slot`]. It must not touch scheduler
//! state or block a scheduler thread.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

/// How long a pool thread waits for work before it exits.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Default bound on pool threads.
const DEFAULT_MAX: usize = 16;
/// Environment variable that sets the bound at first use.
const ENV_VAR: &str = "CORUN_BLOCKING_THREADS";

/// A unit of work for a pool thread.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The bound on threads; 0 means "not decided yet" (read the env var).
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: OnceLock<Pool> = OnceLock::new();

struct Pool {
    /// A `std::sync::Mutex`: held only to push or pop a job, never across
    /// a job or an await.
    state: Mutex<State>,
    /// Idle threads wait here for a job.
    work: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    /// Threads alive (running a job or idle).
    threads: usize,
    /// Threads waiting on `work`.
    idle: usize,
}

/// Locks, ignoring poison: jobs run outside the lock and are caught, so a
/// poisoned lock only means a panic in our own bookkeeping, which leaves the
/// state consistent (every update is a single field write).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The most threads the blocking pool runs at once.
///
/// Decided at first use: the `CORUN_BLOCKING_THREADS` environment variable
/// if it holds a positive integer, else 16 — unless
/// [`set_max_blocking_threads`] was called.
///
/// ```
/// assert!(corun::max_blocking_threads() >= 1);
/// ```
pub fn max_blocking_threads() -> usize {
    let n = MAX_THREADS.load(Ordering::Relaxed);
    if n != 0 {
        return n;
    }
    let from_env = std::env::var(ENV_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MAX);
    // Keep a value set concurrently by `set_max_blocking_threads`.
    match MAX_THREADS.compare_exchange(0, from_env, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => from_env,
        Err(set) => set,
    }
}

/// Sets the most threads the blocking pool runs at once (0 counts as 1).
///
/// Takes effect for the next thread the pool would start; threads above a
/// lowered bound finish their current job and exit when they next go idle.
///
/// ```
/// corun::set_max_blocking_threads(8);
/// assert_eq!(corun::max_blocking_threads(), 8);
/// # corun::set_max_blocking_threads(16);
/// ```
pub fn set_max_blocking_threads(n: usize) {
    MAX_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many blocking-pool threads are alive now (running a job or idle).
///
/// ```
/// corun::run(async {
///     corun::unblock(|| ()).await;
///     assert!(corun::blocking_threads() <= corun::max_blocking_threads());
/// });
/// ```
pub fn blocking_threads() -> usize {
    POOL.get().map_or(0, |p| lock(&p.state).threads)
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
        }),
        work: Condvar::new(),
    })
}

/// Queues `job`; starts a thread if no idle one will take it.
pub(crate) fn submit(job: Job) {
    let pool = pool();
    let mut st = lock(&pool.state);
    st.queue.push_back(job);
    // Every idle thread takes one queued job; only when the queue outgrows
    // them is another thread needed.
    if st.queue.len() <= st.idle {
        drop(st);
        pool.work.notify_one();
        return;
    }
    if st.threads < max_blocking_threads() {
        st.threads += 1;
        let spawned = thread::Builder::new()
            .name("corun-blocking".into())
            .spawn(move || worker(pool));
        if spawned.is_err() {
            st.threads -= 1;
            if st.threads == 0 {
                // No thread could ever run it: run it here rather than hang.
                let job = st.queue.pop_back();
                drop(st);
                if let Some(job) = job {
                    tracing::warn!("corun blocking pool: cannot spawn a thread; running inline");
                    job();
                }
            }
        }
    }
}

fn worker(pool: &'static Pool) {
    let mut st = lock(&pool.state);
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            // A job that panics must not take the thread's count with it;
            // `Slot` jobs never panic (they catch the user's panic), so this
            // is belt and braces for future job kinds.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            st = lock(&pool.state);
            continue;
        }
        if st.threads > max_blocking_threads() {
            break; // the bound was lowered
        }
        st.idle += 1;
        let (guard, timeout) = pool
            .work
            .wait_timeout(st, KEEP_ALIVE)
            .unwrap_or_else(|p| p.into_inner());
        st = guard;
        st.idle -= 1;
        if timeout.timed_out() && st.queue.is_empty() {
            break;
        }
    }
    st.threads -= 1;
}

/// Where a job leaves its result and finds the waker to call.
struct Slot<T> {
    state: Mutex<SlotState<T>>,
}

enum SlotState<T> {
    /// Running or queued; the waker of the task that polled last.
    Waiting(Option<Waker>),
    /// Finished; the result (or the panic payload) waits to be taken.
    Done(std::thread::Result<T>),
    /// The result was taken.
    Taken,
}

/// The future of one job on the pool; yields the closure's result.
///
/// Dropping it does not stop the job: the closure runs to completion on its
/// thread and its result is dropped there.
pub(crate) struct Pending<T> {
    slot: Arc<Slot<T>>,
}

/// Runs `f` on the pool; the returned future resolves to its result.
pub(crate) fn spawn<T, F>(f: F) -> Pending<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (job, pending) = job(f);
    submit(job);
    pending
}

/// Wraps `f` as a job that leaves its result (or panic) in a slot and
/// wakes the task; the future resolves to that result. Whoever runs the
/// job (the pool, or the write lane) must run it exactly once or drop it
/// (the future then never resolves).
pub(crate) fn job<T, F>(f: F) -> (Job, Pending<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState::Waiting(None)),
    });
    let theirs = slot.clone();
    let hold = crate::scheduler::shared::ClockHold::take();
    let job: Job = Box::new(move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        theirs.complete(out);
        // After the wake: the scheduler sees the woken task before it may
        // move a virtual clock on.
        drop(hold);
    });
    (job, Pending { slot })
}

/// A job that takes an input when it runs: for whoever completes it with
/// a value it learns only then (an io_uring completion, `fs::uring`).
/// Same rules as [`Job`]: run it exactly once or drop it.
pub(crate) type JobWith<A> = Box<dyn FnOnce(A) + Send + 'static>;

/// Like [`job`], with the input of [`JobWith`].
pub(crate) fn job_with<A, T, F>(f: F) -> (JobWith<A>, Pending<T>)
where
    F: FnOnce(A) -> T + Send + 'static,
    T: Send + 'static,
    A: 'static,
{
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState::Waiting(None)),
    });
    let theirs = slot.clone();
    let hold = crate::scheduler::shared::ClockHold::take();
    let job: JobWith<A> = Box::new(move |input| {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(input)));
        theirs.complete(out);
        drop(hold);
    });
    (job, Pending { slot })
}

impl<T> Slot<T> {
    /// Leaves a job's outcome and wakes the task that polled last.
    fn complete(&self, out: std::thread::Result<T>) {
        let waker = {
            let mut st = lock(&self.state);
            match std::mem::replace(&mut *st, SlotState::Done(out)) {
                SlotState::Waiting(w) => w,
                _ => None,
            }
        };
        // Wake outside the lock: a wake may run arbitrary waker code.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut st = lock(&self.slot.state);
        match &mut *st {
            SlotState::Waiting(w) => {
                match w {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            SlotState::Done(_) => match std::mem::replace(&mut *st, SlotState::Taken) {
                SlotState::Done(Ok(v)) => Poll::Ready(v),
                SlotState::Done(Err(panic)) => {
                    drop(st);
                    // The closure panicked: carry the panic to the awaiting
                    // task, where corun turns it into a JoinError.
                    std::panic::resume_unwind(panic)
                }
                _ => unreachable!("matched Done above"),
            },
            SlotState::Taken => {
                // Polled after completion: a contract breach by the caller.
                // Never resolve again (no panic from the runtime).
                Poll::Pending
            }
        }
    }
}

/// Runs a blocking closure on corun's blocking pool and waits for its
/// result without blocking the scheduler (tokio's `spawn_blocking`).
///
/// Use it for anything that would stall the scheduler thread: file system
/// calls, DNS lookups through libc, CPU-heavy work, C libraries. [`crate::fs`]
/// runs its blocking calls here too.
///
/// * The pool is process-global (shared by all schedulers) and started
///   lazily by the first job: a program that never calls it starts no
///   thread.
/// * At most [`max_blocking_threads`] threads run jobs at once (default 16;
///   the `CORUN_BLOCKING_THREADS` environment variable before first use, or
///   [`set_max_blocking_threads`]). Threads are reused; one idle for 5
///   seconds exits. [`blocking_threads`] tells how many are alive.
/// * Jobs start in FIFO order. A finished job wakes its task through the
///   task's `Waker` (corun's wakers work from any thread).
///
/// The closure always runs to completion, even if this future is dropped
/// (its result is then dropped on the pool thread). If it panics, the panic
/// resumes in the awaiting task.
///
/// ```
/// corun::run(async {
///     let sum = corun::unblock(|| (1..=10u64).sum::<u64>()).await;
///     assert_eq!(sum, 55);
/// });
/// ```
pub async fn unblock<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn(f).await
}

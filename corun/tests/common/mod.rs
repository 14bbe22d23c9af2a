//! Helpers shared by the integration tests of the corun core: a watchdog
//! that turns a hang into a clear failure, drop-recording guards, a tiny
//! thread-parking `block_on` and a one-shot poll with a no-op waker.
//!
//! Nothing here touches corun internals; it must stay free of assertions
//! about corun itself (those belong in the behaviour files).

#![allow(dead_code)]

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

/// How long a scenario may take before it counts as hung.
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// [`WATCHDOG`] times `CORUN_TEST_SLOWDOWN` (a whole number, default 1):
/// `scripts/sanitize.sh` sets it for valgrind, under which everything runs
/// tens of times slower, so that a slow run is not taken for a hang.
pub fn watchdog_limit() -> Duration {
    let factor = std::env::var("CORUN_TEST_SLOWDOWN")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    WATCHDOG * factor
}

/// Runs `f` on a fresh std thread and waits for it at most
/// [`watchdog_limit`].
/// A panic inside `f` is resumed here; a hang fails with a message naming
/// `what` (the thread is left behind; the test process ends anyway).
pub fn watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("watchdog: {what}"))
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("spawn watchdog thread");
    let limit = watchdog_limit();
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(_) => panic!(
            "watchdog: `{what}` did not finish within {limit:?}: something that must \
             happen at once never happened (a lost wake-up or a hang)"
        ),
    }
}

/// `corun::run` of the future `make()` builds, under the watchdog.
pub fn run_watched<F, Fut>(what: &str, make: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    watchdog(what, move || corun::run(make()))
}

/// Records every drop of its guards: how many, and on which thread.
#[derive(Clone, Default)]
pub struct Drops {
    made: Arc<AtomicUsize>,
    threads: Arc<Mutex<Vec<ThreadId>>>,
}

impl Drops {
    pub fn new() -> Drops {
        Drops::default()
    }

    /// A new guard; its drop is recorded here.
    pub fn guard(&self) -> Guard {
        self.made.fetch_add(1, Ordering::SeqCst);
        Guard {
            threads: self.threads.clone(),
        }
    }

    /// Guards made so far.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    /// Guards dropped so far.
    pub fn dropped(&self) -> usize {
        self.threads.lock().unwrap().len()
    }

    /// The thread of every drop so far.
    pub fn threads(&self) -> Vec<ThreadId> {
        self.threads.lock().unwrap().clone()
    }
}

/// Records its drop (see [`Drops`]).
pub struct Guard {
    threads: Arc<Mutex<Vec<ThreadId>>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.threads.lock().unwrap().push(thread::current().id());
    }
}

struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this (non-scheduler) thread, parking between wakes.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Polls `future` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(future).poll(&mut cx)
}

/// Yields `n` times (lets every other ready task run).
pub async fn yield_n(n: usize) {
    for _ in 0..n {
        corun::yield_now().await;
    }
}

/// Waits (on a std thread, bounded by the watchdog of the caller) until
/// `cond()` holds, checking every millisecond. For conditions that are
/// certain to become true (a task reaching a state), not for timing.
pub fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < watchdog_limit(), "never happened: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Held while a test binary starts a child process, and by the tests that
/// need a just-closed listener to be really gone: from fork to exec a child
/// holds a copy of every fd of this process (close-on-exec ones included),
/// and a listener kept open that way still accepts connections.
static FORK_LOCK: Mutex<()> = Mutex::new(());

pub fn fork_lock() -> std::sync::MutexGuard<'static, ()> {
    FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts this test binary again with `args` and `env` (under the fork
/// lock, which `spawn` holds only until the child has exec'd) and waits.
pub fn run_child(args: &[&str], env: (&str, &str)) -> std::process::Output {
    use std::process::{Command, Stdio};
    let child = {
        let _no_listener_closing = fork_lock();
        Command::new(std::env::current_exe().unwrap())
            .args(args)
            .env(env.0, env.1)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    child.wait_with_output().unwrap()
}

/// [`run_watched`] for files whose scenarios need no label.
pub fn run<F, Fut>(make: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    run_watched("scenario", make)
}

/// The CPUs the calling thread may run on, lowest first.
pub fn allowed() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain bits; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the
    // calling thread.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(
        r,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's size in bits.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

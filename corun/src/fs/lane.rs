//! The write lane: a few OS threads, one per core beyond the first, that
//! run the buffered writes `spread.rs` moved off the scheduler thread.
//!
//! Rules, each with its reason in `docs/design/write-placement.md`:
//!
//! * At most [`threads`] threads: one per core beyond the first, since the
//!   scheduler thread writes too and more writers than cores would make
//!   the kernel time-slice the thread that feeds the lane.
//! * A thread that finishes a job takes the next queued one without a
//!   wake-up (unlike the blocking pool, whose threads sleep as soon as the
//!   queue is empty): a write of microseconds must not cost a futex wake.
//! * A thread that finds the queue empty gives up its core
//!   ([`YIELDS_BEFORE_SLEEP`] `sched_yield`s, looking at the queue after
//!   each) before it sleeps: where it shares a core with the scheduler
//!   thread, that thread runs and queues the next job, which the lane then
//!   takes without a futex wake. It does not spin: a spinning lane thread
//!   delays the scheduler thread that would queue its next job.
//! * Jobs start in FIFO order; each runs to completion (they are
//!   [`pool::job`]s, which catch panics and wake their task).
//! * Started lazily by the first job; a thread idle for
//!   [`pool::KEEP_ALIVE`] exits.
//! * If no lane thread can be started, the job goes to the blocking pool:
//!   a job is never dropped unrun.
//!
//! This file runs jobs only: it must not decide which writes come here
//! (`spread.rs` does), nor touch a `File`, the scheduler or the reactor.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;

use crate::unblock::{self as pool, Job, lock};

struct Lane {
    state: Mutex<State>,
    /// Sleeping lane threads wait here.
    work: Condvar,
    /// Most threads: one per core beyond the first.
    max: usize,
}

struct State {
    queue: VecDeque<Job>,
    /// Lane threads alive: always `awake + sleeping`.
    threads: usize,
    /// Lane threads running a job or about to look at the queue: one of
    /// them takes a new job without being woken.
    awake: usize,
    /// Lane threads waiting on `work`.
    sleeping: usize,
    /// Notifies sent that no sleeper has taken in yet.
    notified: usize,
}

fn lane(max: usize) -> &'static Lane {
    static LANE: OnceLock<Lane> = OnceLock::new();
    LANE.get_or_init(|| Lane {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            threads: 0,
            awake: 0,
            sleeping: 0,
            notified: 0,
        }),
        work: Condvar::new(),
        max: max.max(1),
    })
}

/// The lane's bound on threads: one per core beyond the first
/// (`available_parallelism()`), so 0 on a single core (or if unknown),
/// where moving a write could only add a round trip.
pub(super) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS
        .get_or_init(|| threads_for(std::thread::available_parallelism().map_or(1, |n| n.get())))
}

/// The bound on lane threads for a machine with `cores` cores.
pub(super) fn threads_for(cores: usize) -> usize {
    cores.saturating_sub(1)
}

/// Queues `job` on the lane.
pub(super) fn submit(job: Job) {
    let lane = lane(threads());
    let mut st = lock(&lane.state);
    st.queue.push_back(job);
    // Each awake (or notified) thread takes one queued job.
    if st.queue.len() <= st.awake + st.notified {
        return;
    }
    if st.sleeping > st.notified {
        st.notified += 1;
        drop(st);
        lane.work.notify_one();
        return;
    }
    if st.threads >= lane.max {
        return; // every thread is busy; the job waits its turn
    }
    st.threads += 1;
    st.awake += 1;
    let spawned = thread::Builder::new()
        .name("corun-fs-lane".into())
        .spawn(move || worker(lane));
    if spawned.is_err() {
        st.threads -= 1;
        st.awake -= 1;
        if st.threads > 0 {
            return; // a lane thread gets to it after its current job
        }
        // No lane thread at all: the blocking pool runs the job instead.
        let job = st.queue.pop_back();
        drop(st);
        if let Some(job) = job {
            tracing::debug!("corun::fs: cannot start a write-lane thread; using the blocking pool");
            pool::submit(job);
        }
    }
}

/// How many times a lane thread that finds the queue empty yields its
/// core (looking at the queue again after each) before it sleeps.
pub(super) const YIELDS_BEFORE_SLEEP: u32 = 3;

/// What a lane thread does next.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Run the queued job at the front.
    Run,
    /// Give up the core once, then look again.
    Yield,
    /// Wait on the condvar until a job is queued (or the keep-alive ends).
    Sleep,
}

/// The next step for a lane thread that has yielded `yields` times since
/// it last ran a job or woke up.
fn next_step(queued: bool, yields: u32) -> Step {
    if queued {
        Step::Run
    } else if yields < YIELDS_BEFORE_SLEEP {
        Step::Yield
    } else {
        Step::Sleep
    }
}

fn worker(lane: &'static Lane) {
    // This thread counts in `awake` except while it waits on the condvar,
    // so a job queued while it yields is taken without a notify.
    let mut st = lock(&lane.state);
    let mut yields = 0;
    loop {
        match next_step(!st.queue.is_empty(), yields) {
            Step::Run => {
                let Some(job) = st.queue.pop_front() else {
                    continue;
                };
                yields = 0;
                drop(st);
                // Lane jobs catch their own panics; belt and braces.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                st = lock(&lane.state);
                continue;
            }
            Step::Yield => {
                yields += 1;
                drop(st);
                thread::yield_now();
                st = lock(&lane.state);
                continue;
            }
            Step::Sleep => yields = 0,
        }
        st.awake -= 1;
        st.sleeping += 1;
        let (guard, timeout) = lane
            .work
            .wait_timeout(st, pool::KEEP_ALIVE)
            .unwrap_or_else(|p| p.into_inner());
        st = guard;
        st.sleeping -= 1;
        st.awake += 1;
        st.notified = st.notified.saturating_sub(1);
        if timeout.timed_out() && st.queue.is_empty() {
            break;
        }
    }
    st.awake -= 1;
    st.threads -= 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn one_thread_per_core_beyond_the_first_and_none_on_one_core() {
        assert_eq!(threads_for(0), 0);
        assert_eq!(threads_for(1), 0);
        assert_eq!(threads_for(2), 1);
        assert_eq!(threads_for(8), 7);
    }

    #[test]
    fn an_idle_lane_thread_yields_a_few_times_then_sleeps() {
        // A queued job always runs first, whatever came before.
        for yields in 0..=YIELDS_BEFORE_SLEEP + 1 {
            assert_eq!(next_step(true, yields), Step::Run);
        }
        // Nothing queued: yield (at least once), looking again after
        // each, then sleep.
        assert_eq!(next_step(false, 0), Step::Yield);
        for yields in 0..YIELDS_BEFORE_SLEEP {
            assert_eq!(next_step(false, yields), Step::Yield);
        }
        assert_eq!(next_step(false, YIELDS_BEFORE_SLEEP), Step::Sleep);
    }

    #[test]
    fn every_job_runs_once_on_at_most_the_spare_cores() {
        const JOBS: usize = 500;
        let order = Arc::new(Mutex::new(Vec::new()));
        let names = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let mut pending = Vec::new();
        for i in 0..JOBS {
            let (order, names) = (order.clone(), names.clone());
            let (job, p) = pool::job(move || {
                lock(&order).push(i);
                let me = thread::current();
                lock(&names).insert((me.id(), me.name().map(str::to_owned)));
                i
            });
            submit(job);
            pending.push(p);
        }
        let results = crate::run(async move {
            let mut out = Vec::new();
            for p in pending {
                out.push(p.await);
            }
            out
        });
        assert_eq!(results, (0..JOBS).collect::<Vec<_>>());
        let order = lock(&order).clone();
        assert_eq!(order.len(), JOBS);
        let names = lock(&names).clone();
        // Never more threads than cores (at least one), and only lane
        // threads (or the pool, if a lane thread could not start).
        assert!(names.len() <= threads().max(1));
        for (_, name) in &names {
            let name = name.as_deref().unwrap_or("");
            assert!(
                name == "corun-fs-lane" || name == "corun-blocking",
                "{name}"
            );
        }
        if names.len() == 1 {
            // One thread runs jobs in the order they were queued.
            assert_eq!(order, (0..JOBS).collect::<Vec<_>>());
        }
    }
}

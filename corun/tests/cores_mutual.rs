//! Many cores, no deadlock: tasks of two schedulers (2 and 4 cores each)
//! call each other's handles at the same moment. Calls that would need
//! another thread's answer either are awaited (`kill_async`,
//! `tasks_async`, `stats_async`) or return `SchedulerError::OnSchedulerThread`;
//! none blocks a scheduler thread, so every round completes.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::watchdog;
use corun::{Builder, Scheduler, SchedulerError, TaskId};

const HOUR: Duration = Duration::from_secs(3600);
const ROUNDS: usize = 200;

/// One task per core of `me`, each calling `other` (and `me`) `ROUNDS`
/// times once every caller of both schedulers is ready.
fn callers(me: &Scheduler, other: &Scheduler, barrier: &Arc<Barrier>) -> Vec<corun::Task<usize>> {
    let (me2, other2, barrier) = (me.clone(), other.clone(), barrier.clone());
    me.spawn_on_each(move |core| {
        let (me, other, barrier) = (me2.clone(), other2.clone(), barrier.clone());
        async move {
            // A victim of the other scheduler per round, and one here on
            // another core of mine (when I have one).
            barrier.wait();
            let mut killed = 0;
            for _ in 0..ROUNDS {
                let victim = other.spawn(corun::sleep(HOUR)).unwrap();
                assert!(matches!(
                    other.kill(victim.id()),
                    Err(SchedulerError::OnSchedulerThread)
                ));
                assert!(matches!(
                    other.tasks(),
                    Err(SchedulerError::OnSchedulerThread)
                ));
                assert!(matches!(
                    other.stats(),
                    Err(SchedulerError::OnSchedulerThread)
                ));
                assert!(matches!(
                    other.join_all(&[victim.id()]),
                    Err(SchedulerError::OnSchedulerThread)
                ));
                assert!(matches!(
                    other.block_on(async {}),
                    Err(SchedulerError::OnSchedulerThread)
                ));
                if other.kill_async(victim.id()).await {
                    killed += 1;
                }
                assert!(other.tasks_async().await.is_ok());
                assert!(other.stats_async().await.is_ok());
                let neighbour = (core + 1) % me.cores();
                let mine = me.spawn_on(neighbour, || corun::sleep(HOUR)).unwrap();
                if neighbour == core {
                    // A task of this very core: answered at once.
                    assert!(me.kill(mine.id()).unwrap());
                } else {
                    assert!(matches!(
                        me.kill(mine.id()),
                        Err(SchedulerError::OnSchedulerThread)
                    ));
                    assert!(me.kill_async(mine.id()).await);
                }
                assert!(mine.await.unwrap_err().is_killed());
                let here = corun::spawn(corun::sleep(HOUR));
                assert!(
                    me.kill(here.id()).unwrap(),
                    "a task of the caller's own core"
                );
                assert!(here.await.unwrap_err().is_killed());
                corun::yield_now().await;
            }
            killed
        }
    })
    .unwrap()
}

fn mutual_calls(cores: usize) {
    watchdog("two schedulers calling each other", move || {
        let a = Builder::new().cores(cores).start().unwrap();
        let b = Builder::new().cores(cores).start().unwrap();
        let barrier = Arc::new(Barrier::new(2 * cores));
        let ta = callers(&a, &b, &barrier);
        let tb = callers(&b, &a, &barrier);
        for t in ta {
            assert_eq!(a.block_on(t).unwrap().unwrap(), ROUNDS);
        }
        for t in tb {
            assert_eq!(b.block_on(t).unwrap().unwrap(), ROUNDS);
        }
        // Nothing left behind: every victim was killed.
        assert_eq!(a.stats().unwrap().tasks, 0);
        assert_eq!(b.stats().unwrap().tasks, 0);
        a.shutdown().unwrap();
        b.shutdown().unwrap();
    });
}

#[test]
fn two_schedulers_of_two_cores_call_each_other_at_once_without_deadlock() {
    mutual_calls(2);
}

#[test]
fn two_schedulers_of_four_cores_call_each_other_at_once_without_deadlock() {
    mutual_calls(4);
}

#[test]
fn shutdown_from_a_task_of_another_scheduler_does_not_wait() {
    watchdog("shutdown across schedulers", || {
        let a = Builder::new().cores(2).start().unwrap();
        let b = Builder::new().cores(2).start().unwrap();
        b.spawn_on_each(|_| corun::sleep(HOUR)).unwrap();
        let b2 = b.clone();
        let t = a.spawn(async move { b2.shutdown() }).unwrap();
        assert!(a.block_on(t).unwrap().unwrap().is_ok());
        // The stop was only asked for there; from here it is joined.
        b.shutdown().unwrap();
        assert!(matches!(b.spawn(async {}), Err(SchedulerError::Shutdown)));
        assert!(!b.kill(TaskId::from_u64(1)).unwrap());
        a.shutdown().unwrap();
    });
}

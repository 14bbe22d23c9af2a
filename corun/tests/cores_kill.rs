//! Many cores, killing from another thread: a kill sent while the task
//! runs (or sits ready) ends it at its next pending await with `Killed`,
//! and the call reports that the task existed; a task that returns in the
//! very poll during which the kill arrives reports `Killed` too. The
//! caller's answer and the task's outcome always agree.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{until, watchdog};
use corun::{Builder, Exit};

#[test]
fn a_kill_from_another_thread_ends_a_task_that_never_stops_yielding() {
    watchdog("remote kill of a yielding task", || {
        let sched = Builder::new().cores(2).start().unwrap();
        for core in 0..2 {
            let polls = Arc::new(AtomicUsize::new(0));
            let p = polls.clone();
            let spinner = sched
                .spawn_on(core, move || async move {
                    loop {
                        p.fetch_add(1, Ordering::Relaxed);
                        corun::yield_now().await;
                    }
                })
                .unwrap();
            until("the spinner runs", || polls.load(Ordering::Relaxed) > 1000);
            assert!(sched.kill(spinner.id()).unwrap());
            let err = sched.block_on(spinner).unwrap().unwrap_err();
            assert!(err.is_killed());
        }
        sched.shutdown().unwrap();
    });
}

#[test]
fn a_task_that_returns_in_the_poll_during_which_a_handle_kill_arrives_is_killed() {
    watchdog("kill during the last poll", || {
        let sched = Builder::new().cores(2).start().unwrap();
        for _ in 0..50 {
            let started = Arc::new(AtomicBool::new(false));
            let go = Arc::new(AtomicBool::new(false));
            let (s, g) = (started.clone(), go.clone());
            let t = sched
                .spawn_on(1, move || async move {
                    s.store(true, Ordering::Release);
                    // One poll that lasts until the kill has been sent.
                    while !g.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    "returned"
                })
                .unwrap();
            until("the task is in its poll", || {
                started.load(Ordering::Acquire)
            });
            assert!(t.kill(), "the task had not ended");
            go.store(true, Ordering::Release);
            let id = t.id();
            assert!(sched.block_on(t).unwrap().unwrap_err().is_killed());
            assert!(!sched.kill(id).unwrap());
        }
        sched.shutdown().unwrap();
    });
}

#[test]
fn a_scheduler_kill_and_the_outcome_always_agree() {
    watchdog("kill answer agrees with the outcome", || {
        let sched = Builder::new().cores(2).start().unwrap();
        let (mut said_alive, mut said_gone) = (0, 0);
        for i in 0..400 {
            // Tasks that end on their own after a few yields, killed at
            // varying moments: before, during or after their last poll.
            let t = sched
                .spawn_on(i % 2, move || async move {
                    for _ in 0..(i % 5) {
                        corun::yield_now().await;
                    }
                })
                .unwrap();
            let id = t.id();
            for _ in 0..(i % 7) * 50 {
                std::hint::spin_loop();
            }
            let alive = sched.kill(id).unwrap();
            let exit = sched.join_all(&[id]).unwrap()[0];
            let outcome = sched.block_on(t).unwrap();
            if alive {
                said_alive += 1;
                assert!(
                    outcome.unwrap_err().is_killed(),
                    "kill said alive, task {i}"
                );
                assert!(matches!(exit, Exit::NotFound | Exit::Killed));
            } else {
                said_gone += 1;
                assert!(
                    outcome.is_ok(),
                    "kill said gone, yet task {i} did not complete"
                );
            }
        }
        assert_eq!(said_alive + said_gone, 400);
        sched.shutdown().unwrap();
    });
}

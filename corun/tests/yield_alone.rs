//! A task that keeps yielding while nothing else is ready is polled again
//! straight away, without a trip through the ready queue; every rule that
//! acts at the end of a poll still acts at the end of each of those polls:
//! a kill it asks for itself, a task it spawns or wakes, its poll count in
//! the snapshot, a stop.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::run_watched;

#[test]
fn a_task_yielding_alone_that_kills_itself_ends_at_its_next_await() {
    run_watched("self-kill while yielding alone", || async {
        let done = Rc::new(Cell::new(0u32));
        let d = done.clone();
        let t = corun::spawn(async move {
            for i in 0..1_000u32 {
                if i == 500 {
                    assert!(corun::kill(corun::current().unwrap()));
                }
                corun::yield_now().await;
                d.set(i + 1);
            }
        });
        // Alone from here: the main task waits for it.
        assert!(t.await.unwrap_err().is_killed());
        assert_eq!(done.get(), 500, "it ran past the await after its kill");
    });
}

#[test]
fn what_a_task_yielding_alone_spawns_runs_before_its_next_poll() {
    run_watched("spawn while yielding alone", || async {
        let t = corun::spawn(async {
            let mut late = 0u32;
            for _ in 0..200 {
                corun::yield_now().await;
                let ran = Rc::new(Cell::new(false));
                let r = ran.clone();
                let child = corun::spawn(async move { r.set(true) });
                corun::yield_now().await;
                if !ran.get() {
                    late += 1;
                }
                child.await.unwrap();
            }
            late
        });
        assert_eq!(t.await.unwrap(), 0, "the yielder ran before its child");
    });
}

#[test]
fn the_snapshot_counts_every_poll_of_a_task_yielding_alone() {
    run_watched("poll count while yielding alone", || async {
        // The main task alone: its first poll, then one per yield.
        for _ in 0..10_000 {
            corun::yield_now().await;
        }
        let me = corun::current().unwrap();
        let info = corun::tasks().into_iter().find(|i| i.id == me).unwrap();
        assert_eq!(info.polls, 10_001);
    });
}

#[test]
fn a_stop_asked_by_a_task_yielding_alone_ends_the_run_at_its_next_yield() {
    // `Scheduler::shutdown` from inside: the task would keep yielding
    // forever, so only the stop check after each poll ends it, at the yield
    // right after the call.
    common::watchdog("stop while yielding alone", || {
        let sched = corun::Scheduler::start().unwrap();
        let s = sched.clone();
        let polls = Arc::new(AtomicU64::new(0));
        let p = polls.clone();
        let t = sched
            .spawn(async move {
                loop {
                    let n = p.fetch_add(1, Ordering::Relaxed) + 1;
                    if n == 1_000 {
                        s.shutdown().unwrap();
                    }
                    corun::yield_now().await;
                }
            })
            .unwrap();
        let err = common::block_on(t).unwrap_err();
        assert!(err.is_killed());
        assert_eq!(
            polls.load(Ordering::Relaxed),
            1_000,
            "polled after the stop"
        );
        sched.shutdown().unwrap();
    });
}

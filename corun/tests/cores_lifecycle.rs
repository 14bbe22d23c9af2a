//! Many cores, start to end: placement (round-robin for `spawn`, the named
//! core for `spawn_on`, one per core for `spawn_on_each`), futures that are
//! not `Send` made on their core, the snapshot naming each task's core,
//! `Builder::run` on several cores, and shutdown with tasks on every core
//! (each destructor runs on its own core's thread).
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use common::{Drops, watchdog};
use corun::{Builder, SchedulerError};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn spawn_places_round_robin_and_spawn_on_places_where_asked() {
    watchdog("placement", || {
        let sched = Builder::new().cores(3).start().unwrap();
        let on: Vec<usize> = (0..30)
            .map(|_| sched.spawn(async { corun::core() }).unwrap())
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| sched.block_on(t).unwrap().unwrap())
            .collect();
        for core in 0..3 {
            assert_eq!(on.iter().filter(|&&c| c == core).count(), 10, "{on:?}");
        }
        for core in [2, 0, 1] {
            let t = sched
                .spawn_on(core, move || async { corun::core() })
                .unwrap();
            assert_eq!(sched.block_on(t).unwrap().unwrap(), core);
        }
        let each = sched.spawn_on_each(|i| async move { (i, corun::core(), corun::cores()) });
        let each: Vec<_> = each
            .unwrap()
            .into_iter()
            .map(|t| sched.block_on(t).unwrap().unwrap())
            .collect();
        assert_eq!(each, [(0, 0, 3), (1, 1, 3), (2, 2, 3)]);
        assert!(matches!(
            sched.spawn_on(3, || async {}),
            Err(SchedulerError::NoSuchCore { core: 3, cores: 3 })
        ));
        sched.shutdown().unwrap();
    });
}

#[test]
fn futures_that_are_not_send_are_made_on_their_core_and_spawn_on_works_inside_tasks() {
    let out = Builder::new().cores(2).run(async {
        assert_eq!(corun::cores(), 2);
        assert_eq!(corun::core(), 0, "run's future is on core 0");
        let local = corun::spawn(async { corun::core() });
        let there = corun::spawn_on(1, || {
            let rc = Rc::new(corun::core()); // not Send, made on core 1
            async move {
                corun::yield_now().await;
                *rc
            }
        })
        .unwrap();
        let none = corun::spawn_on(2, || async {});
        assert!(matches!(
            none,
            Err(SchedulerError::NoSuchCore { core: 2, cores: 2 })
        ));
        (local.await.unwrap(), there.await.unwrap())
    });
    assert_eq!(out, (0, 1));
}

#[test]
fn the_snapshot_says_which_core_each_task_is_on() {
    watchdog("snapshot across cores", || {
        let sched = Builder::new().cores(2).start().unwrap();
        let a = sched
            .spawn_on(0, || async {
                corun::spawn_named("zero", corun::sleep(HOUR)).id()
            })
            .unwrap();
        let b = sched
            .spawn_on(1, || async {
                corun::spawn_named("one", corun::sleep(HOUR)).id()
            })
            .unwrap();
        let (a, b) = (
            sched.block_on(a).unwrap().unwrap(),
            sched.block_on(b).unwrap().unwrap(),
        );
        let tasks = sched.tasks().unwrap();
        let core_of = |name: &str| {
            tasks
                .iter()
                .find(|t| t.name.as_deref() == Some(name))
                .unwrap()
                .core
        };
        assert_eq!(core_of("zero"), 0);
        assert_eq!(core_of("one"), 1);
        assert!(tasks.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
        assert!(sched.kill(a).unwrap() && sched.kill(b).unwrap());
        sched.shutdown().unwrap();
    });
}

#[test]
fn shutdown_kills_the_tasks_of_every_core_and_runs_each_destructor_on_its_core() {
    watchdog("shutdown of every core", || {
        let sched = Builder::new().cores(4).start().unwrap();
        let drops = Drops::new();
        let homes: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
        for _ in 0..8 {
            let d = drops.clone();
            let h = homes.clone();
            sched
                .spawn_on_each(move |_| {
                    let g = d.guard();
                    let h = h.clone();
                    async move {
                        h.lock().unwrap().push(std::thread::current().id());
                        let _g = g;
                        corun::sleep(HOUR).await;
                    }
                })
                .unwrap();
        }
        common::until("every task started", || homes.lock().unwrap().len() == 32);
        sched.shutdown().unwrap();
        assert_eq!(drops.made(), 32);
        assert_eq!(drops.dropped(), 32);
        let mut ran: Vec<ThreadId> = homes.lock().unwrap().clone();
        let mut dropped = drops.threads();
        ran.sort_by_key(|t| format!("{t:?}"));
        dropped.sort_by_key(|t| format!("{t:?}"));
        ran.dedup();
        assert_eq!(ran.len(), 4, "one thread per core");
        dropped.dedup();
        assert_eq!(dropped, ran, "destructors ran on the cores' threads");
    });
}

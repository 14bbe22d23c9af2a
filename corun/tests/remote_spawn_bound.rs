//! Spawns from other threads: the queue's length is visible in `Stats`,
//! `try_spawn` honours `Builder::max_queued_spawns` and gives the future
//! back when full, and `spawn` never refuses for fullness.

mod common;

use std::sync::mpsc;

use common::watchdog;

#[test]
fn try_spawn_gives_the_future_back_at_the_bound_and_spawn_ignores_it() {
    watchdog("bounded remote spawn", || {
        let sched = corun::Builder::new().max_queued_spawns(4).start().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (seen_tx, seen_rx) = mpsc::channel();
        // Holds the scheduler thread inside one poll, so nothing is taken
        // in from the queue meanwhile (a test-only blocking call).
        let blocker = sched
            .spawn(async move {
                ready_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                seen_tx.send(corun::stats().queued_spawns).unwrap();
            })
            .unwrap();
        ready_rx.recv().unwrap();
        let mut tasks: Vec<_> = (0..4u32)
            .map(|i| sched.try_spawn(async move { i }).expect("room for 4"))
            .collect();
        let refused = sched.try_spawn(async { 99u32 }).unwrap_err();
        assert!(refused.is_full(), "{refused}");
        let back = refused.into_future().expect("the future comes back");
        // `spawn` is never refused for fullness.
        tasks.push(sched.spawn(async { 4u32 }).unwrap());
        go_tx.send(()).unwrap();
        assert_eq!(seen_rx.recv().unwrap(), 5);
        sched.block_on(blocker).unwrap().unwrap();
        let outs: Vec<u32> = tasks
            .into_iter()
            .map(|t| sched.block_on(t).unwrap().unwrap())
            .collect();
        assert_eq!(outs, [0, 1, 2, 3, 4]);
        // Taken in: room again, for the very future that was refused.
        let t = sched.try_spawn(back).expect("room after the drain");
        assert_eq!(sched.block_on(t).unwrap().unwrap(), 99);
        assert_eq!(sched.stats().unwrap().queued_spawns, 0);
        sched.shutdown().unwrap();
        assert!(matches!(
            sched.try_spawn(async {}),
            Err(corun::TrySpawnError::Shutdown)
        ));
    });
}

#[test]
fn try_spawn_on_the_schedulers_own_thread_never_reports_full() {
    watchdog("try_spawn inside", || {
        let sched = corun::Builder::new().max_queued_spawns(1).start().unwrap();
        let s2 = sched.clone();
        let n = sched
            .block_on(async move {
                let tasks: Vec<_> = (0..10u32)
                    .map(|i| s2.try_spawn(async move { i }).expect("local: no queue"))
                    .collect();
                corun::join_all(tasks).await.len()
            })
            .unwrap();
        assert_eq!(n, 10);
        sched.shutdown().unwrap();
    });
}

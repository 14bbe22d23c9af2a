//! Many cores, by id: kill, wait and join across cores by a task's handle
//! and by every kind of id (the handle's, a snapshot's, `TaskId::from_u64`),
//! and `join_all` of 100 000 remote-spawned ids reaching each task without
//! a search (read on the registry's lookup counters).
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::time::Duration;

use common::watchdog;
use corun::{Builder, Exit, TaskId};

const HOUR: Duration = Duration::from_secs(3600);

/// The three ways a user can hold an id of task `id`.
fn every_kind_of_id(sched: &corun::Scheduler, id: TaskId) -> [TaskId; 3] {
    let from_snapshot = sched
        .tasks()
        .unwrap()
        .into_iter()
        .find(|t| t.id == id)
        .expect("the task is in the snapshot")
        .id;
    [id, from_snapshot, TaskId::from_u64(id.as_u64())]
}

#[test]
fn kill_by_every_kind_of_id_reaches_a_task_on_another_core() {
    watchdog("kill by id across cores", || {
        let sched = Builder::new().cores(2).start().unwrap();
        for kind in 0..3 {
            let victim = sched.spawn_on(1, || corun::sleep(HOUR)).unwrap();
            let id = every_kind_of_id(&sched, victim.id())[kind];
            // From a task on core 0, awaited (never blocking core 0).
            let s = sched.clone();
            let killed = sched
                .spawn_on(0, move || async move { s.kill_async(id).await })
                .unwrap();
            assert!(sched.block_on(killed).unwrap().unwrap(), "id kind {kind}");
            assert!(sched.block_on(victim).unwrap().unwrap_err().is_killed());
            // Gone now, by any id and from any thread.
            assert!(!sched.kill(id).unwrap(), "id kind {kind}");
        }
        sched.shutdown().unwrap();
    });
}

#[test]
fn wait_and_wait_exit_by_id_work_across_cores() {
    watchdog("wait across cores", || {
        let sched = Builder::new().cores(2).start().unwrap();
        for kind in 0..3 {
            let (tx, rx) = corun::sync::oneshot::channel::<()>();
            let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = started.clone();
            let target = sched
                .spawn_on(1, move || async move {
                    s.store(true, std::sync::atomic::Ordering::Release);
                    let _ = rx.await;
                    panic!("target ends by panicking")
                })
                .unwrap();
            // Polled once (waiting for `rx`) before anyone can send.
            common::until("the target waits", || {
                started.load(std::sync::atomic::Ordering::Acquire)
            });
            let id = every_kind_of_id(&sched, target.id())[kind];
            target.detach();
            let waiter = sched
                .spawn_on(0, move || async move {
                    let w = corun::wait_exit(id);
                    // Registered before the target can end.
                    let mut w = Box::pin(w);
                    assert!(futures_poll_once(&mut w).is_none());
                    tx.send(()).unwrap();
                    (w.await, corun::wait(id).await)
                })
                .unwrap();
            let (exit, found_after) = sched.block_on(waiter).unwrap().unwrap();
            assert_eq!(exit, Exit::Panicked, "id kind {kind}");
            assert!(!found_after, "a finished task is not found again");
        }
        // An id of a core the scheduler does not have, and of no task.
        let absent = TaskId::from_u64(u64::MAX);
        let t = sched
            .spawn(async move { corun::wait_exit(absent).await })
            .unwrap();
        assert_eq!(sched.block_on(t).unwrap().unwrap(), Exit::NotFound);
        sched.shutdown().unwrap();
    });
}

/// Polls `f` once with a no-op waker; `None` if it is pending.
fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
    match common::poll_once(f) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn join_all_by_handle_ids_from_any_thread_sees_every_outcome() {
    watchdog("join_all across cores", || {
        let sched = Builder::new().cores(3).start().unwrap();
        let done = sched.spawn_on(2, || async { 1 }).unwrap();
        let panics = sched.spawn_on(1, || async { panic!("x") }).unwrap();
        let killed = sched.spawn_on(0, || corun::sleep(HOUR)).unwrap();
        let ids = [done.id(), panics.id(), killed.id()];
        assert!(killed.kill());
        let exits = sched.join_all(&ids).unwrap();
        assert!(matches!(exits[0], Exit::Completed | Exit::NotFound));
        assert!(matches!(exits[1], Exit::Panicked | Exit::NotFound));
        assert!(matches!(exits[2], Exit::Killed | Exit::NotFound));
        assert!(sched.block_on(done).unwrap().is_ok());
        assert!(sched.block_on(panics).unwrap().unwrap_err().is_panic());
        sched.shutdown().unwrap();
    });
}

#[test]
fn join_all_of_100_000_remote_spawned_ids_looks_each_up_in_constant_probes() {
    const N: usize = 100_000;
    watchdog("join_all of 100k ids", || {
        let sched = Builder::new().cores(2).start().unwrap();
        let gate = std::sync::Arc::new(corun::sync::Event::new());
        let mut ids = Vec::with_capacity(N);
        for _ in 0..N {
            let g = gate.clone();
            let t = sched.spawn(async move { g.wait().await }).unwrap();
            ids.push(TaskId::from_u64(t.id().as_u64()));
        }
        let before = sched.stats().unwrap();
        let s = sched.clone();
        let joiner = std::thread::spawn(move || s.join_all(&ids).unwrap());
        // Every waiter is registered before the tasks may end.
        common::until("waiters registered", || {
            let st = sched.stats().unwrap();
            st.id_lookups - before.id_lookups >= N as u64
        });
        gate.set();
        let exits = joiner.join().unwrap();
        assert_eq!(exits.len(), N);
        assert!(exits.iter().all(|e| *e == Exit::Completed));
        let after = sched.stats().unwrap();
        let lookups = after.id_lookups - before.id_lookups;
        let probes = after.id_probes - before.id_probes;
        assert!(lookups >= N as u64);
        assert!(
            probes <= 3 * lookups,
            "{probes} entries examined for {lookups} lookups: some lookup searched"
        );
        sched.shutdown().unwrap();
    });
}

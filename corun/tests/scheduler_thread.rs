//! `Scheduler` on its own thread: start, `block_on`, the `tasks()` snapshot,
//! `join_all` outcomes, blocking calls refused on the scheduler's own thread,
//! shutdown (pending tasks dropped on the scheduler thread, blocked callers
//! woken, later calls refused) and shutdown by dropping the last handle.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Drops, until, watchdog};
use corun::io::Interest;
use corun::sync::{Event, oneshot};
use corun::{Exit, Scheduler, SchedulerError, TaskId, TaskState};

const HOUR: Duration = Duration::from_secs(3600);

fn sched_thread(sched: &Scheduler) -> std::thread::ThreadId {
    sched
        .block_on(async { std::thread::current().id() })
        .unwrap()
}

#[test]
fn start_and_block_on_run_futures_on_the_scheduler_thread() {
    let sched = corun::Builder::new()
        .thread_name("corun-test")
        .start()
        .unwrap();
    let name = sched
        .block_on(async {
            corun::sleep(Duration::from_millis(1)).await;
            std::thread::current().name().map(str::to_string)
        })
        .unwrap();
    assert_eq!(name.as_deref(), Some("corun-test"));
    assert_ne!(sched_thread(&sched), std::thread::current().id());
    let e = sched.block_on(async { panic!("expected test panic") });
    assert!(
        matches!(e, Err(SchedulerError::Join(ref j)) if j.is_panic()),
        "{e:?}"
    );
    sched.shutdown().unwrap();
}

#[test]
fn tasks_snapshot_shows_names_states_and_polls() {
    let sched = Scheduler::start().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let (_never_tx, never_rx) = oneshot::channel::<()>();
    let sleeper = sched.spawn_named("sleeper", corun::sleep(HOUR)).unwrap();
    let sid = sleeper.id();
    // Spawned from inside: an fd wait need not be `Send`.
    #[allow(clippy::async_yields_async)] // the handle is the point
    let reader = sched
        .block_on(async move {
            corun::spawn_named("reader", async move {
                corun::io::readable(&a).await.map(|_| ())
            })
        })
        .unwrap();
    let joiner = sched.spawn_named("joiner", corun::wait(sid)).unwrap();
    let idler = sched.spawn_named("idler", never_rx).unwrap();
    let yielder = sched
        .spawn_named("yielder", async {
            for _ in 0..5 {
                corun::yield_now().await;
            }
        })
        .unwrap();
    sched.block_on(yielder).unwrap().unwrap(); // everyone was polled since
    let infos = sched.tasks().unwrap();
    let find = |id: TaskId| infos.iter().find(|i| i.id == id).unwrap().clone();
    let s = find(sid);
    assert_eq!(s.name.as_deref(), Some("sleeper"));
    match s.state {
        TaskState::Sleeping { until } => {
            assert!(
                until > Instant::now() + Duration::from_secs(3000),
                "{until:?}"
            )
        }
        other => panic!("sleeper: {other:?}"),
    }
    assert_eq!(
        find(reader.id()).state,
        TaskState::Io {
            fd,
            interest: Interest::Read
        }
    );
    assert_eq!(find(joiner.id()).state, TaskState::Joining(sid));
    assert_eq!(find(idler.id()).state, TaskState::Idle);
    assert_eq!(find(idler.id()).name.as_deref(), Some("idler"));
    for i in &infos {
        assert_eq!(i.polls, 1, "{i}");
        assert!(i.busy.is_none(), "busy time is off by default");
    }
    assert_eq!(infos.len(), 4, "finished tasks are not listed");
    sched.shutdown().unwrap();
}

#[test]
fn busy_time_is_reported_when_measured() {
    let sched = corun::Builder::new()
        .measure_busy_time(true)
        .start()
        .unwrap();
    sched.spawn(corun::sleep(HOUR)).unwrap();
    let infos = sched.tasks().unwrap();
    assert!(infos.iter().all(|i| i.busy.is_some()));
    sched.shutdown().unwrap();
}

#[test]
fn join_all_returns_for_every_id_with_its_outcome() {
    let sched = Scheduler::start().unwrap();
    let gate = Arc::new(Event::new());
    let c_go = Arc::new(Event::new());
    let (g, cg) = (gate.clone(), c_go.clone());
    // c completes last; w waits on c (a waiting task); p panics and k is
    // killed while join_all still waits for c.
    let c = sched.spawn(async move { cg.wait().await }).unwrap();
    let c_id = c.id();
    let w = sched.spawn(corun::wait(c_id)).unwrap();
    let g2 = g.clone();
    let p = sched
        .spawn(async move {
            g2.wait().await;
            panic!("expected test panic")
        })
        .unwrap();
    let k = sched.spawn(corun::sleep(HOUR)).unwrap();
    let (p_id, k_id) = (p.id(), k.id());
    sched
        .spawn(async move {
            g.wait().await;
            assert!(corun::kill(k_id));
            corun::wait(p_id).await;
            c_go.set();
        })
        .unwrap();
    let ids = vec![c_id, w.id(), p_id, k_id, TaskId::from_u64(u64::MAX)];
    let s2 = sched.clone();
    let joiner = std::thread::spawn(move || s2.join_all(&ids));
    // Open the gate only once join_all's own task is waiting.
    until("join_all is waiting", || {
        sched
            .tasks()
            .unwrap()
            .iter()
            .any(|i| i.state == TaskState::Joining(c_id) && i.id != w.id())
    });
    gate.set();
    let exits = watchdog("join_all returns", move || joiner.join().unwrap()).unwrap();
    assert_eq!(
        exits,
        vec![
            Exit::Completed,
            Exit::Completed,
            Exit::Panicked,
            Exit::Killed,
            Exit::NotFound
        ]
    );
    sched.shutdown().unwrap();
}

#[test]
fn join_all_on_a_panicking_task_does_not_hang() {
    let sched = Scheduler::start().unwrap();
    let gate = Arc::new(Event::new());
    let g = gate.clone();
    let p = sched
        .spawn(async move {
            g.wait().await;
            panic!("expected test panic")
        })
        .unwrap();
    let id = p.id();
    let s2 = sched.clone();
    let joiner = std::thread::spawn(move || s2.join_all(&[id]));
    until("join_all is waiting", || {
        sched
            .tasks()
            .unwrap()
            .iter()
            .any(|i| i.state == TaskState::Joining(id))
    });
    gate.set();
    let exits = watchdog("join_all on a panicking task", move || {
        joiner.join().unwrap()
    });
    assert_eq!(exits.unwrap(), vec![Exit::Panicked]);
    sched.shutdown().unwrap();
}

#[test]
fn blocking_calls_on_the_scheduler_thread_return_an_error() {
    let sched = Scheduler::start().unwrap();
    let s2 = sched.clone();
    let t = sched
        .spawn(async move {
            let other = s2.spawn(corun::sleep(Duration::from_millis(1))).unwrap();
            let j = s2.join_all(&[other.id()]);
            let b = s2.block_on(async { 1 });
            (j, b)
        })
        .unwrap();
    let (j, b) = watchdog("join_all/block_on from inside", move || {
        common::block_on(t).unwrap()
    });
    assert!(matches!(j, Err(SchedulerError::OnSchedulerThread)), "{j:?}");
    assert!(matches!(b, Err(SchedulerError::OnSchedulerThread)), "{b:?}");
    sched.shutdown().unwrap();
}

#[test]
fn shutdown_drops_pending_tasks_on_the_scheduler_thread() {
    let sched = Scheduler::start().unwrap();
    let thread = sched_thread(&sched);
    let drops = Drops::new();
    let mut handles = Vec::new();
    let mut keep = Vec::new();
    // Held until after the assertions, so the receivers never complete.
    let mut senders = Vec::new();
    for i in 0..100 {
        let g = drops.guard();
        let (a, b) = UnixStream::pair().unwrap();
        keep.push(b);
        let (tx, rx) = oneshot::channel::<()>();
        senders.push(tx);
        handles.push(
            sched
                .spawn(async move {
                    let _g = g;
                    match i % 4 {
                        0 => corun::sleep(HOUR).await,
                        // An fd wait need not be `Send`: run it as a local task.
                        1 => drop(
                            corun::spawn(async move { drop(corun::io::readable(&a).await) }).await,
                        ),
                        2 => drop(rx.await),
                        _ => loop {
                            corun::yield_now().await
                        },
                    }
                })
                .unwrap(),
        );
    }
    sched.shutdown().unwrap();
    assert_eq!(drops.dropped(), 100, "every pending task was dropped");
    assert!(
        drops.threads().iter().all(|t| *t == thread),
        "dropped off the scheduler thread"
    );
    for mut h in handles {
        match common::poll_once(&mut h) {
            std::task::Poll::Ready(Err(e)) => assert!(e.is_killed()),
            other => panic!("handle after shutdown: {other:?}"),
        }
    }
    drop(senders);
    drop(keep);
}

#[test]
fn shutdown_wakes_a_join_all_caller_blocked_in_another_thread() {
    let sched = Scheduler::start().unwrap();
    let sleeper = sched.spawn(corun::sleep(HOUR)).unwrap();
    let id = sleeper.id();
    let s2 = sched.clone();
    let joiner = std::thread::spawn(move || s2.join_all(&[id]));
    until("join_all is waiting", || {
        sched
            .tasks()
            .unwrap()
            .iter()
            .any(|i| i.state == TaskState::Joining(id))
    });
    sched.shutdown().unwrap();
    let r = watchdog("join_all woken by shutdown", move || joiner.join().unwrap());
    assert!(matches!(r, Err(SchedulerError::Shutdown)), "{r:?}");
}

#[test]
fn calls_after_shutdown_return_shutdown_errors() {
    let sched = Scheduler::start().unwrap();
    let t = sched.spawn(corun::sleep(HOUR)).unwrap();
    sched.shutdown().unwrap();
    sched.shutdown().unwrap(); // idempotent
    assert!(matches!(
        sched.spawn(async {}),
        Err(SchedulerError::Shutdown)
    ));
    assert!(matches!(
        sched.spawn_named("late", async {}),
        Err(SchedulerError::Shutdown)
    ));
    assert!(matches!(
        sched.block_on(async {}),
        Err(SchedulerError::Shutdown)
    ));
    assert!(matches!(
        sched.join_all(&[t.id()]),
        Err(SchedulerError::Shutdown)
    ));
    assert!(matches!(sched.tasks(), Err(SchedulerError::Shutdown)));
    assert!(matches!(sched.stats(), Err(SchedulerError::Shutdown)));
    assert!(!sched.kill(t.id()).unwrap());
    assert!(!t.kill());
    // A future given to a refused spawn is dropped, not leaked.
    let drops = Drops::new();
    let g = drops.guard();
    assert!(sched.spawn(async move { drop(g) }).is_err());
    assert_eq!(drops.dropped(), 1);
}

#[test]
fn dropping_the_last_handle_shuts_the_scheduler_down() {
    let sched = Scheduler::start().unwrap();
    let thread = sched_thread(&sched);
    let drops = Drops::new();
    for _ in 0..10 {
        let g = drops.guard();
        sched
            .spawn(async move {
                let _g = g;
                corun::sleep(HOUR).await;
            })
            .unwrap()
            .detach();
    }
    let clone = sched.clone();
    drop(sched);
    assert_eq!(drops.dropped(), 0, "a clone still holds it");
    watchdog("last handle dropped", move || drop(clone));
    assert_eq!(drops.dropped(), 10);
    assert!(drops.threads().iter().all(|t| *t == thread));
}

#[test]
fn shutdown_from_inside_a_task_stops_the_loop() {
    let sched = Scheduler::start().unwrap();
    let drops = Drops::new();
    let g = drops.guard();
    sched
        .spawn(async move {
            let _g = g;
            corun::sleep(HOUR).await;
        })
        .unwrap();
    let s2 = sched.clone();
    sched
        .spawn(async move { s2.shutdown().unwrap() })
        .unwrap()
        .detach();
    let s3 = sched.clone();
    watchdog("shutdown from inside", move || s3.shutdown().unwrap());
    assert_eq!(drops.dropped(), 1);
    assert!(matches!(
        sched.spawn(async {}),
        Err(SchedulerError::Shutdown)
    ));
}

/// A task that shuts its own scheduler down is killed at its next yield:
/// the loop polls no task after the request.
#[test]
fn shutdown_from_inside_a_task_kills_it_at_its_next_yield() {
    let sched = Scheduler::start().unwrap();
    let ran_on = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ran_on.clone();
    let s2 = sched.clone();
    let t = sched
        .spawn(async move {
            s2.shutdown().unwrap();
            corun::yield_now().await;
            r.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
    let s3 = sched.clone();
    watchdog("shutdown from its own task", move || s3.shutdown().unwrap());
    assert!(!ran_on.load(std::sync::atomic::Ordering::SeqCst));
    assert!(common::block_on(t).unwrap_err().is_killed());
}

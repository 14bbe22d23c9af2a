//! Spawning: outputs, detaching, task ids (unique, never reused, across
//! schedulers), names, non-`Send` tasks, cross-thread spawns, `current()`,
//! `join_all`, outputs of every size and alignment from every kind of cell.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{run_watched, watchdog};
use corun::sync::oneshot;
use corun::{Exit, Scheduler, TaskId};

#[test]
fn spawned_task_output_is_returned_by_await() {
    let out = corun::run(async {
        let a = corun::spawn(async { 40 + 2 });
        let b = corun::spawn(async {
            corun::yield_now().await;
            String::from("later")
        });
        (a.await.unwrap(), b.await.unwrap())
    });
    assert_eq!(out, (42, "later".to_string()));
}

#[test]
fn dropping_the_handle_detaches_and_the_task_runs_to_completion() {
    run_watched("detached task completes", || async {
        let (tx, rx) = oneshot::channel();
        let t = corun::spawn(async move {
            corun::sleep(Duration::from_millis(5)).await;
            corun::yield_now().await;
            tx.send("finished").unwrap();
        });
        drop(t);
        assert_eq!(rx.await.unwrap(), "finished");
    });
}

#[test]
fn dropping_a_scheduler_spawn_handle_detaches_too() {
    let sched = Scheduler::start().unwrap();
    let (tx, rx) = oneshot::channel();
    let t = sched
        .spawn(async move {
            corun::sleep(Duration::from_millis(5)).await;
            tx.send(7).unwrap();
        })
        .unwrap();
    t.detach();
    let got = watchdog("detached Scheduler task completes", move || {
        common::block_on(rx)
    });
    assert_eq!(got, Ok(7));
    sched.shutdown().unwrap();
}

#[test]
fn task_ids_are_unique_and_never_reused_over_100_000_spawns() {
    let ids = corun::run(async {
        let mut ids = HashSet::new();
        // Tasks end between rounds, so a reusing allocator would hand
        // their ids out again.
        for _ in 0..100 {
            let round: Vec<_> = (0..1000).map(|_| corun::spawn(async {})).collect();
            for t in round {
                assert!(ids.insert(t.id()), "id {} handed out twice", t.id());
                t.await.unwrap();
            }
        }
        ids
    });
    assert_eq!(ids.len(), 100_000);
}

#[test]
fn task_ids_are_unique_across_schedulers_and_threads() {
    let a = Scheduler::start().unwrap();
    let b = Scheduler::start().unwrap();
    let mut threads = Vec::new();
    for sched in [a.clone(), b.clone(), a.clone(), b.clone()] {
        threads.push(std::thread::spawn(move || {
            let mut ids = Vec::new();
            for _ in 0..2000 {
                ids.push(sched.spawn(async {}).unwrap().id());
            }
            // And some spawned from inside a task (the local id path).
            let inner = sched
                .block_on(async {
                    (0..2000)
                        .map(|_| corun::spawn(async {}).id())
                        .collect::<Vec<_>>()
                })
                .unwrap();
            ids.extend(inner);
            ids
        }));
    }
    let local: Vec<TaskId> =
        corun::run(async { (0..2000).map(|_| corun::spawn(async {}).id()).collect() });
    let mut all = HashSet::new();
    for id in threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .chain(local)
    {
        assert!(all.insert(id), "id {id} handed out twice");
    }
    assert_eq!(all.len(), 4 * 4000 + 2000);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}

#[test]
fn a_stale_id_neither_kills_nor_waits_on_a_newer_task() {
    run_watched("stale id", || async {
        let old = corun::spawn(async { 1 });
        let old_id = old.id();
        old.await.unwrap();
        let newer: Vec<_> = (0..1000)
            .map(|i| {
                corun::spawn(async move {
                    corun::sleep(Duration::from_millis(2)).await;
                    i
                })
            })
            .collect();
        assert!(!corun::kill(old_id), "a finished id must not kill anything");
        assert!(
            !corun::wait(old_id).await,
            "a finished id must not be waited on"
        );
        assert_eq!(corun::wait_exit(old_id).await, Exit::NotFound);
        for (i, t) in newer.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i, "a newer task was disturbed");
        }
        assert_eq!(corun::stats().killed, 0);
    });
}

#[test]
fn spawn_named_sets_the_name_and_plain_spawn_has_none() {
    corun::run(async {
        let named = corun::spawn_named("fetcher-3", async { corun::yield_now().await });
        let plain = corun::spawn(async { corun::yield_now().await });
        assert_eq!(named.name(), Some("fetcher-3"));
        assert_eq!(plain.name(), None);
        let infos = corun::tasks();
        let info = infos.iter().find(|i| i.id == named.id()).unwrap();
        assert_eq!(info.name.as_deref(), Some("fetcher-3"));
        named.await.unwrap();
        plain.await.unwrap();
    });
    let sched = Scheduler::start().unwrap();
    let t = sched.spawn_named("remote", async {}).unwrap();
    assert_eq!(t.name(), Some("remote"));
    sched.shutdown().unwrap();
}

#[test]
fn non_send_futures_run_with_corun_spawn() {
    let log = corun::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let log = log.clone();
                corun::spawn(async move {
                    corun::yield_now().await;
                    log.borrow_mut().push(i);
                    Rc::new(i) // a non-Send output too
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(*t.await.unwrap(), i);
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(log, vec![0, 1, 2, 3, 4]);
}

#[test]
fn scheduler_spawn_from_8_threads_times_1000_runs_every_task() {
    let sched = Scheduler::start().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let sched = sched.clone();
            let ran = ran.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .map(|i| {
                        let ran = ran.clone();
                        sched
                            .spawn(async move {
                                if i % 2 == 0 {
                                    corun::yield_now().await;
                                }
                                ran.fetch_add(1, Ordering::SeqCst);
                                i
                            })
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let handles: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let ids: HashSet<_> = handles.iter().map(|t| t.id()).collect();
    assert_eq!(ids.len(), 8000);
    let sum = watchdog("8000 cross-thread spawns complete", move || {
        common::block_on(async move {
            let mut sum = 0u64;
            for t in handles {
                sum += t.await.unwrap() as u64;
            }
            sum
        })
    });
    assert_eq!(ran.load(Ordering::SeqCst), 8000);
    assert_eq!(sum, 8 * (999 * 1000 / 2));
    assert_eq!(sched.stats().unwrap().completed, 8000);
    sched.shutdown().unwrap();
}

#[test]
fn current_is_the_running_task_and_none_outside() {
    assert!(corun::current().is_none());
    corun::run(async {
        let me = corun::current().expect("inside a task");
        let t = corun::spawn(async { corun::current().unwrap() });
        let id = t.id();
        assert_eq!(t.await.unwrap(), id);
        assert_ne!(id, me);
        assert_eq!(corun::current(), Some(me));
    });
    assert!(corun::current().is_none());
    let sched = Scheduler::start().unwrap();
    let t = sched.spawn(async { corun::current() }).unwrap();
    let id = t.id();
    assert_eq!(sched.block_on(t).unwrap().unwrap(), Some(id));
    sched.shutdown().unwrap();
}

/// A task that yields in a loop must not keep I/O waiting: the scheduler
/// keeps looking at the reactor between batches of polls (however large the
/// batches grow while the reactor finds nothing).
#[test]
fn io_completes_while_another_task_yields_in_a_loop() {
    use std::io::Write;
    let spins = run_watched("yield vs io", || async {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = corun::net::UnixStream::from_std(a).unwrap();
        let done = Rc::new(std::cell::Cell::new(false));
        let spinner = corun::spawn({
            let done = done.clone();
            async move {
                let mut spins = 0u64;
                while !done.get() && spins < 50_000_000 {
                    corun::yield_now().await;
                    spins += 1;
                }
                spins
            }
        });
        // Let the spinner's batches grow before the data arrives.
        for _ in 0..100_000 {
            corun::yield_now().await;
        }
        b.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(a.read(&mut buf).await.unwrap(), 1);
        done.set(true);
        spinner.await.unwrap()
    });
    assert!(
        spins < 50_000_000,
        "the read waited for the spinner to give up"
    );
}

/// `yield_now` polled by a combinator with its own waker wakes that waker
/// (it cannot take the direct path back to the task's queue).
#[test]
fn yield_now_under_a_foreign_waker_wakes_that_waker() {
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    run_watched("foreign waker", || async {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(count.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut y = std::pin::pin!(corun::yield_now());
        assert!(std::future::Future::poll(y.as_mut(), &mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(std::future::Future::poll(y.as_mut(), &mut cx).is_ready());
    });
}

/// Two tasks that keep yielding take turns strictly: a yield puts the task
/// behind every other ready task, also when it is polled again without a
/// trip through the queue while it is alone.
#[test]
fn yielding_tasks_take_turns() {
    let order = run_watched("turns", || async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for name in ['a', 'b'] {
            let log = log.clone();
            tasks.push(corun::spawn(async move {
                for _ in 0..5 {
                    log.borrow_mut().push(name);
                    corun::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Alone now: many yields in a row still complete.
        for _ in 0..10_000 {
            corun::yield_now().await;
        }
        let order: String = log.borrow().iter().collect();
        order
    });
    assert_eq!(order, "ababababab");
}

/// Counts its drops in a shared cell.
struct DropCount(Rc<Cell<u32>>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn an_output_is_dropped_exactly_once_whoever_drops_it() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    corun::run(async move {
        // Read by `.await`: the caller owns it, the cell never drops it.
        let (a, b) = (d.clone(), d.clone());
        let read = corun::spawn(async move { DropCount(a) }).await.unwrap();
        assert_eq!(d.get(), 0);
        drop(read);
        assert_eq!(d.get(), 1);
        // Never read: the handle drops it, once, when the handle goes.
        let unread = corun::spawn(async move { DropCount(b) });
        corun::yield_now().await;
        assert!(unread.is_finished());
        assert_eq!(d.get(), 1);
        drop(unread);
        assert_eq!(d.get(), 2);
        // Detached before it ran: the scheduler drops it when it ends.
        let c = d.clone();
        corun::spawn(async move { DropCount(c) }).detach();
        corun::yield_now().await;
        assert_eq!(d.get(), 3);
    });
    assert_eq!(drops.get(), 3);
}

/// Cells too big for the scheduler's slab come from the global allocator
/// and keep their scheduler in a word of their own; cross-thread wakes and
/// kills find it there just as they find a slab cell's.
#[test]
fn tasks_too_big_for_the_slab_take_wakes_and_kills_from_other_threads() {
    run_watched("big tasks across threads", || async {
        let big = [7u8; 4096];
        let (tx, rx) = oneshot::channel::<u32>();
        let woken = corun::spawn(async move { rx.await.unwrap() + u32::from(big[4095]) });
        let sleeper = corun::spawn(async move {
            corun::sleep(Duration::from_secs(3600)).await;
            big[0]
        });
        let small = corun::spawn(async { corun::sleep(Duration::from_secs(3600)).await });
        let other = std::thread::spawn(move || {
            tx.send(5).unwrap();
            (sleeper.kill(), small.kill(), sleeper, small)
        });
        assert_eq!(woken.await.unwrap(), 12);
        // The kills were sent as messages; the handles come back to await.
        let (a, b, sleeper, small) = other.join().unwrap();
        assert!(a && b);
        assert!(sleeper.await.unwrap_err().is_killed());
        assert!(small.await.unwrap_err().is_killed());
    });
}

#[test]
fn join_all_returns_every_outcome_in_order_whatever_order_tasks_end_in() {
    corun::run(async {
        // Later tasks end first; one panics and one is killed.
        let tasks: Vec<corun::Task<u64>> = (0..6u64)
            .map(|i| {
                corun::spawn(async move {
                    corun::sleep(Duration::from_millis(6 - i)).await;
                    if i == 2 {
                        panic!("task 2 fails");
                    }
                    i * 10
                })
            })
            .collect();
        assert!(tasks[4].kill());
        let out = corun::join_all(tasks).await;
        assert_eq!(out.len(), 6);
        for (i, r) in out.iter().enumerate() {
            match i {
                2 => assert!(r.as_ref().unwrap_err().is_panic()),
                4 => assert!(r.as_ref().unwrap_err().is_killed()),
                _ => assert_eq!(*r.as_ref().unwrap(), i as u64 * 10),
            }
        }
    });
}

/// An output aligned past anything the header needs.
#[derive(Clone, Debug, PartialEq)]
#[repr(align(64))]
struct Aligned64([u8; 80]);

/// A future aligned past the slab's blocks (its cell comes from the global
/// allocator, and its stage starts further into the cell).
#[repr(align(128))]
struct AlignedFuture<T>(Option<T>);

impl<T: Unpin> std::future::Future for AlignedFuture<T> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        std::task::Poll::Ready(self.0.take().expect("polled once"))
    }
}

/// Spawns `value` back in every kind of cell the runtime makes (a slab
/// block, a cell too big for the slab, one aligned past it, a named one)
/// and awaits it both before and after the task ends; each must come back
/// equal, exactly once.
async fn round_trip<T: Clone + PartialEq + std::fmt::Debug + Unpin + 'static>(value: T) {
    let v = value.clone();
    let small = corun::spawn(async move { v });
    let v = value.clone();
    let pad = [1u8; 4096];
    let big = corun::spawn(async move {
        corun::yield_now().await;
        assert_eq!(pad[4095], 1);
        v
    });
    let aligned = corun::spawn(AlignedFuture(Some(value.clone())));
    let v = value.clone();
    let named = corun::spawn_named("round-trip", async move { v });
    // `big` yields first, so it is awaited before it ends; the others end
    // before their handles are polled.
    assert_eq!(big.await.unwrap(), value);
    assert_eq!(small.await.unwrap(), value);
    assert_eq!(aligned.await.unwrap(), value);
    assert_eq!(named.await.unwrap(), value);
}

/// The handle reads its task's output straight from the cell, at an offset
/// that depends on the future's type; every size and alignment must land.
#[test]
fn outputs_of_every_size_and_alignment_come_back_intact_from_every_kind_of_cell() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    run_watched("outputs round trip", || async move {
        round_trip(()).await;
        round_trip(7u8).await;
        round_trip(u128::MAX - 3).await;
        round_trip([1u8, 2, 3]).await;
        round_trip(Aligned64([9; 80])).await;
        round_trip(String::from("corun")).await;
        round_trip(Some(Box::new(5u64))).await;
        round_trip(Err::<u8, _>(vec![4u16; 100])).await;
    });
    // Outputs with drop glue are dropped once each: by whoever holds the
    // value the handle gave back.
    corun::run(async move {
        let (a, b) = (d.clone(), d.clone());
        let t1 = corun::spawn(AlignedFuture(Some(DropCount(a))));
        let t2 = corun::spawn(async move {
            let pad = [0u8; 4096];
            corun::yield_now().await;
            (DropCount(b), pad[0])
        });
        drop(t1.await.unwrap());
        drop(t2.await.unwrap());
        assert_eq!(d.get(), 2);
    });
    assert_eq!(drops.get(), 2);
}

/// Outputs of tasks on a scheduler thread, read on the thread that spawned
/// them: their cells come from that thread's allocator (a cross-thread
/// spawn), and their handles are awaited there.
#[test]
fn outputs_come_back_intact_from_a_scheduler_on_another_thread() {
    watchdog("outputs across threads", || {
        let sched = Scheduler::start().unwrap();
        let aligned = sched
            .spawn(AlignedFuture(Some(Aligned64([3; 80]))))
            .unwrap();
        let text = sched
            .spawn(async {
                corun::yield_now().await;
                String::from("from the scheduler thread")
            })
            .unwrap();
        let wide = sched.spawn(async { u128::MAX }).unwrap();
        let (a, t, w) = corun::run(async move {
            (
                aligned.await.unwrap(),
                text.await.unwrap(),
                wide.await.unwrap(),
            )
        });
        assert_eq!(a, Aligned64([3; 80]));
        assert_eq!(t, "from the scheduler thread");
        assert_eq!(w, u128::MAX);
        sched.shutdown().unwrap();
    });
}

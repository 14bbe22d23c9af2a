//! Cross-thread stress: std threads wake tasks of one scheduler through
//! the wakers corun's sync types hand them (every message delivered, counts
//! exact), and spawn + kill from other threads racing with completion
//! without leaking a task.
//!
//! Tests only; must not reach into corun internals. Loops are bounded.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Drops, watchdog};
use corun::Scheduler;
use corun::sync::{mpsc, oneshot};

const SENDERS: usize = 4;
const PER_SENDER: u64 = 10_000;

#[test]
fn four_threads_send_10_000_messages_each_and_all_are_delivered() {
    let sched = Scheduler::start().unwrap();
    // Small capacity: senders block often (woken by the receiving task),
    // the receiver parks often (woken by the std threads).
    let (tx, mut rx) = mpsc::channel::<(usize, u64)>(16);
    let receiver = sched
        .spawn(async move {
            let mut next = [0u64; SENDERS];
            let mut total = 0u64;
            while let Some((from, n)) = rx.recv().await {
                assert_eq!(n, next[from], "sender {from}: out of order or lost");
                next[from] += 1;
                total += 1;
            }
            (next, total)
        })
        .unwrap();
    let senders: Vec<_> = (0..SENDERS)
        .map(|from| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for n in 0..PER_SENDER {
                    common::block_on(tx.send((from, n))).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let (next, total) = watchdog("40 000 cross-thread messages", move || {
        for s in senders {
            s.join().unwrap();
        }
        common::block_on(receiver).unwrap()
    });
    assert_eq!(next, [PER_SENDER; SENDERS]);
    assert_eq!(total, SENDERS as u64 * PER_SENDER);
    sched.shutdown().unwrap();
}

#[test]
fn oneshots_completed_from_std_threads_wake_every_task() {
    let sched = Scheduler::start().unwrap();
    let woken = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..2000u64 {
        let (tx, rx) = oneshot::channel();
        senders.push(tx);
        let woken = woken.clone();
        tasks.push(
            sched
                .spawn(async move {
                    let v = rx.await.unwrap();
                    woken.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(v, i);
                })
                .unwrap(),
        );
    }
    let mut chunks: Vec<Vec<_>> = (0..SENDERS).map(|_| Vec::new()).collect();
    for (i, tx) in senders.into_iter().enumerate() {
        chunks[i % SENDERS].push((i as u64, tx));
    }
    let threads: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                for (i, tx) in chunk {
                    tx.send(i).unwrap();
                }
            })
        })
        .collect();
    watchdog("2000 oneshots", move || {
        for t in threads {
            t.join().unwrap();
        }
        for t in tasks {
            common::block_on(t).unwrap();
        }
    });
    assert_eq!(woken.load(Ordering::SeqCst), 2000);
    sched.shutdown().unwrap();
}

#[test]
fn spawn_and_kill_from_other_threads_race_with_completion_without_leaks() {
    let sched = Scheduler::start().unwrap();
    let drops = Drops::new();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let sched = sched.clone();
            let drops = drops.clone();
            std::thread::spawn(move || {
                let mut handles = Vec::new();
                for i in 0..500u64 {
                    let g = drops.guard();
                    let h = sched
                        .spawn(async move {
                            let _g = g;
                            for _ in 0..(i % 4) {
                                corun::yield_now().await;
                            }
                            if i % 7 == 0 {
                                corun::sleep(Duration::from_millis(1)).await;
                            }
                            i
                        })
                        .unwrap();
                    match (i + t) % 3 {
                        0 => {
                            sched.kill(h.id()).unwrap();
                            handles.push(h);
                        }
                        1 => {
                            h.kill();
                            drop(h); // dropped on this thread, maybe before it ends
                        }
                        _ => handles.push(h),
                    }
                }
                let mut outcomes = (0, 0);
                for h in handles {
                    match common::block_on(h) {
                        Ok(_) => outcomes.0 += 1,
                        Err(e) => {
                            assert!(e.is_killed(), "{e:?}");
                            outcomes.1 += 1
                        }
                    }
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<(usize, usize)> = watchdog("spawn/kill storm", move || {
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let awaited: usize = outcomes.iter().map(|(a, b)| a + b).sum();
    assert!(awaited > 0);
    // Every task has ended: none left in the registry, no guard alive.
    common::until("every task ended", || sched.stats().unwrap().tasks == 0);
    let stats = sched.stats().unwrap();
    assert_eq!(stats.spawned, 2000);
    assert_eq!(stats.completed + stats.killed, 2000);
    assert_eq!(stats.timers, 0);
    assert_eq!(drops.made(), 2000);
    assert_eq!(drops.dropped(), 2000, "a task's future was leaked");
    sched.shutdown().unwrap();
}

#[test]
fn task_memory_freed_on_other_threads_is_reused_without_mixing_outputs() {
    // Tasks spawned inside the scheduler live in its own task memory; their
    // handles are awaited and dropped on std threads (the memory comes back
    // from there) while the scheduler keeps spawning into reused cells.
    let sched = Scheduler::start().unwrap();
    let drops = Drops::new();
    let rounds = 20u64;
    let per_round = 300u64;
    let threads: Vec<_> = (0..rounds)
        .map(|round| {
            let d = drops.clone();
            let handles = sched
                .block_on(async move {
                    (0..per_round)
                        .map(|i| {
                            let g = d.guard();
                            corun::spawn(async move {
                                let _g = g;
                                if i % 3 == 0 {
                                    corun::yield_now().await;
                                }
                                // A payload big enough to catch a cell
                                // handed out twice.
                                vec![round * per_round + i; 4]
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap();
            std::thread::spawn(move || {
                let mut sum = 0;
                for (i, h) in handles.into_iter().enumerate() {
                    if i % 4 == 3 {
                        drop(h); // detached: its memory comes back from whoever ends last
                        continue;
                    }
                    let v = common::block_on(h).unwrap();
                    assert_eq!(v, vec![round * per_round + i as u64; 4]);
                    sum += v[0];
                }
                sum
            })
        })
        .collect();
    let sums: Vec<u64> = watchdog("remote frees", move || {
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(sums.len() as u64, rounds);
    common::until("every task ended", || sched.stats().unwrap().tasks == 0);
    assert_eq!(drops.made() as u64, rounds * per_round);
    assert_eq!(drops.dropped(), drops.made(), "a task's future was leaked");
    sched.shutdown().unwrap();
}

/// Task cells from a scheduler's own memory can outlive the scheduler:
/// handles and wakers held by other threads at shutdown are dropped (and
/// woken) there afterwards, concurrently, while the scheduler's state goes
/// away only with the last of them. Under valgrind (scripts/sanitize.sh)
/// any touch of freed scheduler memory shows up as an error.
#[test]
fn task_cells_held_by_other_threads_outlive_their_scheduler() {
    use std::future::poll_fn;
    use std::task::{Poll, Waker};

    watchdog("cells outlive their scheduler", || {
        for round in 0..10 {
            let sched = Scheduler::start().unwrap();
            let (tx, rx) = std::sync::mpsc::channel::<Waker>();
            // Spawned by a task, so the cells come from the scheduler's
            // slab; each hands its waker out and waits forever.
            let handles = sched
                .block_on(async move {
                    (0..300)
                        .map(|_| {
                            let tx = tx.clone();
                            corun::spawn(async move {
                                let mut sent = false;
                                poll_fn(|cx| {
                                    if !sent {
                                        sent = tx.send(cx.waker().clone()).is_ok();
                                    }
                                    Poll::<()>::Pending
                                })
                                .await
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap();
            let wakers: Vec<Waker> = rx.iter().take(300).collect();
            let (a, b) = wakers.split_at(150);
            let (a, b) = (a.to_vec(), b.to_vec());
            drop(wakers);
            sched.shutdown().unwrap();
            drop(sched);
            // Two threads let go at once: one wakes (the scheduler is
            // gone) and drops, the other drops handles and wakers.
            let t1 = std::thread::spawn(move || {
                for w in a {
                    w.wake();
                }
            });
            let t2 = std::thread::spawn(move || {
                for (i, h) in handles.into_iter().enumerate() {
                    if i % 2 == round % 2 {
                        assert!(h.is_finished());
                    }
                    drop(h);
                }
                drop(b);
            });
            t1.join().unwrap();
            t2.join().unwrap();
        }
    });
}

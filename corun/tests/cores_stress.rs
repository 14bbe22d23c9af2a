//! Many cores, the cross-thread task protocol under stress: remote wakes
//! between cores, handles awaited on another core (join-waker
//! registration racing completion), kills from other threads through
//! handles and through the scheduler racing completion, and handles
//! dropped on foreign threads. Every outcome is checked against what the
//! callers were told; every future is dropped exactly once. Run under
//! ASan and valgrind by `scripts/sanitize.sh`.
//!
//! Tests only; must not reach into corun internals. Loops are bounded.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Drops, watchdog};
use corun::Builder;
use corun::sync::mpsc;

const ROUNDS: usize = 10_000;

#[test]
fn wakes_joins_and_kills_across_cores_and_threads_agree_and_free_everything() {
    watchdog("cross-core stress", || {
        let sched = Builder::new().cores(2).start().unwrap();
        let drops = Drops::new();
        let killed_told = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::unbounded_channel::<corun::Task<usize>>();
        // Core 1 awaits the handles of tasks running on core 0 (the join
        // waker crosses threads) while core 0's tasks ping core 1 through a
        // channel (remote wakes).
        let (ping, mut pings) = mpsc::channel::<usize>(8);
        let counter = sched
            .spawn_on(1, || async move {
                let mut n = 0;
                while pings.recv().await.is_some() {
                    n += 1;
                }
                n
            })
            .unwrap();
        let joiner = sched
            .spawn_on(1, || async move {
                let (mut done, mut killed) = (0, 0);
                while let Some(t) = rx.recv().await {
                    match t.await {
                        Ok(_) => done += 1,
                        Err(e) if e.is_killed() => killed += 1,
                        Err(e) => panic!("unexpected outcome {e}"),
                    }
                }
                (done, killed)
            })
            .unwrap();
        let s2 = sched.clone();
        let killer_told = killed_told.clone();
        let (kill_tx, kill_rx) = std::sync::mpsc::channel::<corun::TaskId>();
        // A std thread kills by id through the scheduler.
        let killer = std::thread::spawn(move || {
            for id in kill_rx {
                if s2.kill(id).unwrap() {
                    killer_told.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let mut handle_kills = 0;
        for i in 0..ROUNDS {
            let guard = drops.guard();
            let ping = ping.clone();
            let t = sched
                .spawn_on(0, move || async move {
                    let _guard = guard;
                    for _ in 0..(i % 3) {
                        let _ = ping.send(i).await;
                        corun::yield_now().await;
                    }
                    i
                })
                .unwrap();
            match i % 4 {
                0 => {
                    if t.kill() {
                        handle_kills += 1;
                    }
                    tx.send(t).unwrap();
                    continue;
                }
                1 => kill_tx.send(t.id()).unwrap(),
                2 => {
                    // Dropped here, on a foreign thread, perhaps before it
                    // ends: the task runs on, detached.
                    drop(t);
                    continue;
                }
                _ => {}
            }
            tx.send(t).unwrap();
        }
        drop(kill_tx);
        killer.join().unwrap();
        drop((tx, ping));
        let (done, killed) = sched.block_on(joiner).unwrap().unwrap();
        // Tasks of kind 2 are not joined; the rest are, each once.
        assert_eq!(done + killed, ROUNDS - ROUNDS / 4);
        // Every kill that said "alive" ended its task killed.
        assert_eq!(killed, handle_kills + killed_told.load(Ordering::Relaxed));
        assert!(sched.block_on(counter).unwrap().unwrap() > 0);
        sched.shutdown().unwrap();
        assert_eq!(drops.made(), ROUNDS);
        assert_eq!(drops.dropped(), ROUNDS, "every future dropped once");
    });
}

//! Quick cost check of the hot paths (spawn, yield); the real numbers come
//! from `corun-bench` and the criterion benches.
//!
//! Run: `cargo run --release -p corun --example microbench [spawn|warm|yield|pingpong]`
//!
//! `warm` spawns, runs and joins a million tasks eight times over in one
//! scheduler and prints the best time of each phase: the CPU cost of a
//! task once its memory is already mapped (the first round pays the page
//! faults, which `spawn` includes).
//!
//! `pingpong` must stay the program of corun-bench's own-channel cell
//! (`corun-bench/src/peers/corun_rt.rs`: two tasks, two `sync::local`
//! channels of capacity 1, a million round trips), alone in its process:
//! a profile of it then holds that channel only.
use std::time::Instant;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    corun::run(async move {
        if which.is_empty() || which == "spawn" {
            let n = 1_000_000u64;
            let t0 = Instant::now();
            let tasks: Vec<_> = (0..n).map(|_| corun::spawn(async {})).collect();
            let done = corun::join_all(tasks).await.len() as u64;
            assert_eq!(done, n);
            println!(
                "spawn+join: {:.1} ns/task",
                t0.elapsed().as_nanos() as f64 / n as f64
            );
        }
        if which == "warm" {
            // Per phase: spawning, running (the first await lets every task
            // run once), joining. Best of 8 rounds.
            let n = 1_000_000u64;
            let mut best = [f64::MAX; 3];
            for _ in 0..8 {
                let t0 = Instant::now();
                let tasks: Vec<_> = (0..n).map(|_| corun::spawn(async { 1u64 })).collect();
                let t1 = Instant::now();
                corun::yield_now().await;
                let t2 = Instant::now();
                let mut sum = 0;
                for t in tasks {
                    sum += t.await.expect("an empty task ends");
                }
                assert_eq!(sum, n);
                let t3 = Instant::now();
                for (b, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
                    *b = b.min(d.as_nanos() as f64 / n as f64);
                }
            }
            println!(
                "spawn+join, warm: {:.1} ns/task (spawn {:.1}, run {:.1}, join {:.1}; best of 8 rounds)",
                best.iter().sum::<f64>(),
                best[0],
                best[1],
                best[2]
            );
        }
        if which.is_empty() || which == "yield" {
            let y = 10_000_000u64;
            let t0 = Instant::now();
            for _ in 0..y {
                corun::yield_now().await;
            }
            println!(
                "yield: {:.1} ns/yield",
                t0.elapsed().as_nanos() as f64 / y as f64
            );
        }
        if which == "pingpong" {
            let n = 1_000_000u64;
            let (ping_tx, mut ping_rx) = corun::sync::local::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = corun::sync::local::channel::<u64>(1);
            let t0 = Instant::now();
            let ponger = corun::spawn(async move {
                let mut seen = 0u64;
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v + 1).await.is_err() {
                        break;
                    }
                    seen += 1;
                }
                seen
            });
            let pinger = corun::spawn(async move {
                let mut ok = 0u64;
                for i in 0..n {
                    if ping_tx.send(i).await.is_err() {
                        break;
                    }
                    match pong_rx.recv().await {
                        Some(v) if v == i + 1 => ok += 1,
                        _ => break,
                    }
                }
                ok
            });
            assert_eq!(pinger.await.expect("the pinger ends"), n);
            assert_eq!(ponger.await.expect("the ponger ends"), n);
            println!(
                "pingpong (sync::local): {:.1} ns/round trip",
                t0.elapsed().as_nanos() as f64 / n as f64
            );
        }
    });
}

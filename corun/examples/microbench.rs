//! Quick cost check of the hot paths (spawn, yield); the real numbers come
//! from `corun-bench` and the criterion benches.
//!
//! Run: `cargo run --release -p corun --example microbench [spawn|warm|yield]`
//!
//! `warm` spawns and joins a million tasks eight times over in one
//! scheduler and prints the best round: the CPU cost of a task once its
//! memory is already mapped (the first round pays the page faults, which
//! `spawn` includes).
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
            let n = 1_000_000u64;
            let mut best = f64::MAX;
            for _ in 0..8 {
                let t0 = Instant::now();
                let tasks: Vec<_> = (0..n).map(|_| corun::spawn(async { 1u64 })).collect();
                let mut sum = 0;
                for t in tasks {
                    sum += t.await.expect("an empty task ends");
                }
                assert_eq!(sum, n);
                best = best.min(t0.elapsed().as_nanos() as f64 / n as f64);
            }
            println!("spawn+join, warm: {best:.1} ns/task (best of 8 rounds)");
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
    });
}

//! Quick cost check of the hot paths (spawn, yield); the real numbers come
//! from `corun-bench` and the criterion benches.
//!
//! Run: `cargo run --release -p corun --example microbench [spawn|yield]`
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

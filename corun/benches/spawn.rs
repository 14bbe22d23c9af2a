//! Micro-benchmark: spawn + join of empty tasks inside `corun::run`.
//!
//! Each criterion iteration is one task spawned and joined, so the figure is
//! nanoseconds per task. Tasks are spawned in batches (all spawned, then all
//! joined) to exercise the ready queue and the registry at several sizes.
//! The scheduler is created outside the timed region. This file must NOT
//! touch the runtime's sources; it only uses the public API.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Spawns `iters` empty tasks, `batch` at a time, joins each batch, and
/// returns the time spent (scheduler creation excluded).
fn spawn_join(iters: u64, batch: u64) -> Duration {
    corun::run(async move {
        let mut handles = Vec::with_capacity(batch as usize);
        let start = Instant::now();
        let mut left = iters;
        while left > 0 {
            let n = left.min(batch);
            for _ in 0..n {
                handles.push(corun::spawn(async {}));
            }
            for h in handles.drain(..) {
                h.await.expect("empty task cannot fail");
            }
            left -= n;
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group.throughput(Throughput::Elements(1));
    for batch in [1u64, 100, 10_000] {
        group.bench_with_input(
            BenchmarkId::new("spawn_join", batch),
            &batch,
            |b, &batch| b.iter_custom(|iters| spawn_join(iters, batch)),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);

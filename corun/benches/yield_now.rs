//! Micro-benchmark: `corun::yield_now` — one task yielding N times.
//!
//! Each criterion iteration is one yield (the task is re-queued and polled
//! again), so the figure is nanoseconds per yield. A second case yields
//! with other ready tasks present, so each yield is a real switch between
//! tasks. The scheduler is created outside the timed region. This file must
//! NOT touch the runtime's sources; it only uses the public API.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// One task yields `iters` times alone on its scheduler.
fn yield_alone(iters: u64) -> Duration {
    corun::run(async move {
        let start = Instant::now();
        for _ in 0..iters {
            corun::yield_now().await;
        }
        start.elapsed()
    })
}

/// Two tasks yield in turn; `iters` yields in total.
fn yield_two_tasks(iters: u64) -> Duration {
    corun::run(async move {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let other = corun::spawn(async move {
            while !d.get() {
                corun::yield_now().await;
            }
        });
        let start = Instant::now();
        for _ in 0..iters.div_ceil(2) {
            corun::yield_now().await;
        }
        let elapsed = start.elapsed();
        done.set(true);
        other.await.expect("yielding task cannot fail");
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_now");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_task", |b| b.iter_custom(yield_alone));
    group.bench_function("two_tasks", |b| b.iter_custom(yield_two_tasks));
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

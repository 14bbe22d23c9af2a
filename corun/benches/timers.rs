//! Micro-benchmark: timers of the scheduler's timing wheel.
//!
//! * `arm_cancel`: a `corun::sleep` is boxed, polled once inside a task
//!   (which arms its wheel entry) and dropped (which cancels it). Wall time
//!   per timer.
//! * `arm_fire`: batches of sleeps with deadlines spread over 0–1 ms are
//!   armed together in one task and awaited until all fired. Waiting for the
//!   clock is idle time, not work, so this case reports the scheduler
//!   thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) per timer.
//!
//! The scheduler is created outside the timed region. This file must NOT
//! touch the runtime's sources; it only uses the public API.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Arms and cancels `iters` timers of `after` from now.
fn arm_cancel(iters: u64, after: Duration) -> Duration {
    corun::run(async move {
        let mut cx = Context::from_waker(Waker::noop());
        let start = Instant::now();
        for _ in 0..iters {
            let mut sleep = Box::pin(corun::sleep(after));
            // Pending unless this thread was descheduled for longer than
            // `after` since the line above; either way the entry is dropped.
            let _ = std::hint::black_box(sleep.as_mut().poll(&mut cx));
            drop(sleep);
        }
        start.elapsed()
    })
}

/// CPU time consumed so far by the calling thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a
    // constant the kernel always supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Awaits every sleep of `sleeps`, re-polling only the pending ones.
async fn all_fired(sleeps: &mut Vec<Pin<Box<corun::Sleep>>>) {
    std::future::poll_fn(|cx| {
        sleeps.retain_mut(|s| s.as_mut().poll(cx).is_pending());
        if sleeps.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Arms `iters` timers, `batch` at a time, with deadlines spread over
/// 0–1 ms, waits for each batch to fire; returns thread CPU time.
fn arm_fire(iters: u64, batch: u64) -> Duration {
    corun::run(async move {
        let mut sleeps = Vec::with_capacity(batch as usize);
        let start = thread_cpu_time();
        let mut left = iters;
        while left > 0 {
            let n = left.min(batch);
            let now = Instant::now();
            for i in 0..n {
                let at = now + Duration::from_micros(i % 1001);
                sleeps.push(Box::pin(corun::sleep_until(at)));
            }
            all_fired(&mut sleeps).await;
            left -= n;
        }
        thread_cpu_time() - start
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers");
    group.throughput(Throughput::Elements(1));
    for after in [Duration::from_millis(1), Duration::from_secs(10)] {
        group.bench_with_input(
            BenchmarkId::new("arm_cancel", format!("{after:?}")),
            &after,
            |b, &after| b.iter_custom(|iters| arm_cancel(iters, after)),
        );
    }
    group.bench_function("arm_fire_0_1ms_cpu", |b| {
        b.iter_custom(|iters| arm_fire(iters, 1000))
    });
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

//! Micro-benchmark: `corun::sync::mpsc::channel(1)` send/recv, and the
//! single-thread `corun::sync::local::channel(1)` (`local_*` cases).
//!
//! * `ping_pong_round_trip`: two tasks bounce a value over two bounded
//!   channels of capacity 1; one iteration is one round trip (two sends,
//!   two receives, two task switches);
//! * `stream`: one task sends, another receives, through one channel of
//!   capacity 1, so the sender waits for room on every other message. One
//!   iteration is one message.
//!
//! The scheduler is created outside the timed region. This file must NOT
//! touch the runtime's sources; it only uses the public API.

use std::time::{Duration, Instant};

use corun::sync::{local, mpsc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Defines a ping-pong function over channels made by `$chan` (`mpsc` and
/// `local` share their method names but not their types).
macro_rules! ping_pong_over {
    ($name:ident, $chan:path) => {
        fn $name(iters: u64) -> Duration {
            corun::run(async move {
                let (to_peer, mut peer_rx) = $chan(1);
                let (to_main, mut main_rx) = $chan(1);
                let peer = corun::spawn(async move {
                    while let Some(v) = peer_rx.recv().await {
                        if to_main.send(v).await.is_err() {
                            return;
                        }
                    }
                });
                let start = Instant::now();
                for i in 0..iters {
                    to_peer.send(i).await.expect("peer alive");
                    assert_eq!(main_rx.recv().await, Some(i));
                }
                let elapsed = start.elapsed();
                drop(to_peer);
                peer.await.expect("peer cannot fail");
                elapsed
            })
        }
    };
}

ping_pong_over!(ping_pong, mpsc::channel::<u64>);
ping_pong_over!(local_ping_pong, local::channel::<u64>);

fn stream(iters: u64) -> Duration {
    corun::run(async move {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        let consumer = corun::spawn(async move {
            let mut n = 0u64;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        let start = Instant::now();
        for i in 0..iters {
            tx.send(i).await.expect("consumer alive");
        }
        drop(tx);
        let got = consumer.await.expect("consumer cannot fail");
        let elapsed = start.elapsed();
        assert_eq!(got, iters);
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ping_pong_round_trip", |b| b.iter_custom(ping_pong));
    group.bench_function("stream", |b| b.iter_custom(stream));
    group.bench_function("local_ping_pong_round_trip", |b| {
        b.iter_custom(local_ping_pong)
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

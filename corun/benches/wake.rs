//! Micro-benchmark: waking a task.
//!
//! * local wake: two tasks on one scheduler hand the turn to each other
//!   through a pair of `corun::sync::Notify`, or through a fresh
//!   `corun::sync::oneshot` per hop;
//! * cross-thread wake: a plain std thread wakes a corun task by sending on
//!   a corun unbounded channel (the task answers over a std channel).
//!
//! Each criterion iteration is one round trip (two wakes), so the figure is
//! nanoseconds per round trip; halve it for one wake. The scheduler (and the
//! helper thread) are created outside the timed region. This file must NOT
//! touch the runtime's sources; it only uses the public API.

use std::rc::Rc;
use std::time::{Duration, Instant};

use corun::sync::{Notify, mpsc, oneshot};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Round trips through two `Notify`s between the main task and a peer.
fn notify_ping_pong(iters: u64) -> Duration {
    corun::run(async move {
        let ping = Rc::new(Notify::new());
        let pong = Rc::new(Notify::new());
        let (ping2, pong2) = (ping.clone(), pong.clone());
        let peer = corun::spawn(async move {
            for _ in 0..iters {
                ping2.notified().await;
                pong2.notify_one();
            }
        });
        let start = Instant::now();
        for _ in 0..iters {
            ping.notify_one();
            pong.notified().await;
        }
        let elapsed = start.elapsed();
        peer.await.expect("peer cannot fail");
        elapsed
    })
}

/// A ball carrying the sender for the answer: each hop uses a new oneshot.
struct Ball(oneshot::Sender<Ball>);

/// Round trips of a [`Ball`] between the main task and a peer.
fn oneshot_ping_pong(iters: u64) -> Duration {
    corun::run(async move {
        let (to_peer, peer_rx) = oneshot::channel::<Ball>();
        let peer = corun::spawn(async move {
            let mut rx = peer_rx;
            for _ in 0..iters {
                let Ball(reply) = rx.await.expect("main keeps playing");
                let (tx, next) = oneshot::channel();
                if reply.send(Ball(tx)).is_err() {
                    return;
                }
                rx = next;
            }
        });
        let start = Instant::now();
        let mut out = to_peer;
        for _ in 0..iters {
            let (tx, rx) = oneshot::channel();
            if out.send(Ball(tx)).is_err() {
                panic!("peer left early");
            }
            let Ball(next) = rx.await.expect("peer keeps playing");
            out = next;
        }
        let elapsed = start.elapsed();
        drop(out);
        peer.await.expect("peer cannot fail");
        elapsed
    })
}

/// Round trips with a std thread that wakes the task through a corun
/// channel; the task wakes the thread through a std channel.
fn cross_thread_ping_pong(iters: u64) -> Duration {
    corun::run(async move {
        let (to_task, mut from_thread) = mpsc::unbounded_channel::<u64>();
        let (to_thread, from_task) = std::sync::mpsc::channel::<u64>();
        let thread = std::thread::spawn(move || {
            while let Ok(v) = from_task.recv() {
                if to_task.send(v).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        for i in 0..iters {
            to_thread.send(i).expect("thread alive");
            let got = from_thread.recv().await;
            assert_eq!(got, Some(i));
        }
        let elapsed = start.elapsed();
        drop(to_thread);
        thread.join().expect("helper thread cannot panic");
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("wake");
    group.throughput(Throughput::Elements(2));
    group.bench_function("local_notify_round_trip", |b| {
        b.iter_custom(notify_ping_pong)
    });
    group.bench_function("local_oneshot_round_trip", |b| {
        b.iter_custom(oneshot_ping_pong)
    });
    group.bench_function("cross_thread_round_trip", |b| {
        b.iter_custom(cross_thread_ping_pong)
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

//! Micro-benchmark: fd readiness over a `UnixStream::pair()` wrapped in
//! `corun::io::Async`.
//!
//! * `write_read`: one task writes a byte and `read_with`s it back (the
//!   byte is already there, so this is the no-wait fast path: two syscalls
//!   and the cached readiness check);
//! * `ping_pong`: two tasks bounce a byte over the pair, so every read first
//!   finds the socket empty and waits for the reactor (epoll) to report it
//!   readable: a full readiness round trip. One iteration is one round trip
//!   (two readiness wake-ups).
//!
//! The scheduler and the sockets are created outside the timed region. This
//! file must NOT touch the runtime's sources; it only uses the public API.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use corun::io::Async;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Writes one byte on `to` and reads it back from `from`.
async fn hop(to: &Async<UnixStream>, from: &Async<UnixStream>) {
    let mut buf = [0u8; 1];
    let n = to
        .write_with(|s| (&*s).write(b"x"))
        .await
        .expect("write to socketpair");
    assert_eq!(n, 1);
    let n = from
        .read_with(|s| (&*s).read(&mut buf))
        .await
        .expect("read from socketpair");
    assert_eq!(n, 1);
}

fn write_read(iters: u64) -> Duration {
    corun::run(async move {
        let (a, b) = UnixStream::pair().expect("socketpair");
        let (a, b) = (
            Async::new(a).expect("register"),
            Async::new(b).expect("register"),
        );
        let start = Instant::now();
        for _ in 0..iters {
            hop(&a, &b).await;
        }
        start.elapsed()
    })
}

fn ping_pong(iters: u64) -> Duration {
    corun::run(async move {
        let (a, b) = UnixStream::pair().expect("socketpair");
        let (a, b) = (
            Async::new(a).expect("register"),
            Async::new(b).expect("register"),
        );
        let peer = corun::spawn(async move {
            let mut buf = [0u8; 1];
            for _ in 0..iters {
                let n = b
                    .read_with(|s| (&*s).read(&mut buf))
                    .await
                    .expect("peer read");
                assert_eq!(n, 1);
                b.write_with(|s| (&*s).write(&buf))
                    .await
                    .expect("peer write");
            }
        });
        let start = Instant::now();
        let mut buf = [0u8; 1];
        for _ in 0..iters {
            a.write_with(|s| (&*s).write(b"x"))
                .await
                .expect("main write");
            let n = a
                .read_with(|s| (&*s).read(&mut buf))
                .await
                .expect("main read");
            assert_eq!(n, 1);
        }
        let elapsed = start.elapsed();
        peer.await.expect("peer cannot fail");
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("readiness");
    group.throughput(Throughput::Elements(1));
    group.bench_function("write_read", |b| b.iter_custom(write_read));
    group.bench_function("ping_pong_round_trip", |b| b.iter_custom(ping_pong));
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

//! Name resolution never blocks the scheduler: `net::lookup_host` and
//! `TcpStream::connect` with a host name resolve on the blocking pool
//! while other tasks run; literals and socket addresses skip the resolver.
//!
//! The pool is shrunk to one thread and held busy, so a lookup that went
//! through it cannot finish until the test lets it: no timing involved.
//! This file owns the process's pool size; its tests must not run beside
//! ones that need more than one pool thread.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;

use corun::net::{TcpListener, TcpStream, lookup_host};

/// Holds the pool's only thread until the returned sender is dropped or
/// sent to; returns once the thread is held.
async fn hold_the_pool() -> (mpsc::Sender<()>, corun::Task<()>) {
    corun::set_max_blocking_threads(1);
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = corun::spawn(corun::unblock(move || {
        held_tx.send(()).unwrap();
        let _ = release_rx.recv();
    }));
    // Bounded: the pool thread starts at once; 1e6 yields is far beyond.
    for _ in 0..1_000_000 {
        if held_rx.try_recv().is_ok() {
            return (release_tx, holder);
        }
        corun::yield_now().await;
    }
    panic!("the pool thread never started");
}

#[test]
fn a_lookup_waits_off_the_scheduler_while_other_tasks_run_and_literals_skip_it() {
    corun::run(async {
        let (release, holder) = hold_the_pool().await;

        let lookup = corun::spawn(async {
            lookup_host("localhost:80")
                .await
                .map(|it| it.collect::<Vec<_>>())
        });
        let ticks = Rc::new(Cell::new(0u32));
        let t = ticks.clone();
        let ticker = corun::spawn(async move {
            for _ in 0..100 {
                t.set(t.get() + 1);
                corun::yield_now().await;
            }
        });
        ticker.await.unwrap();
        assert_eq!(ticks.get(), 100, "the ticker ran to the end");
        assert!(!lookup.is_finished(), "the name lookup waits for the pool");

        // Literals and socket addresses resolve now, pool or no pool.
        let lit: Vec<SocketAddr> = lookup_host("127.0.0.1:8080").await.unwrap().collect();
        assert_eq!(lit, ["127.0.0.1:8080".parse().unwrap()]);
        let pair: Vec<SocketAddr> = lookup_host(("::1", 9)).await.unwrap().collect();
        assert_eq!(pair, ["[::1]:9".parse().unwrap()]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let s = TcpStream::connect(("127.0.0.1", addr.port()))
            .await
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), addr);

        release.send(()).unwrap();
        holder.await.unwrap();
        let addrs = lookup.await.unwrap().unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
            "{addrs:?}"
        );
    });
}

#[test]
fn connect_by_name_reaches_a_loopback_listener() {
    corun::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // "localhost" may list ::1 first; connect tries each address.
        let s = TcpStream::connect(format!("localhost:{port}"))
            .await
            .unwrap();
        assert_eq!(s.peer_addr().unwrap().port(), port);
        let (_conn, _) = listener.accept().await.unwrap();
    });
}

#[test]
fn an_address_without_a_port_is_invalid_input() {
    corun::run(async {
        // Rejected before any query (tests send nothing beyond loopback).
        let err = lookup_host("no port here").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    });
}

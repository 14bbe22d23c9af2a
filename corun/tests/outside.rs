//! A corun operation used where no corun scheduler runs fails with one
//! message everywhere: an `io::Error` where the output can carry one
//! (`bind`, `connect`, I/O waits, signals, processes), a panic with the
//! same text where it cannot (`sleep`, `spawn`).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The message, taken from the first failure (`TcpListener::bind`).
fn message() -> String {
    corun::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_err()
        .to_string()
}

/// Polls `f` once, on this plain thread, with a no-op waker.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    pin!(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// The panic message of `f`.
fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a text payload")
}

#[test]
fn the_message_names_the_mistake_and_the_fix() {
    let m = message();
    assert!(m.contains("outside a corun scheduler"), "{m}");
    assert!(m.contains("corun::run"), "{m}");
}

#[test]
fn io_operations_return_the_error() {
    let m = message();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    match poll_once(corun::io::readable(&a)) {
        Poll::Ready(Err(e)) => assert_eq!(e.to_string(), m),
        other => panic!("expected the error, got {other:?}"),
    }
    match poll_once(corun::net::TcpStream::connect("127.0.0.1:9")) {
        Poll::Ready(Err(e)) => assert_eq!(e.to_string(), m),
        other => panic!("expected the error, got {:?}", other.map(|r| r.map(drop))),
    }
    let mut sig = corun::signal::signal(corun::signal::SignalKind::window_change()).unwrap();
    match poll_once(sig.recv()) {
        Poll::Ready(Err(e)) => assert_eq!(e.to_string(), m),
        other => panic!("expected the error, got {other:?}"),
    }
    let err = corun::process::Command::new("true").spawn().unwrap_err();
    assert_eq!(err.to_string(), m);
}

#[test]
fn sleep_and_spawn_panic_with_the_same_text() {
    let m = message();
    let sleep = panic_text(|| {
        let _ = poll_once(corun::sleep(Duration::from_millis(1)));
    });
    assert_eq!(sleep, m);
    let spawn = panic_text(|| {
        drop(corun::spawn(async {}));
    });
    assert_eq!(spawn, m);
}

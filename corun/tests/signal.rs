//! Behaviour of `corun::signal`: every listener, in every task and
//! scheduler, sees a delivery; a delivery before the wait is kept; a
//! listener without a delivery stays pending; bad signals and use outside
//! a scheduler are clear errors. Each test owns its signal number (tests
//! run in parallel in one process and signals are process-wide).

use std::future::Future;
use std::io::ErrorKind;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use corun::signal::{self, Signal, SignalKind};

/// Sends `sig` to this process, to the calling thread: its handler has
/// run when this returns (`kill(getpid())` may pick another thread and
/// run the handler later).
fn raise(sig: i32) {
    // SAFETY: `raise` takes a plain signal number and touches no memory of
    // ours; every test makes a listener (installing the handler) before it
    // raises, so no default action ends the test process.
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0, "raise failed: {}", std::io::Error::last_os_error());
}

/// Bound on any wait for a delivery: a lost wake fails the test instead of
/// hanging it.
const BOUND: Duration = Duration::from_secs(20);

async fn recv_bounded(s: &mut Signal) {
    corun::timeout(BOUND, s.recv())
        .await
        .expect("the delivery woke the listener")
        .unwrap();
}

fn poll_once(s: &mut Signal) -> Poll<std::io::Result<()>> {
    s.poll_recv(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn every_listener_in_every_scheduler_sees_the_signal() {
    let sig = libc::SIGUSR1;
    // A second scheduler on its own thread with two listeners.
    let other = corun::Scheduler::start().unwrap();
    let (made_tx, made_rx) = std::sync::mpsc::channel();
    let remote = other
        .spawn(async move {
            let mut a = signal::signal(SignalKind::from_raw(sig)).unwrap();
            let mut b = signal::signal(SignalKind::from_raw(sig)).unwrap();
            made_tx.send(()).unwrap();
            recv_bounded(&mut a).await;
            recv_bounded(&mut b).await;
            2
        })
        .unwrap();
    made_rx.recv().unwrap();

    let seen = corun::run(async move {
        // Three tasks here, each with its own listener, all waiting.
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let mut s = signal::signal(SignalKind::from_raw(sig)).unwrap();
            assert!(poll_once(&mut s).is_pending(), "no delivery yet");
            tasks.push(corun::spawn(async move {
                recv_bounded(&mut s).await;
                1
            }));
        }
        // Let every task reach its wait before the signal.
        corun::yield_now().await;
        raise(sig);
        let mut n = 0;
        for t in tasks {
            n += t.await.unwrap();
        }
        n
    });
    assert_eq!(seen, 3);
    assert_eq!(other.block_on(remote).unwrap().unwrap(), 2);
    other.shutdown().unwrap();
}

#[test]
fn a_delivery_before_the_wait_is_kept_and_each_recv_needs_a_new_one() {
    let sig = libc::SIGUSR2;
    corun::run(async move {
        let mut s = signal::signal(SignalKind::from_raw(sig)).unwrap();
        raise(sig);
        s.recv().await.unwrap();
        assert!(poll_once(&mut s).is_pending(), "one delivery, one recv");
        raise(sig);
        s.recv().await.unwrap();
        assert!(poll_once(&mut s).is_pending());
    });
}

#[test]
fn a_listener_polled_by_hand_does_not_take_the_others_wake() {
    let sig = libc::SIGPIPE;
    corun::run(async move {
        let mut waiting = signal::signal(SignalKind::from_raw(sig)).unwrap();
        let mut eager = signal::signal(SignalKind::from_raw(sig)).unwrap();
        let t = corun::spawn(async move { recv_bounded(&mut waiting).await });
        corun::yield_now().await; // `t` now waits
        raise(sig);
        // Polled before the scheduler looks at epoll again: `eager` sees
        // the delivery at once; `t` must still be woken by the same one.
        assert!(poll_once(&mut eager).is_ready());
        t.await.unwrap();
    });
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    corun::run(async {
        let mut c = Box::pin(signal::ctrl_c());
        // The first poll makes the listener (installing the handler).
        assert!(
            c.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        raise(libc::SIGINT);
        corun::timeout(BOUND, c).await.unwrap().unwrap();
    });
}

#[test]
fn a_listener_is_a_stream_that_select_takes_as_is() {
    use futures_util::StreamExt;
    let sig = libc::SIGHUP;
    corun::run(async move {
        let mut s = signal::signal(SignalKind::from_raw(sig)).unwrap();
        raise(sig);
        assert!(matches!(s.next().await, Some(Ok(()))));
        assert!(!futures_core::stream::FusedStream::is_terminated(&s));
    });
}

#[test]
fn signals_that_cannot_be_caught_or_do_not_exist_are_invalid_input() {
    for bad in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -1, 1000] {
        let err = signal::signal(SignalKind::from_raw(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "signal {bad}");
    }
}

#[test]
fn polled_outside_a_scheduler_is_an_error_not_a_panic() {
    let mut s = signal::signal(SignalKind::window_change()).unwrap();
    match poll_once(&mut s) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("outside"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_dropped_listener_leaves_the_others_working() {
    let sig = libc::SIGALRM;
    corun::run(async move {
        let mut keep = signal::signal(SignalKind::from_raw(sig)).unwrap();
        let mut gone = signal::signal(SignalKind::from_raw(sig)).unwrap();
        assert!(poll_once(&mut keep).is_pending());
        assert!(poll_once(&mut gone).is_pending());
        drop(gone);
        raise(sig);
        keep.recv().await.unwrap();
    });
}

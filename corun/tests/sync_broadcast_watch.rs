//! Behaviour of `sync::broadcast` (every receiver gets every value; lag
//! reported and recovered from; close after the last value) and
//! `sync::watch` (receivers told of changes, latest value wins, close),
//! within a scheduler and across two.

use std::time::Duration;

use corun::sync::{broadcast, watch};

const BOUND: Duration = Duration::from_secs(20);

#[test]
fn broadcast_delivers_every_value_to_every_receiver_in_order() {
    corun::run(async {
        let (tx, rx) = broadcast::channel::<u32>(64);
        let rxs: Vec<_> = (0..3).map(|_| tx.subscribe()).chain([rx]).collect();
        let tasks: Vec<_> = rxs
            .into_iter()
            .map(|mut rx| {
                corun::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        match corun::timeout(BOUND, rx.recv()).await.expect("bounded") {
                            Ok(v) => got.push(v),
                            Err(broadcast::RecvError::Closed) => return got,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        corun::yield_now().await; // every receiver waits
        for i in 0..50 {
            assert_eq!(tx.send(i).unwrap(), 4);
            if i % 10 == 0 {
                corun::yield_now().await;
            }
        }
        drop(tx);
        for t in tasks {
            assert_eq!(t.await.unwrap(), (0..50).collect::<Vec<_>>());
        }
    });
}

#[test]
fn a_lagging_receiver_is_told_how_much_it_lost_and_continues() {
    corun::run(async {
        let (tx, mut slow) = broadcast::channel(4);
        let mut fast = tx.subscribe();
        for i in 0..10 {
            tx.send(i).unwrap();
            assert_eq!(fast.try_recv(), Ok(i));
        }
        assert_eq!(slow.recv().await, Err(broadcast::RecvError::Lagged(6)));
        for i in 6..10 {
            assert_eq!(slow.recv().await, Ok(i));
        }
        assert_eq!(slow.try_recv(), Err(broadcast::TryRecvError::Empty));
        drop(tx);
        assert_eq!(slow.recv().await, Err(broadcast::RecvError::Closed));
    });
}

#[test]
fn broadcast_send_without_receivers_gives_the_value_back() {
    let (tx, rx) = broadcast::channel(1);
    drop(rx);
    assert_eq!(tx.send("lost").unwrap_err().0, "lost");
}

#[test]
fn broadcast_reaches_a_receiver_on_another_scheduler() {
    let (tx, mut rx) = broadcast::channel(8);
    let other = corun::Scheduler::start().unwrap();
    let remote = other
        .spawn(async move {
            let a = rx.recv().await.unwrap();
            let b = rx.recv().await.unwrap();
            a + b
        })
        .unwrap();
    tx.send(20).unwrap();
    tx.send(22).unwrap();
    assert_eq!(other.block_on(remote).unwrap().unwrap(), 42);
    other.shutdown().unwrap();
}

#[test]
fn watch_receivers_see_changes_and_the_latest_value_wins() {
    corun::run(async {
        let (tx, mut rx) = watch::channel(0);
        let mut other = rx.clone();
        assert!(!rx.has_changed().unwrap());
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // overwrites 1 before anyone looked
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), 2);
        assert!(!rx.has_changed().unwrap());
        // The clone has its own view: it has not seen 2 yet.
        assert!(other.has_changed().unwrap());
        other.changed().await.unwrap();

        // A waiting receiver is woken by the next send.
        let waiter = corun::spawn(async move {
            corun::timeout(BOUND, rx.changed())
                .await
                .expect("bounded")
                .unwrap();
            *rx.borrow()
        });
        corun::yield_now().await;
        tx.send_modify(|v| *v += 40);
        assert_eq!(waiter.await.unwrap(), 42);
    });
}

#[test]
fn watch_changed_fails_once_the_sender_is_gone_and_nothing_is_new() {
    corun::run(async {
        let (tx, mut rx) = watch::channel("a");
        tx.send("b").unwrap();
        drop(tx);
        // The last value is still delivered, then the end.
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), "b");
        assert_eq!(rx.changed().await, Err(watch::RecvError));
        assert_eq!(rx.has_changed(), Err(watch::RecvError));
    });
}

#[test]
fn watch_send_fails_without_receivers_but_send_replace_does_not() {
    let (tx, rx) = watch::channel(1);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(2).unwrap_err().0, 2);
    assert_eq!(tx.send_replace(3), 1);
    assert_eq!(*tx.borrow(), 3);
}

#[test]
fn a_cancelled_watch_wait_loses_no_change() {
    corun::run(async {
        let (tx, mut rx) = watch::channel(0);
        {
            let mut wait = Box::pin(rx.changed());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(std::future::Future::poll(wait.as_mut(), &mut cx).is_pending());
        } // dropped while waiting
        tx.send(5).unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 5);
    });
}

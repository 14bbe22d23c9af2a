//! Unit tests of the [`mpsc`](super) channels (std-only driver).

use super::*;
use crate::sync::test_util::{block_on, counting, poll, rounds};
use std::thread;

#[test]
fn capacity_is_respected_and_zero_means_one() {
    let (tx, mut rx) = channel(3);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(3).unwrap();
    assert_eq!(rx.len(), 3);

    let (tx0, _rx0) = channel(0);
    tx0.try_send(1).unwrap();
    assert_eq!(tx0.try_send(2), Err(TrySendError::Full(2)));
}

#[test]
fn messages_come_out_in_fifo_order() {
    let (tx, mut rx) = channel(100);
    for i in 0..100 {
        tx.try_send(i).unwrap();
    }
    let got: Vec<i32> = (0..100).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn waiting_senders_are_served_fifo_and_newcomers_cannot_overtake() {
    let (tx, mut rx) = channel(1);
    let (w, _) = counting();
    tx.try_send(0).unwrap();
    let mut a = tx.send(1);
    let mut b = tx.send(2);
    assert!(poll(&mut a, &w).is_pending());
    assert!(poll(&mut b, &w).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    // The freed slot is reserved for `a`.
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    assert!(poll(&mut b, &w).is_pending());
    assert_eq!(poll(&mut a, &w), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(poll(&mut b, &w), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn recv_waits_and_is_woken_by_send() {
    let (tx, mut rx) = channel(1);
    let (w, count) = counting();
    let mut r = rx.recv();
    assert!(poll(&mut r, &w).is_pending());
    tx.try_send(7).unwrap();
    assert_eq!(count.get(), 1);
    assert_eq!(poll(&mut r, &w), Poll::Ready(Some(7)));
}

#[test]
fn full_sender_is_woken_by_recv() {
    let (tx, mut rx) = channel(1);
    let (w, count) = counting();
    tx.try_send(1).unwrap();
    let mut s = tx.send(2);
    assert!(poll(&mut s, &w).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(count.get(), 1);
    assert_eq!(poll(&mut s, &w), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn dropping_all_senders_ends_recv_after_buffer_drains() {
    let (tx, mut rx) = channel(2);
    let tx2 = tx.clone();
    let (w, count) = counting();
    tx.try_send(1).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    let mut r = rx.recv();
    assert!(poll(&mut r, &w).is_pending());
    drop(tx2);
    assert_eq!(count.get(), 1);
    assert_eq!(poll(&mut r, &w), Poll::Ready(None));
}

#[test]
fn close_fails_pending_and_new_sends_but_keeps_buffer() {
    let (tx, mut rx) = channel(1);
    let (w, count) = counting();
    tx.try_send(1).unwrap();
    let mut s = tx.send(2);
    assert!(poll(&mut s, &w).is_pending());
    rx.close();
    assert_eq!(count.get(), 1);
    assert_eq!(poll(&mut s, &w), Poll::Ready(Err(SendError(2))));
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert!(tx.is_closed());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn dropping_receiver_fails_sends_and_drops_buffered_values() {
    let (tx, rx) = channel(2);
    let item = Arc::new(());
    tx.try_send(item.clone()).unwrap();
    drop(rx);
    assert_eq!(Arc::strong_count(&item), 1);
    let err = block_on(tx.send(item.clone())).unwrap_err();
    assert!(Arc::ptr_eq(&err.0, &item));
}

#[test]
fn dropped_pending_send_loses_nothing_and_passes_its_grant_on() {
    let (tx, mut rx) = channel(1);
    let (w, count) = counting();
    tx.try_send(0).unwrap();
    let mut a = tx.send(1);
    let mut b = tx.send(2);
    let mut c = tx.send(3);
    assert!(poll(&mut a, &w).is_pending());
    assert!(poll(&mut b, &w).is_pending());
    assert!(poll(&mut c, &w).is_pending());
    drop(b); // queued: just leaves
    assert_eq!(rx.try_recv(), Ok(0)); // grants `a`
    drop(a); // granted but unused: slot goes to `c`
    assert_eq!(count.get(), 2);
    assert_eq!(poll(&mut c, &w), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.try_send(4).unwrap();
}

#[test]
fn dropped_pending_recv_removes_its_waker_and_loses_nothing() {
    let (tx, mut rx) = channel(1);
    let (w, count) = counting();
    let mut r = rx.recv();
    assert!(poll(&mut r, &w).is_pending());
    drop(r);
    tx.try_send(5).unwrap();
    assert_eq!(count.get(), 0);
    assert_eq!(rx.try_recv(), Ok(5));
}

#[test]
fn unbounded_never_fills_and_reports_close() {
    let (tx, mut rx) = unbounded_channel();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    for i in 0..10_000 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    rx.close();
    assert_eq!(tx.send(1), Err(SendError(1)));
}

#[test]
fn stream_yields_messages_then_ends() {
    use futures_core::Stream;
    let (tx, mut rx) = channel(2);
    tx.try_send(1).unwrap();
    drop(tx);
    let w = Waker::noop();
    let mut cx = Context::from_waker(w);
    assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(Some(1)));
    assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(None));
}

#[test]
fn cross_thread_stress_delivers_every_message_once() {
    const THREADS: u64 = 4;
    let per = rounds(10_000) as u64;
    let (tx, mut rx) = channel::<u64>(4);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            thread::spawn(move || {
                block_on(async {
                    for i in 0..per {
                        tx.send(t * per + i).await.unwrap();
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let (count, sum, ordered) = block_on(async {
        let mut last = [None::<u64>; THREADS as usize];
        let (mut count, mut sum, mut ordered) = (0u64, 0u64, true);
        while let Some(v) = rx.recv().await {
            let t = (v / per) as usize;
            ordered &= last[t].is_none_or(|p| p < v);
            last[t] = Some(v);
            count += 1;
            sum += v;
        }
        (count, sum, ordered)
    });
    for h in handles {
        h.join().unwrap();
    }
    let n = THREADS * per;
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
    assert!(ordered, "each sender's messages must stay in order");
}

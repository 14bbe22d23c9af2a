//! Behaviour of `sync::Mutex` and `sync::RwLock`: FIFO fairness (hand-off
//! to the oldest waiter, no overtaking), cancellation (a dropped waiter
//! leaves the queue; a dropped granted one passes the lock on), readers
//! sharing, writers not starved, and use across schedulers.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use corun::sync::{Mutex, RwLock};

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn mutex_waiters_get_the_lock_in_the_order_they_asked() {
    corun::run(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let held = m.lock().await;
        let mut tasks = Vec::new();
        for i in 0..5 {
            let m = m.clone();
            tasks.push(corun::spawn(async move { m.lock().await.push(i) }));
            corun::yield_now().await; // task i queues before task i+1
        }
        drop(held);
        // Handed to the oldest waiter: a newcomer cannot take it.
        assert!(m.try_lock().is_none(), "no overtaking a waiter");
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, [0, 1, 2, 3, 4]);
    });
}

#[test]
fn a_dropped_waiter_leaves_the_queue_and_a_dropped_grant_passes_on() {
    corun::run(async {
        let m = Mutex::new(0);
        let held = m.lock().await;
        let mut first = Box::pin(m.lock());
        let mut second = Box::pin(m.lock());
        let mut third = Box::pin(m.lock());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        assert!(poll_once(&mut third).is_pending());
        drop(second); // cancelled while queued
        drop(held); // granted to `first`
        drop(first); // cancelled after the grant, before seeing it
        // The lock went on to `third`, the next still waiting.
        match poll_once(&mut third) {
            Poll::Ready(mut g) => *g += 1,
            Poll::Pending => panic!("the lock was not passed on"),
        }
        assert_eq!(*m.lock().await, 1);
        drop(third);
        assert!(m.try_lock().is_some(), "nothing left held");
    });
}

#[test]
fn mutex_guards_serialise_tasks_on_two_schedulers() {
    let m = Arc::new(Mutex::new(0u64));
    let other = corun::Scheduler::start().unwrap();
    let add = |m: Arc<Mutex<u64>>| async move {
        for _ in 0..1000 {
            let mut g = m.lock().await;
            let v = *g;
            corun::yield_now().await; // held across an await
            *g = v + 1;
        }
    };
    let remote = other.spawn(add(m.clone())).unwrap();
    corun::run(add(m.clone()));
    other.block_on(remote).unwrap().unwrap();
    other.shutdown().unwrap();
    corun::run(async move { assert_eq!(*m.lock().await, 2000) });
}

#[test]
fn readers_share_and_a_waiting_writer_holds_back_later_readers() {
    corun::run(async {
        let lock = RwLock::new(0);
        let r1 = lock.read().await;
        let r2 = lock.read().await;
        let mut w = pin!(lock.write());
        assert!(poll_once(&mut w).is_pending(), "readers hold it");
        let mut late_reader = pin!(lock.read());
        assert!(
            poll_once(&mut late_reader).is_pending(),
            "queued behind the writer"
        );
        assert!(lock.try_read().is_none());
        drop((r1, r2));
        match poll_once(&mut w) {
            Poll::Ready(mut g) => {
                *g = 5;
                assert!(poll_once(&mut late_reader).is_pending());
            }
            Poll::Pending => panic!("the writer goes next"),
        }
        match poll_once(&mut late_reader) {
            Poll::Ready(g) => assert_eq!(*g, 5),
            Poll::Pending => panic!("the reader goes after the writer"),
        }
    });
}

#[test]
fn a_cancelled_writer_lets_the_readers_behind_it_go() {
    corun::run(async {
        let lock = Rc::new(RwLock::new(()));
        let r = lock.read().await;
        let mut w = Box::pin(lock.write());
        assert!(poll_once(&mut w).is_pending());
        let order = Rc::new(RefCell::new(Vec::new()));
        let (l, o) = (lock.clone(), order.clone());
        let reader = corun::spawn(async move {
            let _g = l.read().await;
            o.borrow_mut().push("reader");
        });
        corun::yield_now().await; // the reader queues behind the writer
        assert!(order.borrow().is_empty());
        drop(w); // the writer gives up
        corun::timeout(std::time::Duration::from_secs(20), reader)
            .await
            .expect("the reader behind the cancelled writer was let go")
            .unwrap();
        assert_eq!(*order.borrow(), ["reader"]);
        drop(r);
    });
}

#[test]
fn writers_exclude_each_other_and_readers_across_tasks() {
    corun::run(async {
        let lock = Rc::new(RwLock::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let lock = lock.clone();
            tasks.push(corun::spawn(async move {
                if i % 3 == 0 {
                    let mut g = lock.write().await;
                    let len = g.len();
                    corun::yield_now().await;
                    assert_eq!(g.len(), len, "no one else wrote meanwhile");
                    g.push(i);
                } else {
                    let g = lock.read().await;
                    let len = g.len();
                    corun::yield_now().await;
                    assert_eq!(g.len(), len, "no writer while reading");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*lock.read().await, [0, 3, 6, 9]);
    });
}

//! Timers: zero and absurd durations, equal deadlines by the thousand,
//! deadline order, never early, `timeout`, `interval`, and a million timers
//! armed and cancelled.
//!
//! Tests only; must not reach into corun internals. The one clock check
//! (`now >= deadline` after a sleep) is a correctness bound, not a timing
//! assertion.

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{Drops, poll_once, run_watched, yield_n};
use corun::TaskState;

#[test]
fn sleep_of_zero_returns() {
    run_watched("sleep(0)", || async {
        corun::sleep(Duration::ZERO).await;
        corun::sleep_until(Instant::now()).await;
        corun::sleep_until(Instant::now() - Duration::from_millis(5)).await;
    });
}

#[test]
fn sleep_of_duration_max_pends_without_overflow_and_is_killable() {
    run_watched("sleep(MAX)", || async {
        let t = corun::spawn(corun::sleep(Duration::MAX));
        yield_n(2).await;
        let info = corun::tasks().into_iter().find(|i| i.id == t.id()).unwrap();
        assert_eq!(info.state, TaskState::SleepingForever);
        assert!(!t.is_finished());
        assert!(t.kill());
        assert!(t.await.unwrap_err().is_killed());
        // Absurd durations in the other timer APIs.
        assert_eq!(corun::timeout(Duration::MAX, async { 3 }).await, Ok(3));
        let mut every = corun::interval(Duration::MAX);
        every.tick().await; // the first tick is immediate
        let pending = corun::timeout(Duration::from_millis(2), every.tick()).await;
        assert!(
            pending.is_err(),
            "the second tick of interval(MAX) never comes"
        );
    });
}

#[test]
fn sleep_until_the_far_future_pends_and_is_killable() {
    run_watched("sleep_until(far future)", || async {
        let now = Instant::now();
        let far = [
            now.checked_add(Duration::from_secs(86_400 * 365 * 1000)),
            now.checked_add(Duration::from_secs(u64::MAX / 4)),
            now.checked_add(Duration::from_secs(u64::MAX / 2)),
        ];
        let tasks: Vec<_> = far
            .into_iter()
            .flatten()
            .map(|t| corun::spawn(corun::sleep_until(t)))
            .collect();
        assert!(!tasks.is_empty());
        yield_n(2).await;
        for t in &tasks {
            assert!(!t.is_finished());
        }
        let timers = corun::stats().timers;
        for t in tasks {
            assert!(t.kill());
            assert!(t.await.unwrap_err().is_killed());
        }
        assert!(corun::stats().timers <= timers);
        assert_eq!(corun::stats().timers, 0);
    });
}

#[test]
fn ten_thousand_timers_with_the_same_deadline_all_wake() {
    run_watched("10 000 equal deadlines", || async {
        let deadline = Instant::now() + Duration::from_millis(20);
        let woke = Rc::new(Cell::new(0usize));
        let tasks: Vec<_> = (0..10_000)
            .map(|_| {
                let woke = woke.clone();
                corun::spawn(async move {
                    corun::sleep_until(deadline).await;
                    assert!(Instant::now() >= deadline, "woke early");
                    woke.set(woke.get() + 1);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(woke.get(), 10_000);
        assert_eq!(corun::stats().timers, 0);
    });
}

#[test]
fn deadlines_complete_in_deadline_order() {
    // Spawned latest-first, 100 ms apart. A task whose deadline had already
    // passed when it was first polled (a very slow machine) finishes at once,
    // in spawn order, so only the tasks that really had to wait are checked:
    // those must wake in deadline order however late they are woken.
    let order = run_watched("300/100/200 ms", || async {
        let base = Instant::now();
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = [300u64, 100, 200]
            .into_iter()
            .map(|ms| {
                let order = order.clone();
                let deadline = base + Duration::from_millis(ms);
                corun::spawn(async move {
                    let waited = Instant::now() < deadline;
                    corun::sleep_until(deadline).await;
                    assert!(Instant::now() >= deadline, "woke early");
                    order.borrow_mut().push((ms, waited));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        order.take()
    });
    assert_eq!(order.len(), 3);
    let waited: Vec<u64> = order
        .iter()
        .filter(|(_, w)| *w)
        .map(|(ms, _)| *ms)
        .collect();
    assert!(
        waited.windows(2).all(|p| p[0] < p[1]),
        "out of deadline order: {order:?}"
    );
}

#[test]
fn sleep_never_returns_before_its_deadline() {
    run_watched("never early", || async {
        for ms in [1u64, 2, 3, 5, 7, 11, 16] {
            for sub in [0u32, 300_000, 999_999] {
                let d = Duration::from_millis(ms) + Duration::from_nanos(sub.into());
                let start = Instant::now();
                corun::sleep(d).await;
                assert!(start.elapsed() >= d, "sleep({d:?}) returned early");
            }
        }
        // Below and around the timer tick (about 131 µs), and sleeps long
        // enough that their first poll trusts the scheduler's clock reading.
        for ns in [
            1u64, 50_000, 131_071, 131_073, 262_145, 10_000_001, 12_070_000,
        ] {
            let d = Duration::from_nanos(ns);
            let start = Instant::now();
            corun::sleep(d).await;
            assert!(start.elapsed() >= d, "sleep({d:?}) returned early");
            let at = Instant::now() + d;
            corun::sleep_until(at).await;
            assert!(
                Instant::now() >= at,
                "sleep_until(now + {d:?}) returned early"
            );
        }
        let tasks: Vec<_> = (1..=20u64)
            .map(|ms| {
                corun::spawn(async move {
                    let start = Instant::now();
                    let d = Duration::from_micros(ms * 700);
                    corun::sleep(d).await;
                    start.elapsed() >= d
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "a concurrent sleep returned early");
        }
    });
}

#[test]
fn timeout_returns_ok_when_in_time_and_err_when_not() {
    run_watched("timeout", || async {
        assert_eq!(corun::timeout(Duration::ZERO, async { 1 }).await, Ok(1));
        assert_eq!(
            corun::timeout(Duration::from_secs(3600), async {
                corun::sleep(Duration::from_millis(1)).await;
                2
            })
            .await,
            Ok(2)
        );
        let drops = Drops::new();
        let g = drops.guard();
        let slow = corun::timeout(Duration::from_millis(3), async move {
            let _g = g;
            corun::sleep(Duration::from_secs(3600)).await;
        });
        let e = slow.await.unwrap_err();
        assert_eq!(e, corun::time::Elapsed(()));
        assert_eq!(drops.dropped(), 1, "the timed-out future was dropped");
        assert_eq!(corun::stats().timers, 0, "no timer left behind");
    });
}

#[test]
fn interval_ticks_are_increasing() {
    run_watched("interval", || async {
        let mut every = corun::interval(Duration::from_millis(2));
        let mut last: Option<Instant> = None;
        for _ in 0..6 {
            let at = every.tick().await;
            assert!(at <= Instant::now(), "tick before its scheduled instant");
            if let Some(prev) = last {
                assert!(at > prev, "ticks must increase");
                assert!(at - prev >= Duration::from_millis(2));
            }
            last = Some(at);
        }
    });
}

#[test]
fn a_million_timers_armed_then_cancelled() {
    run_watched("1 000 000 timers", || async {
        let base = corun::stats().timers;
        // An hour and more: still pending however long building them takes.
        let mut sleeps: Vec<Pin<Box<corun::Sleep>>> = (0..1_000_000u64)
            .map(|i| Box::pin(corun::sleep(Duration::from_secs(3600 + i % 100_000))))
            .collect();
        for s in sleeps.iter_mut() {
            assert!(poll_once(s).is_pending());
        }
        assert_eq!(corun::stats().timers, base + 1_000_000);
        drop(sleeps);
        assert_eq!(corun::stats().timers, base);
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    run_watched("Sleep::reset", || async {
        let mut s = Box::pin(corun::sleep(Duration::from_secs(3600)));
        assert!(poll_once(&mut s).is_pending());
        s.as_mut().reset(Instant::now() + Duration::from_millis(1));
        s.as_mut().await;
        assert_eq!(corun::stats().timers, 0);
        // A Sleep future is Unpin and may be polled by hand.
        let mut z = corun::sleep(Duration::ZERO);
        assert!(
            Pin::new(&mut z)
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
                .is_ready()
        );
    });
}

/// A waker that counts its wakes and passes each on to the task's own.
struct Counting {
    wakes: std::sync::atomic::AtomicUsize,
    inner: std::task::Waker,
}

impl std::task::Wake for Counting {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

/// A sleep polled with a combinator's own waker (not a task waker) fires
/// through that waker, not by queueing the task directly. Virtual time:
/// the first poll is surely early, however slow the machine.
#[test]
fn a_sleep_polled_with_a_foreign_waker_wakes_that_waker() {
    common::watchdog("foreign waker", || {
        corun::Builder::new().virtual_time(true).run(async {
            let mut sleep = Box::pin(corun::sleep(Duration::from_secs(3600)));
            let mut counting = None;
            std::future::poll_fn(|cx| {
                let c = counting.get_or_insert_with(|| {
                    std::sync::Arc::new(Counting {
                        wakes: Default::default(),
                        inner: cx.waker().clone(),
                    })
                });
                let waker = std::task::Waker::from(c.clone());
                sleep
                    .as_mut()
                    .poll(&mut std::task::Context::from_waker(&waker))
            })
            .await;
            let c = counting.expect("polled at least once");
            assert_eq!(
                c.wakes.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "the timer woke the foreign waker once"
            );
        })
    });
}

/// A sleep armed on one scheduler with the waker of a task of another
/// scheduler wakes that task through its own scheduler when it fires.
/// The arming scheduler runs on virtual time: its first poll is surely
/// early, however slow the machine.
#[test]
fn a_sleep_armed_with_another_schedulers_task_waker_wakes_that_task() {
    let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let other = std::thread::spawn(move || {
        run_watched("other scheduler", move || async move {
            let mut sent = false;
            // Pending until re-polled: only the timer's wake re-polls it.
            std::future::poll_fn(|cx| {
                if sent {
                    return std::task::Poll::Ready(());
                }
                sent = true;
                tx.send(cx.waker().clone()).expect("the arming side waits");
                std::task::Poll::Pending
            })
            .await;
        })
    });
    common::watchdog("arming scheduler", move || {
        corun::Builder::new().virtual_time(true).run(async move {
            let waker = rx.recv().expect("the other task sends its waker");
            let mut sleep = Box::pin(corun::sleep(Duration::from_secs(10)));
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(sleep.as_mut().poll(&mut cx).is_pending());
            // The armed entry fires on the way to this later deadline.
            corun::sleep(Duration::from_secs(20)).await;
            drop(sleep);
            other.join().expect("the other scheduler's task was woken");
        })
    });
}

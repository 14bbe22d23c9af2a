//! Panics: a panicking task resolves to a `JoinError` with its
//! payload, the other tasks run on, panicking destructors are contained,
//! an unobserved panic is logged with the task's id and name, and
//! `corun::run` resumes the main future's panic in its caller.
//!
//! Tests only; must not reach into corun internals. The expected panics
//! print through the default panic hook; that output is noise, not failure.

mod common;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{Drops, run_watched, yield_n};
use corun::Scheduler;

#[derive(Debug, PartialEq)]
struct CustomPayload(u32);

#[test]
fn a_panicking_task_resolves_to_panicked_with_its_payload() {
    corun::run(async {
        let s = corun::spawn(async { panic!("static str payload") });
        let f = corun::spawn(async {
            corun::yield_now().await;
            let n = std::hint::black_box(42); // a runtime value: a `String` payload
            panic!("formatted {n}")
        });
        let c = corun::spawn(async { std::panic::panic_any(CustomPayload(7)) });
        match s.await {
            Err(e) if e.is_panic() => {
                let p = e.try_into_panic().unwrap();
                assert_eq!(*p.downcast_ref::<&str>().unwrap(), "static str payload")
            }
            other => panic!("unexpected {other:?}"),
        }
        match f.await {
            Err(e) if e.is_panic() => {
                let p = e.try_into_panic().unwrap();
                assert_eq!(p.downcast_ref::<String>().unwrap(), "formatted 42")
            }
            other => panic!("unexpected {other:?}"),
        }
        match c.await {
            Err(e) if e.is_panic() => {
                let p = e.try_into_panic().unwrap();
                assert_eq!(p.downcast_ref::<CustomPayload>(), Some(&CustomPayload(7)))
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn every_other_task_runs_on_after_a_panic() {
    run_watched("survivors of panics", || async {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                corun::spawn(async move {
                    corun::sleep(Duration::from_millis(i % 3)).await;
                    if i % 2 == 1 {
                        panic!("task {i} panics");
                    }
                    corun::yield_now().await;
                    i
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await {
                Ok(v) => assert_eq!(v, i as u64),
                Err(e) => assert!(i % 2 == 1 && e.is_panic(), "task {i}: {e:?}"),
            }
        }
        let s = corun::stats();
        assert_eq!(s.panicked, 10);
        // The scheduler is still fine.
        assert_eq!(corun::spawn(async { 1 }).await.unwrap(), 1);
    });
    let sched = Scheduler::start().unwrap();
    let bad = sched
        .spawn(async { panic!("on a Scheduler thread") })
        .unwrap();
    assert!(sched.block_on(bad).unwrap().unwrap_err().is_panic());
    assert_eq!(sched.block_on(async { 2 }).unwrap(), 2);
    sched.shutdown().unwrap();
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("expected panic in a destructor");
    }
}

#[test]
fn a_destructor_panicking_during_kill_is_contained() {
    run_watched("panicking destructor on kill", || async {
        let drops = Drops::new();
        let g = drops.guard();
        let t = corun::spawn(async move {
            let _later = g; // dropped after the panicking one: must still run
            let _p = PanicOnDrop;
            corun::sleep(Duration::from_secs(3600)).await;
        });
        corun::yield_now().await;
        assert!(t.kill());
        assert_eq!(drops.dropped(), 1, "the other destructors ran");
        let err = t.await.unwrap_err();
        assert!(err.is_killed(), "{err:?}");
        assert_eq!(corun::spawn(async { 3 }).await.unwrap(), 3);
    });
}

/// Every observer of a killed task whose destructor panics sees one
/// outcome, Killed: the handle, `wait_exit` by id and the counters; the
/// destructor's panic is logged with the task's id and name.
#[test]
fn a_killed_task_whose_destructor_panics_is_killed_for_every_observer() {
    let ((handle_killed, exit, stats), logs) = with_captured_logs(|| {
        corun::run(async {
            let t = corun::spawn_named("doomed-on-drop", async {
                let _p = PanicOnDrop;
                corun::sleep(Duration::from_secs(3600)).await;
            });
            corun::yield_now().await;
            let by_id = corun::spawn(corun::wait_exit(t.id()));
            corun::yield_now().await;
            assert!(t.kill());
            let handle_killed = t.await.unwrap_err().is_killed();
            let exit = by_id.await.unwrap();
            (handle_killed, exit, corun::stats())
        })
    });
    assert!(handle_killed);
    assert_eq!(exit, corun::Exit::Killed);
    assert_eq!((stats.killed, stats.panicked), (1, 0));
    let line = logs
        .lines()
        .find(|l| l.contains("doomed-on-drop") && l.contains("destructor panicked"))
        .unwrap_or_else(|| panic!("no log line for the destructor's panic in:\n{logs}"));
    assert!(line.contains("expected panic in a destructor"), "{line}");
}

/// Ready at once; its own destructor panics (after completion).
struct ReadyThenPanicOnDrop;

impl Future for ReadyThenPanicOnDrop {
    type Output = u8;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u8> {
        Poll::Ready(9)
    }
}

impl Drop for ReadyThenPanicOnDrop {
    fn drop(&mut self) {
        panic!("expected panic dropping a completed future");
    }
}

#[test]
fn a_destructor_panicking_after_completion_is_contained() {
    run_watched("panicking destructor on completion", || async {
        let t = corun::spawn(ReadyThenPanicOnDrop);
        let res = t.await;
        assert!(
            matches!(&res, Ok(9)) || res.as_ref().is_err_and(|e| e.is_panic()),
            "{res:?}"
        );
        // Detached, and an output whose destructor panics.
        corun::spawn(ReadyThenPanicOnDrop).detach();
        corun::spawn(async { PanicOnDrop }).detach();
        let unread = corun::spawn(async { PanicOnDrop });
        yield_n(2).await;
        drop(unread); // the output is dropped here, by the handle
        assert_eq!(corun::spawn(async { 4 }).await.unwrap(), 4);
    });
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `f`, then returns its result and everything logged so far by this
/// test binary (warnings and errors, from every test).
///
/// The subscriber is the process-wide default, installed once: a scoped
/// one (`with_default`) per test races with the other tests' over
/// tracing's per-callsite interest cache, and can miss an event. Callers
/// tell their lines apart by a message and task name of their own.
fn with_captured_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let buf = Captured::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        buf
    });
    let r = f();
    (r, logs.text())
}

#[test]
fn a_detached_panicking_task_is_logged_with_id_and_name() {
    let (id, logs) = with_captured_logs(|| {
        corun::run(async {
            let t = corun::spawn_named("doomed-worker", async {
                corun::yield_now().await;
                panic!("kaboom-detached");
            });
            let id = t.id();
            drop(t);
            yield_n(3).await;
            // The scheduler runs on.
            assert_eq!(corun::spawn(async { 5 }).await.unwrap(), 5);
            id
        })
    });
    let line = logs
        .lines()
        .find(|l| l.contains("kaboom-detached"))
        .unwrap_or_else(|| panic!("no log of the panic; logs were:\n{logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains(&format!("task.id={}", id.as_u64())), "{line}");
    assert!(line.contains("doomed-worker"), "{line}");
}

#[test]
fn a_panic_whose_handle_is_dropped_unread_is_logged_with_id_and_name() {
    let (id, logs) = with_captured_logs(|| {
        corun::run(async {
            let t = corun::spawn_named("unread-worker", async { panic!("kaboom-unread") });
            let id = t.id();
            yield_n(2).await;
            assert!(t.is_finished());
            drop(t);
            id
        })
    });
    let line = logs
        .lines()
        .find(|l| l.contains("kaboom-unread"))
        .unwrap_or_else(|| panic!("no log of the panic; logs were:\n{logs}"));
    assert!(line.contains(&format!("task.id={}", id.as_u64())), "{line}");
    assert!(line.contains("unread-worker"), "{line}");
}

#[test]
fn run_resumes_the_main_futures_panic_in_the_caller() {
    let caught = std::panic::catch_unwind(|| {
        corun::run(async {
            corun::yield_now().await;
            std::panic::panic_any(CustomPayload(99));
        })
    });
    let payload = caught.expect_err("run must resume the panic");
    assert_eq!(
        payload.downcast_ref::<CustomPayload>(),
        Some(&CustomPayload(99))
    );
    // The thread is usable for another scheduler afterwards.
    assert_eq!(corun::run(async { 1 }), 1);
    assert!(corun::current().is_none());
}

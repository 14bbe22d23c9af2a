//! Waiting by id: unknown ids and self are answered at once, chains of
//! waiters, outcomes reported by `wait_exit`, many waiters on one task, and
//! waiters that give up.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{run_watched, yield_n};
use corun::sync::Event;
use corun::{Exit, TaskId};

#[test]
fn wait_on_an_unknown_id_is_false_at_once() {
    run_watched("wait on unknown id", || async {
        assert!(!corun::wait(TaskId::from_u64(u64::MAX)).await);
        assert!(!corun::wait(TaskId::from_u64(0)).await);
        assert_eq!(
            corun::wait_exit(TaskId::from_u64(u64::MAX - 1)).await,
            Exit::NotFound
        );
    });
}

#[test]
fn wait_on_self_is_false_at_once() {
    run_watched("wait on self", || async {
        let me = corun::current().unwrap();
        assert!(!corun::wait(me).await);
        assert_eq!(corun::wait_exit(me).await, Exit::NotFound);
        // Also from a spawned task on its own id.
        let t = corun::spawn(async { corun::wait(corun::current().unwrap()).await });
        assert!(!t.await.unwrap());
    });
}

#[test]
fn wait_on_a_finished_id_is_false() {
    run_watched("wait on finished id", || async {
        let t = corun::spawn(async {});
        let id = t.id();
        t.await.unwrap();
        assert!(!corun::wait(id).await);
    });
}

#[test]
fn wait_by_id_on_a_task_that_is_itself_waiting() {
    run_watched("chain of id waiters", || async {
        let gate = Arc::new(Event::new());
        let g = gate.clone();
        let c = corun::spawn(async move { g.wait().await });
        let c_id = c.id();
        let b = corun::spawn(async move { corun::wait_exit(c_id).await });
        let b_id = b.id();
        let a = corun::spawn(async move { corun::wait_exit(b_id).await });
        let a_id = a.id();
        yield_n(3).await;
        let states: Vec<_> = corun::tasks()
            .into_iter()
            .filter(|i| i.id == a_id || i.id == b_id)
            .map(|i| i.state)
            .collect();
        assert_eq!(
            states,
            vec![
                corun::TaskState::Joining(c_id),
                corun::TaskState::Joining(b_id)
            ]
        );
        gate.set();
        assert!(corun::wait(a_id).await);
        assert_eq!(b.await.unwrap(), Exit::Completed);
        assert_eq!(a.await.unwrap(), Exit::Completed);
        c.await.unwrap();
    });
}

#[test]
fn wait_exit_reports_completed_panicked_and_killed() {
    run_watched("wait_exit outcomes", || async {
        let ok = corun::spawn(async { corun::yield_now().await });
        let bad = corun::spawn(async {
            corun::yield_now().await;
            panic!("expected test panic");
        });
        let doomed = corun::spawn(corun::sleep(Duration::from_secs(3600)));
        let (ok_id, bad_id, doomed_id) = (ok.id(), bad.id(), doomed.id());
        let killer = corun::spawn(async move {
            corun::yield_now().await;
            corun::kill(doomed_id)
        });
        // All three waits are registered before any target ends.
        let w_ok = corun::spawn(corun::wait_exit(ok_id));
        let w_bad = corun::spawn(corun::wait_exit(bad_id));
        let w_doomed = corun::spawn(corun::wait_exit(doomed_id));
        assert_eq!(w_ok.await.unwrap(), Exit::Completed);
        assert_eq!(w_bad.await.unwrap(), Exit::Panicked);
        assert_eq!(w_doomed.await.unwrap(), Exit::Killed);
        assert!(killer.await.unwrap());
        ok.await.unwrap();
        assert!(bad.await.unwrap_err().is_panic());
        assert!(doomed.await.unwrap_err().is_killed());
    });
}

#[test]
fn several_waiters_on_one_task_are_all_woken() {
    run_watched("many waiters, one target", || async {
        let gate = Arc::new(Event::new());
        let g = gate.clone();
        let target = corun::spawn(async move { g.wait().await });
        let id = target.id();
        let waiters: Vec<_> = (0..50)
            .map(|_| corun::spawn(corun::wait_exit(id)))
            .collect();
        let killed_target = corun::spawn(corun::sleep(Duration::from_secs(3600)));
        let kid = killed_target.id();
        let kwaiters: Vec<_> = (0..50)
            .map(|_| corun::spawn(corun::wait_exit(kid)))
            .collect();
        corun::yield_now().await;
        gate.set();
        assert!(corun::kill(kid));
        for w in waiters {
            assert_eq!(w.await.unwrap(), Exit::Completed);
        }
        for w in kwaiters {
            assert_eq!(w.await.unwrap(), Exit::Killed);
        }
        target.await.unwrap();
    });
}

#[test]
fn a_waiter_that_gives_up_does_not_disturb_the_others() {
    run_watched("waiter dropped early", || async {
        let gate = Arc::new(Event::new());
        let g = gate.clone();
        let target = corun::spawn(async move { g.wait().await });
        let id = target.id();
        let impatient = corun::timeout(Duration::from_millis(1), corun::wait_exit(id)).await;
        assert!(impatient.is_err(), "the target has not ended yet");
        let patient = corun::spawn(corun::wait_exit(id));
        // A waiter killed while waiting.
        let victim = corun::spawn(corun::wait_exit(id));
        corun::yield_now().await;
        assert!(victim.kill());
        gate.set();
        assert_eq!(patient.await.unwrap(), Exit::Completed);
        target.await.unwrap();
    });
}

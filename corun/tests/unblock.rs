//! Behaviour of `corun::unblock`, the blocking pool: results and panics
//! reach the awaiting task, the scheduler keeps running other tasks while
//! a job blocks, threads are reused and bounded.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn unblock_returns_the_closures_result() {
    corun::run(async {
        let v = corun::unblock(|| (1..=100u64).sum::<u64>()).await;
        assert_eq!(v, 5050);
    });
}

#[test]
fn a_blocked_job_does_not_stop_other_tasks() {
    corun::run(async {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        // The job blocks its pool thread until another *task* sends; were it
        // run on the scheduler thread, the sender could never run and the
        // bounded receive would time out.
        let job = corun::spawn(corun::unblock(move || {
            rx.recv_timeout(Duration::from_secs(20))
        }));
        let sender = corun::spawn(async move {
            corun::yield_now().await;
            tx.send(7).unwrap();
        });
        sender.await.unwrap();
        assert_eq!(job.await.unwrap(), Ok(7));
    });
}

#[test]
fn pool_reuses_threads_and_stays_bounded() {
    corun::run(async {
        let ids = Arc::new(Mutex::new(HashSet::new()));
        let jobs: Vec<_> = (0..1000)
            .map(|_| {
                let ids = ids.clone();
                corun::spawn(corun::unblock(move || {
                    ids.lock().unwrap().insert(std::thread::current().id());
                    assert!(corun::blocking_threads() <= corun::max_blocking_threads());
                }))
            })
            .collect();
        for r in corun::join_all(jobs).await {
            r.unwrap();
        }
        let distinct = ids.lock().unwrap().len();
        assert!(distinct >= 1);
        assert!(
            distinct <= corun::max_blocking_threads(),
            "{distinct} threads for 1000 jobs, bound {}",
            corun::max_blocking_threads()
        );
        assert!(corun::blocking_threads() <= corun::max_blocking_threads());
    });
}

#[test]
fn unblock_panic_reaches_the_task_not_the_pool() {
    corun::run(async {
        let t = corun::spawn(corun::unblock(|| -> u32 {
            panic!("boom in a blocking job")
        }));
        assert!(t.await.is_err());
        assert_eq!(corun::unblock(|| 7).await, 7);
    });
}

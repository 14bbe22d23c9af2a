//! Killing tasks: the future is dropped at its await point on the scheduler
//! thread, waiters are woken at once with `Killed`, timers and fd interests
//! go, unknown and finished ids are refused, self-kill, cross-thread kill
//! and kill of a task that sits in the ready queue.
//!
//! Tests only; must not reach into corun internals. The fd-interest check
//! reads the kernel's view of every epoll instance of this process
//! (`/proc/self/fdinfo`), matching the socket by inode.

mod common;

use std::cell::Cell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Drops, run_watched, watchdog, yield_n};
use corun::{Exit, Scheduler, TaskId};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn kill_drops_the_future_at_its_await_point_and_runs_destructors_at_once() {
    corun::run(async {
        let drops = Drops::new();
        let after_await = Rc::new(Cell::new(false));
        let guard = drops.guard();
        let flag = after_await.clone();
        let t = corun::spawn(async move {
            let _g = guard;
            corun::sleep(HOUR).await;
            flag.set(true);
        });
        corun::yield_now().await; // it is now parked in sleep
        assert_eq!(drops.dropped(), 0);
        assert!(t.kill());
        assert_eq!(drops.dropped(), 1, "destructors run by kill itself");
        assert_eq!(drops.threads(), vec![std::thread::current().id()]);
        assert!(t.await.unwrap_err().is_killed());
        assert!(!after_await.get(), "code after the await point never runs");
    });
}

#[test]
fn kill_from_another_thread_runs_destructors_on_the_scheduler_thread() {
    let sched = Scheduler::start().unwrap();
    let sched_thread = sched
        .block_on(async { std::thread::current().id() })
        .unwrap();
    let drops = Drops::new();
    let after_await = Arc::new(AtomicBool::new(false));
    let guard = drops.guard();
    let flag = after_await.clone();
    let t = sched
        .spawn(async move {
            let _g = guard;
            corun::sleep(HOUR).await;
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap();
    // Let it reach its await (block_on's task runs after it).
    sched.block_on(async {}).unwrap();
    let id = t.id();
    assert!(sched.kill(id).unwrap());
    assert_eq!(drops.threads(), vec![sched_thread]);
    assert!(!sched.kill(id).unwrap(), "second kill of the same id");
    let res = watchdog("handle of a remotely killed task", move || {
        common::block_on(t)
    });
    assert!(res.unwrap_err().is_killed());
    assert!(!after_await.load(Ordering::SeqCst));
    sched.shutdown().unwrap();
}

#[test]
fn task_kill_from_another_thread_through_the_handle() {
    let sched = Scheduler::start().unwrap();
    let drops = Drops::new();
    let guard = drops.guard();
    let t = sched
        .spawn(async move {
            let _g = guard;
            corun::sleep(HOUR).await;
        })
        .unwrap();
    assert!(t.kill());
    let res = watchdog("handle kill from a std thread", move || common::block_on(t));
    assert!(res.unwrap_err().is_killed());
    assert_eq!(drops.dropped(), 1);
    sched.shutdown().unwrap();
}

#[test]
fn kill_wakes_handle_and_id_waiters_at_once_with_killed() {
    run_watched("waiters of a killed 3600 s sleeper", || async {
        let sleeper = corun::spawn(corun::sleep(HOUR));
        let id = sleeper.id();
        let by_exit = corun::spawn(corun::wait_exit(id));
        let by_wait = corun::spawn(corun::wait(id));
        let by_handle = corun::spawn(sleeper); // a task awaiting the handle
        yield_n(3).await; // everyone is waiting now
        assert!(corun::kill(id));
        assert_eq!(by_exit.await.unwrap(), Exit::Killed);
        assert!(
            by_wait.await.unwrap(),
            "wait(id) is true: the task existed and ended"
        );
        assert!(by_handle.await.unwrap().unwrap_err().is_killed());
    });
}

#[test]
fn kill_removes_the_victims_timers() {
    corun::run(async {
        let before = corun::stats().timers;
        let t = corun::spawn(async {
            // A timer held across an await inside a nested future too.
            let _ = corun::timeout(HOUR, corun::sleep(HOUR * 2)).await;
        });
        corun::yield_now().await;
        assert_eq!(corun::stats().timers, before + 2);
        assert!(t.kill());
        assert_eq!(corun::stats().timers, before);
    });
}

/// Every epoll instance of this process that watches the file with inode
/// `ino` (a socket), per the kernel.
fn epolls_watching(ino: u64) -> usize {
    let mut n = 0;
    let needle = format!("ino:{ino:x} ");
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if link.to_string_lossy() != "anon_inode:[eventpoll]" {
            continue;
        }
        let info = std::path::Path::new("/proc/self/fdinfo").join(entry.file_name());
        let Ok(text) = std::fs::read_to_string(info) else {
            continue; // closed meanwhile by another test's scheduler
        };
        n += text
            .lines()
            .filter(|l| l.starts_with("tfd:") && l.contains(&needle))
            .count();
    }
    n
}

#[test]
fn kill_removes_the_victims_fd_interest() {
    corun::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", a.as_raw_fd()))
            .unwrap()
            .ino();
        let a = Rc::new(a);
        let reader = {
            let a = a.clone();
            corun::spawn(async move { corun::io::readable(&*a).await.map(|r| r.is_readable()) })
        };
        corun::yield_now().await;
        assert!(matches!(
            corun::tasks()
                .iter()
                .find(|i| i.id == reader.id())
                .unwrap()
                .state,
            corun::TaskState::Io { .. }
        ));
        assert_eq!(
            epolls_watching(ino),
            1,
            "the waiting reader registered the fd"
        );
        assert!(reader.kill());
        assert_eq!(
            epolls_watching(ino),
            0,
            "kill left the fd registered in epoll"
        );
        // And the fd works for a new waiter.
        (&b).write_all(b"x").unwrap();
        let r = corun::io::readable(&*a).await.unwrap();
        assert!(r.is_readable());
        assert!(reader.await.unwrap_err().is_killed());
    });
}

#[test]
fn killing_an_unknown_or_finished_id_returns_false_and_changes_nothing() {
    corun::run(async {
        let done = corun::spawn(async { 5 });
        corun::yield_now().await;
        assert!(done.is_finished());
        let sleeper = corun::spawn(corun::sleep(Duration::from_millis(1)));
        corun::yield_now().await;
        let before = corun::stats();
        assert!(!corun::kill(TaskId::from_u64(u64::MAX)));
        assert!(!corun::kill(TaskId::from_u64(0)));
        assert!(!corun::kill(done.id()));
        assert!(!done.kill());
        let after = corun::stats();
        assert_eq!(after.killed, before.killed);
        assert_eq!(after.tasks, before.tasks);
        assert_eq!(after.timers, before.timers);
        assert_eq!(
            done.await.unwrap(),
            5,
            "the finished task's output is intact"
        );
        sleeper.await.unwrap();
    });
    let sched = Scheduler::start().unwrap();
    assert!(!sched.kill(TaskId::from_u64(u64::MAX)).unwrap());
    let t = sched.spawn(async { 1 }).unwrap();
    let id = t.id();
    assert_eq!(sched.block_on(t).unwrap().unwrap(), 1);
    assert!(!sched.kill(id).unwrap());
    assert_eq!(sched.stats().unwrap().killed, 0);
    sched.shutdown().unwrap();
}

#[test]
fn a_task_that_kills_itself_ends_at_its_next_await() {
    run_watched("self-kill", || async {
        let drops = Drops::new();
        let before_await = Rc::new(Cell::new(false));
        let after_await = Rc::new(Cell::new(false));
        let (b, a) = (before_await.clone(), after_await.clone());
        let guard = drops.guard();
        let t = corun::spawn(async move {
            let _g = guard;
            assert!(corun::kill(corun::current().unwrap()));
            b.set(true); // still running until the next await
            corun::yield_now().await;
            a.set(true);
        });
        let res = t.await;
        assert!(res.unwrap_err().is_killed());
        assert!(before_await.get());
        assert!(!after_await.get(), "code after the next await ran");
        assert_eq!(drops.dropped(), 1);
    });
}

#[test]
fn a_task_that_kills_itself_and_returns_reports_killed() {
    corun::run(async {
        let t = corun::spawn(async {
            corun::kill(corun::current().unwrap());
            5
        });
        assert!(t.await.unwrap_err().is_killed());
    });
}

#[test]
fn kill_of_a_task_in_the_ready_queue_never_polls_it_again() {
    corun::run(async {
        // Never polled at all.
        let drops = Drops::new();
        let polled = Rc::new(Cell::new(0));
        let (g, p) = (drops.guard(), polled.clone());
        let fresh = corun::spawn(async move {
            let _g = g;
            p.set(p.get() + 1);
        });
        assert!(fresh.kill());
        assert_eq!(drops.dropped(), 1);

        // Polled once, then woken: back in the ready queue.
        let (g, p) = (drops.guard(), polled.clone());
        let woken = corun::spawn(async move {
            let _g = g;
            corun::yield_now().await;
            p.set(p.get() + 100);
        });
        corun::yield_now().await; // `woken` yielded and is queued again
        let state = corun::tasks()
            .into_iter()
            .find(|i| i.id == woken.id())
            .unwrap()
            .state;
        assert_eq!(state, corun::TaskState::Ready);
        assert!(woken.kill());
        assert_eq!(drops.dropped(), 2);
        yield_n(3).await;
        assert_eq!(polled.get(), 0, "a killed task was polled");
        assert!(fresh.await.unwrap_err().is_killed());
        assert!(woken.await.unwrap_err().is_killed());
    });
}

/// Tasks left few on a registry page that is no longer the current one
/// move to the overflow; every one stays listed and reachable by id.
#[test]
fn tasks_left_on_old_registry_pages_stay_listed_and_killable_by_id() {
    corun::run(async {
        let mut kept = Vec::new();
        let mut done = Vec::new();
        // Three pages' worth of ids; every hundredth task stays pending, so
        // each old page keeps few enough to be compacted.
        for i in 0..3000 {
            if i % 100 == 0 {
                kept.push(corun::spawn(std::future::pending::<()>()));
            } else {
                done.push(corun::spawn(async {}));
            }
        }
        for t in done {
            t.await.unwrap();
        }
        // Two more pages, so the kept tasks' pages are all old ones.
        for _ in 0..2048 {
            corun::spawn(async {}).await.unwrap();
        }
        let infos = corun::tasks();
        for t in &kept {
            assert!(infos.iter().any(|i| i.id == t.id()), "{} listed", t.id());
        }
        let ids: Vec<_> = kept.iter().map(|t| t.id()).collect();
        for id in ids {
            assert!(corun::kill(id), "{id} found by id");
        }
        for t in kept {
            assert!(t.await.unwrap_err().is_killed());
        }
    });
}

/// Tasks not polled yet are found by id, listed and counted like any
/// other (they enter the registry late, `scheduler::core::late`), across
/// several registry pages; one that kills itself by id in its first poll
/// ends killed.
#[test]
fn tasks_not_yet_polled_are_found_listed_and_counted() {
    corun::run(async {
        let polled = Rc::new(Cell::new(0u32));
        let tasks: Vec<_> = (0..3000)
            .map(|_| {
                let p = polled.clone();
                corun::spawn(async move {
                    p.set(p.get() + 1);
                    1u64
                })
            })
            .collect();
        let suicide = corun::spawn(async {
            let me = corun::current().expect("a task runs");
            assert!(corun::kill(me), "its own id is found in its first poll");
            std::future::pending::<()>().await;
        });
        assert_eq!(corun::stats().tasks, 3002, "the caller and every new task");
        let infos = corun::tasks();
        for t in tasks.iter().step_by(97) {
            assert!(infos.iter().any(|i| i.id == t.id()), "{} listed", t.id());
        }
        let mut killed = 0;
        for t in tasks.iter().step_by(7) {
            assert!(corun::kill(t.id()), "{} found by id", t.id());
            killed += 1;
        }
        let mut sum = 0;
        let mut errors = 0;
        for t in tasks {
            match t.await {
                Ok(v) => sum += v,
                Err(e) => {
                    assert!(e.is_killed());
                    errors += 1;
                }
            }
        }
        assert_eq!((errors, sum), (killed, 3000 - killed as u64));
        assert_eq!(polled.get() as u64, sum, "a killed task was polled");
        assert!(suicide.await.unwrap_err().is_killed());
        assert_eq!(corun::stats().tasks, 1, "only the caller is left");
    });
}

/// A kill sent from another thread while the task runs its first poll
/// (before it is in the registry) ends it killed when that poll returns
/// `Pending`.
#[test]
fn a_kill_sent_during_the_first_poll_ends_the_task() {
    corun::run(async {
        let in_poll = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicBool::new(false));
        let (p, s) = (in_poll.clone(), sent.clone());
        let victim = corun::spawn(async move {
            p.store(true, Ordering::Release);
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !s.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
                std::hint::spin_loop();
            }
            std::future::pending::<()>().await;
        });
        let (p, s) = (in_poll.clone(), sent.clone());
        let killer = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !p.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
                std::hint::spin_loop();
            }
            let killed = victim.kill();
            s.store(true, Ordering::Release);
            (killed, victim)
        });
        // The victim's first poll runs now, and waits for the kill.
        corun::yield_now().await;
        assert!(
            sent.load(Ordering::Acquire),
            "the kill was sent during the poll"
        );
        let (killed, victim) = killer.join().unwrap();
        assert!(killed, "the handle's kill found a live task");
        assert!(victim.await.unwrap_err().is_killed());
    });
}

//! Virtual time: the clock stands still while tasks run and jumps to the
//! next timer when nothing else can happen, so hour-long sleeps, timeouts
//! and intervals finish at once, in deadline order, and `time::now()`
//! reports the jumps. Real I/O with no timer pending still blocks for
//! real. The checks read corun's clock, not the wall.
//!
//! Tests only; must not reach into corun internals.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use corun::Builder;

const HOUR: Duration = Duration::from_secs(3600);

fn virtual_run<F: std::future::Future + 'static>(f: F) -> F::Output
where
    F::Output: 'static,
{
    Builder::new().virtual_time(true).run(f)
}

#[test]
fn an_hour_long_timeout_elapses_with_the_clock_an_hour_on() {
    let (out, advanced) = virtual_run(async {
        let t0 = corun::time::now();
        let out = corun::timeout(HOUR, std::future::pending::<()>()).await;
        (out, corun::time::now() - t0)
    });
    assert!(out.is_err(), "the never-ready future timed out");
    assert!(advanced >= HOUR, "the clock moved {advanced:?}");
    assert!(
        advanced < HOUR + Duration::from_millis(1),
        "it jumped to the deadline, not past it"
    );
}

#[test]
fn sleeps_end_in_deadline_order_and_the_clock_stands_still_while_tasks_run() {
    let log = virtual_run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let t0 = corun::time::now();
        let tasks: Vec<_> = [5u64, 1, 3, 2, 4]
            .into_iter()
            .map(|h| {
                let log = log.clone();
                corun::spawn(async move {
                    corun::sleep(HOUR * h as u32).await;
                    log.borrow_mut()
                        .push((h, (corun::time::now() - t0).as_secs() / 3600));
                })
            })
            .collect();
        // CPU work does not move a virtual clock.
        let before = corun::time::now();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert_eq!(corun::time::now(), before);
        corun::join_all(tasks).await;
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(log, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
}

#[test]
fn an_interval_of_an_hour_ticks_a_day_at_once() {
    let hours = virtual_run(async {
        let t0 = corun::time::now();
        let mut every = corun::interval(HOUR);
        for _ in 0..25 {
            every.tick().await; // the first tick is immediate
        }
        (corun::time::now() - t0).as_secs() / 3600
    });
    assert_eq!(hours, 24);
}

#[test]
fn real_io_with_no_timer_pending_still_waits_for_the_peer() {
    let got = virtual_run(async {
        let (a, b) = corun::net::UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b
        });
        let mut buf = [0u8; 5];
        let reader = corun::spawn(async move {
            a.read_exact(&mut buf).await.unwrap();
            buf
        });
        let b = corun::unblock(move || writer.join().unwrap()).await;
        b.write_all(b"hello").await.unwrap();
        reader.await.unwrap()
    });
    assert_eq!(&got, b"hello");
}

#[test]
fn outside_a_scheduler_now_is_the_monotonic_clock() {
    let before = std::time::Instant::now();
    let now = corun::time::now();
    assert!(now >= before && now <= std::time::Instant::now());
}

#[test]
fn work_on_the_blocking_pool_holds_the_clock_while_it_runs() {
    let log = virtual_run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let timer = corun::spawn(async move {
            corun::sleep(HOUR).await;
            l.borrow_mut().push("timer");
        });
        let t0 = corun::time::now();
        let v = corun::unblock(|| {
            std::thread::sleep(Duration::from_millis(30));
            7
        })
        .await;
        assert_eq!(v, 7);
        assert!(
            corun::time::now() - t0 < HOUR,
            "the clock jumped during the job"
        );
        log.borrow_mut().push("job");
        timer.await.unwrap();
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(log, ["job", "timer"]);
}

#[test]
fn a_running_child_process_holds_the_clock_until_its_exit_is_collected() {
    let (log, status_ok) = virtual_run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let timer = corun::spawn(async move {
            corun::sleep(HOUR).await;
            l.borrow_mut().push("timer");
        });
        let status = corun::process::Command::new("sleep")
            .arg("0.05")
            .status()
            .await
            .unwrap();
        log.borrow_mut().push("child");
        timer.await.unwrap();
        (Rc::try_unwrap(log).unwrap().into_inner(), status.success())
    });
    assert!(status_ok);
    assert_eq!(log, ["child", "timer"]);
}

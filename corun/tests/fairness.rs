//! Fairness with explicit yields: while a task keeps yielding, I/O that
//! became ready is seen on time (by run time, not only by poll count), the
//! task it wakes runs before the yielder's next poll, and a poll that runs
//! too long is reported with the task's id, name and spawn site.

mod common;

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::watchdog;

/// The tests here measure what happens within a coarse-clock tick; run one
/// at a time, so the ticker thread always finds a free CPU on 2 cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps the CPU busy for `d` without returning (a slice of real work).
fn busy(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A reader task waiting, already polled, for `expect` on a socket pair:
/// returns the sending end, the flag the reader sets once it has read, and
/// the reader.
async fn pending_reader(
    expect: &'static [u8],
) -> (
    std::os::unix::net::UnixStream,
    Rc<Cell<bool>>,
    corun::Task<()>,
) {
    let (tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let rx = corun::net::UnixStream::from_std(rx).unwrap();
    let got = Rc::new(Cell::new(false));
    let g = got.clone();
    let reader = corun::spawn(async move {
        let mut buf = [0u8; 8];
        let n = rx.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], expect);
        g.set(true);
    });
    // Let the reader reach its pending read.
    corun::yield_now().await;
    assert!(!got.get());
    (tx, got, reader)
}

/// A task that yields after every 100 µs of work makes a socket's data
/// readable; the reader must run within a few of its polls. Counting polls
/// alone, the scheduler would look at the poller only after hundreds of
/// them (its poll budget); on time, within a coarse-clock tick or two.
#[test]
fn io_ready_is_seen_within_a_few_polls_while_a_task_keeps_yielding() {
    let _serial = serial();
    let polls_before_reader = watchdog("yielder and reader", || {
        corun::run(async {
            let (mut tx, got, reader) = pending_reader(b"ping").await;
            tx.write_all(b"ping").unwrap();
            let mut polls = 0u32;
            while !got.get() && polls < 5_000 {
                busy(Duration::from_micros(100));
                corun::yield_now().await;
                polls += 1;
            }
            reader.await.unwrap();
            polls
        })
    });
    // The poller is seen within 2 ms of run time (the first long batch
    // after a quiet spell; 250 µs after it): about 20 polls of 100 µs,
    // with a wide margin for a ticker thread the OS runs late (a loaded
    // host delayed it past 64 polls once); by count alone the reader would
    // wait for the whole budget, 256 polls.
    assert!(
        polls_before_reader <= 128,
        "the reader waited {polls_before_reader} polls of the yielder"
    );
}

/// Several yielding tasks are ready when I/O wakes a reader: the reader
/// runs before all of them get another poll (it goes to the front of the
/// ready queue, they stay behind in their order).
#[test]
fn a_task_woken_by_io_runs_before_tasks_that_yielded() {
    let _serial = serial();
    let (late, polls_seen) = watchdog("yielders and reader", || {
        corun::run(async {
            const YIELDERS: u32 = 8;
            let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
            let rx = corun::net::UnixStream::from_std(rx).unwrap();
            let got = Rc::new(Cell::new(false));
            // Polls made by yielders after the reader's data was written.
            let after = Rc::new(Cell::new(0u32));
            let written = Rc::new(Cell::new(false));
            let g = got.clone();
            let reader = corun::spawn(async move {
                let mut buf = [0u8; 8];
                rx.read(&mut buf).await.unwrap();
                g.set(true);
            });
            corun::yield_now().await;
            let yielders: Vec<_> = (0..YIELDERS)
                .map(|_| {
                    let (got, after, written) = (got.clone(), after.clone(), written.clone());
                    corun::spawn(async move {
                        let mut polls = 0u32;
                        while !got.get() && polls < 5_000 {
                            busy(Duration::from_millis(1));
                            if written.get() {
                                after.set(after.get() + 1);
                            }
                            corun::yield_now().await;
                            polls += 1;
                        }
                    })
                })
                .collect();
            corun::yield_now().await;
            tx.write_all(b"x").unwrap();
            written.set(true);
            reader.await.unwrap();
            let late = after.get();
            corun::join_all(yielders).await;
            (late, got.get())
        })
    });
    assert!(polls_seen);
    // The poller is seen within 2 ms of run time for the first long batch
    // after a quiet spell, then every 250 µs (docs/design/cadence.md): two
    // 1 ms polls, the one in progress, and margin for a late ticker. The
    // reader then goes first; without promotion it would wait a whole
    // round of all 8 yielders on top; polling by count, hundreds.
    assert!(late <= 5, "yielders ran {late} polls before the reader");
}

/// A task alone on its scheduler whose poll runs longer than a tick gap
/// (here 300 µs of work, then a write, then a yield): the scheduler times
/// the batch itself at the yield (docs/design/cadence.md, "Lone
/// yielders") and looks at the poller before polling it again, however
/// slowly the ticker ticks at that moment (up to 2 ms after a quiet
/// spell, when by the ticker alone the yielder would get about six more
/// polls first). The reader the write woke runs before the yielder's next
/// poll.
#[test]
fn a_lone_yielder_with_long_polls_lets_the_poller_in_after_each_poll() {
    let _serial = serial();
    let late = watchdog("long yielder and reader", || {
        corun::run(async {
            let (mut tx, got, reader) = pending_reader(b"x").await;
            let mut late = 0u32;
            for round in 0..50 {
                busy(Duration::from_micros(300));
                if round == 0 {
                    tx.write_all(b"x").unwrap();
                }
                corun::yield_now().await;
                if got.get() {
                    break;
                }
                late += 1;
            }
            reader.await.unwrap();
            late
        })
    });
    assert_eq!(
        late, 0,
        "the yielder got {late} more polls before the reader"
    );
}

/// A `Write` into a shared buffer, for a `tracing` subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A poll of 30 ms trips a 5 ms threshold once: counted in `Stats`, kept as
/// the task's longest poll, with its spawn site, and logged as a warning
/// naming the task.
#[test]
fn a_slow_poll_is_counted_shown_and_logged_with_its_spawn_site() {
    let _serial = serial();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    // The only test of this binary that installs a subscriber.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let (line, stats_slow, info) = watchdog("slow poll", || {
        corun::Builder::new()
            .slow_poll(Duration::from_millis(5))
            .run(async {
                let line = line!() + 1;
                let slow = corun::spawn_named("number-cruncher", async {
                    busy(Duration::from_millis(30));
                    corun::sleep(Duration::from_secs(3600)).await;
                });
                corun::yield_now().await;
                let info = corun::tasks()
                    .into_iter()
                    .find(|i| i.id == slow.id())
                    .expect("the slow task is alive");
                slow.kill();
                (line, corun::stats().slow_polls, info)
            })
    });
    assert_eq!(stats_slow, 1);
    assert!(
        info.longest_poll >= Duration::from_millis(20),
        "{:?}",
        info.longest_poll
    );
    let site = info.spawned_at.expect("spawn site known");
    assert_eq!(site.file(), file!());
    assert_eq!(site.line(), line);
    let shown = info.to_string();
    assert!(shown.contains("longest poll"), "{shown}");
    assert!(shown.contains(file!()), "{shown}");
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let warning = text
        .lines()
        .find(|l| l.contains("slow poll") && l.contains("number-cruncher"))
        .unwrap_or_else(|| panic!("no slow-poll warning in:\n{text}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&format!("{}:{line}", file!())),
        "{warning}"
    );
}

/// Short polls never count as slow, and `Duration::MAX` turns the detector
/// off even for a long one.
#[test]
fn short_polls_are_not_slow_and_the_detector_can_be_turned_off() {
    let _serial = serial();
    let (quick, off) = watchdog("quick and off", || {
        let quick = corun::run(async {
            for _ in 0..1_000 {
                corun::yield_now().await;
            }
            corun::stats().slow_polls
        });
        let off = corun::Builder::new().slow_poll(Duration::MAX).run(async {
            busy(Duration::from_millis(15));
            corun::yield_now().await;
            corun::stats().slow_polls
        });
        (quick, off)
    });
    assert_eq!(quick, 0);
    assert_eq!(off, 0);
}

/// Tasks spawned from another thread carry the site of that `spawn` call.
#[test]
fn a_remote_spawn_records_its_call_site() {
    let sched = corun::Scheduler::start().unwrap();
    let sleeper = corun::sleep(Duration::from_secs(3600));
    let line = line!() + 1;
    let t = sched.spawn(sleeper).unwrap();
    let infos = sched.tasks().unwrap();
    let info = infos.iter().find(|i| i.id == t.id()).expect("alive");
    let site = info.spawned_at.expect("site known");
    assert_eq!((site.file(), site.line()), (file!(), line));
    sched.shutdown().unwrap();
}

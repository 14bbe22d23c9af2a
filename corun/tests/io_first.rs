//! Work that I/O readiness causes runs before the backlog of ready tasks:
//! a task woken by readiness, and the tasks it spawns or wakes in the
//! batch that follows, run before tasks that were already ready and have
//! not run yet; its explicit yields still go behind all of them, and the
//! head start lasts one batch, so a chain of spawns cannot starve them.
//! Then the case that needs it: an accept storm on one scheduler, where
//! each handler runs as soon as its connection is accepted, so the
//! connections in flight stay within the listen queue's size and the
//! queue never fills; and the same when the clients are spawned from
//! another core.
//!
//! Every assertion counts (orders, queue lengths); none times anything.
//! Servers bind 127.0.0.1 port 0; every loop is bounded. Public API only.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;

use corun::net::{TcpListener, TcpStream};

mod common;
use common::{run, watchdog};

/// Tasks that are ready and have never run when the reader is woken: more
/// than the scheduler's largest batch, so it looks at the poller (and
/// wakes the reader) while most of them still wait.
const FILLERS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ran {
    Filler,
    Reader,
    Child,
    ReaderAgain,
    Chain,
}

type Log = Rc<RefCell<Vec<Ran>>>;

/// Spawns a reader that waits for a byte on a socket, makes the byte
/// ready, then spawns [`FILLERS`] tasks that each log `Filler`; `after`
/// is what the reader does once woken. Returns the log.
async fn reader_among_fillers<F, Fut>(after: F) -> Vec<Ran>
where
    F: FnOnce(Log) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let log: Log = Rc::default();
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let rx = corun::net::UnixStream::from_std(rx).unwrap();
    let l = log.clone();
    let reader = corun::spawn(async move {
        let mut buf = [0u8; 1];
        assert_eq!(rx.read(&mut buf).await.unwrap(), 1);
        l.borrow_mut().push(Ran::Reader);
        after(l).await;
    });
    // The reader reaches its pending read before the byte is written.
    corun::yield_now().await;
    assert!(log.borrow().is_empty());
    tx.write_all(b"x").unwrap();
    let fillers = spawn_fillers(&log);
    reader.await.unwrap();
    corun::join_all(fillers).await;
    log.take()
}

/// Spawns [`FILLERS`] tasks that each log `Filler`.
fn spawn_fillers(log: &Log) -> Vec<corun::Task<()>> {
    (0..FILLERS)
        .map(|_| {
            let l = log.clone();
            corun::spawn(async move { l.borrow_mut().push(Ran::Filler) })
        })
        .collect()
}

fn position(log: &[Ran], what: Ran) -> usize {
    log.iter()
        .position(|&r| r == what)
        .unwrap_or_else(|| panic!("{what:?} never ran"))
}

fn fillers_after(log: &[Ran], at: usize) -> usize {
    log[at..].iter().filter(|&&r| r == Ran::Filler).count()
}

#[test]
fn a_task_spawned_by_a_readiness_woken_task_runs_before_older_ready_tasks() {
    let log = run(|| {
        reader_among_fillers(|l| async move {
            let l2 = l.clone();
            corun::spawn(async move { l2.borrow_mut().push(Ran::Child) })
                .await
                .unwrap();
        })
    });
    let reader = position(&log, Ran::Reader);
    assert!(
        fillers_after(&log, reader) > 0,
        "the reader was woken only after every filler had run"
    );
    assert_eq!(
        position(&log, Ran::Child),
        reader + 1,
        "the reader's child waited behind fillers that were ready before it"
    );
}

/// A timer's task also runs before the ready backlog, but what it starts
/// does not: a tick fires sleepers in batches, and each one's wake of a
/// common joiner queues behind the others instead of polling the joiner
/// once per sleeper.
#[test]
fn a_task_spawned_by_a_timer_woken_task_queues_behind_older_ready_tasks() {
    let log = run(|| async {
        let log: Log = Rc::default();
        let l = log.clone();
        let sleeper = corun::spawn(async move {
            corun::sleep(std::time::Duration::from_millis(1)).await;
            l.borrow_mut().push(Ran::Reader);
            let l2 = l.clone();
            corun::spawn(async move { l2.borrow_mut().push(Ran::Child) })
                .await
                .unwrap();
        });
        // The sleeper arms its timer; then its deadline (and the tick it
        // is rounded up to) passes for sure while this thread blocks.
        corun::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(3));
        let fillers = spawn_fillers(&log);
        sleeper.await.unwrap();
        corun::join_all(fillers).await;
        log.take()
    });
    let woke = position(&log, Ran::Reader);
    assert!(
        fillers_after(&log, woke) > 0,
        "the sleeper ran only after every filler"
    );
    assert_eq!(
        fillers_after(&log, position(&log, Ran::Child)),
        0,
        "the timer-woken task's child ran before fillers that were ready before it"
    );
}

#[test]
fn a_readiness_woken_task_that_yields_goes_behind_every_older_ready_task() {
    let log = run(|| {
        reader_among_fillers(|l| async move {
            corun::yield_now().await;
            l.borrow_mut().push(Ran::ReaderAgain);
        })
    });
    assert!(fillers_after(&log, position(&log, Ran::Reader)) > 0);
    assert_eq!(
        fillers_after(&log, position(&log, Ran::ReaderAgain)),
        0,
        "a yield let the reader run again before fillers that were waiting"
    );
}

/// One link of a chain of tasks, each spawning the next and waiting for
/// it: the chain's first link ends when the whole chain has run.
fn link(l: Log, left: u32) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        l.borrow_mut().push(Ran::Chain);
        if left > 0 {
            corun::spawn(link(l, left - 1)).await.unwrap();
        }
    })
}

#[test]
fn a_chain_of_spawns_from_a_readiness_woken_task_does_not_starve_older_tasks() {
    const CHAIN: u32 = 3 * FILLERS as u32;
    let log = run(|| reader_among_fillers(|l| link(l, CHAIN)));
    assert!(fillers_after(&log, position(&log, Ran::Reader)) > 0);
    let last_filler = log.iter().rposition(|&r| r == Ran::Filler).unwrap();
    let last_link = log.iter().rposition(|&r| r == Ran::Chain).unwrap();
    assert!(
        last_filler < last_link,
        "the chain ran to its end before older ready tasks had all run"
    );
}

/// Tasks that readiness woke and that have not run yet are not overtaken
/// by tasks a later look at the poller wakes: they run first in first
/// out. Otherwise, while looks keep waking tasks faster than batches run
/// them (a busy keep-alive server), the oldest wait as long as the load
/// lasts. Here one look wakes more sleepers than a batch polls (virtual
/// time: every sleep ends at the same instant), the first of them makes a
/// socket readable, and its reader, woken by the next look, runs after
/// every sleeper.
#[test]
fn tasks_woken_by_an_earlier_look_run_before_those_a_later_look_wakes() {
    const SLEEPERS: usize = 6_000;
    let log = watchdog("woken first in, first out", || {
        corun::Builder::new().virtual_time(true).run(async {
            let log: Rc<RefCell<Vec<usize>>> = Rc::default();
            let (tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
            let rx = corun::net::UnixStream::from_std(rx).unwrap();
            let l = log.clone();
            let reader = corun::spawn(async move {
                let mut buf = [0u8; 1];
                assert_eq!(rx.read(&mut buf).await.unwrap(), 1);
                l.borrow_mut().push(SLEEPERS);
            });
            let tx = Rc::new(RefCell::new(Some(tx)));
            let sleepers: Vec<_> = (0..SLEEPERS)
                .map(|i| {
                    let (l, tx) = (log.clone(), tx.clone());
                    corun::spawn(async move {
                        corun::sleep(std::time::Duration::from_secs(1)).await;
                        if let Some(mut tx) = tx.borrow_mut().take() {
                            tx.write_all(b"x").unwrap();
                        }
                        l.borrow_mut().push(i);
                    })
                })
                .collect();
            corun::join_all(sleepers).await;
            reader.await.unwrap();
            log.take()
        })
    });
    assert_eq!(log.len(), SLEEPERS + 1);
    assert_eq!(
        log.last(),
        Some(&SLEEPERS),
        "the reader, woken by a later look, overtook {} sleepers woken before it",
        SLEEPERS - log.iter().position(|&i| i == SLEEPERS).unwrap()
    );
}

/// A task that yields runs behind the tasks ready at the time and those
/// the next look at the poller wakes, but ahead of what later looks wake.
/// Otherwise, while looks keep waking tasks faster than batches run them
/// (a busy keep-alive server), the yielder waits for as long as the load
/// lasts. Here a ring of tasks passes tokens through sockets, each pass a
/// readiness wake, with more tokens in flight than a batch polls, so the
/// tasks woken and not yet run never run out while the tokens circulate.
/// The task that yields among them must come back after about two rounds
/// of the ring (the tasks ahead of it, then one look's wakes), not when
/// the ring stops at its pass limit.
#[test]
fn a_task_that_yields_runs_before_what_later_looks_wake() {
    const RING: usize = 1_000;
    const TOKENS: usize = 600;
    const PASS_LIMIT: usize = 100_000;
    let (back_after, limit) = run(|| async {
        let passes = Rc::new(Cell::new(0usize));
        let (mut txs, rxs): (Vec<_>, Vec<_>) = (0..RING)
            .map(|i| {
                let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
                if i < TOKENS {
                    tx.write_all(b"t").unwrap();
                }
                let tx = corun::net::UnixStream::from_std(tx).unwrap();
                (tx, corun::net::UnixStream::from_std(rx).unwrap())
            })
            .unzip();
        // Task i reads from its own socket and passes to task i - 1, which
        // ran before it: each pass waits for a look at the poller, rather
        // than piling tokens up for the task about to run.
        txs.rotate_right(1);
        let ring: Vec<_> = rxs
            .into_iter()
            .zip(txs)
            .map(|(rx, tx)| {
                let passes = passes.clone();
                corun::spawn(async move {
                    let mut buf = [0u8; 1];
                    while rx.read(&mut buf).await.unwrap() == 1 && passes.get() < PASS_LIMIT {
                        passes.set(passes.get() + 1);
                        tx.write_all(b"t").await.unwrap();
                    }
                })
            })
            .collect();
        corun::yield_now().await;
        let back_after = passes.get();
        for task in &ring {
            task.kill();
        }
        corun::join_all(ring).await;
        (back_after, PASS_LIMIT)
    });
    assert!(
        back_after < 4 * RING,
        "the yielder came back after {back_after} passes (the ring stops at {limit})"
    );
}

// ---- an accept storm on one scheduler --------------------------------------

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// How many clients a storm at `backlog` runs: 3 000, or fewer if the
/// open-file limit (raised first) cannot hold both ends of each; more
/// than the backlog in any case.
fn storm_clients(backlog: u32) -> u32 {
    let limit = raise_nofile();
    // Both ends of every connection live in this process.
    let clients = 3_000.min((limit.saturating_sub(200) / 2) as u32);
    assert!(
        clients > backlog,
        "open-file limit {limit} too low for this test"
    );
    clients
}

/// The handler of one connection: reads the request, answers, closes.
async fn answer(s: TcpStream) {
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < REQUEST.len() {
        match s.read(&mut buf[got..]).await.unwrap() {
            0 => break,
            k => got += k,
        }
    }
    s.write_all(RESPONSE).await.unwrap();
}

/// One client: connects, sends the request, reads to the end; true if the
/// answer was [`RESPONSE`].
async fn fetch(addr: std::net::SocketAddr) -> bool {
    let s = TcpStream::connect(addr).await.unwrap();
    s.write_all(REQUEST).await.unwrap();
    let mut body = Vec::new();
    let mut buf = [0u8; 128];
    loop {
        match s.read(&mut buf).await.unwrap() {
            0 => break,
            k => body.extend_from_slice(&buf[..k]),
        }
    }
    body == RESPONSE
}

/// Raises the soft open-file limit to the hard one; returns the limit.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed by
    // a valid pointer; failure shows in the return value.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// Connections waiting in a listener's accept queue (`tcpi_unacked` of a
/// listening socket).
fn accept_queue_len(l: &TcpListener) -> u32 {
    // SAFETY: tcp_info is plain data; zeroed is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: a valid fd, and a buffer of `len` bytes that getsockopt fills.
    let r = unsafe {
        libc::getsockopt(
            l.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info.tcpi_unacked
}

/// The plain urlfetch program on one scheduler, at a backlog below the
/// number of clients: the accept loop spawned, then every client spawned
/// in a plain loop. Before each accept the loop reads how many
/// connections wait in the kernel's queue; the queue only grows while
/// clients run (one thread), so the largest reading is the queue's peak.
/// It stays below the backlog: the queue never filled, so no SYN was
/// dropped. And each handler gets its first poll before any client that
/// had not started when its connection was accepted, so the connections
/// in flight stay few however many clients wait to start.
#[test]
fn an_accept_storm_on_one_scheduler_never_fills_the_listen_queue() {
    const BACKLOG: u32 = 1024;
    let clients = storm_clients(BACKLOG);
    let (served, peak_queue, late) = run(move || async move {
        let l = TcpListener::bind_with_backlog("127.0.0.1:0", BACKLOG).unwrap();
        let addr = l.local_addr().unwrap();
        // Clients that have started; handlers polled first after a client
        // that started after their connection was accepted.
        let started = Rc::new(Cell::new(0u32));
        let late = Rc::new(Cell::new(0u32));
        let (st, lt) = (started.clone(), late.clone());
        let server = corun::spawn(async move {
            let mut peak_queue = 0;
            for _ in 0..clients {
                peak_queue = peak_queue.max(accept_queue_len(&l));
                let (s, _) = l.accept().await.unwrap();
                let at_accept = st.get();
                let (st, lt) = (st.clone(), lt.clone());
                corun::spawn(async move {
                    lt.set(lt.get() + u32::from(st.get() != at_accept));
                    answer(s).await;
                })
                .detach();
            }
            peak_queue
        });
        let fetches: Vec<_> = (0..clients)
            .map(|_| {
                let started = started.clone();
                corun::spawn(async move {
                    started.set(started.get() + 1);
                    fetch(addr).await
                })
            })
            .collect();
        let mut served = 0u32;
        for f in fetches {
            served += u32::from(f.await.unwrap());
        }
        let peak_queue = server.await.unwrap();
        (served, peak_queue, late.get())
    });
    assert_eq!(served, clients);
    assert!(
        peak_queue < BACKLOG,
        "the listen queue reached {peak_queue} of {BACKLOG}"
    );
    assert_eq!(
        late, 0,
        "handlers of accepted connections waited behind clients not yet started"
    );
}

/// The same storm from another core: the listener's core gets every
/// client at once as a remote spawn (`spawn_on`, from core 0, while a task
/// holds core 1 until all are sent). Tasks another core spawns queue last,
/// as local spawns do, so the accept loop, woken by the first clients'
/// connections, runs ahead of the clients not yet started and the listen
/// queue never fills.
#[test]
fn an_accept_storm_of_remote_spawns_never_fills_the_listen_queue() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    const BACKLOG: u32 = 1024;
    let clients = storm_clients(BACKLOG);
    let storm = move || {
        corun::Builder::new().cores(2).run(async move {
            let (tx, mut rx) = corun::sync::mpsc::channel(1);
            let server = corun::spawn_on(1, move || async move {
                let l = TcpListener::bind_with_backlog("127.0.0.1:0", BACKLOG).unwrap();
                tx.send(l.local_addr().unwrap()).await.unwrap();
                let mut peak_queue = 0;
                for _ in 0..clients {
                    peak_queue = peak_queue.max(accept_queue_len(&l));
                    let (s, _) = l.accept().await.unwrap();
                    corun::spawn(async move {
                        answer(s).await;
                    })
                    .detach();
                }
                peak_queue
            })
            .unwrap();
            let addr = rx.recv().await.unwrap();
            // Holds core 1 (no await) until every client has been sent, so its
            // next look at the outside world finds them all.
            let sent = Arc::new(AtomicBool::new(false));
            let s = sent.clone();
            let holder = corun::spawn_on(1, move || async move {
                let give_up = Instant::now() + Duration::from_secs(60);
                while !s.load(Ordering::Acquire) && Instant::now() < give_up {
                    std::hint::spin_loop();
                }
                s.load(Ordering::Acquire)
            })
            .unwrap();
            let ok = Arc::new(AtomicU32::new(0));
            let fetches: Vec<_> = (0..clients)
                .map(|_| {
                    let ok = ok.clone();
                    corun::spawn_on(1, move || async move {
                        ok.fetch_add(u32::from(fetch(addr).await), Ordering::Relaxed);
                    })
                    .unwrap()
                })
                .collect();
            sent.store(true, Ordering::Release);
            let held = holder.await.unwrap();
            corun::join_all(fetches).await;
            let peak_queue = server.await.unwrap();
            (ok.load(Ordering::Relaxed), peak_queue, held)
        })
    };
    let (served, peak_queue, held) = watchdog("a storm of remote spawns", storm);
    assert!(held, "core 1 was not held until the clients were sent");
    assert_eq!(served, clients);
    assert!(
        peak_queue < BACKLOG,
        "the listen queue reached {peak_queue} of {BACKLOG}"
    );
}

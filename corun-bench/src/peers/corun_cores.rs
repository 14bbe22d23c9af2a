//! corun's multi-core cells (`crate::cores::CoresWork`), each the program a
//! corun user writes from the crate docs' "Many cores": `Builder::cores(n)
//! .run(..)`, a fan-out spread over the cores with `corun::spawn_on`, and
//! servers as the docs lay them out. The process is pinned to `n` CPUs
//! first. httpd runs corun's example server (`crate::http_example`).
//!
//! Public corun API only; nothing here prints, and no tuning a user would
//! not find in the docs (a tuned variant is its own labelled row: the
//! tuned mix here, the tuned urlfetch in `corun_rt`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corun::net::{TcpListener, TcpStream};

use super::corun_rt::{fetch, fetches_failed, join_fetches, serve_once};
use crate::common::{self, Outcome, Work};
use crate::cores::{self, CoresWork, MSG};

/// The runner of `corun-bench-child-corun-cores`: multi-core cells only.
pub fn run_work(work: &Work) -> Result<Outcome, String> {
    match work {
        Work::Cores(w) => run(w),
        _ => Err("single-core cells run in corun-bench-child-corun".into()),
    }
}

/// Runs one multi-core cell on a fresh corun scheduler of its core count.
pub fn run(work: &CoresWork) -> Result<Outcome, String> {
    let n = work.cores();
    cores::pin_to_cpus(n)?;
    match *work {
        CoresWork::Mix {
            tasks,
            rounds,
            tuned,
            ..
        } => {
            cores::ensure_nofile(cores::mix_files(tasks))?;
            corun::Builder::new()
                .cores(n)
                .run(mix(tasks, rounds, tuned))
        }
        CoresWork::UrlFetch {
            n: fetches,
            tuned: true,
            ..
        } => super::corun_rt::urlfetch_tuned(fetches),
        CoresWork::UrlFetch { n: fetches, .. } => {
            corun::Builder::new().cores(n).run(urlfetch(fetches))
        }
        CoresWork::Httpd { secs, .. } => crate::http_example::run(secs, n),
    }
}

fn join_err(e: corun::JoinError) -> String {
    format!("join: {e:?}")
}

/// The `cores` mix. The echo server is the docs' thread-per-core server:
/// one `SO_REUSEPORT` listener per core on one port (core 0's binds first
/// to pick the port), a task per connection on the core that accepted it;
/// each listener asks for [`cores::mix_backlog`], as every runtime's does.
/// The client tasks go round-robin over the cores (`spawn_on(i % cores)`).
///
/// With one core per allowed CPU the cores are pinned by default and each
/// listener steers to its core's CPU (`steer_to_core`), so a client's
/// connection is accepted on the client's own core and no round trip
/// crosses cores.
///
/// `tuned`: each core's listener has a port of its own and each client
/// connects to its own core's: the same locality by hand, without relying
/// on the kernel's `SO_INCOMING_CPU` (without it the `SO_REUSEPORT` hash
/// ignores where the client runs, and about half the round trips cross).
async fn mix(tasks: u64, rounds: u32, tuned: bool) -> Result<Outcome, String> {
    let backlog = cores::mix_backlog(tasks);
    let n_cores = corun::cores();
    let accepted: Arc<Vec<AtomicU64>> = Arc::new((0..n_cores).map(|_| AtomicU64::new(0)).collect());
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let first = TcpListener::builder()
        .reuse_port(!tuned)
        .backlog(backlog)
        .bind(any)
        .map_err(|e| format!("listen: {e}"))?;
    let addr = first.local_addr().map_err(|e| e.to_string())?;
    // Where each core's clients connect.
    let mut addrs = vec![addr; n_cores];
    let (ready_tx, mut ready_rx) = corun::sync::mpsc::channel(n_cores);
    corun::spawn(echo_server(first, accepted.clone())).detach();
    for core in 1..n_cores {
        let (accepted, ready) = (accepted.clone(), ready_tx.clone());
        corun::spawn_on(core, move || async move {
            let at = if tuned { any } else { addr };
            match TcpListener::builder()
                .reuse_port(!tuned)
                .backlog(backlog)
                .bind(at)
            {
                Ok(l) => {
                    let bound = l.local_addr().map_err(|e| e.to_string());
                    let _ = ready.send(bound.map(|a| (core, a))).await;
                    echo_server(l, accepted).await;
                }
                Err(e) => {
                    let _ = ready.send(Err(format!("listen on core {core}: {e}"))).await;
                }
            }
        })
        .map_err(|e| format!("spawn_on: {e}"))?
        .detach();
    }
    drop(ready_tx);
    // Every listener is up before the first client connects.
    for _ in 1..n_cores {
        let (core, bound) = ready_rx
            .recv()
            .await
            .ok_or("a core stopped before binding")??;
        if tuned {
            addrs[core] = bound;
        }
    }
    let overflows0 = common::listen_overflows();
    let u0 = common::Usage::now();
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(tasks as usize);
    for i in 0..tasks {
        let core = (i % n_cores as u64) as usize;
        let addr = addrs[core];
        let t = corun::spawn_on(core, move || client(addr, i, rounds))
            .map_err(|e| format!("spawn_on: {e}"))?;
        clients.push(t);
    }
    let mut done = 0u64;
    let mut first_err = None;
    for c in clients {
        match c.await {
            Ok(Ok(k)) => done += k,
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(join_err(e));
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let want = tasks * u64::from(rounds);
    let mut o = cores::mix_outcome(want, done, first_err, secs, overflows0, u0)?;
    for (core, a) in accepted.iter().enumerate() {
        o = o.with(
            &format!("accepted_core{core}"),
            a.load(Ordering::Relaxed) as f64,
        );
    }
    for core in 0..n_cores {
        let s = corun::spawn_on(core, || async { corun::stats() })
            .map_err(|e| format!("spawn_on: {e}"))?
            .await
            .map_err(join_err)?;
        o = o
            .with(&format!("parks_core{core}"), s.parks as f64)
            .with(&format!("turns_core{core}"), s.turns as f64)
            .with(&format!("polls_core{core}"), s.polls as f64);
    }
    Ok(o)
}

/// One core's echo server: accepts until the scheduler stops, a task per
/// connection on this core.
async fn echo_server(l: TcpListener, accepted: Arc<Vec<AtomicU64>>) {
    let mut errors = 0u32;
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                accepted[corun::core()].fetch_add(1, Ordering::Relaxed);
                corun::spawn(echo(s)).detach();
            }
            // Out of files or the like: back off, bounded.
            Err(_) if errors < 10_000 => {
                errors += 1;
                corun::sleep(Duration::from_millis(1)).await;
            }
            Err(_) => return,
        }
    }
}

/// Echoes what it reads until end of stream: the plain echo loop.
async fn echo(s: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf).await? {
            0 => return Ok(()),
            k => s.write_all(&buf[..k]).await?,
        }
    }
}

/// One client task: connect, then `rounds` × (hash, send, read the echo).
async fn client(addr: SocketAddr, task: u64, rounds: u32) -> Result<u64, String> {
    let s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut back = [0u8; MSG];
    for round in 0..rounds {
        let msg = cores::request(task, round, cores::hash_round(task, round));
        s.write_all(&msg).await.map_err(|e| format!("write: {e}"))?;
        s.read_exact(&mut back)
            .await
            .map_err(|e| format!("read: {e}"))?;
        cores::check_echo(&msg, &back)?;
    }
    Ok(u64::from(rounds))
}

/// urlfetch on every core, the plain program: the default listener, every
/// client spawned first (round-robin over the cores), then the accept loop
/// (here, on core 0) with a task per connection.
async fn urlfetch(n: u64) -> Result<Outcome, String> {
    let n_cores = corun::cores();
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(n as usize);
    for i in 0..n {
        let core = (i % n_cores as u64) as usize;
        let t = corun::spawn_on(core, move || fetch(addr)).map_err(|e| format!("spawn_on: {e}"))?;
        clients.push(t);
    }
    let mut accepted = 0u64;
    let mut errors = 0u64;
    while accepted < n && errors < 10_000 {
        // Bounded: clients that cannot connect never arrive.
        let Ok(next) = corun::timeout(cores::ACCEPT_IDLE, l.accept()).await else {
            break;
        };
        match next {
            Ok((s, _)) => {
                accepted += 1;
                corun::spawn(serve_once(s)).detach();
            }
            Err(_) => {
                errors += 1;
                corun::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    let (ok, first_err) = join_fetches(clients).await?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(e) = first_err {
        return Err(fetches_failed(n, ok, &e));
    }
    common::check("connections accepted", accepted, n)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs)
        .with("listen_overflows", overflows as f64)
        .with("cores", n_cores as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two cores where the machine has them (else one).
    fn two_or_fewer() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
    }

    #[test]
    fn the_mix_completes_every_round_trip_and_each_core_accepts_its_own_clients() {
        let cores = two_or_fewer();
        // On a thread of its own: run pins the calling thread.
        let o = std::thread::spawn(move || {
            run(&CoresWork::Mix {
                tasks: 64,
                rounds: 3,
                cores,
                tuned: false,
            })
        })
        .join()
        .unwrap()
        .unwrap();
        let accepted: f64 = (0..cores)
            .map(|c| o.extra[&format!("accepted_core{c}")])
            .sum();
        assert_eq!(accepted, 64.0);
        for c in 0..cores {
            assert!(o.extra[&format!("polls_core{c}")] > 0.0, "{:?}", o.extra);
            // Pinned (one core per CPU the run allows) and steered: each
            // core's listener accepts exactly its own clients.
            assert_eq!(
                o.extra[&format!("accepted_core{c}")],
                (64 / cores) as f64,
                "{:?}",
                o.extra
            );
        }
    }

    #[test]
    fn the_tuned_mix_keeps_every_connection_on_its_clients_core() {
        let cores = two_or_fewer();
        let o = std::thread::spawn(move || {
            run(&CoresWork::Mix {
                tasks: 64,
                rounds: 2,
                cores,
                tuned: true,
            })
        })
        .join()
        .unwrap()
        .unwrap();
        // Clients go round-robin, so each core's listener gets its share.
        for c in 0..cores {
            assert_eq!(o.extra[&format!("accepted_core{c}")], (64 / cores) as f64);
        }
    }

    #[test]
    fn urlfetch_on_several_cores_accepts_every_fetch() {
        let cores = two_or_fewer();
        let work = CoresWork::UrlFetch {
            n: 50,
            cores,
            tuned: false,
        };
        let o = std::thread::spawn(move || run(&work))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(o.extra["cores"], cores as f64);
    }
}

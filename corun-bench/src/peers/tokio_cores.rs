//! tokio-mt's multi-core cells (`crate::cores::CoresWork`): a multi_thread
//! runtime with as many workers as the cell has cores, the process pinned
//! to that many CPUs, and each program as a tokio user writes it (default
//! listener, `tokio::spawn` for every task; the work-stealing pool spreads
//! them).
//!
//! Only tokio code; nothing here prints.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::tokio_rt::{fetch, httpd, serve_once};
use crate::common::{self, Outcome, Work};
use crate::cores::{self, CoresWork, MSG};

/// The runner of `corun-bench-child-tokio-cores`: multi-core cells only.
pub fn run_work(work: &Work, multi: bool) -> Result<Outcome, String> {
    match work {
        Work::Cores(w) => run(w, multi),
        _ => Err("single-core cells run in corun-bench-child-tokio".into()),
    }
}

/// Runs one multi-core cell on a fresh multi_thread runtime of `cores`
/// workers; `multi` false (tokio-ct) does not run them.
pub fn run(work: &CoresWork, multi: bool) -> Result<Outcome, String> {
    if !multi {
        return Err("multi-core cells run on tokio-mt only".into());
    }
    if let CoresWork::Mix { tuned: true, .. } | CoresWork::UrlFetch { tuned: true, .. } = work {
        return Err("the tuned rows are corun's layouts".into());
    }
    let workers = work.cores();
    cores::pin_to_cpus(workers)?;
    if let CoresWork::Mix { tasks, .. } = *work {
        cores::ensure_nofile(cores::mix_files(tasks))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    match *work {
        CoresWork::Mix { tasks, rounds, .. } => rt.block_on(mix(tasks, rounds)),
        CoresWork::UrlFetch { n, .. } => rt.block_on(urlfetch(n)),
        CoresWork::Httpd { secs, .. } => rt.block_on(httpd(secs)),
    }
    .map(|o| o.with("cores", workers as f64))
}

fn join_err(e: tokio::task::JoinError) -> String {
    format!("join: {e}")
}

/// The `cores` mix: one listener (asking for [`cores::mix_backlog`], as
/// every runtime's does), an accept loop task, a task per connection, and
/// every client a `tokio::spawn`.
async fn mix(tasks: u64, rounds: u32) -> Result<Outcome, String> {
    let l = mix_listener(tasks).map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        let mut errors = 0u32;
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(echo(s));
                }
                Err(_) if errors < 10_000 => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(_) => return,
            }
        }
    });
    let overflows0 = common::listen_overflows();
    let u0 = common::Usage::now();
    let t0 = Instant::now();
    let clients: Vec<_> = (0..tasks)
        .map(|i| tokio::spawn(client(addr, i, rounds)))
        .collect();
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
    server.abort();
    cores::mix_outcome(
        tasks * u64::from(rounds),
        done,
        first_err,
        secs,
        overflows0,
        u0,
    )
}

/// A listener on 127.0.0.1, any port, with the mix's backlog.
fn mix_listener(tasks: u64) -> io::Result<TcpListener> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind("127.0.0.1:0".parse().expect("literal address"))?;
    sock.listen(cores::mix_backlog(tasks))
}

/// Echoes what it reads until end of stream: the plain echo loop.
async fn echo(mut s: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf).await? {
            0 => return Ok(()),
            k => s.write_all(&buf[..k]).await?,
        }
    }
}

/// One client task: connect, then `rounds` × (hash, send, read the echo).
async fn client(addr: std::net::SocketAddr, task: u64, rounds: u32) -> Result<u64, String> {
    let mut s = TcpStream::connect(addr)
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

/// urlfetch, the plain program: the default listener, every client
/// spawned first, then the accept loop with a task per connection.
async fn urlfetch(n: u64) -> Result<Outcome, String> {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let clients: Vec<_> = (0..n).map(|_| tokio::spawn(fetch(addr))).collect();
    let mut accepted = 0u64;
    let mut errors = 0u64;
    while accepted < n && errors < 10_000 {
        // Bounded: clients that cannot connect never arrive.
        let Ok(next) = tokio::time::timeout(cores::ACCEPT_IDLE, l.accept()).await else {
            break;
        };
        match next {
            Ok((s, _)) => {
                accepted += 1;
                tokio::spawn(serve_once(s));
            }
            Err(_) => {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    let mut ok = 0u64;
    let mut first_err = None;
    for c in clients {
        match c.await.map_err(join_err)? {
            Ok(()) => ok += 1,
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if let Some(e) = first_err {
        return Err(format!("{} of {n} fetches failed, first: {e}", n - ok));
    }
    common::check("connections accepted", accepted, n)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs).with("listen_overflows", overflows as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_or_fewer() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
    }

    #[test]
    fn the_mix_completes_every_round_trip() {
        let cores = two_or_fewer();
        let work = CoresWork::Mix {
            tasks: 64,
            rounds: 3,
            cores,
            tuned: false,
        };
        let o = std::thread::spawn(move || run(&work, true))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(o.extra["cores"], cores as f64);
        assert!(o.secs > 0.0);
    }

    #[test]
    fn tokio_ct_does_not_run_multi_core_cells() {
        let work = CoresWork::UrlFetch {
            n: 1,
            cores: 1,
            tuned: false,
        };
        assert!(run(&work, false).unwrap_err().contains("tokio-mt"));
    }

    #[test]
    fn urlfetch_accepts_every_fetch() {
        let work = CoresWork::UrlFetch {
            n: 50,
            cores: two_or_fewer(),
            tuned: false,
        };
        let o = std::thread::spawn(move || run(&work, true))
            .join()
            .unwrap()
            .unwrap();
        assert!(o.extra.contains_key("listen_overflows"));
    }
}

//! The `tokio-ct` (current_thread) and `tokio-mt` (multi_thread, 2 workers)
//! peers: every workload written the way a tokio user would write it (the
//! multi-core cells, with their own worker counts, are `tokio_cores`'s, in a
//! child binary of their own).
//!
//! Only tokio code lives here; shared helpers come from `crate::common`.
//! This file must not measure memory itself beyond what `common` offers, nor
//! print anything (the child driver owns stdout).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{self, ConnsClient, HeadCounter, Outcome, Work, check};
use crate::flood::{self as flood_client, FloodClient};

/// Runs one workload on a fresh tokio runtime (`multi`: 2 worker threads).
pub fn run(work: &Work, multi: bool) -> Result<Outcome, String> {
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| format!("runtime: {e}"))?;
    let work = work.clone();
    rt.block_on(async move {
        match work {
            Work::Sleep { n, dur } => sleep(n, dur).await,
            Work::Spawn { n } => spawn(n).await,
            Work::Yield { n } => yields(n).await,
            Work::PingPong { n } => pingpong(n).await,
            Work::TimersCancel { n } => timers_cancel(n).await,
            Work::TimersFire { n } => timers_fire(n).await,
            Work::FileIo {
                tasks,
                writes,
                chunk,
                dir,
            } => fileio(tasks, writes, chunk, dir).await,
            Work::UrlFetch { n } => urlfetch(n).await,
            Work::Httpd { secs } => httpd(secs).await,
            Work::Conns { n } => conns(n).await,
            Work::Flood { bystanders, ms } => flood(bystanders, ms).await,
            Work::Cores(_) => Err("multi-core cells run in corun-bench-child-tokio-cores".into()),
        }
    })
}

fn join_err(e: tokio::task::JoinError) -> String {
    format!("join: {e}")
}

async fn sleep(n: u64, dur: Duration) -> Result<Outcome, String> {
    let counter = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = counter.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(dur).await;
            c.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        t.await.map_err(join_err)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    check("tasks finished", counter.load(Ordering::Relaxed), n)?;
    Ok(Outcome::secs(secs).with_usage(used))
}

async fn spawn(n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        tasks.push(tokio::spawn(async { 1u64 }));
    }
    let mut sum = 0;
    for t in tasks {
        sum += t.await.map_err(join_err)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    check("tasks joined", sum, n)?;
    Ok(Outcome::secs(secs).with_usage(used))
}

async fn yields(n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let done = tokio::spawn(async move {
        let mut i = 0;
        while i < n {
            tokio::task::yield_now().await;
            i += 1;
        }
        i
    })
    .await
    .map_err(join_err)?;
    let secs = t0.elapsed().as_secs_f64();
    check("yields", done, n)?;
    Ok(Outcome::secs(secs))
}

/// One timed ping-pong over the two channels given; evaluates to
/// `Result<f64 secs, String>`.
macro_rules! pingpong_over {
    ($ping_tx:ident, $ping_rx:ident, $pong_tx:ident, $pong_rx:ident, $n:expr, $recv:ident, $send:ident) => {{
        let n: u64 = $n;
        let t0 = Instant::now();
        let (mut ping_rx, mut pong_rx) = ($ping_rx, $pong_rx);
        let (ping_tx, pong_tx) = ($ping_tx, $pong_tx);
        let ponger = tokio::spawn(async move {
            let mut seen = 0u64;
            while let Some(v) = ping_rx.$recv().await {
                if pong_tx.$send(v + 1).await.is_err() {
                    break;
                }
                seen += 1;
            }
            seen
        });
        let pinger = tokio::spawn(async move {
            let mut ok = 0u64;
            for i in 0..n {
                if ping_tx.$send(i).await.is_err() {
                    break;
                }
                match pong_rx.$recv().await {
                    Some(v) if v == i + 1 => ok += 1,
                    _ => break,
                }
            }
            ok
        });
        async {
            let ok = pinger.await.map_err(join_err)?;
            let seen = ponger.await.map_err(join_err)?;
            let secs = t0.elapsed().as_secs_f64();
            check("round trips", ok, n)?;
            check("pongs", seen, n)?;
            Ok::<f64, String>(secs)
        }
        .await
    }};
}
/// Timed with tokio's own channel; the ecosystem's `async-channel` (the
/// same program as smol's cell) goes in a note.
async fn pingpong(n: u64) -> Result<Outcome, String> {
    let (ping_tx, ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let (pong_tx, pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let secs = pingpong_over!(ping_tx, ping_rx, pong_tx, pong_rx, n, recv, send);
    let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
    let ac_secs = pingpong_over!(ping_tx, ping_rx, pong_tx, pong_rx, n, recv_ok, send);
    Ok(Outcome::secs(secs?).with("ac_ns", ac_secs? * 1e9 / n as f64))
}

/// `recv` answering `Option`, as tokio's does, for `async-channel`.
trait RecvOk<T> {
    async fn recv_ok(&mut self) -> Option<T>;
}

impl<T> RecvOk<T> for async_channel::Receiver<T> {
    async fn recv_ok(&mut self) -> Option<T> {
        self.recv().await.ok()
    }
}

/// Polls `fut` once with a no-op waker; true when it is still pending.
fn poll_once<F: std::future::Future + ?Sized>(fut: Pin<&mut F>) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    fut.poll(&mut cx).is_pending()
}

async fn timers_cancel(n: u64) -> Result<Outcome, String> {
    let (secs, armed) = tokio::spawn(async move {
        let t0 = Instant::now();
        let mut sleeps: Vec<Pin<Box<tokio::time::Sleep>>> = Vec::with_capacity(n as usize);
        let mut armed = 0u64;
        for _ in 0..n {
            let mut s = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
            armed += poll_once(s.as_mut()) as u64;
            sleeps.push(s);
        }
        drop(sleeps);
        (t0.elapsed().as_secs_f64(), armed)
    })
    .await
    .map_err(join_err)?;
    check("timers armed", armed, n)?;
    Ok(Outcome::secs(secs))
}

async fn timers_fire(n: u64) -> Result<Outcome, String> {
    let (secs, fired) = tokio::spawn(async move {
        let t0 = Instant::now();
        let sleeps = (0..n).map(|i| async move {
            tokio::time::sleep(Duration::from_millis(1 + i % 10)).await;
            1u64
        });
        // Without `unconstrained`, tokio's coop budget lets each poll of the
        // join complete only 128 sleeps while it re-polls all the others:
        // quadratic at 1 000 000.
        let join = futures_util::future::join_all(sleeps);
        let fired: u64 = tokio::task::unconstrained(join).await.into_iter().sum();
        (t0.elapsed().as_secs_f64(), fired)
    })
    .await
    .map_err(join_err)?;
    check("timers fired", fired, n)?;
    Ok(Outcome::secs(secs))
}

async fn fileio(
    tasks: u64,
    writes: u64,
    chunk: usize,
    dir: std::path::PathBuf,
) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for i in 0..tasks {
        let path = dir.join(format!("f{i}"));
        handles.push(tokio::spawn(async move {
            let buf = vec![0xA5u8; chunk];
            let mut f = tokio::fs::File::create(&path).await?;
            for _ in 0..writes {
                f.write_all(&buf).await?;
            }
            f.flush().await?;
            io::Result::Ok(())
        }));
    }
    for h in handles {
        h.await
            .map_err(join_err)?
            .map_err(|e| format!("write: {e}"))?;
    }
    Ok(Outcome::secs(t0.elapsed().as_secs_f64()))
}

pub(crate) async fn serve_once(mut s: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while !common::head_complete(&buf[..len]) {
        if len == buf.len() {
            return Err(io::Error::other("request head too long"));
        }
        let k = s.read(&mut buf[len..]).await?;
        if k == 0 {
            return Err(io::Error::other("eof before request head"));
        }
        len += k;
    }
    s.write_all(common::URL_RESPONSE).await
}

pub(crate) async fn fetch(addr: std::net::SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(common::URL_REQUEST)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut body = Vec::with_capacity(128);
    s.read_to_end(&mut body)
        .await
        .map_err(|e| format!("read: {e}"))?;
    common::check_response(&body)
}

async fn urlfetch(n: u64) -> Result<Outcome, String> {
    let std_l = common::listener(n).map_err(|e| format!("listen: {e}"))?;
    let addr = std_l.local_addr().map_err(|e| e.to_string())?;
    let l = TcpListener::from_std(std_l).map_err(|e| format!("listen: {e}"))?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = tokio::spawn(async move {
        let mut accepted = 0u64;
        let mut errors = 0u64;
        while accepted < n && errors < 10_000 {
            match l.accept().await {
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
        accepted
    });
    let clients: Vec<_> = (0..n).map(|_| tokio::spawn(fetch(addr))).collect();
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
    let accepted = server.await.map_err(join_err)?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(e) = first_err {
        return Err(format!("{} of {n} fetches failed, first: {e}", n - ok));
    }
    check("connections accepted", accepted, n)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs).with("listen_overflows", overflows as f64))
}

async fn serve_keepalive(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    let mut heads = HeadCounter::default();
    let mut out = Vec::new();
    loop {
        let k = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(k) => k,
        };
        out.clear();
        for _ in 0..heads.feed(&buf[..k]) {
            out.extend_from_slice(common::HTTPD_RESPONSE);
        }
        if !out.is_empty() && s.write_all(&out).await.is_err() {
            return;
        }
    }
}

pub(crate) async fn httpd(secs: u64) -> Result<Outcome, String> {
    let std_l = common::listener(1024).map_err(|e| format!("listen: {e}"))?;
    let addr = std_l.local_addr().map_err(|e| e.to_string())?;
    let l = TcpListener::from_std(std_l).map_err(|e| format!("listen: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let load = std::thread::spawn(move || {
        let r = common::run_load(addr, secs);
        stop2.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = std::net::TcpStream::connect(addr);
        r
    });
    let t0 = Instant::now();
    loop {
        let accepted = l.accept().await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match accepted {
            Ok((s, _)) => {
                tokio::spawn(serve_keepalive(s));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let run = load.join().map_err(|_| "load thread panicked")??;
    Ok(run.outcome(elapsed))
}

async fn conns(n: u64) -> Result<Outcome, String> {
    let std_l = common::listener(n).map_err(|e| format!("listen: {e}"))?;
    let addr = std_l.local_addr().map_err(|e| e.to_string())?;
    let l = TcpListener::from_std(std_l).map_err(|e| format!("listen: {e}"))?;
    let mut tasks = Vec::with_capacity(n as usize);
    let before = common::current_rss_kb();
    let mut client = ConnsClient::start(addr, n)?;
    let t0 = Instant::now();
    for _ in 0..n {
        let (mut s, _) = l.accept().await.map_err(|e| format!("accept: {e}"))?;
        tasks.push(tokio::spawn(async move {
            let mut b = [0u8; 64];
            matches!(s.read(&mut b).await, Ok(0))
        }));
    }
    let secs = t0.elapsed().as_secs_f64();
    client.wait_connected()?;
    tokio::time::sleep(common::CONNS_SETTLE).await;
    let after = common::current_rss_kb();
    client.close()?;
    let mut eofs = 0u64;
    for t in tasks {
        eofs += t.await.map_err(join_err)? as u64;
    }
    check("connections closed cleanly", eofs, n)?;
    Ok(Outcome::secs(secs)
        .with("rss_before_kb", before as f64)
        .with("rss_after_kb", after as f64))
}

/// The flood echo server as a tokio user writes it: the default listener,
/// a task per connection, a plain read/write loop (tokio's budget does the
/// rest). It stops accepting after the client's `bystanders + 1`
/// connections and ends when they have all closed.
async fn flood(bystanders: u64, ms: u64) -> Result<Outcome, String> {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let client = FloodClient::start(addr, bystanders, ms)?;
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut conns = Vec::with_capacity(bystanders as usize + 1);
    for _ in 0..=bystanders {
        let (s, _) = tokio::time::timeout(flood_client::ACCEPT_TIMEOUT, l.accept())
            .await
            .map_err(|_| "accept: timed out".to_string())?
            .map_err(|e| format!("accept: {e}"))?;
        conns.push(tokio::spawn(flood_echo(s)));
    }
    let mut echoed = Ok(0u64);
    for c in conns {
        let r = c
            .await
            .map_err(join_err)
            .and_then(|r| r.map_err(|e| format!("echo: {e}")));
        echoed = echoed.and_then(|sum| r.map(|k| sum + k));
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    // The client's own error, when it has one, says more than the echo's.
    let report = client.finish()?;
    report.outcome(secs, echoed?, used)
}

/// Writes back everything read until end of stream; returns the bytes.
async fn flood_echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut bytes = 0u64;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(bytes),
            n => {
                stream.write_all(&buf[..n]).await?;
                bytes += n as u64;
            }
        }
    }
}

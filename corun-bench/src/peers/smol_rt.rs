//! The `smol` peer: an `async_executor::LocalExecutor` driven by
//! `async_io::block_on` (async-io's reactor and timers), `async-channel` for
//! channels and `async-fs` (a blocking-thread pool) for files.
//!
//! Only smol-family code lives here; shared helpers come from `crate::common`.
//! Nothing here prints (the child driver owns stdout).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, ConnsClient, HeadCounter, Outcome, Work, check};
use crate::flood::{self as flood_client, FloodClient};

type Ex = Rc<LocalExecutor<'static>>;

/// Runs one workload on a fresh single-threaded executor.
pub fn run(work: &Work) -> Result<Outcome, String> {
    let ex: Ex = Rc::new(LocalExecutor::new());
    let work = work.clone();
    let ex2 = ex.clone();
    async_io::block_on(ex.run(async move {
        let ex = ex2;
        match work {
            Work::Sleep { n, dur } => sleep(&ex, n, dur).await,
            Work::Spawn { n } => spawn(&ex, n).await,
            Work::Yield { n } => yields(&ex, n).await,
            Work::PingPong { n } => pingpong(&ex, n).await,
            Work::TimersCancel { n } => timers_cancel(&ex, n).await,
            Work::TimersFire { n } => timers_fire(&ex, n).await,
            Work::FileIo {
                tasks,
                writes,
                chunk,
                dir,
            } => fileio(&ex, tasks, writes, chunk, dir).await,
            Work::UrlFetch { n } => urlfetch(&ex, n).await,
            Work::Httpd { secs } => httpd(&ex, secs).await,
            Work::Conns { n } => conns(&ex, n).await,
            Work::Flood { bystanders, ms } => flood(&ex, bystanders, ms).await,
            Work::Cores(_) => Err("multi-core cells are not run on this peer".into()),
        }
    }))
}

async fn sleep(ex: &Ex, n: u64, dur: Duration) -> Result<Outcome, String> {
    let counter = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = counter.clone();
        tasks.push(ex.spawn(async move {
            Timer::after(dur).await;
            c.set(c.get() + 1);
        }));
    }
    for t in tasks {
        t.await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    check("tasks finished", counter.get(), n)?;
    Ok(Outcome::secs(secs).with_usage(used))
}

async fn spawn(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        tasks.push(ex.spawn(async { 1u64 }));
    }
    let mut sum = 0;
    for t in tasks {
        sum += t.await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    check("tasks joined", sum, n)?;
    Ok(Outcome::secs(secs).with_usage(used))
}

async fn yields(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let done = ex
        .spawn(async move {
            let mut i = 0;
            while i < n {
                futures_lite::future::yield_now().await;
                i += 1;
            }
            i
        })
        .await;
    let secs = t0.elapsed().as_secs_f64();
    check("yields", done, n)?;
    Ok(Outcome::secs(secs))
}

async fn pingpong(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
    let t0 = Instant::now();
    let ponger = ex.spawn(async move {
        let mut seen = 0u64;
        while let Ok(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                break;
            }
            seen += 1;
        }
        seen
    });
    let pinger = ex.spawn(async move {
        let mut ok = 0u64;
        for i in 0..n {
            if ping_tx.send(i).await.is_err() {
                break;
            }
            match pong_rx.recv().await {
                Ok(v) if v == i + 1 => ok += 1,
                _ => break,
            }
        }
        ok
    });
    let ok = pinger.await;
    let seen = ponger.await;
    let secs = t0.elapsed().as_secs_f64();
    check("round trips", ok, n)?;
    check("pongs", seen, n)?;
    Ok(Outcome::secs(secs))
}

async fn timers_cancel(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let (secs, armed) = ex
        .spawn(async move {
            let t0 = Instant::now();
            let mut timers: Vec<Pin<Box<Timer>>> = Vec::with_capacity(n as usize);
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let mut armed = 0u64;
            for _ in 0..n {
                let mut t = Box::pin(Timer::after(Duration::from_secs(1)));
                armed += t.as_mut().poll(&mut cx).is_pending() as u64;
                timers.push(t);
            }
            drop(timers);
            (t0.elapsed().as_secs_f64(), armed)
        })
        .await;
    check("timers armed", armed, n)?;
    Ok(Outcome::secs(secs))
}

async fn timers_fire(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let (secs, fired) = ex
        .spawn(async move {
            let t0 = Instant::now();
            let timers = (0..n).map(|i| async move {
                Timer::after(Duration::from_millis(1 + i % 10)).await;
                1u64
            });
            let fired: u64 = futures_util::future::join_all(timers)
                .await
                .into_iter()
                .sum();
            (t0.elapsed().as_secs_f64(), fired)
        })
        .await;
    check("timers fired", fired, n)?;
    Ok(Outcome::secs(secs))
}

async fn fileio(
    ex: &Ex,
    tasks: u64,
    writes: u64,
    chunk: usize,
    dir: std::path::PathBuf,
) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for i in 0..tasks {
        let path = dir.join(format!("f{i}"));
        handles.push(ex.spawn(async move {
            let buf = vec![0xA5u8; chunk];
            let mut f = async_fs::File::create(&path).await?;
            for _ in 0..writes {
                f.write_all(&buf).await?;
            }
            f.flush().await?;
            io::Result::Ok(())
        }));
    }
    for h in handles {
        h.await.map_err(|e| format!("write: {e}"))?;
    }
    Ok(Outcome::secs(t0.elapsed().as_secs_f64()))
}

async fn serve_once(mut s: Async<TcpStream>) -> io::Result<()> {
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

async fn fetch(addr: SocketAddr) -> Result<(), String> {
    let mut s = Async::<TcpStream>::connect(addr)
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

fn async_listener(backlog: u64) -> Result<(Async<TcpListener>, SocketAddr), String> {
    let std_l = common::listener(backlog).map_err(|e| format!("listen: {e}"))?;
    let addr = std_l.local_addr().map_err(|e| e.to_string())?;
    let l = Async::new(std_l).map_err(|e| format!("listen: {e}"))?;
    Ok((l, addr))
}

async fn urlfetch(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let (l, addr) = async_listener(n)?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let ex2 = ex.clone();
    let server = ex.spawn(async move {
        let mut accepted = 0u64;
        let mut errors = 0u64;
        while accepted < n && errors < 10_000 {
            match l.accept().await {
                Ok((s, _)) => {
                    accepted += 1;
                    ex2.spawn(serve_once(s)).detach();
                }
                Err(_) => {
                    errors += 1;
                    Timer::after(Duration::from_millis(1)).await;
                }
            }
        }
        accepted
    });
    let clients: Vec<_> = (0..n).map(|_| ex.spawn(fetch(addr))).collect();
    let mut ok = 0u64;
    let mut first_err = None;
    for c in clients {
        match c.await {
            Ok(()) => ok += 1,
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let accepted = server.await;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(e) = first_err {
        return Err(format!("{} of {n} fetches failed, first: {e}", n - ok));
    }
    check("connections accepted", accepted, n)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs).with("listen_overflows", overflows as f64))
}

async fn serve_keepalive(mut s: Async<TcpStream>) {
    let _ = s.get_ref().set_nodelay(true);
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

async fn httpd(ex: &Ex, secs: u64) -> Result<Outcome, String> {
    let (l, addr) = async_listener(1024)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let load = std::thread::spawn(move || {
        let r = common::run_load(addr, secs);
        stop2.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(addr);
        r
    });
    let t0 = Instant::now();
    loop {
        let accepted = l.accept().await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match accepted {
            Ok((s, _)) => ex.spawn(serve_keepalive(s)).detach(),
            Err(_) => {
                Timer::after(Duration::from_millis(1)).await;
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let run = load.join().map_err(|_| "load thread panicked")??;
    Ok(run.outcome(elapsed))
}

async fn conns(ex: &Ex, n: u64) -> Result<Outcome, String> {
    let (l, addr) = async_listener(n)?;
    let mut tasks = Vec::with_capacity(n as usize);
    let before = common::current_rss_kb();
    let mut client = ConnsClient::start(addr, n)?;
    let t0 = Instant::now();
    for _ in 0..n {
        let (mut s, _) = l.accept().await.map_err(|e| format!("accept: {e}"))?;
        tasks.push(ex.spawn(async move {
            let mut b = [0u8; 64];
            matches!(s.read(&mut b).await, Ok(0))
        }));
    }
    let secs = t0.elapsed().as_secs_f64();
    client.wait_connected()?;
    Timer::after(common::CONNS_SETTLE).await;
    let after = common::current_rss_kb();
    client.close()?;
    let mut eofs = 0u64;
    for t in tasks {
        eofs += t.await as u64;
    }
    check("connections closed cleanly", eofs, n)?;
    Ok(Outcome::secs(secs)
        .with("rss_before_kb", before as f64)
        .with("rss_after_kb", after as f64))
}

/// The flood echo server as a smol user writes it: `Async<TcpListener>`
/// bound with the defaults, a task per connection on the executor, a plain
/// read/write loop. It stops accepting after the client's `bystanders + 1`
/// connections and ends when they have all closed.
async fn flood(ex: &Ex, bystanders: u64, ms: u64) -> Result<Outcome, String> {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let l = Async::<TcpListener>::bind(any).map_err(|e| format!("listen: {e}"))?;
    let addr = l.get_ref().local_addr().map_err(|e| e.to_string())?;
    let client = FloodClient::start(addr, bystanders, ms)?;
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut conns = Vec::with_capacity(bystanders as usize + 1);
    for _ in 0..=bystanders {
        let accepted = futures_lite::future::or(async { Some(l.accept().await) }, async {
            Timer::after(flood_client::ACCEPT_TIMEOUT).await;
            None
        })
        .await;
        let (s, _) = accepted
            .ok_or("accept: timed out")?
            .map_err(|e| format!("accept: {e}"))?;
        conns.push(ex.spawn(flood_echo(s)));
    }
    let mut echoed = Ok(0u64);
    for c in conns {
        let r = c.await.map_err(|e| format!("echo: {e}"));
        echoed = echoed.and_then(|sum| r.map(|k| sum + k));
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    // The client's own error, when it has one, says more than the echo's.
    let report = client.finish()?;
    report.outcome(secs, echoed?, used)
}

/// Writes back everything read until end of stream; returns the bytes.
async fn flood_echo(mut stream: Async<TcpStream>) -> io::Result<u64> {
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

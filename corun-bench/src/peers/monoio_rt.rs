//! The `monoio` peer: one thread-per-core runtime on the current thread,
//! built as `#[monoio::main(timer_enabled = true)]` builds it
//! (`RuntimeBuilder::<FusionDriver>`: io_uring, falling back to epoll where
//! io_uring is missing), with monoio's own spawn, timers, owned-buffer
//! sockets (`AsyncReadRent`/`AsyncWriteRent`) and files (`write_all_at`).
//! monoio ships no channel; its README points users to `local-sync`, whose
//! bounded mpsc channel the pingpong cell uses. monoio has no `yield_now`
//! either, so the yield cell uses the runtime-agnostic one from
//! `futures-lite` (a self-wake and one `Pending`).
//!
//! Only monoio code lives here; shared helpers come from `crate::common`.
//! Nothing here prints (the child driver owns stdout).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{ListenerOpts, TcpListener, TcpStream};

use crate::common::{self, ConnsClient, HeadCounter, Outcome, Work, check};
use crate::flood::{self as flood_client, FloodClient};

/// Runs one workload on a fresh monoio runtime on this thread.
pub fn run(work: &Work) -> Result<Outcome, String> {
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .map_err(|e| format!("monoio runtime: {e}"))?;
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
            Work::Cores(_) => Err("multi-core cells are not run on this peer".into()),
        }
    })
}

async fn sleep(n: u64, dur: Duration) -> Result<Outcome, String> {
    let counter = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = counter.clone();
        tasks.push(monoio::spawn(async move {
            monoio::time::sleep(dur).await;
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

async fn spawn(n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        tasks.push(monoio::spawn(async { 1u64 }));
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

async fn yields(n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let done = monoio::spawn(async move {
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

async fn pingpong(n: u64) -> Result<Outcome, String> {
    let (ping_tx, mut ping_rx) = local_sync::mpsc::bounded::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = local_sync::mpsc::bounded::channel::<u64>(1);
    let t0 = Instant::now();
    let ponger = monoio::spawn(async move {
        let mut seen = 0u64;
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                break;
            }
            seen += 1;
        }
        seen
    });
    let pinger = monoio::spawn(async move {
        let mut ok = 0u64;
        for i in 0..n {
            if ping_tx.send(i).await.is_err() {
                break;
            }
            match pong_rx.recv().await {
                Some(v) if v == i + 1 => ok += 1,
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

async fn timers_cancel(n: u64) -> Result<Outcome, String> {
    let (secs, armed) = monoio::spawn(async move {
        let t0 = Instant::now();
        let mut sleeps: Vec<Pin<Box<monoio::time::Sleep>>> = Vec::with_capacity(n as usize);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut armed = 0u64;
        for _ in 0..n {
            let mut s = Box::pin(monoio::time::sleep(Duration::from_secs(1)));
            armed += s.as_mut().poll(&mut cx).is_pending() as u64;
            sleeps.push(s);
        }
        drop(sleeps);
        (t0.elapsed().as_secs_f64(), armed)
    })
    .await;
    check("timers armed", armed, n)?;
    Ok(Outcome::secs(secs))
}

async fn timers_fire(n: u64) -> Result<Outcome, String> {
    let (secs, fired) = monoio::spawn(async move {
        let t0 = Instant::now();
        let sleeps = (0..n).map(|i| async move {
            monoio::time::sleep(Duration::from_millis(1 + i % 10)).await;
            1u64
        });
        let fired: u64 = futures_util::future::join_all(sleeps)
            .await
            .into_iter()
            .sum();
        (t0.elapsed().as_secs_f64(), fired)
    })
    .await;
    check("timers fired", fired, n)?;
    Ok(Outcome::secs(secs))
}

/// One writer: monoio files are positional and take owned buffers, so the
/// plain program hands its one buffer to `write_all_at` and gets it back.
async fn write_file(path: std::path::PathBuf, writes: u64, chunk: usize) -> io::Result<()> {
    let f = monoio::fs::File::create(&path).await?;
    let mut buf = vec![0xA5u8; chunk];
    let mut pos = 0u64;
    for _ in 0..writes {
        let (r, b) = f.write_all_at(buf, pos).await;
        r?;
        buf = b;
        pos += chunk as u64;
    }
    f.close().await
}

async fn fileio(
    tasks: u64,
    writes: u64,
    chunk: usize,
    dir: std::path::PathBuf,
) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| monoio::spawn(write_file(dir.join(format!("f{i}")), writes, chunk)))
        .collect();
    for h in handles {
        h.await.map_err(|e| format!("write: {e}"))?;
    }
    Ok(Outcome::secs(t0.elapsed().as_secs_f64()))
}

/// Reads into `buf` after its initialised bytes (growing it when full);
/// returns the bytes read, 0 at end of stream.
async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.len() == buf.capacity() {
        buf.reserve(buf.len().max(256));
    }
    let len = buf.len();
    let (r, slice) = s.read(std::mem::take(buf).slice_mut(len..)).await;
    *buf = slice.into_inner();
    r
}

async fn serve_once(mut s: TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    while !common::head_complete(&head) {
        if head.len() == 1024 {
            return Err(io::Error::other("request head too long"));
        }
        if read_more(&mut s, &mut head).await? == 0 {
            return Err(io::Error::other("eof before request head"));
        }
    }
    s.write_all(common::URL_RESPONSE).await.0.map(drop)
}

async fn fetch(addr: SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect_addr(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(common::URL_REQUEST)
        .await
        .0
        .map_err(|e| format!("write: {e}"))?;
    let mut body = Vec::with_capacity(128);
    while read_more(&mut s, &mut body)
        .await
        .map_err(|e| format!("read: {e}"))?
        > 0
    {}
    common::check_response(&body)
}

/// A listener on 127.0.0.1 with monoio's options and the same backlog
/// `common::listener` gives the other peers.
fn deep_listener(backlog: u64) -> Result<(TcpListener, SocketAddr), String> {
    let opts = ListenerOpts::new().backlog(backlog.clamp(1024, i32::MAX as u64) as i32);
    let l =
        TcpListener::bind_with_config("127.0.0.1:0", &opts).map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    Ok((l, addr))
}

async fn urlfetch(n: u64) -> Result<Outcome, String> {
    let (l, addr) = deep_listener(n)?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = monoio::spawn(async move {
        let mut accepted = 0u64;
        let mut errors = 0u64;
        while accepted < n && errors < 10_000 {
            match l.accept().await {
                Ok((s, _)) => {
                    accepted += 1;
                    // Dropping a monoio JoinHandle detaches the task.
                    drop(monoio::spawn(serve_once(s)));
                }
                Err(_) => {
                    errors += 1;
                    monoio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        accepted
    });
    let clients: Vec<_> = (0..n).map(|_| monoio::spawn(fetch(addr))).collect();
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

async fn serve_keepalive(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut heads = HeadCounter::default();
    let mut out = Vec::new();
    loop {
        let (r, b) = s.read(buf).await;
        buf = b;
        match r {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        out.clear();
        for _ in 0..heads.feed(&buf) {
            out.extend_from_slice(common::HTTPD_RESPONSE);
        }
        if !out.is_empty() {
            let (r, o) = s.write_all(out).await;
            out = o;
            if r.is_err() {
                return;
            }
        }
    }
}

async fn httpd(secs: u64) -> Result<Outcome, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
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
            Ok((s, _)) => drop(monoio::spawn(serve_keepalive(s))),
            Err(_) => monoio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let run = load.join().map_err(|_| "load thread panicked")??;
    Ok(run.outcome(elapsed))
}

async fn conns(n: u64) -> Result<Outcome, String> {
    let (l, addr) = deep_listener(n)?;
    let mut tasks = Vec::with_capacity(n as usize);
    let before = common::current_rss_kb();
    let mut client = ConnsClient::start(addr, n)?;
    let t0 = Instant::now();
    for _ in 0..n {
        let (mut s, _) = l.accept().await.map_err(|e| format!("accept: {e}"))?;
        tasks.push(monoio::spawn(async move {
            let (r, _) = s.read(Vec::with_capacity(64)).await;
            matches!(r, Ok(0))
        }));
    }
    let secs = t0.elapsed().as_secs_f64();
    client.wait_connected()?;
    monoio::time::sleep(common::CONNS_SETTLE).await;
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

/// The flood echo server as a monoio user writes it: `TcpListener::bind`
/// with monoio's defaults, a task per connection, a plain owned-buffer
/// read/write loop. It stops accepting after the client's `bystanders + 1`
/// connections and ends when they have all closed.
async fn flood(bystanders: u64, ms: u64) -> Result<Outcome, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let client = FloodClient::start(addr, bystanders, ms)?;
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut conns = Vec::with_capacity(bystanders as usize + 1);
    for _ in 0..=bystanders {
        let (s, _) = monoio::time::timeout(flood_client::ACCEPT_TIMEOUT, l.accept())
            .await
            .map_err(|_| "accept: timed out")?
            .map_err(|e| format!("accept: {e}"))?;
        conns.push(monoio::spawn(flood_echo(s)));
    }
    let mut echoed = Ok(0u64);
    for c in conns {
        let r = c.await.map_err(|e| format!("echo: {e}"));
        echoed = echoed.and_then(|sum| r.map(|k| sum + k));
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    // The client's own error, when it has one, says more than the echo's.
    let report = finish_client(client).await?;
    report.outcome(secs, echoed?, used)
}

/// Waits for the flood client with the runtime still running. monoio closes
/// a dropped socket through the ring (the close is submitted at the next
/// park), so blocking this thread on the client would leave the last echo
/// connections open and the client waiting for their close.
async fn finish_client(client: FloodClient) -> Result<flood_client::FloodReport, String> {
    let waiter = std::thread::spawn(move || client.finish());
    while !waiter.is_finished() {
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
    waiter.join().map_err(|_| "flood client waiter panicked")?
}

/// Writes back everything read until end of stream; returns the bytes.
async fn flood_echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut bytes = 0u64;
    loop {
        let (r, b) = stream.read(buf).await;
        let n = r?;
        if n == 0 {
            return Ok(bytes);
        }
        let (r, b) = stream.write_all(b).await;
        r?;
        buf = b;
        bytes += n as u64;
    }
}

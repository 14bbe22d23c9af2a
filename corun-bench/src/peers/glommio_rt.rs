//! The `glommio` peer: one thread-per-core `LocalExecutor` on the current
//! thread, made by `LocalExecutorBuilder::default()` (unbound placement,
//! default ring depth and I/O memory), with glommio's own `spawn_local`,
//! `yield_now`, timers, `local_channel`, sockets (`glommio::net`) and files.
//! Files are `BufferedFile`s: glommio's docs send users who want the page
//! cache (what every other peer writes through) there, `DmaFile` being
//! direct I/O with aligned buffers; `write_at` takes the buffer by value,
//! so the plain program hands it a copy of its chunk per write.
//!
//! glommio needs at least 512 KiB of locked memory (`RLIMIT_MEMLOCK`);
//! [`run`] raises the soft limit to the hard one first, as a user's program
//! that hits the limit is told to. The I/O memory stays at glommio's
//! default (10 MiB): run as root, it is registered with the rings and so
//! resident, and counts in this peer's RSS as it would in a user's program.
//!
//! Only glommio code lives here; shared helpers come from `crate::common`.
//! Nothing here prints (the child driver owns stdout).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::{TcpListener, TcpStream};
use glommio::timer::{Timer, sleep as gsleep};
use glommio::{LocalExecutorBuilder, spawn_local};

use crate::common::{self, ConnsClient, HeadCounter, Outcome, Work, check};
use crate::flood::{self as flood_client, FloodClient};

/// Runs one workload on a fresh glommio executor on this thread.
pub fn run(work: &Work) -> Result<Outcome, String> {
    raise_memlock();
    let ex = LocalExecutorBuilder::default()
        .make()
        .map_err(|e| format!("glommio executor: {e}"))?;
    let work = work.clone();
    ex.run(async move {
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

/// Raises the soft `RLIMIT_MEMLOCK` to the hard limit (glommio refuses to
/// start below 512 KiB; failure is left for it to report).
fn raise_memlock() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass by
    // valid pointer; failure is reported through the return value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim);
        }
    }
}

async fn sleep(n: u64, dur: Duration) -> Result<Outcome, String> {
    let counter = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = counter.clone();
        tasks.push(spawn_local(async move {
            gsleep(dur).await;
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
        tasks.push(spawn_local(async { 1u64 }));
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
    let done = spawn_local(async move {
        let mut i = 0;
        while i < n {
            glommio::executor().yield_now().await;
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
    let (ping_tx, ping_rx) = local_channel::new_bounded::<u64>(1);
    let (pong_tx, pong_rx) = local_channel::new_bounded::<u64>(1);
    let t0 = Instant::now();
    let ponger = spawn_local(async move {
        let mut seen = 0u64;
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                break;
            }
            seen += 1;
        }
        seen
    });
    let pinger = spawn_local(async move {
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
    let (secs, armed) = spawn_local(async move {
        let t0 = Instant::now();
        let mut timers: Vec<Pin<Box<Timer>>> = Vec::with_capacity(n as usize);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut armed = 0u64;
        for _ in 0..n {
            let mut t = Box::pin(Timer::new(Duration::from_secs(1)));
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

async fn timers_fire(n: u64) -> Result<Outcome, String> {
    let (secs, fired) = spawn_local(async move {
        let t0 = Instant::now();
        let timers = (0..n).map(|i| async move {
            gsleep(Duration::from_millis(1 + i % 10)).await;
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

async fn write_file(path: std::path::PathBuf, writes: u64, chunk: usize) -> Result<(), String> {
    let f = glommio::io::BufferedFile::create(&path)
        .await
        .map_err(|e| e.to_string())?;
    let buf = vec![0xA5u8; chunk];
    let mut pos = 0u64;
    for _ in 0..writes {
        let mut done = 0;
        while done < chunk {
            let k = f
                .write_at(buf[done..].to_vec(), pos)
                .await
                .map_err(|e| e.to_string())?;
            if k == 0 {
                return Err("write returned 0".into());
            }
            done += k;
            pos += k as u64;
        }
    }
    f.close().await.map_err(|e| e.to_string())
}

async fn fileio(
    tasks: u64,
    writes: u64,
    chunk: usize,
    dir: std::path::PathBuf,
) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| spawn_local(write_file(dir.join(format!("f{i}")), writes, chunk)))
        .collect();
    for h in handles {
        h.await.map_err(|e| format!("write: {e}"))?;
    }
    Ok(Outcome::secs(t0.elapsed().as_secs_f64()))
}

async fn serve_once(mut s: TcpStream) -> io::Result<()> {
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

/// `common::listener(backlog)` (the backlog every other peer gets) as a
/// glommio listener; glommio's own `bind` always listens with 1024.
fn deep_listener(backlog: u64) -> Result<(TcpListener, SocketAddr), String> {
    let std_l = common::listener(backlog).map_err(|e| format!("listen: {e}"))?;
    let addr = std_l.local_addr().map_err(|e| e.to_string())?;
    // SAFETY: the descriptor is a bound, listening TCP socket that
    // `into_raw_fd` has just released, so the listener becomes its only owner.
    let l = unsafe { TcpListener::from_raw_fd(std_l.into_raw_fd()) };
    Ok((l, addr))
}

fn default_listener() -> Result<(TcpListener, SocketAddr), String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    Ok((l, addr))
}

async fn urlfetch(n: u64) -> Result<Outcome, String> {
    let (l, addr) = deep_listener(n)?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = spawn_local(async move {
        let mut accepted = 0u64;
        let mut errors = 0u64;
        while accepted < n && errors < 10_000 {
            match l.accept().await {
                Ok(s) => {
                    accepted += 1;
                    spawn_local(serve_once(s)).detach();
                }
                Err(_) => {
                    errors += 1;
                    gsleep(Duration::from_millis(1)).await;
                }
            }
        }
        accepted
    });
    let clients: Vec<_> = (0..n).map(|_| spawn_local(fetch(addr))).collect();
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

async fn httpd(secs: u64) -> Result<Outcome, String> {
    let (l, addr) = default_listener()?;
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
            Ok(s) => {
                spawn_local(serve_keepalive(s)).detach();
            }
            Err(_) => gsleep(Duration::from_millis(1)).await,
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
        let mut s = l.accept().await.map_err(|e| format!("accept: {e}"))?;
        tasks.push(spawn_local(async move {
            let mut b = [0u8; 64];
            matches!(s.read(&mut b).await, Ok(0))
        }));
    }
    let secs = t0.elapsed().as_secs_f64();
    client.wait_connected()?;
    gsleep(common::CONNS_SETTLE).await;
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

/// The flood echo server as a glommio user writes it: `TcpListener::bind`
/// with glommio's defaults, a task per connection, a plain read/write loop.
/// It stops accepting after the client's `bystanders + 1` connections and
/// ends when they have all closed.
async fn flood(bystanders: u64, ms: u64) -> Result<Outcome, String> {
    let (l, addr) = default_listener()?;
    let client = FloodClient::start(addr, bystanders, ms)?;
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut conns = Vec::with_capacity(bystanders as usize + 1);
    for _ in 0..=bystanders {
        let accepted = futures_lite::future::or(async { Some(l.accept().await) }, async {
            gsleep(flood_client::ACCEPT_TIMEOUT).await;
            None
        })
        .await;
        let s = accepted
            .ok_or("accept: timed out")?
            .map_err(|e| format!("accept: {e}"))?;
        conns.push(spawn_local(flood_echo(s)));
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

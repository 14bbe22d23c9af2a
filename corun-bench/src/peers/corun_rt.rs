//! The `corun` runtime under test: every workload on one corun scheduler
//! (`corun::run` on the child's main thread), each the plain program a user
//! writes (default listener, no chunked spawns, no extra scheduler); the
//! multi-core cells are `corun_cores`'s, in a child binary of their own, and
//! so is the dispatch of the labelled tuned urlfetch row
//! ([`urlfetch_tuned`], two schedulers). corun's own timers, channels,
//! sockets and files. Compiled only with the `corun` cargo feature.
//!
//! Only corun code lives here; shared helpers come from `crate::common`.
//! Nothing here prints (the child driver owns stdout), and nothing here may
//! reach into corun internals: public API only.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

use corun::net::{TcpListener, TcpStream};

use crate::common::{self, ConnsClient, HeadCounter, Outcome, Work, check};
use crate::flood::{self as flood_client, FloodClient};

/// Runs one workload on a fresh corun scheduler on this thread.
pub fn run(work: &Work) -> Result<Outcome, String> {
    let work = work.clone();
    corun::run(async move {
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
            Work::Cores(_) => Err("multi-core cells run in corun-bench-child-corun-cores".into()),
        }
    })
}

fn join_err(e: corun::JoinError) -> String {
    format!("join: {e:?}")
}

async fn sleep(n: u64, dur: Duration) -> Result<Outcome, String> {
    let counter = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = counter.clone();
        tasks.push(corun::spawn(async move {
            corun::sleep(dur).await;
            c.set(c.get() + 1);
        }));
    }
    // Each handle in turn, as the peers do: `join_all` would add its output
    // vector (8 MB for a million) to the memory this workload measures.
    for t in tasks {
        t.await.map_err(join_err)?;
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
        tasks.push(corun::spawn(async { 1u64 }));
    }
    // Each handle in turn, as the peers do (see `sleep`).
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
    let done = corun::spawn(async move {
        let mut i = 0;
        while i < n {
            corun::yield_now().await;
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

/// One ping-pong run over a pair of capacity-1 channels made by `$chan`
/// (`corun::sync::local::channel` or `corun::sync::mpsc::channel`, which
/// share their method names); evaluates to `Result<f64 secs, String>`.
macro_rules! pingpong_with {
    ($chan:path, $n:expr) => {{
        let n: u64 = $n;
        let (ping_tx, mut ping_rx) = $chan(1);
        let (pong_tx, mut pong_rx) = $chan(1);
        let t0 = Instant::now();
        let ponger = corun::spawn(async move {
            let mut seen = 0u64;
            while let Some(v) = ping_rx.recv().await {
                if pong_tx.send(v + 1).await.is_err() {
                    break;
                }
                seen += 1;
            }
            seen
        });
        let pinger = corun::spawn(async move {
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

/// Timed with corun's single-thread channel (`sync::local`), what tasks of
/// one scheduler use; the thread-safe `sync::mpsc` figure goes in a note.
/// The ecosystem's `async-channel` figure goes in a note too (the same
/// program as smol's cell).
async fn pingpong(n: u64) -> Result<Outcome, String> {
    let secs = pingpong_with!(corun::sync::local::channel::<u64>, n)?;
    let mpsc_secs = pingpong_with!(corun::sync::mpsc::channel::<u64>, n)?;
    let ac_secs = pingpong_with!(AsyncChannel::bounded::<u64>, n)?;
    Ok(Outcome::secs(secs)
        .with("mpsc_ns", mpsc_secs * 1e9 / n as f64)
        .with("ac_ns", ac_secs * 1e9 / n as f64))
}

/// `async-channel` behind the method names `pingpong_with!` calls
/// (`recv` answering `Option`, as corun's channels do).
struct AsyncChannel;

impl AsyncChannel {
    fn bounded<T>(cap: usize) -> (async_channel::Sender<T>, AcReceiver<T>) {
        let (tx, rx) = async_channel::bounded(cap);
        (tx, AcReceiver(rx))
    }
}

struct AcReceiver<T>(async_channel::Receiver<T>);

impl<T> AcReceiver<T> {
    async fn recv(&mut self) -> Option<T> {
        self.0.recv().await.ok()
    }
}

async fn timers_cancel(n: u64) -> Result<Outcome, String> {
    let (secs, armed) = corun::spawn(async move {
        let t0 = Instant::now();
        let mut sleeps: Vec<Pin<Box<corun::Sleep>>> = Vec::with_capacity(n as usize);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut armed = 0u64;
        for _ in 0..n {
            let mut s = Box::pin(corun::sleep(Duration::from_secs(1)));
            armed += s.as_mut().poll(&mut cx).is_pending() as u64;
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
    let (secs, fired) = corun::spawn(async move {
        let t0 = Instant::now();
        let sleeps = (0..n).map(|i| async move {
            corun::sleep(Duration::from_millis(1 + i % 10)).await;
            1u64
        });
        let fired: u64 = futures_util::future::join_all(sleeps)
            .await
            .into_iter()
            .sum();
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
        handles.push(corun::spawn(async move {
            // The plain program, as for the peers: a borrowed `write_all`.
            let buf = vec![0xA5u8; chunk];
            let mut f = corun::fs::File::create(&path).await?;
            for _ in 0..writes {
                f.write_all(&buf).await?;
            }
            std::io::Result::Ok(())
        }));
    }
    for r in corun::join_all(handles).await {
        r.map_err(join_err)?.map_err(|e| format!("write: {e}"))?;
    }
    Ok(Outcome::secs(t0.elapsed().as_secs_f64()))
}

pub(crate) async fn serve_once(s: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while !common::head_complete(&buf[..len]) {
        if len == buf.len() {
            return Err(std::io::Error::other("request head too long"));
        }
        let k = s.read(&mut buf[len..]).await?;
        if k == 0 {
            return Err(std::io::Error::other("eof before request head"));
        }
        len += k;
    }
    s.write_all(common::URL_RESPONSE).await
}

pub(crate) async fn fetch(addr: SocketAddr) -> Result<(), String> {
    let s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(common::URL_REQUEST)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut body = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    loop {
        let k = s.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        if k == 0 {
            break;
        }
        if body.len() + k > 64 * 1024 {
            return Err("response too long".into());
        }
        body.extend_from_slice(&buf[..k]);
    }
    common::check_response(&body)
}

/// A listener with a raised backlog, for the tuned urlfetch row only: the
/// plain cells bind with `TcpListener::bind` (corun's default backlog).
fn corun_listener(backlog: u64) -> Result<(TcpListener, SocketAddr), String> {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let backlog = backlog.clamp(1024, i32::MAX as u64) as _;
    let l = TcpListener::bind_with_backlog(any, backlog).map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    Ok((l, addr))
}

/// The default listener on an ephemeral loopback port, as a user binds it.
fn default_listener() -> Result<(TcpListener, SocketAddr), String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    Ok((l, addr))
}

/// The server's accept loop: one detached task per connection, until it
/// has accepted `n`; returns how many it accepted.
async fn urlfetch_server(l: TcpListener, n: u64) -> u64 {
    let mut accepted = 0u64;
    let mut errors = 0u64;
    while accepted < n && errors < 10_000 {
        match l.accept().await {
            Ok((s, _)) => {
                accepted += 1;
                // Detached: the client sees EOF when this task is done.
                corun::spawn(serve_once(s)).detach();
            }
            Err(_) => {
                errors += 1;
                corun::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    accepted
}

/// urlfetch as a corun user writes it, the shape of the smol and tokio-ct
/// peers: one scheduler, the default listener, the accept loop spawned,
/// then every client spawned in a plain loop, then each joined in turn.
async fn urlfetch(n: u64) -> Result<Outcome, String> {
    let (l, addr) = default_listener()?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = corun::spawn(urlfetch_server(l, n));
    let clients: Vec<_> = (0..n).map(|_| corun::spawn(fetch(addr))).collect();
    let (ok, first_err) = join_fetches(clients).await?;
    if let Some(e) = first_err {
        // The server would wait for connections that never come.
        server.kill();
        return Err(fetches_failed(n, ok, &e));
    }
    let accepted = server.await.map_err(join_err)?;
    let secs = t0.elapsed().as_secs_f64();
    urlfetch_outcome(n, accepted, secs, overflows0, 1)
}

/// `n` client tasks: how many fetches succeeded, and the first error. With
/// `chunk` > 0 the spawner yields after every `chunk` spawns, so that an
/// accept loop on the same scheduler is not queued behind all of them.
async fn urlfetch_clients(
    addr: SocketAddr,
    n: u64,
    chunk: u64,
) -> Result<(u64, Option<String>), String> {
    let mut clients = Vec::with_capacity(n as usize);
    for i in 0..n {
        if chunk > 0 && i > 0 && i % chunk == 0 {
            corun::yield_now().await;
        }
        clients.push(corun::spawn(fetch(addr)));
    }
    join_fetches(clients).await
}

/// Awaits each client task in turn: how many fetches succeeded, and the
/// first error.
pub(crate) async fn join_fetches(
    clients: Vec<corun::Task<Result<(), String>>>,
) -> Result<(u64, Option<String>), String> {
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
    Ok((ok, first_err))
}

/// Percentage of the tuned urlfetch's clients that run on the server's
/// scheduler: a client costs the kernel about twice what serving it does
/// (connect and the handshake, the request's delivery, the last close), so
/// with a quarter of them beside the server both threads are about equally
/// busy.
const URLFETCH_CLIENTS_BESIDE_SERVER_PCT: u64 = 25;

/// From this many fetches on, the tuned urlfetch spreads over two
/// schedulers; below, one scheduler runs the server and every client.
///
/// A short burst does not keep two threads busy: at 1 000 fetches, perf
/// showed each thread about 45 % busy, mostly waiting for the other (94 ms
/// of CPU in 105 ms, where one scheduler took 81 ms in 80 ms). Medians of
/// 5–10 alternating runs of the child binary, one scheduler against two:
/// 1 000 fetches 0.066–0.069 s against 0.074–0.086 s; 2 000, 0.141 against
/// 0.136; 4 000, 0.292 against 0.231; 10 000, 0.69 against 0.46.
pub const URLFETCH_SPREAD_FROM: u64 = 2_000;

/// The tuned urlfetch row (the `urlfetch-tuned` kind), work a plain user
/// would not know to do, shown beside the plain cells and labelled so:
/// thread-per-core on this 2-core machine, the server (accept loop and one
/// task per connection) on a second scheduler thread with a raised
/// backlog, the client tasks spread over both so the two threads are
/// equally busy, the server-side clients spawned in chunks with yields. A
/// burst too small to keep two threads busy runs on one scheduler instead
/// ([`URLFETCH_SPREAD_FROM`]), still in chunks.
pub fn urlfetch_tuned(n: u64) -> Result<Outcome, String> {
    corun::run(async move {
        if n < URLFETCH_SPREAD_FROM {
            return urlfetch_tuned_one_scheduler(n).await;
        }
        urlfetch_tuned_two_schedulers(n).await
    })
}

async fn urlfetch_tuned_two_schedulers(n: u64) -> Result<Outcome, String> {
    let server_sched = corun::Builder::new()
        .thread_name("urlfetch-server")
        .start()
        .map_err(|e| format!("server scheduler: {e}"))?;
    // Bound on (and so registered with) the server scheduler's thread;
    // awaited, since `block_on` refuses to block this scheduler's thread.
    let (l, addr) = server_sched
        .spawn(async move { corun_listener(n) })
        .map_err(|e| format!("server scheduler: {e:?}"))?
        .await
        .map_err(join_err)??;
    let n_there = n * URLFETCH_CLIENTS_BESIDE_SERVER_PCT / 100;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = server_sched
        .spawn(urlfetch_server(l, n))
        .map_err(|e| format!("server scheduler: {e:?}"))?;
    let far = server_sched
        .spawn(urlfetch_clients(addr, n_there, 64))
        .map_err(|e| format!("server scheduler: {e:?}"))?;
    let (ok_here, err_here) = urlfetch_clients(addr, n - n_there, 0).await?;
    let (ok_there, err_there) = far.await.map_err(join_err)??;
    let ok = ok_here + ok_there;
    if let Some(e) = err_here.or(err_there) {
        // The server would wait for connections that never come.
        let _ = server_sched.shutdown();
        return Err(fetches_failed(n, ok, &e));
    }
    let accepted = server.await.map_err(join_err)?;
    let secs = t0.elapsed().as_secs_f64();
    let _ = server_sched.shutdown();
    urlfetch_outcome(n, accepted, secs, overflows0, 2)
}

/// The tuned urlfetch with the server and every client on this scheduler.
/// The clients are spawned in chunks of 64, so that the accept loop gets
/// its turns between chunks; the chunk size barely matters.
async fn urlfetch_tuned_one_scheduler(n: u64) -> Result<Outcome, String> {
    let (l, addr) = corun_listener(n)?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = corun::spawn(urlfetch_server(l, n));
    let (ok, err) = urlfetch_clients(addr, n, 64).await?;
    if let Some(e) = err {
        // The server would wait for connections that never come.
        server.kill();
        return Err(fetches_failed(n, ok, &e));
    }
    let accepted = server.await.map_err(join_err)?;
    let secs = t0.elapsed().as_secs_f64();
    urlfetch_outcome(n, accepted, secs, overflows0, 1)
}

/// The error of a urlfetch run in which some fetches failed.
pub(crate) fn fetches_failed(n: u64, ok: u64, first: &str) -> String {
    format!("{} of {n} fetches failed, first: {first}", n - ok)
}

/// A urlfetch run's outcome: every connection accepted, the listen-queue
/// overflows since `overflows0`, and how many schedulers ran it.
fn urlfetch_outcome(
    n: u64,
    accepted: u64,
    secs: f64,
    overflows0: u64,
    schedulers: u32,
) -> Result<Outcome, String> {
    check("connections accepted", accepted, n)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs)
        .with("listen_overflows", overflows as f64)
        .with("schedulers", f64::from(schedulers)))
}

async fn serve_keepalive(s: TcpStream) {
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
            Ok((s, _)) => corun::spawn(serve_keepalive(s)).detach(),
            Err(_) => corun::sleep(Duration::from_millis(1)).await,
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let run = load.join().map_err(|_| "load thread panicked")??;
    Ok(run.outcome(elapsed))
}

async fn conns(n: u64) -> Result<Outcome, String> {
    let (l, addr) = default_listener()?;
    let mut tasks = Vec::with_capacity(n as usize);
    let before = common::current_rss_kb();
    let mut client = ConnsClient::start(addr, n)?;
    let t0 = Instant::now();
    for _ in 0..n {
        let (s, _) = l.accept().await.map_err(|e| format!("accept: {e}"))?;
        tasks.push(corun::spawn(async move {
            let mut b = [0u8; 64];
            matches!(s.read(&mut b).await, Ok(0))
        }));
    }
    let secs = t0.elapsed().as_secs_f64();
    client.wait_connected()?;
    corun::sleep(common::CONNS_SETTLE).await;
    let after = common::current_rss_kb();
    client.close()?;
    let mut eofs = 0u64;
    for r in corun::join_all(tasks).await {
        eofs += r.map_err(join_err)? as u64;
    }
    check("connections closed cleanly", eofs, n)?;
    Ok(Outcome::secs(secs)
        .with("rss_before_kb", before as f64)
        .with("rss_after_kb", after as f64))
}

/// The flood echo server as a corun user writes it (`examples/echo.rs`):
/// the default listener, a task per connection, and the crate docs' yield
/// idiom in the connection loop. It stops accepting after the client's
/// `bystanders + 1` connections and ends when they have all closed.
async fn flood(bystanders: u64, ms: u64) -> Result<Outcome, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let client = FloodClient::start(addr, bystanders, ms)?;
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut conns = Vec::with_capacity(bystanders as usize + 1);
    for _ in 0..=bystanders {
        let (s, _) = corun::timeout(flood_client::ACCEPT_TIMEOUT, l.accept())
            .await
            .map_err(|_| "accept: timed out".to_string())?
            .map_err(|e| format!("accept: {e}"))?;
        conns.push(corun::spawn(async move { flood_echo(&s).await }));
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
async fn flood_echo(stream: &TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut reads = 0u64;
    let mut bytes = 0u64;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(bytes),
            n => {
                stream.write_all(&buf[..n]).await?;
                bytes += n as u64;
            }
        }
        reads += 1;
        if reads % 16 == 0 {
            // The documented idiom: a flooding peer keeps every read
            // ready, and corun never yields for us.
            corun::yield_now().await;
        }
    }
}

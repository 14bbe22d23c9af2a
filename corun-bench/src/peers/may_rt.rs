//! The stackful green-thread peer, `may` (the closest Rust analog of the
//! seed's gevent): coroutines with 32 KiB stacks (may's default) on one
//! worker thread, blocking-style I/O that parks the coroutine, std files
//! (blocking writes, as gevent did), may's own channels.
//!
//! may has no timer future to arm and cancel, so the timers workload is
//! "n/a" here (the plan never sends it). Its stacks are mmap'ed with a guard
//! page, so vm.max_map_count (65 530) caps it near 30 000 live coroutines;
//! the plan keeps it at or below 10 000 live tasks.
//!
//! Only may code lives here; nothing here prints (the child driver owns stdout).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use may::coroutine::JoinHandle;
use may::net::{TcpListener, TcpStream};

use crate::common::{self, ConnsClient, HeadCounter, IO_TIMEOUT, Outcome, Work, check};

/// Live coroutines joined per batch in `spawn` (stack mappings are limited).
const BATCH: u64 = 10_000;

/// Spawns a coroutine.
fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may marks spawn unsafe because a coroutine may migrate between
    // worker threads and so must not cache thread-local references across
    // blocking points. The closures in this file touch no thread-locals of
    // their own; std's internals they call (allocator, io) are migration-safe,
    // and we run a single worker so no migration happens anyway.
    unsafe { may::coroutine::spawn(f) }
}

fn join<T>(h: JoinHandle<T>) -> Result<T, String> {
    h.join().map_err(|_| "coroutine panicked".to_string())
}

/// Runs one workload on may with one worker thread.
pub fn run(work: &Work) -> Result<Outcome, String> {
    may::config().set_workers(1);
    let work = work.clone();
    join(go(move || match work {
        Work::Sleep { n, dur } => sleep(n, dur),
        Work::Spawn { n } => spawn(n),
        Work::Yield { n } => yields(n),
        Work::PingPong { n } => pingpong(n),
        Work::TimersCancel { .. } | Work::TimersFire { .. } => {
            Err("may has no timer futures (n/a)".into())
        }
        Work::FileIo {
            tasks,
            writes,
            chunk,
            dir,
        } => fileio(tasks, writes, chunk, dir),
        Work::UrlFetch { n } => urlfetch(n),
        Work::Httpd { secs } => httpd(secs),
        Work::Conns { n } => conns(n),
        Work::Flood { .. } => Err("flood is not run on this peer".into()),
        Work::Cores(_) => Err("multi-core cells are not run on this peer".into()),
    }))?
}

fn sleep(n: u64, dur: Duration) -> Result<Outcome, String> {
    let counter = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut hs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = counter.clone();
        hs.push(go(move || {
            may::coroutine::sleep(dur);
            c.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for h in hs {
        join(h)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    check("tasks finished", counter.load(Ordering::Relaxed), n)?;
    Ok(Outcome::secs(secs).with_usage(used))
}

fn spawn(n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let u0 = common::Usage::now();
    let mut sum = 0;
    let mut left = n;
    while left > 0 {
        let batch = left.min(BATCH);
        let hs: Vec<_> = (0..batch).map(|_| go(|| 1u64)).collect();
        for h in hs {
            sum += join(h)?;
        }
        left -= batch;
    }
    let secs = t0.elapsed().as_secs_f64();
    let used = u0.since();
    check("tasks joined", sum, n)?;
    Ok(Outcome::secs(secs).with_usage(used))
}

fn yields(n: u64) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let done = join(go(move || {
        let mut i = 0;
        while i < n {
            may::coroutine::yield_now();
            i += 1;
        }
        i
    }))?;
    let secs = t0.elapsed().as_secs_f64();
    check("yields", done, n)?;
    Ok(Outcome::secs(secs))
}

/// may's channels are unbounded; strict ping-pong alternation never holds
/// more than one value, so this matches capacity 1.
fn pingpong(n: u64) -> Result<Outcome, String> {
    let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
    let t0 = Instant::now();
    let ponger = go(move || {
        let mut seen = 0u64;
        while let Ok(v) = ping_rx.recv_timeout(IO_TIMEOUT) {
            if pong_tx.send(v + 1).is_err() {
                break;
            }
            seen += 1;
        }
        seen
    });
    let pinger = go(move || {
        let mut ok = 0u64;
        for i in 0..n {
            if ping_tx.send(i).is_err() {
                break;
            }
            match pong_rx.recv_timeout(IO_TIMEOUT) {
                Ok(v) if v == i + 1 => ok += 1,
                _ => break,
            }
        }
        ok
    });
    let ok = join(pinger)?;
    let seen = join(ponger)?;
    let secs = t0.elapsed().as_secs_f64();
    check("round trips", ok, n)?;
    check("pongs", seen, n)?;
    Ok(Outcome::secs(secs))
}

fn fileio(
    tasks: u64,
    writes: u64,
    chunk: usize,
    dir: std::path::PathBuf,
) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut hs = Vec::new();
    for i in 0..tasks {
        let path = dir.join(format!("f{i}"));
        hs.push(go(move || {
            let buf = vec![0xA5u8; chunk];
            let mut f = std::fs::File::create(&path)?;
            for _ in 0..writes {
                f.write_all(&buf)?;
            }
            io::Result::Ok(())
        }));
    }
    for h in hs {
        join(h)?.map_err(|e| format!("write: {e}"))?;
    }
    Ok(Outcome::secs(t0.elapsed().as_secs_f64()))
}

fn may_listener(backlog: u64) -> Result<(TcpListener, SocketAddr), String> {
    let std_l = common::listener(backlog).map_err(|e| format!("listen: {e}"))?;
    let addr = std_l.local_addr().map_err(|e| e.to_string())?;
    // SAFETY: the fd comes straight from `into_raw_fd`, so it is open, a
    // listening TCP socket, and owned by nobody else from here on.
    let l = unsafe { TcpListener::from_raw_fd(std_l.into_raw_fd()) };
    Ok((l, addr))
}

fn set_timeouts(s: &TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))
}

fn serve_once(mut s: TcpStream) -> io::Result<()> {
    set_timeouts(&s)?;
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while !common::head_complete(&buf[..len]) {
        if len == buf.len() {
            return Err(io::Error::other("request head too long"));
        }
        let k = s.read(&mut buf[len..])?;
        if k == 0 {
            return Err(io::Error::other("eof before request head"));
        }
        len += k;
    }
    s.write_all(common::URL_RESPONSE)
}

fn fetch(addr: SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&s).map_err(|e| e.to_string())?;
    s.write_all(common::URL_REQUEST)
        .map_err(|e| format!("write: {e}"))?;
    let mut body = Vec::with_capacity(128);
    s.read_to_end(&mut body).map_err(|e| format!("read: {e}"))?;
    common::check_response(&body)
}

fn urlfetch(n: u64) -> Result<Outcome, String> {
    let (l, addr) = may_listener(n)?;
    let overflows0 = common::listen_overflows();
    let t0 = Instant::now();
    let server = go(move || {
        let mut accepted = 0u64;
        let mut errors = 0u64;
        while accepted < n && errors < 10_000 {
            match l.accept() {
                Ok((s, _)) => {
                    accepted += 1;
                    go(move || serve_once(s));
                }
                Err(_) => {
                    errors += 1;
                    may::coroutine::sleep(Duration::from_millis(1));
                }
            }
        }
        accepted
    });
    let clients: Vec<_> = (0..n).map(|_| go(move || fetch(addr))).collect();
    let mut ok = 0u64;
    let mut first_err = None;
    for c in clients {
        match join(c)? {
            Ok(()) => ok += 1,
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let accepted = join(server)?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(e) = first_err {
        return Err(format!("{} of {n} fetches failed, first: {e}", n - ok));
    }
    check("connections accepted", accepted, n)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs).with("listen_overflows", overflows as f64))
}

fn serve_keepalive(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    let mut heads = HeadCounter::default();
    let mut out = Vec::new();
    loop {
        let k = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => k,
        };
        out.clear();
        for _ in 0..heads.feed(&buf[..k]) {
            out.extend_from_slice(common::HTTPD_RESPONSE);
        }
        if !out.is_empty() && s.write_all(&out).is_err() {
            return;
        }
    }
}

fn httpd(secs: u64) -> Result<Outcome, String> {
    let (l, addr) = may_listener(1024)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let load = std::thread::spawn(move || {
        let r = common::run_load(addr, secs);
        stop2.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(addr);
        r
    });
    let t0 = Instant::now();
    loop {
        let accepted = l.accept();
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Ok((s, _)) = accepted {
            go(move || serve_keepalive(s));
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let run = load.join().map_err(|_| "load thread panicked")??;
    Ok(run.outcome(elapsed))
}

fn conns(n: u64) -> Result<Outcome, String> {
    let (l, addr) = may_listener(n)?;
    let mut hs = Vec::with_capacity(n as usize);
    let before = common::current_rss_kb();
    let mut client = ConnsClient::start(addr, n)?;
    let t0 = Instant::now();
    for _ in 0..n {
        let (mut s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
        hs.push(go(move || {
            let mut b = [0u8; 64];
            matches!(s.read(&mut b), Ok(0))
        }));
    }
    let secs = t0.elapsed().as_secs_f64();
    client.wait_connected()?;
    may::coroutine::sleep(common::CONNS_SETTLE);
    let after = common::current_rss_kb();
    client.close()?;
    let mut eofs = 0u64;
    for h in hs {
        eofs += join(h)? as u64;
    }
    check("connections closed cleanly", eofs, n)?;
    Ok(Outcome::secs(secs)
        .with("rss_before_kb", before as f64)
        .with("rss_after_kb", after as f64))
}

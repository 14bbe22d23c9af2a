//! Bounded attacks on the example HTTP servers, for `scripts/stress.sh`:
//! each mode runs for a fixed count or time against one loopback address
//! and prints one line of figures (the script turns them into verdicts).
//!
//! ```text
//! attack slowloris ADDR [--conns 2000] [--interval-ms 3000] [--duration-s 40]
//! attack smuggle ADDR
//! attack garbage ADDR [--count 2000] [--seed 1]
//! attack soak ADDR [--conns 50] [--duration-s 15]
//! ```
//!
//! * `slowloris`: `--conns` connections, each sending a request head that
//!   never ends, one byte every `--interval-ms`; a connection the server
//!   closes is opened again at its next tick. Prints how long the longest
//!   one lived (closed, or still open at the end).
//! * `smuggle`: each request-smuggling case of issue 19 on a fresh
//!   connection, followed by a second request; passes when the answer is a
//!   single `400` and the server closes the connection.
//! * `garbage`: random bytes and mutated requests, 50 connections at a
//!   time, each half-closed after sending; every connection must be closed
//!   by the server within 2 s, with or without an answer.
//! * `soak`: `--conns` keep-alive clients sending requests back to back.
//!
//! ADDR must be a loopback address (this is a test tool, not a weapon).
//! This file is an application on corun: no `unsafe`, public API only.

use std::cell::{Cell, RefCell};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corun::net::TcpStream;

const USAGE: &str = "usage: attack slowloris|smuggle|garbage|soak ADDR [--conns N] [--interval-ms MS] [--duration-s S] [--count N] [--seed N]";

/// How long `smuggle` and `garbage` wait for the server to close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

struct Args {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    interval: Duration,
    duration: Duration,
    count: usize,
    seed: u64,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = args;
    let mode = args.next().ok_or("no mode given")?;
    let addr: SocketAddr = args
        .next()
        .ok_or("no address given")?
        .parse()
        .map_err(|_| "ADDR must be IP:PORT")?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    let soak = mode == "soak";
    let mut a = Args {
        mode,
        addr,
        conns: if soak { 50 } else { 2000 },
        interval: Duration::from_secs(3),
        duration: Duration::from_secs(if soak { 15 } else { 40 }),
        count: 2000,
        seed: 1,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("bad value for {flag}: {value:?}"))?;
        let size = || usize::try_from(n).map_err(|_| format!("{flag} {n} is too large"));
        match flag.as_str() {
            "--conns" => a.conns = size()?.max(1),
            "--count" => a.count = size()?,
            "--interval-ms" => a.interval = Duration::from_millis(n.max(1)),
            "--duration-s" => a.duration = Duration::from_secs(n),
            "--seed" => a.seed = n,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("attack: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let ok = match args.mode.as_str() {
        "slowloris" => corun::run(slowloris(args)),
        "smuggle" => corun::run(smuggle(args.addr)),
        "garbage" => corun::run(garbage(args)),
        "soak" => corun::run(soak(args)),
        m => {
            eprintln!("attack: unknown mode {m:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reads until the server closes, at most `wait`: (bytes, closed in time).
async fn read_to_close(s: &TcpStream, wait: Duration) -> (Vec<u8>, bool) {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = corun::timeout(wait, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (reply, closed)
}

/// Figures of the slowloris attack.
#[derive(Default)]
struct Loris {
    opened: Cell<u64>,
    connect_failures: Cell<u64>,
    closed_by_server: Cell<u64>,
    /// Longest life of a connection the server closed.
    longest_closed: Cell<Duration>,
    open_at_end: Cell<u64>,
    /// Age of the oldest connection still open at the end.
    oldest_open: Cell<Duration>,
}

async fn slowloris(a: Args) -> bool {
    let end = Instant::now() + a.duration;
    let stats = Rc::new(Loris::default());
    let tasks: Vec<_> = (0..a.conns)
        .map(|_| corun::spawn(drip(a.addr, a.interval, end, stats.clone())))
        .collect();
    corun::join_all(tasks).await;
    let s = &stats;
    println!(
        "slowloris: conns {} opened {} connect_failures {} closed_by_server {} longest_closed_s {:.1} open_at_end {} oldest_open_s {:.1}",
        a.conns,
        s.opened.get(),
        s.connect_failures.get(),
        s.closed_by_server.get(),
        s.longest_closed.get().as_secs_f64(),
        s.open_at_end.get(),
        s.oldest_open.get().as_secs_f64()
    );
    true
}

/// One slowloris connection slot until `end`: connect, send an endless
/// head a byte per `interval`, reconnect at the next tick once closed.
async fn drip(addr: SocketAddr, interval: Duration, end: Instant, stats: Rc<Loris>) {
    let mut buf = [0u8; 1024];
    while Instant::now() < end {
        let born = Instant::now();
        let s = match corun::timeout(interval, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            _ => {
                stats.connect_failures.set(stats.connect_failures.get() + 1);
                corun::sleep_until(born + interval).await;
                continue;
            }
        };
        stats.opened.set(stats.opened.get() + 1);
        let mut alive = s
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            .await
            .is_ok();
        while alive {
            let now = Instant::now();
            if now >= end {
                stats.open_at_end.set(stats.open_at_end.get() + 1);
                let age = now - born;
                stats.oldest_open.set(stats.oldest_open.get().max(age));
                return;
            }
            match corun::timeout(interval.min(end - now), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => alive = false,
                Ok(Ok(_)) => {} // a 408 or such; the close follows
                Err(_) => alive = s.write_all(b"a").await.is_ok(),
            }
        }
        let life = born.elapsed();
        stats.closed_by_server.set(stats.closed_by_server.get() + 1);
        stats
            .longest_closed
            .set(stats.longest_closed.get().max(life));
        corun::sleep_until(born + interval.max(life)).await;
    }
}

/// The smuggling cases of issue 19 (and neighbours), as whole requests.
const SMUGGLING: &[(&str, &str)] = &[
    (
        "differing duplicate Content-Length",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "Content-Length: +5",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
    ),
    (
        "NUL in a header value",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n",
    ),
    (
        "CR in a header value",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
    ),
    ("no Host on HTTP/1.1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"),
    (
        "two Host headers",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ),
    (
        "Transfer-Encoding with Content-Length",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "space before the colon",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
    ),
];

async fn smuggle(addr: SocketAddr) -> bool {
    let mut passed = 0;
    for (what, request) in SMUGGLING {
        let verdict = match TcpStream::connect(addr).await {
            Err(e) => format!("connect failed: {e}"),
            Ok(s) => {
                let both = format!("{request}GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n");
                let _ = s.write_all(both.as_bytes()).await;
                let (reply, closed) = read_to_close(&s, CLOSE_WAIT).await;
                let reply = String::from_utf8_lossy(&reply);
                let status = reply.get(9..12).unwrap_or("none");
                let answers = reply.matches("HTTP/1.1 ").count();
                if status == "400" && answers == 1 && closed {
                    passed += 1;
                    "400, closed".to_string()
                } else {
                    format!(
                        "status {status}, {answers} answer(s), {}",
                        if closed { "closed" } else { "left open" }
                    )
                }
            }
        };
        println!("  smuggle {what}: {verdict}");
    }
    println!("smuggle: cases {} passed {passed}", SMUGGLING.len());
    passed == SMUGGLING.len()
}

/// A small xorshift generator: reproducible input from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(u64::MAX)).unwrap_or(0)
    }
}

/// One bad input: random bytes, or a valid request with bytes flipped,
/// inserted or cut.
fn bad_input(rng: &mut Rng) -> Vec<u8> {
    const BASE: &[u8] =
        b"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: keep-alive\r\n\r\nbody";
    let mut v = if rng.next() % 3 == 0 {
        let n = rng.below(2048) + 1;
        (0..n).map(|_| rng.next() as u8).collect()
    } else {
        BASE.to_vec()
    };
    for _ in 0..rng.below(8) + 1 {
        let i = rng.below(v.len());
        match rng.next() % 4 {
            0 => v[i] = rng.next() as u8,
            1 => v.insert(i, b"\r\n:\0 +-,0123456789"[rng.below(17)]),
            2 => v.truncate(i.max(1)),
            _ => {
                let dup: Vec<u8> = v[i..].iter().take(64).copied().collect();
                v.splice(i..i, dup);
            }
        }
    }
    v
}

/// Figures of the garbage attack.
#[derive(Default)]
struct Garbage {
    answered: Cell<u64>,
    silent_close: Cell<u64>,
    left_open: Cell<u64>,
    connect_failures: Cell<u64>,
    statuses: RefCell<std::collections::BTreeMap<String, u64>>,
}

async fn garbage(a: Args) -> bool {
    let stats = Rc::new(Garbage::default());
    let next = Rc::new(Cell::new(0usize));
    let workers: Vec<_> = (0..50)
        .map(|w| {
            let (stats, next) = (stats.clone(), next.clone());
            let mut rng = Rng(a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (w + 1));
            corun::spawn(async move {
                while next.get() < a.count {
                    next.set(next.get() + 1);
                    let input = bad_input(&mut rng);
                    let Ok(s) = TcpStream::connect(a.addr).await else {
                        stats.connect_failures.set(stats.connect_failures.get() + 1);
                        continue;
                    };
                    let _ = s.write_all(&input).await;
                    let _ = s.shutdown(Shutdown::Write);
                    let (reply, closed) = read_to_close(&s, CLOSE_WAIT).await;
                    if !closed {
                        stats.left_open.set(stats.left_open.get() + 1);
                    } else if reply.is_empty() {
                        stats.silent_close.set(stats.silent_close.get() + 1);
                    } else {
                        stats.answered.set(stats.answered.get() + 1);
                        let status = String::from_utf8_lossy(reply.get(9..12).unwrap_or(b"???"));
                        *stats
                            .statuses
                            .borrow_mut()
                            .entry(status.into())
                            .or_default() += 1;
                    }
                }
            })
        })
        .collect();
    corun::join_all(workers).await;
    let s = &stats;
    let statuses: Vec<String> = s
        .statuses
        .borrow()
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    println!(
        "garbage: inputs {} answered {} silent_close {} left_open {} connect_failures {} statuses {}",
        a.count,
        s.answered.get(),
        s.silent_close.get(),
        s.left_open.get(),
        s.connect_failures.get(),
        statuses.join(",")
    );
    s.left_open.get() == 0 && s.connect_failures.get() == 0
}

/// Reads one response from a keep-alive connection: its status. `pending`
/// holds bytes read past the previous response.
async fn read_response(s: &TcpStream, pending: &mut Vec<u8>) -> Result<u16, String> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let status: u16 = head
                .get(9..12)
                .and_then(|s| s.parse().ok())
                .ok_or("bad status line")?;
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or("no Content-Length")?;
            let total = end
                .checked_add(4)
                .and_then(|n| n.checked_add(len))
                .ok_or("Content-Length too large")?;
            if pending.len() >= total {
                pending.drain(..total);
                return Ok(status);
            }
        }
        match s.read(&mut buf).await {
            Ok(0) => return Err("closed".into()),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read: {}", e.kind())),
        }
    }
}

async fn soak(a: Args) -> bool {
    let end = Instant::now() + a.duration;
    let ok = Rc::new(Cell::new(0u64));
    let errors = Rc::new(RefCell::new(
        std::collections::BTreeMap::<String, u64>::new(),
    ));
    let tasks: Vec<_> = (0..a.conns)
        .map(|_| {
            let (ok, errors) = (ok.clone(), errors.clone());
            corun::spawn(async move {
                let mut pending = Vec::new();
                let mut conn: Option<TcpStream> = None;
                while Instant::now() < end {
                    if conn.is_none() {
                        match TcpStream::connect(a.addr).await {
                            Ok(s) => conn = Some(s),
                            Err(e) => {
                                *errors
                                    .borrow_mut()
                                    .entry(format!("connect: {}", e.kind()))
                                    .or_default() += 1;
                                corun::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        }
                        pending.clear();
                    }
                    let Some(s) = &conn else { continue };
                    let r = async {
                        s.write_all(b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
                            .await
                            .map_err(|e| format!("write: {}", e.kind()))?;
                        read_response(s, &mut pending).await
                    };
                    match corun::timeout(Duration::from_secs(5), r).await {
                        Ok(Ok(200)) => ok.set(ok.get() + 1),
                        Ok(Ok(st)) => {
                            *errors
                                .borrow_mut()
                                .entry(format!("status {st}"))
                                .or_default() += 1
                        }
                        Ok(Err(e)) => {
                            *errors.borrow_mut().entry(e).or_default() += 1;
                            conn = None;
                        }
                        Err(_) => {
                            *errors.borrow_mut().entry("timed out".into()).or_default() += 1;
                            conn = None;
                        }
                    }
                }
            })
        })
        .collect();
    corun::join_all(tasks).await;
    let n_err: u64 = errors.borrow().values().sum();
    let detail: Vec<String> = errors
        .borrow()
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    println!(
        "soak: conns {} seconds {} ok {} errors {} {}",
        a.conns,
        a.duration.as_secs(),
        ok.get(),
        n_err,
        detail.join(",")
    );
    n_err == 0
}

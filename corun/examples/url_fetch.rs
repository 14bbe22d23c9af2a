//! Concurrent HTTP fetcher: the seed's `urlfetch` client on corun.
//!
//! Run (against `http_server` on port 8080):
//!
//! ```text
//! cargo run --release -p corun --example url_fetch -- --concurrency 100 --requests 1000 http://127.0.0.1:8080/
//! ```
//!
//! `url_fetch [--concurrency N] [--requests M] [--timeout-ms T] http://HOST:PORT/PATH`
//! runs N tasks (default 1000) that share M requests (default 1000). Each
//! request opens a connection, sends `GET PATH HTTP/1.1` with
//! `Connection: close`, and reads the response to end of stream. A `2xx`
//! status with a complete response is a success; anything else (refused,
//! reset, timeout, other status, malformed response, a body shorter or
//! longer than its `Content-Length`) is a failure, tallied by reason. It prints successes, failures with reasons, and the elapsed
//! time, and exits 1 if anything failed (2 on a usage error).
//!
//! HOST must be an IP literal or `localhost`: name resolution would block
//! the scheduler thread.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corun::net::TcpStream;

const USAGE: &str =
    "usage: url_fetch [--concurrency N] [--requests M] [--timeout-ms T] http://HOST:PORT/PATH";

/// Largest response accepted (more is a failure, not unbounded memory).
/// Lengths and counts in this file are checked or saturating: a peer's
/// figures never wrap.
const MAX_RESPONSE: usize = 1 << 20;

struct Args {
    concurrency: usize,
    requests: usize,
    timeout: Duration,
    addr: SocketAddr,
    host: String,
    path: String,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut concurrency, mut requests, mut timeout) = (1000, 1000, Duration::from_secs(10));
    let mut url = None;
    let mut args = args;
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            let v = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse()
                .map_err(|_| format!("bad value for {name}: {v:?}"))
        };
        match a.as_str() {
            "--concurrency" => concurrency = count(num(&a)?, &a)?,
            "--requests" => requests = count(num(&a)?, &a)?,
            "--timeout-ms" => timeout = Duration::from_millis(num(&a)?),
            _ if a.starts_with("http://") && url.is_none() => url = Some(a),
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    let url = url.ok_or("no URL given")?;
    let (addr, host, path) = parse_url(&url)?;
    Ok(Args {
        concurrency: concurrency.max(1),
        requests,
        timeout,
        addr,
        host,
        path,
    })
}

/// A count from the command line as a `usize`.
fn count(n: u64, name: &str) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("{name} {n} is too large"))
}

/// `http://HOST[:PORT][/PATH]` with HOST an IP literal (IPv6 in brackets)
/// or `localhost`.
fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => {
            (h, p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?)
        }
        _ => (authority, 80),
    };
    let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => [127, 0, 0, 1].into(),
        h => h
            .parse()
            .map_err(|_| format!("host {host:?} is not an IP literal or localhost"))?,
    };
    Ok((
        SocketAddr::new(ip, port),
        authority.to_string(),
        path.to_string(),
    ))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("url_fetch: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let (ok, failures) = corun::run(fetch_all(args));
    let elapsed = started.elapsed();
    let failed: usize = failures.values().sum();
    println!("successes: {ok}");
    println!("failures: {failed}");
    for (reason, n) in &failures {
        println!("  {n} x {reason}");
    }
    println!("elapsed: {:.3} s", elapsed.as_secs_f64());
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs the workers; returns the successes and the failures by reason.
async fn fetch_all(args: Args) -> (usize, BTreeMap<String, usize>) {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: corun-url-fetch\r\nConnection: close\r\n\r\n",
        args.path, args.host
    );
    let shared = Rc::new(Shared {
        left: Cell::new(args.requests),
        ok: Cell::new(0),
        failures: RefCell::new(BTreeMap::new()),
    });
    let workers: Vec<_> = (0..args.concurrency.min(args.requests))
        .map(|_| {
            let (shared, request) = (shared.clone(), request.clone());
            corun::spawn(async move {
                while shared.take_one() {
                    match corun::timeout(args.timeout, fetch(args.addr, &request)).await {
                        Ok(Ok(())) => shared.ok.set(shared.ok.get().saturating_add(1)),
                        Ok(Err(reason)) => shared.fail(reason),
                        Err(_) => shared.fail("timed out".into()),
                    }
                }
            })
        })
        .collect();
    for r in corun::join_all(workers).await {
        if r.is_err() {
            shared.fail("worker task failed".into());
        }
    }
    (shared.ok.get(), shared.failures.take())
}

/// Counters shared by the workers of one scheduler (single thread: `Cell`).
struct Shared {
    left: Cell<usize>,
    ok: Cell<usize>,
    failures: RefCell<BTreeMap<String, usize>>,
}

impl Shared {
    fn take_one(&self) -> bool {
        let left = self.left.get();
        self.left.set(left.saturating_sub(1));
        left > 0
    }

    fn fail(&self, reason: String) {
        let mut failures = self.failures.borrow_mut();
        let n = failures.entry(reason).or_default();
        *n = n.saturating_add(1);
    }
}

/// One request; `Err(reason)` unless the status is 2xx and the response is
/// complete: read to end of stream (the request says `Connection: close`),
/// its body exactly as long as its `Content-Length`, when it has one.
async fn fetch(addr: SocketAddr, request: &str) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {}", e.kind()))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    // Where the body starts and how long it says it is, once the head is in.
    let mut framing: Option<(usize, Option<usize>)> = None;
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {}", e.kind()))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if framing.is_none() {
            if let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let len = content_length(&buf[..head_end])?;
                framing = Some((head_end + 4, len));
            }
        }
        if buf.len() > MAX_RESPONSE {
            return Err("response too large".into());
        }
    }
    let Some((body_start, declared)) = framing else {
        return Err("connection closed before a response head".into());
    };
    let got = buf.len() - body_start;
    match declared {
        Some(want) if got < want => {
            return Err(format!(
                "body shorter than its Content-Length ({got} of {want} bytes)"
            ));
        }
        Some(want) if got > want => {
            return Err(format!(
                "body longer than its Content-Length ({got}, declared {want})"
            ));
        }
        _ => {}
    }
    let status = buf
        .strip_prefix(b"HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("malformed status line")?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

/// The `Content-Length` of a response head, if it has one: digits only, and
/// at most [`MAX_RESPONSE`] (a larger body would be refused anyway).
fn content_length(head: &[u8]) -> Result<Option<usize>, String> {
    let head = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8")?;
    let mut found: Option<usize> = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                let value = value.trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("bad Content-Length".into());
                }
                let n = value
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n <= MAX_RESPONSE)
                    .ok_or_else(|| format!("Content-Length {value} is too large"))?;
                if found.is_some_and(|m| m != n) {
                    return Err("conflicting Content-Length headers".into());
                }
                found = Some(n);
            }
        }
    }
    Ok(found)
}

//! A small, fast HTTP/1.1 server on corun: every request gets the same
//! canned `200 OK` (`Hello, world!`). It is the seed's `corun_server` grown
//! up, and the server the HTTP benchmark measures.
//!
//! Run:
//!
//! ```text
//! cargo run --release -p corun --example http_server -- --port 8080
//! cargo run --release -p corun --example http_server -- --port 0 --threads 2 --idle-timeout-ms 10000
//! ```
//!
//! The first line on stdout is `listening on ADDR` (the real port when
//! `--port 0`). Ctrl-C or SIGTERM shuts it down gracefully: the listener
//! closes, idle connections close at once, busy ones after their current
//! response (within a grace period), then it prints `shutdown complete: ...`
//! and exits 0.
//!
//! What it does, per connection: one task, one 8 KiB read buffer allocated
//! at accept and reused for every request. Requests are found with a scan
//! for `\r\n\r\n`, so several pipelined requests in one read are answered
//! together with one `write_all`. HTTP/1.1 is keep-alive unless
//! `Connection: close`; HTTP/1.0 closes after the response unless
//! `Connection: keep-alive`. A head over 8 KiB gets `413`, a malformed
//! request `400`, a chunked body `501`; the connection closes after those.
//! A connection idle for `--idle-timeout-ms` (default 10 s) is closed.
//! When `accept` fails with `EMFILE`/`ENFILE` (out of file descriptors) the
//! server logs it and retries after a growing pause (10 ms up to 500 ms).
//! `--threads N` runs N schedulers, each with its own `SO_REUSEPORT`
//! listener (thread-per-core).
//!
//! This file is an application on corun: no `unsafe`, and it must NOT reach
//! into corun's internals (public API only).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use corun::net::{TcpListener, TcpStream};
use corun::signal::{Signal, SignalKind};
use corun::{Sleep, TaskId};
use futures_io::AsyncRead;

/// Largest request head (request line + headers) accepted; also the size of
/// each connection's read buffer.
const MAX_HEAD: usize = 8 * 1024;
/// First and largest pause after `accept` ran out of file descriptors.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long busy connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a closing connection waits for the peer's FIN (so unread request
/// bytes do not turn our close into a reset that destroys the response).
const LINGER: Duration = Duration::from_millis(500);

const OK_KEEP_ALIVE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: corun\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
const OK_KEEP_ALIVE_10: &[u8] = b"HTTP/1.1 200 OK\r\nServer: corun\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world!";
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: corun\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";

/// The command line.
#[derive(Clone, Copy, Debug)]
struct Config {
    addr: std::net::IpAddr,
    port: u16,
    threads: usize,
    idle_timeout: Duration,
}

const USAGE: &str =
    "usage: http_server [--addr IP] [--port PORT] [--threads N] [--idle-timeout-ms MS]
  --addr IP              address to bind (default 127.0.0.1)
  --port PORT            port to bind, 0 for any free one (default 8080)
  --threads N            schedulers, each with its own SO_REUSEPORT listener (default 1)
  --idle-timeout-ms MS   close connections idle this long (default 10000)";

fn parse_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut cfg = Config {
        addr: [127, 0, 0, 1].into(),
        port: 8080,
        threads: 1,
        idle_timeout: Duration::from_secs(10),
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--addr" => cfg.addr = value.parse().map_err(|_| bad())?,
            "--port" => cfg.port = value.parse().map_err(|_| bad())?,
            "--threads" => cfg.threads = value.parse().map_err(|_| bad())?,
            "--idle-timeout-ms" => {
                cfg.idle_timeout = Duration::from_millis(value.parse().map_err(|_| bad())?)
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if cfg.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok(cfg)
}

fn main() {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(cfg) => cfg,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("http_server: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    // Thread 0 binds first (resolving port 0); the others then bind the
    // same address with SO_REUSEPORT.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    let first = SocketAddr::new(cfg.addr, cfg.port);
    threads.push(std::thread::spawn(move || serve(cfg, first, ready_tx)));
    let addr = match ready_rx.recv() {
        Ok(Ok(addr)) => addr,
        Ok(Err(e)) => {
            eprintln!("http_server: cannot listen on {first}: {e}");
            std::process::exit(1);
        }
        Err(_) => std::process::exit(1),
    };
    for _ in 1..cfg.threads {
        let (tx, rx) = std::sync::mpsc::channel();
        threads.push(std::thread::spawn(move || serve(cfg, addr, tx)));
        if let Ok(Err(e)) = rx.recv() {
            eprintln!("http_server: extra listener on {addr}: {e}");
        }
    }
    println!("listening on {addr}");
    let (mut conns, mut reqs) = (0, 0);
    for t in threads {
        if let Ok((c, r)) = t.join() {
            conns += c;
            reqs += r;
        }
    }
    println!("shutdown complete: {conns} connections, {reqs} requests served");
}

/// What one scheduler shares between its accept loop, its connections and
/// the shutdown path. `Rc` + `Cell`/`RefCell`, not locks: it never leaves
/// the scheduler's thread, and no borrow is held across an `.await`.
#[derive(Default)]
struct State {
    shutting_down: Cell<bool>,
    /// Live connections: task id and an "idle" flag set while the task waits
    /// for the first byte of a new request (safe to kill at shutdown).
    conns: RefCell<HashMap<u64, LiveConn>>,
    next_key: Cell<u64>,
    connections: Cell<u64>,
    requests: Cell<u64>,
}

/// A live connection's task and its "idle" flag (see [`State::conns`]).
type LiveConn = (TaskId, Rc<Cell<bool>>);

/// Removes a connection from [`State::conns`] when its task ends, however
/// it ends (killed tasks drop their future, so this runs too).
struct Registered {
    state: Rc<State>,
    key: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.state.conns.borrow_mut().remove(&self.key);
    }
}

/// One scheduler: binds, reports the address, serves until a signal, then
/// shuts down gracefully. Returns (connections, requests) served.
fn serve(
    cfg: Config,
    addr: SocketAddr,
    ready: std::sync::mpsc::Sender<io::Result<SocketAddr>>,
) -> (u64, u64) {
    corun::run(async move {
        let listener = match TcpListener::builder()
            .reuse_port(cfg.threads > 1)
            .bind(addr)
        {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return (0, 0);
            }
        };
        let mut signals = match shutdown_signals() {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e));
                return (0, 0);
            }
        };
        let _ = ready.send(listener.local_addr());
        let state = Rc::new(State::default());
        let acceptor = corun::spawn_named("accept", accept_loop(listener, state.clone(), cfg));

        // Wait for Ctrl-C / SIGTERM.
        poll_fn(|cx| {
            let (int, term) = &mut signals;
            match (int.poll_recv(cx), term.poll_recv(cx)) {
                (Poll::Pending, Poll::Pending) => Poll::Pending,
                _ => Poll::Ready(()),
            }
        })
        .await;
        eprintln!("http_server: signal received, shutting down");
        state.shutting_down.set(true);
        corun::kill(acceptor.id()); // drops the listener: no new connections
        let live: Vec<(TaskId, bool)> = state
            .conns
            .borrow()
            .values()
            .map(|(id, idle)| (*id, idle.get()))
            .collect();
        for &(id, idle) in &live {
            if idle {
                corun::kill(id);
            }
        }
        let rest = async {
            for &(id, _) in &live {
                corun::wait(id).await;
            }
        };
        if corun::timeout(SHUTDOWN_GRACE, rest).await.is_err() {
            eprintln!("http_server: grace period over, closing busy connections");
        }
        (state.connections.get(), state.requests.get())
    })
}

/// Listeners for SIGINT and SIGTERM (each scheduler has its own; every
/// one sees the signal).
fn shutdown_signals() -> io::Result<(Signal, Signal)> {
    Ok((
        corun::signal::signal(SignalKind::interrupt())?,
        corun::signal::signal(SignalKind::terminate())?,
    ))
}

/// Accepts until killed; on `EMFILE`/`ENFILE` backs off instead of
/// spinning (the pending connection stays queued and is accepted later).
async fn accept_loop(listener: TcpListener, state: Rc<State>, cfg: Config) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                backoff = MIN_BACKOFF;
                let _ = stream.set_nodelay(true);
                let key = state.next_key.get();
                state.next_key.set(key + 1);
                state.connections.set(state.connections.get() + 1);
                let idle = Rc::new(Cell::new(false));
                let reg = Registered {
                    state: state.clone(),
                    key,
                };
                let flag = idle.clone();
                let task = corun::spawn(async move {
                    let _reg = reg;
                    connection(stream, &_reg.state, &flag, cfg.idle_timeout).await;
                });
                state.conns.borrow_mut().insert(key, (task.id(), idle));
            }
            Err(e) => {
                let out_of_fds = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
                if !out_of_fds && e.kind() == io::ErrorKind::ConnectionAborted {
                    continue; // the peer gave up while queued; nothing to wait for
                }
                eprintln!(
                    "http_server: accept failed: {e}{}; retrying in {backoff:?}",
                    if out_of_fds {
                        " (out of file descriptors)"
                    } else {
                        ""
                    }
                );
                corun::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Serves one connection until it closes, errs, idles out, or shutdown.
async fn connection(stream: TcpStream, state: &State, idle: &Cell<bool>, idle_timeout: Duration) {
    let mut buf = vec![0u8; MAX_HEAD].into_boxed_slice();
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut len = 0; // bytes of `buf` holding unprocessed input
    let mut body_left = 0u64; // request body bytes still to skip
    let mut last_read = Instant::now();
    let mut timer = corun::sleep(idle_timeout);
    let mut unyielded = 0u32; // requests served since this task last yielded
    loop {
        let waiting_for_request = len == 0 && body_left == 0;
        if waiting_for_request && state.shutting_down.get() {
            break;
        }
        idle.set(waiting_for_request);
        let r = read_or_idle(
            &stream,
            &mut buf[len..],
            &mut timer,
            last_read,
            idle_timeout,
        )
        .await;
        idle.set(false);
        match r {
            Some(Ok(0)) | Some(Err(_)) => return, // peer closed or reset
            None => break,                        // idle too long
            Some(Ok(n)) => {
                len += n;
                last_read = Instant::now();
            }
        }
        let mut start = 0;
        let mut close = false;
        loop {
            if body_left > 0 {
                let skip = body_left.min((len - start) as u64);
                start += skip as usize;
                body_left -= skip;
                if body_left > 0 {
                    break;
                }
            }
            let Some(end) = find_head_end(&buf[start..len]) else {
                break;
            };
            let head = parse_head(&buf[start..start + end]);
            start += end + 4;
            match head {
                Ok(h) => {
                    state.requests.set(state.requests.get() + 1);
                    unyielded += 1;
                    body_left = h.content_length;
                    let keep = h.keep_alive && !state.shutting_down.get();
                    out.extend_from_slice(match (keep, h.http10) {
                        (false, _) => OK_CLOSE,
                        (true, false) => OK_KEEP_ALIVE,
                        (true, true) => OK_KEEP_ALIVE_10,
                    });
                    if !keep {
                        close = true;
                        break;
                    }
                }
                Err(status) => {
                    out.extend_from_slice(error_response(status).as_bytes());
                    close = true;
                    break;
                }
            }
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if !close && len == buf.len() {
            out.extend_from_slice(error_response(413).as_bytes());
            close = true;
        }
        if !out.is_empty() {
            match corun::timeout(idle_timeout, stream.write_all(&out)).await {
                Ok(Ok(())) => out.clear(),
                _ => return, // peer gone or not reading: drop the connection
            }
        }
        if close {
            break;
        }
        // Pipelined requests keep every read ready, and corun never yields
        // for us: once 16 requests were served since the last yield, let
        // the other connections run. Checked here, after the write, as one
        // read may hold many requests answered together.
        if unyielded >= 16 {
            unyielded = 0;
            corun::yield_now().await;
        }
    }
    linger_close(&stream, &mut buf).await;
}

/// Reads into `buf`, or gives up (`None`) once nothing has been read for
/// `idle` since `last`. One timer per connection, re-armed only when it
/// fires, so a busy connection pays no timer work per request.
async fn read_or_idle(
    stream: &TcpStream,
    buf: &mut [u8],
    timer: &mut Sleep,
    last: Instant,
    idle: Duration,
) -> Option<io::Result<usize>> {
    poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut &*stream).poll_read(cx, buf) {
            return Poll::Ready(Some(r));
        }
        while Pin::new(&mut *timer).poll(cx).is_ready() {
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return Poll::Ready(None);
            }
            Pin::new(&mut *timer).reset(deadline);
        }
        Poll::Pending
    })
    .await
}

/// Half-closes, then drains what the peer still sends until it closes too
/// (bounded in time and bytes), so the kernel does not answer unread input
/// with a reset that could destroy our last response.
async fn linger_close(stream: &TcpStream, buf: &mut [u8]) {
    let _ = stream.shutdown(Shutdown::Write);
    let drain = async {
        let mut total = 0;
        while total < 1 << 20 {
            match stream.read(buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = corun::timeout(LINGER, drain).await;
}

/// Offset of the `\r\n\r\n` that ends a request head. Skips ahead four
/// bytes whenever the byte under test cannot be part of the terminator.
fn find_head_end(b: &[u8]) -> Option<usize> {
    let mut i = 3;
    while i < b.len() {
        match b[i] {
            b'\n' if &b[i - 3..i] == b"\r\n\r" => return Some(i - 3),
            b'\n' | b'\r' => i += 1,
            _ => i += 4,
        }
    }
    None
}

/// What the server needs to know about a request.
#[derive(Debug, PartialEq)]
struct Head {
    http10: bool,
    keep_alive: bool,
    content_length: u64,
}

/// Parses a request head (without its final `\r\n\r\n`); `Err(status)` for
/// requests it will not serve.
fn parse_head(head: &[u8]) -> Result<Head, u16> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    let is_token = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
    };
    if !is_token(method) || target.is_empty() || target.iter().any(|c| c.is_ascii_control()) {
        return Err(400);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        v if v.starts_with(b"HTTP/") => return Err(505),
        _ => return Err(400),
    };
    let mut h = Head {
        http10,
        keep_alive: !http10,
        content_length: 0,
    };
    for line in lines {
        let colon = line.iter().position(|&b| b == b':').ok_or(400u16)?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if !is_token(name) {
            return Err(400);
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    h.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    h.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let s = std::str::from_utf8(value).map_err(|_| 400u16)?;
            h.content_length = s.parse().map_err(|_| 400u16)?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(501); // chunked request bodies are not supported
        }
    }
    Ok(h)
}

/// A complete response (closing the connection) for an error status.
fn error_response(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        413 => "Content Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
    let body = format!("{status} {reason}\n");
    format!(
        "HTTP/1.1 {status} {reason}\r\nServer: corun\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_is_found_at_any_offset() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\n"), Some(14));
        assert_eq!(find_head_end(b"\r\n\r\n"), Some(0));
        assert_eq!(find_head_end(b"a\r\n\r\n"), Some(1));
        assert_eq!(find_head_end(b"ab\r\n\r\nxx"), Some(2));
        assert_eq!(find_head_end(b"\r\n\r\r\n\r\n"), Some(3));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r"), None);
    }

    #[test]
    fn heads_parse_or_get_a_status() {
        let h = parse_head(b"GET / HTTP/1.1\r\nHost: x").unwrap();
        assert!(h.keep_alive && !h.http10);
        let h = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive").unwrap();
        assert!(h.keep_alive && h.http10);
        assert!(!parse_head(b"GET / HTTP/1.0").unwrap().keep_alive);
        assert!(
            !parse_head(b"GET / HTTP/1.1\r\nconnection: close")
                .unwrap()
                .keep_alive
        );
        let h = parse_head(b"POST / HTTP/1.1\r\nContent-Length: 5").unwrap();
        assert_eq!(h.content_length, 5);
        assert_eq!(parse_head(b"garbage"), Err(400));
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nno colon"), Err(400));
        assert_eq!(parse_head(b"GET / HTTP/2.0"), Err(505));
        assert_eq!(parse_head(b"GET /  HTTP/1.1"), Err(400));
        assert_eq!(
            parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"),
            Err(501)
        );
        for r in [OK_KEEP_ALIVE, OK_KEEP_ALIVE_10, OK_CLOSE] {
            assert!(
                r.ends_with(b"\r\nContent-Length: 13\r\n\r\nHello, world!")
                    || r.ends_with(b"\r\n\r\nHello, world!")
            );
        }
    }
}

//! A small, fast HTTP/1.1 server on corun: every request gets the same
//! canned `200 OK` (`Hello, world!`). It is the seed's `corun_server` grown
//! up, and the server the HTTP benchmark measures.
//!
//! Run:
//!
//! ```text
//! cargo run --release -p corun --example http_server -- --port 8080
//! cargo run --release -p corun --example http_server -- --port 0 --cores 2 --idle-timeout-ms 10000
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
//! `Connection: keep-alive`. The head parser (`shared/http_head.rs`, also
//! the fuzz target's) frames strictly, per RFC 9112: anything a proxy could
//! read differently (two different `Content-Length`s, a signed one, a
//! control byte in a value, `Host` missing or repeated, `Transfer-Encoding`
//! with `Content-Length`) gets `400`. A head over 8 KiB gets `413`, a
//! chunked body `501`; the connection closes after those.
//!
//! Time limits, each a budget that a trickle of bytes cannot renew:
//!
//! * `--idle-timeout-ms` (default 10 s): a connection waiting for a new
//!   request closes when nothing arrived for this long.
//! * `--head-timeout-ms` (default 10 s): a request head must be complete
//!   this long after its first byte, or the answer is `408` and a close.
//! * `--min-body-rate` (default 1024 bytes/s): a request body must arrive at
//!   this average rate, after a head-timeout's grace from its start.
//!
//! `--max-conns` (default: `RLIMIT_NOFILE` less a reserve for the server's
//! own descriptors) caps live connections, split evenly between the
//! schedulers. At the cap, each newly accepted connection evicts the one
//! that has gone longest without completing a request head, so a slow
//! client loses its slot to a new one instead of new clients waiting in the
//! kernel's queue. When `accept` fails anyway with `EMFILE`/`ENFILE` (out
//! of file descriptors) the server logs it and retries after a growing
//! pause (10 ms up to 500 ms).
//! `--cores N` (`0`: one per CPU) runs one corun scheduler of N cores
//! (`Builder::cores`): core 0 binds first (resolving `--port 0`), then
//! `corun::spawn_on` starts the same server on every other core with its
//! own `SO_REUSEPORT` listener, and the kernel spreads connections over
//! them (thread-per-core; `--threads` is the old name of the flag).
//!
//! `kill -USR1 <pid>` prints every core's task table (`corun::dump`) on
//! stderr: each connection task, what it waits on, its polls and where it
//! was spawned, under the accept loop that spawned it when `--dump-details
//! on` keeps parents and wait times.
//!
//! This file is an application on corun: no `unsafe`, and it must NOT reach
//! into corun's internals (public API only).

#[path = "shared/http_head.rs"]
mod http_head;
#[path = "shared/signals.rs"]
mod signals;

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
use corun::sync::oneshot;
use corun::{Sleep, TaskId};
use futures_io::AsyncRead;
use http_head::{find_head_end, parse_head};

/// Largest request head (request line + headers) accepted; also the size of
/// each connection's read buffer.
const MAX_HEAD: usize = 8 * 1024;
/// First and largest pause after `accept` ran out of file descriptors.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long busy connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// File descriptors kept back from `RLIMIT_NOFILE` for the process itself
/// (stdio, and per scheduler its poller, waker, listener and signal pipe)
/// when `--max-conns` is derived from it.
const FD_RESERVE_BASE: u64 = 32;
const FD_RESERVE_PER_THREAD: u64 = 8;
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
    cores: usize,
    idle_timeout: Duration,
    head_timeout: Duration,
    /// Bytes per second a request body must average (at least 1).
    min_body_rate: u64,
    /// Live connections allowed in all; `None` until derived from the fd
    /// limit in `main`.
    max_conns: Option<usize>,
    /// The SIGUSR1 dump shows parents and wait times.
    dump_details: bool,
}

const USAGE: &str = "usage: http_server [--addr IP] [--port PORT] [--cores N] [--idle-timeout-ms MS]
                   [--head-timeout-ms MS] [--min-body-rate BYTES] [--max-conns N]
                   [--dump-details on|off]
  --addr IP              address to bind (default 127.0.0.1)
  --port PORT            port to bind, 0 for any free one (default 8080)
  --cores N              scheduler cores (0: one per CPU), each with its own SO_REUSEPORT listener (default 1)
  --idle-timeout-ms MS   close connections waiting this long for a request (default 10000)
  --head-timeout-ms MS   a request head must be complete this long after its first byte (default 10000)
  --min-body-rate BYTES  bytes per second a request body must average (default 1024)
  --max-conns N          live connections before the stalest is evicted (default: fd limit less a reserve)
  --dump-details on|off  the SIGUSR1 task dump shows parents and wait times (default off)";

fn parse_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut cfg = Config {
        addr: [127, 0, 0, 1].into(),
        port: 8080,
        cores: 1,
        idle_timeout: Duration::from_secs(10),
        head_timeout: Duration::from_secs(10),
        min_body_rate: 1024,
        max_conns: None,
        dump_details: false,
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value:?}");
        let ms = || value.parse().map(Duration::from_millis).map_err(|_| bad());
        match flag.as_str() {
            "--addr" => cfg.addr = value.parse().map_err(|_| bad())?,
            "--port" => cfg.port = value.parse().map_err(|_| bad())?,
            "--cores" | "--threads" => cfg.cores = value.parse().map_err(|_| bad())?,
            "--idle-timeout-ms" => cfg.idle_timeout = ms()?,
            "--head-timeout-ms" => cfg.head_timeout = ms()?,
            "--min-body-rate" => cfg.min_body_rate = value.parse().map_err(|_| bad())?,
            "--max-conns" => cfg.max_conns = Some(value.parse().map_err(|_| bad())?),
            "--dump-details" => {
                cfg.dump_details = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(bad()),
                }
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if cfg.cores == 0 {
        cfg.cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    }
    if cfg.min_body_rate == 0 {
        return Err("--min-body-rate must be at least 1".into());
    }
    if cfg.max_conns == Some(0) {
        return Err("--max-conns must be at least 1".into());
    }
    Ok(cfg)
}

/// The connection cap when `--max-conns` is not given: the soft
/// `RLIMIT_NOFILE` less what the process needs besides connections.
fn default_max_conns(threads: usize) -> usize {
    use rustix::process::{Resource, getrlimit};
    let reserve = FD_RESERVE_PER_THREAD
        .saturating_mul(u64::try_from(threads).unwrap_or(u64::MAX))
        .saturating_add(FD_RESERVE_BASE);
    let limit = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let cap = limit.saturating_sub(reserve).max(1);
    usize::try_from(cap).unwrap_or(usize::MAX)
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
    let max_conns = cfg
        .max_conns
        .unwrap_or_else(|| default_max_conns(cfg.cores));
    let cfg = Config {
        max_conns: Some(max_conns),
        ..cfg
    };
    // Core 0 binds first (resolving port 0); the other cores then bind the
    // same address with SO_REUSEPORT.
    let builder = corun::Builder::new()
        .cores(cfg.cores)
        .dump_details(cfg.dump_details);
    let all = builder.run(async move {
        let first = SocketAddr::new(cfg.addr, cfg.port);
        let (ready_tx, ready_rx) = oneshot::channel();
        let mut servers = vec![corun::spawn(serve(cfg, first, ready_tx))];
        let addr = match ready_rx.await {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => {
                eprintln!("http_server: cannot listen on {first}: {e}");
                std::process::exit(1);
            }
            Err(_) => std::process::exit(1),
        };
        for core in 1..corun::cores() {
            let (tx, rx) = oneshot::channel();
            match corun::spawn_on(core, move || serve(cfg, addr, tx)) {
                Ok(server) => servers.push(server),
                Err(e) => eprintln!("http_server: core {core}: {e}"),
            }
            if let Ok(Err(e)) = rx.await {
                eprintln!("http_server: extra listener on {addr}: {e}");
            }
        }
        println!("listening on {addr}");
        let mut all = Totals::default();
        for server in servers {
            if let Ok(t) = server.await {
                all.connections += t.connections;
                all.requests += t.requests;
                all.evicted += t.evicted;
            }
        }
        all
    });
    println!(
        "shutdown complete: {} connections, {} requests served, {} evicted",
        all.connections, all.requests, all.evicted
    );
}

/// What one scheduler shares between its accept loop, its connections and
/// the shutdown path. `Rc` + `Cell`/`RefCell`, not locks: it never leaves
/// the scheduler's thread, and no borrow is held across an `.await` (nor
/// across `corun::kill`, which drops the killed task's `Registered` guard
/// and so borrows `conns` itself).
struct State {
    shutting_down: Cell<bool>,
    /// Live connections by key (see [`LiveConn`]).
    conns: RefCell<HashMap<u64, LiveConn>>,
    /// Live connections this scheduler allows before evicting one.
    cap: usize,
    next_key: Cell<u64>,
    connections: Cell<u64>,
    requests: Cell<u64>,
    evicted: Cell<u64>,
}

/// A live connection: its task, and what its task tells the others.
struct LiveConn {
    task: TaskId,
    watch: Rc<Watch>,
}

/// Written by a connection's task, read by the accept loop and shutdown.
struct Watch {
    /// Set while the task waits for the first byte of a new request (safe
    /// to kill at shutdown).
    idle: Cell<bool>,
    /// When the connection was accepted or last completed a request head:
    /// the oldest one is evicted at the cap.
    stalled_since: Cell<Instant>,
}

/// What one scheduler served, summed over schedulers for the exit line.
#[derive(Default)]
struct Totals {
    connections: u64,
    requests: u64,
    evicted: u64,
}

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
/// shuts down gracefully. Returns what it served.
async fn serve(
    cfg: Config,
    addr: SocketAddr,
    ready: oneshot::Sender<io::Result<SocketAddr>>,
) -> Totals {
    {
        let listener = match TcpListener::builder().reuse_port(cfg.cores > 1).bind(addr) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return Totals::default();
            }
        };
        let mut signals = match signals::shutdown_signals() {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e));
                return Totals::default();
            }
        };
        let _ = ready.send(listener.local_addr());
        let all = cfg.max_conns.unwrap_or(usize::MAX);
        let state = Rc::new(State {
            shutting_down: Cell::new(false),
            conns: RefCell::new(HashMap::new()),
            cap: (all / cfg.cores).max(1),
            next_key: Cell::new(0),
            connections: Cell::new(0),
            requests: Cell::new(0),
            evicted: Cell::new(0),
        });
        let acceptor = corun::spawn_named("accept", accept_loop(listener, state.clone(), cfg));
        // SIGUSR1: this core's task table on stderr (every core prints its
        // own), for a look inside a live server.
        if let Ok(mut usr1) = corun::signal::signal(corun::signal::SignalKind::user_defined1()) {
            corun::spawn_named("dump on SIGUSR1", async move {
                while usr1.recv().await.is_ok() {
                    eprint!("{}", corun::dump());
                }
            })
            .detach();
        }

        // Wait for Ctrl-C / SIGTERM.
        signals.recv().await;
        eprintln!("http_server: signal received, shutting down");
        state.shutting_down.set(true);
        corun::kill(acceptor.id()); // drops the listener: no new connections
        let live: Vec<(TaskId, bool)> = state
            .conns
            .borrow()
            .values()
            .map(|c| (c.task, c.watch.idle.get()))
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
        Totals {
            connections: state.connections.get(),
            requests: state.requests.get(),
            evicted: state.evicted.get(),
        }
    }
}

/// Accepts until killed; at the cap, evicts the stalest connection for each
/// new one; on `EMFILE`/`ENFILE` backs off instead of spinning (the pending
/// connection stays queued and is accepted later).
async fn accept_loop(listener: TcpListener, state: Rc<State>, cfg: Config) {
    let mut backoff = MIN_BACKOFF;
    let mut unyielded = 0u32; // connections accepted since the last yield
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                backoff = MIN_BACKOFF;
                if state.conns.borrow().len() >= state.cap {
                    evict_stalest(&state);
                }
                start_connection(stream, &state, cfg);
                // A flood of connects keeps `accept` ready and corun never
                // yields for us: let the connections just made run.
                unyielded += 1;
                if unyielded >= 16 {
                    unyielded = 0;
                    corun::yield_now().await;
                }
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

/// Registers `stream` in [`State::conns`] and spawns its task.
fn start_connection(stream: TcpStream, state: &Rc<State>, cfg: Config) {
    let _ = stream.set_nodelay(true);
    let key = state.next_key.get();
    state.next_key.set(key + 1);
    state.connections.set(state.connections.get() + 1);
    let watch = Rc::new(Watch {
        idle: Cell::new(false),
        stalled_since: Cell::new(Instant::now()),
    });
    let reg = Registered {
        state: state.clone(),
        key,
    };
    let w = watch.clone();
    let task = corun::spawn(async move {
        let reg = reg;
        connection(stream, &reg.state, &w, &cfg).await;
    });
    let conn = LiveConn {
        task: task.id(),
        watch,
    };
    state.conns.borrow_mut().insert(key, conn);
}

/// Kills the connection that has gone longest without completing a request
/// head. O(live connections), paid only by an accept at the cap.
fn evict_stalest(state: &State) {
    let victim = stalest(
        state
            .conns
            .borrow()
            .iter()
            .map(|(&key, c)| (c.watch.stalled_since.get(), key, c.task)),
    );
    // The borrow above has ended: the kill drops the victim's `Registered`.
    if let Some(task) = victim {
        corun::kill(task);
        state.evicted.set(state.evicted.get() + 1);
    }
}

/// The item with the oldest `since` among `(since, key, item)`; ties go to
/// the lowest key (the earliest accepted).
fn stalest<T>(conns: impl Iterator<Item = (Instant, u64, T)>) -> Option<T> {
    conns
        .min_by_key(|&(since, key, _)| (since, key))
        .map(|(_, _, item)| item)
}

/// What a connection is waiting for, which decides its read deadline.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// A new request; nothing of it has arrived. `last_read` is the time of
    /// the connection's last read.
    Idle { last_read: Instant },
    /// The rest of a request head whose first byte arrived at `started`.
    Head { started: Instant },
    /// The rest of a request body that began at `started`, of which `read`
    /// bytes have arrived.
    Body { started: Instant, read: u64 },
}

/// When a connection in `phase` is given up on. Head and body deadlines are
/// budgets counted from the phase's start, so a trickle of bytes cannot
/// renew them (only the body's grows, by `1 / min_body_rate` per byte).
fn read_deadline(cfg: &Config, phase: Phase) -> Instant {
    let far = |t: Instant, d: Duration| {
        t.checked_add(d)
            .unwrap_or_else(|| t + Duration::from_secs(365 * 86_400))
    };
    match phase {
        Phase::Idle { last_read } => far(last_read, cfg.idle_timeout),
        Phase::Head { started } => far(started, cfg.head_timeout),
        Phase::Body { started, read } => {
            let rate = u128::from(cfg.min_body_rate.max(1));
            let nanos = u128::from(read) * 1_000_000_000 / rate;
            let earned = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
            far(started, cfg.head_timeout.saturating_add(earned))
        }
    }
}

/// Serves one connection until it closes, errs, runs out of time, is
/// evicted, or shutdown.
async fn connection(stream: TcpStream, state: &State, watch: &Watch, cfg: &Config) {
    let mut buf = vec![0u8; MAX_HEAD].into_boxed_slice();
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut len = 0; // bytes of `buf` holding unprocessed input
    let mut body_left = 0u64; // request body bytes still to skip
    let mut body_read = 0u64; // bytes of the current body skipped so far
    let mut last_read = Instant::now();
    let mut phase_start = last_read; // first byte of the current head or body
    let mut timer = corun::sleep(cfg.idle_timeout);
    let mut unyielded = 0u32; // requests served since this task last yielded
    loop {
        let waiting_for_request = len == 0 && body_left == 0;
        if waiting_for_request && state.shutting_down.get() {
            break;
        }
        let phase = if body_left > 0 {
            Phase::Body {
                started: phase_start,
                read: body_read,
            }
        } else if len > 0 {
            Phase::Head {
                started: phase_start,
            }
        } else {
            Phase::Idle { last_read }
        };
        watch.idle.set(waiting_for_request);
        let deadline = read_deadline(cfg, phase);
        let r = read_until(&stream, &mut buf[len..], &mut timer, deadline).await;
        watch.idle.set(false);
        let now = match r {
            Some(Ok(0)) | Some(Err(_)) => return, // peer closed or reset
            Some(Ok(n)) => {
                len += n;
                Instant::now()
            }
            None => {
                if let Phase::Head { .. } = phase {
                    // Best effort: the client is slow, not necessarily gone.
                    let _ =
                        corun::timeout(cfg.idle_timeout, stream.write_all(&error_response(408)))
                            .await;
                }
                break; // out of time
            }
        };
        last_read = now;
        if waiting_for_request {
            phase_start = now;
        }
        let mut start = 0;
        let mut close = false;
        loop {
            if body_left > 0 {
                let skip = body_left.min((len - start) as u64);
                start += skip as usize;
                body_left -= skip;
                body_read += skip;
                if body_left > 0 {
                    break;
                }
                phase_start = now; // what follows is the next head
            }
            let Some(end) = find_head_end(&buf[start..len]) else {
                break;
            };
            let head = parse_head(&buf[start..start + end]);
            start += end + 4;
            phase_start = now;
            watch.stalled_since.set(now);
            match head {
                Ok(h) => {
                    state.requests.set(state.requests.get() + 1);
                    unyielded += 1;
                    body_left = h.content_length;
                    body_read = 0;
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
                Err(refusal) => {
                    out.extend_from_slice(&error_response(refusal.status()));
                    close = true;
                    break;
                }
            }
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if !close && len == buf.len() {
            out.extend_from_slice(&error_response(413));
            close = true;
        }
        if !out.is_empty() {
            match corun::timeout(cfg.idle_timeout, stream.write_all(&out)).await {
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

/// Reads into `buf`, or gives up (`None`) at `deadline`. One timer per
/// connection, moved only when the deadline comes earlier than it is armed
/// for or when it fires early, so a busy connection pays no timer work per
/// request.
async fn read_until(
    stream: &TcpStream,
    buf: &mut [u8],
    timer: &mut Sleep,
    deadline: Instant,
) -> Option<io::Result<usize>> {
    if timer.deadline().is_none_or(|armed| armed > deadline) {
        Pin::new(&mut *timer).reset(deadline);
    }
    poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut &*stream).poll_read(cx, buf) {
            return Poll::Ready(Some(r));
        }
        while Pin::new(&mut *timer).poll(cx).is_ready() {
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

/// A complete response (closing the connection) for an error status.
fn error_response(status: u16) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        408 => "Request Timeout",
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
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        parse_args(std::iter::empty()).unwrap()
    }

    #[test]
    fn canned_responses_are_complete() {
        for r in [OK_KEEP_ALIVE, OK_KEEP_ALIVE_10, OK_CLOSE] {
            assert!(r.ends_with(b"\r\n\r\nHello, world!"));
            assert!(r.windows(20).any(|w| w == b"Content-Length: 13\r\n"));
        }
        let r = String::from_utf8(error_response(408)).unwrap();
        assert!(r.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{r}");
        assert!(
            r.ends_with("Content-Length: 20\r\nConnection: close\r\n\r\n408 Request Timeout\n")
        );
    }

    #[test]
    fn the_stalest_connection_is_the_one_evicted() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let conns = [(at(30), 1, 'a'), (at(10), 7, 'b'), (at(20), 2, 'c')];
        assert_eq!(stalest(conns.into_iter()), Some('b'));
        // Equal stamps: the earliest accepted (lowest key) goes first.
        let conns = [(at(10), 9, 'a'), (at(10), 3, 'b')];
        assert_eq!(stalest(conns.into_iter()), Some('b'));
        assert_eq!(stalest(std::iter::empty::<(Instant, u64, ())>()), None);
    }

    #[test]
    fn head_deadline_counts_from_the_first_byte() {
        let cfg = cfg();
        let t0 = Instant::now();
        let head = read_deadline(&cfg, Phase::Head { started: t0 });
        assert_eq!(head, t0 + cfg.head_timeout);
        // Idle connections count from their last read instead.
        let later = t0 + Duration::from_secs(3);
        let idle = read_deadline(&cfg, Phase::Idle { last_read: later });
        assert_eq!(idle, later + cfg.idle_timeout);
    }

    #[test]
    fn body_deadline_grows_only_at_the_minimum_rate() {
        let cfg = Config {
            min_body_rate: 1000,
            head_timeout: Duration::from_secs(2),
            ..cfg()
        };
        let t0 = Instant::now();
        let body = |read| read_deadline(&cfg, Phase::Body { started: t0, read });
        assert_eq!(body(0), t0 + Duration::from_secs(2));
        assert_eq!(body(500), t0 + Duration::from_millis(2500));
        assert_eq!(body(3000), t0 + Duration::from_secs(5));
        // Absurd figures saturate instead of overflowing.
        assert!(body(u64::MAX) > t0 + Duration::from_secs(86_400));
        let slow = Config {
            min_body_rate: 1,
            ..cfg
        };
        let far = read_deadline(
            &slow,
            Phase::Body {
                started: t0,
                read: u64::MAX,
            },
        );
        assert!(far > t0 + Duration::from_secs(86_400));
    }

    #[test]
    fn flags_are_checked() {
        let parse = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let c = parse(&[
            "--head-timeout-ms",
            "250",
            "--min-body-rate",
            "10",
            "--max-conns",
            "4",
        ])
        .unwrap();
        assert_eq!(c.head_timeout, Duration::from_millis(250));
        assert_eq!((c.min_body_rate, c.max_conns), (10, Some(4)));
        assert!(parse(&["--min-body-rate", "0"]).is_err());
        assert!(parse(&["--max-conns", "0"]).is_err());
        assert!(parse(&["--max-conns", "-1"]).is_err());
        assert!(default_max_conns(1) >= 1);
    }
}

//! The httpd load generator, `corun-bench-load`: what `wrk -t1 -c100 -d5s
//! --latency --timeout 2s` does, built in, so the benchmark command needs no
//! tool beyond the Rust toolchain. One thread and one level-triggered
//! `epoll` set on libc (no runtime, so it favours none); a fixed number of
//! keep-alive HTTP/1.1 connections to a loopback address, each closed-loop:
//! it sends `GET /` when its previous response has completed. Latency is
//! from the request's write to the end of its response, counted per µs.
//! Each turn of the loop reads once per readable connection, then writes
//! the next request of every connection whose response completed (wrk's
//! shape: the turn's responses, then its requests); the common path makes
//! no `epoll_ctl`, so it stays lighter than wrk on the cores it shares
//! with the server.
//!
//! It runs as its own process (the server's child), so the server's
//! `RUSAGE_SELF` and its `RUSAGE_CHILDREN` keep the two sides' CPU apart.
//! Output: one `key=value ...` line on stdout ([`Report::line`]), which
//! [`parse_line`] reads back. Nothing here knows about a runtime, and
//! nothing here is linked by the server side except [`parse_line`].

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::raw_epoll::{Epoll, last_err, set_nodelay};

/// The largest response head accepted (the servers send ~70 bytes).
const MAX_HEAD: usize = 16 * 1024;

/// One complete response, as the parser hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The server will close the connection after it (`Connection: close`,
    /// or HTTP/1.0 without keep-alive).
    pub close: bool,
}

/// Incremental HTTP/1.1 response splitter for one keep-alive connection:
/// feed it bytes as they arrive, in any split, and it hands out each
/// response whose head and `Content-Length` body have fully arrived.
/// Chunked bodies are refused (none of the servers sends them).
#[derive(Debug, Default)]
pub struct ResponseParser {
    /// Bytes of a head that has not fully arrived (empty between heads).
    head: Vec<u8>,
    /// The current response once its head is done: what to hand out, and
    /// how many body bytes are still to come.
    body: Option<(Response, usize)>,
}

impl ResponseParser {
    /// Feeds `data`, calling `done` for each response it completes, in order.
    /// An error leaves the parser unusable (the connection must be closed).
    pub fn feed(&mut self, data: &[u8], done: impl FnMut(Response)) -> Result<(), String> {
        if self.head.is_empty() {
            self.feed_fresh(data, done)
        } else {
            // A head split across reads (rare): join and start over.
            let mut joined = std::mem::take(&mut self.head);
            joined.extend_from_slice(data);
            self.feed_fresh(&joined, done)
        }
    }

    /// [`Self::feed`] with no partial head pending.
    fn feed_fresh(
        &mut self,
        mut data: &[u8],
        mut done: impl FnMut(Response),
    ) -> Result<(), String> {
        while !data.is_empty() || matches!(self.body, Some((_, 0))) {
            if let Some((resp, left)) = self.body.as_mut() {
                let take = (*left).min(data.len());
                data = &data[take..];
                *left -= take;
                if *left == 0 {
                    done(*resp);
                    self.body = None;
                }
                continue;
            }
            match find_head_end(data) {
                Some(end) => {
                    let (resp, len) = parse_head(&data[..end])?;
                    data = &data[end..];
                    self.body = Some((resp, len));
                }
                None => {
                    if data.len() > MAX_HEAD {
                        return Err(format!("response head over {MAX_HEAD} bytes"));
                    }
                    self.head.extend_from_slice(data);
                    data = &[];
                }
            }
        }
        Ok(())
    }
}

/// The length of the head at the start of `data` (through its blank line).
fn find_head_end(data: &[u8]) -> Option<usize> {
    data.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Reads a response head: status, whether the server closes after it, and
/// the body length.
fn parse_head(head: &[u8]) -> Result<(Response, usize), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let bad = || format!("bad status line {status_line:?}");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().ok_or_else(bad)?;
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad()),
    };
    let status: u16 = parts
        .next()
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut len = None;
    let mut close = http10;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            len = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                close = true;
            } else if v.contains("keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("Transfer-Encoding {value:?} is not supported"));
        }
    }
    // 1xx, 204 and 304 have no body whatever the headers say.
    let len = match status {
        100..=199 | 204 | 304 => 0,
        _ => len.ok_or("response without Content-Length")?,
    };
    Ok((Response { status, close }, len))
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Responses completed within the run.
    pub requests: u64,
    /// Wall time from the first connect to the end, seconds.
    pub secs: f64,
    /// Latency median, µs (0 without responses).
    pub p50_us: u64,
    /// Latency 99th percentile, µs.
    pub p99_us: u64,
    /// Longest latency recorded, µs.
    pub max_us: u64,
    /// Connect, read and write errors, early closes and malformed responses.
    pub errors: u64,
    /// Responses slower than the timeout, and requests still waiting past
    /// it at the end (each counted once).
    pub timeouts: u64,
    /// Responses with a status outside 2xx and 3xx.
    pub non2xx: u64,
}

impl Report {
    /// Requests per second over the whole run.
    pub fn req_per_s(&self) -> f64 {
        self.requests as f64 / self.secs.max(1e-9)
    }

    /// The one output line: `key=value` pairs, space-separated.
    pub fn line(&self) -> String {
        format!(
            "requests={} secs={:.6} req_per_s={:.2} p50_us={} p99_us={} max_us={} errors={} \
             timeouts={} non2xx={}",
            self.requests,
            self.secs,
            self.req_per_s(),
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.errors,
            self.timeouts,
            self.non2xx
        )
    }
}

/// Reads a [`Report::line`] back (the last such line of `text`).
pub fn parse_line(text: &str) -> Result<Report, String> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("requests="))
        .ok_or_else(|| format!("no report line in {:?}", text.trim()))?;
    let get = |key: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("report line without {key}: {line:?}"))
    };
    Ok(Report {
        requests: get("requests")? as u64,
        secs: get("secs")?,
        p50_us: get("p50_us")? as u64,
        p99_us: get("p99_us")? as u64,
        max_us: get("max_us")? as u64,
        errors: get("errors")? as u64,
        timeouts: get("timeouts")? as u64,
        non2xx: get("non2xx")? as u64,
    })
}

/// Latencies below the timeout, one count per µs (as wrk keeps them): one
/// increment per response, and a fresh zeroed allocation, so only the
/// pages of latencies that occur are ever touched.
struct Latencies {
    counts: Vec<u32>,
    total: u64,
    min: usize,
    max: usize,
}

impl Latencies {
    fn new(limit_us: usize) -> Latencies {
        Latencies {
            counts: vec![0; limit_us.max(1)],
            total: 0,
            min: usize::MAX,
            max: 0,
        }
    }

    /// Records `us`; false (nothing recorded) when it is at or over the limit.
    fn record(&mut self, us: u64) -> bool {
        let Some(slot) = usize::try_from(us).ok().filter(|&i| i < self.counts.len()) else {
            return false;
        };
        self.counts[slot] += 1;
        self.total += 1;
        self.min = self.min.min(slot);
        self.max = self.max.max(slot);
        true
    }

    /// The `p`th percentile (wrk's rank rule), µs; 0 when empty.
    fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64 + 0.5).round() as u64;
        let mut seen = 0u64;
        for i in self.min..=self.max {
            seen += u64::from(self.counts[i]);
            if seen >= rank {
                return i as u64;
            }
        }
        self.max as u64
    }
}

/// One connection's state.
struct Conn {
    fd: RawFd,
    /// The non-blocking connect has not completed yet.
    connecting: bool,
    parser: ResponseParser,
    /// When the request in flight was written (None: none in flight).
    sent: Option<Instant>,
    /// Request bytes the socket has not taken yet.
    unsent: usize,
    /// Registered for `EPOLLOUT` as well as `EPOLLIN`.
    out_armed: bool,
}

/// What to run: connections, duration, timeout, target.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The server (loopback only).
    pub addr: SocketAddr,
    /// Keep-alive connections.
    pub conns: usize,
    /// How long to run.
    pub duration: Duration,
    /// A response slower than this is a timeout.
    pub timeout: Duration,
}

/// The generator's state during one run.
struct Gen {
    cfg: Config,
    ep: Epoll,
    conns: Vec<Conn>,
    request: Vec<u8>,
    lat: Latencies,
    report: Report,
    /// Connections whose next request goes out once this turn's events
    /// are handled (reads first, then the writes together, as wrk does).
    ready: Vec<usize>,
    /// Some connection has been established (connect errors before then
    /// end the run: the address is wrong, or the server is not up).
    connected_once: bool,
}

impl Gen {
    /// Opens connection `slot` (non-blocking connect; writable once it is up).
    fn open(&mut self, slot: usize) -> Result<(), String> {
        let domain = if self.cfg.addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe {
            libc::socket(
                domain,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(format!("socket: {}", last_err()));
        }
        set_nodelay(fd);
        let (storage, len) = sockaddr(&self.cfg.addr);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
        let r =
            unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
        if r < 0 && last_err().raw_os_error() != Some(libc::EINPROGRESS) {
            let e = last_err();
            // SAFETY: our fd, closed once.
            unsafe { libc::close(fd) };
            return Err(format!("connect: {e}"));
        }
        let events = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
        if let Err(e) = self.ep.ctl(libc::EPOLL_CTL_ADD, fd, events, slot as u64) {
            // SAFETY: our fd, closed once.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        self.conns[slot] = Conn {
            fd,
            connecting: true,
            parser: ResponseParser::default(),
            sent: None,
            unsent: 0,
            out_armed: true,
        };
        Ok(())
    }

    /// Counts an error on `slot`, closes it and opens it again.
    fn fail(&mut self, slot: usize) -> Result<(), String> {
        self.report.errors += 1;
        self.reopen(slot);
        Ok(())
    }

    /// Closes `slot` and opens it again; a slot that cannot be opened again
    /// counts an error and stays closed for the rest of the run.
    fn reopen(&mut self, slot: usize) {
        // SAFETY: the slot's fd is open (only open slots get events) and
        // closing it also drops it from the epoll set; it is closed once,
        // as the slot forgets it here.
        unsafe { libc::close(self.conns[slot].fd) };
        self.conns[slot].fd = -1;
        self.conns[slot].sent = None;
        if self.open(slot).is_err() {
            self.report.errors += 1;
        }
    }

    /// Writes (the rest of) the request on `slot`, stamping it sent at `now`
    /// when it starts. Waits for `EPOLLOUT` only while the socket is full.
    fn send(&mut self, slot: usize, now: Instant) -> Result<(), String> {
        let c = &mut self.conns[slot];
        if c.unsent == 0 {
            c.unsent = self.request.len();
            c.sent = Some(now);
        }
        let rest = &self.request[self.request.len() - c.unsent..];
        // SAFETY: `rest` is valid for reads of its length.
        let k = unsafe { libc::write(c.fd, rest.as_ptr().cast(), rest.len()) };
        if k < 0 {
            return match last_err().kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => {
                    self.want_out(slot, true)
                }
                _ => self.fail(slot),
            };
        }
        c.unsent -= k as usize;
        let full = c.unsent > 0;
        self.want_out(slot, full)
    }

    /// Registers `slot` for readable, and for writable when `out` (a no-op
    /// when already so: the common path makes no `epoll_ctl`).
    fn want_out(&mut self, slot: usize, out: bool) -> Result<(), String> {
        let c = &mut self.conns[slot];
        if c.out_armed == out {
            return Ok(());
        }
        c.out_armed = out;
        let mut events = libc::EPOLLIN as u32;
        if out {
            events |= libc::EPOLLOUT as u32;
        }
        self.ep.ctl(libc::EPOLL_CTL_MOD, c.fd, events, slot as u64)
    }

    /// Handles one readiness event of `slot`.
    fn event(&mut self, slot: usize, bits: u32, buf: &mut [u8]) -> Result<(), String> {
        let out_bits = (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32;
        if self.conns[slot].connecting {
            if bits & out_bits == 0 {
                return Ok(());
            }
            if let Err(e) = so_error(self.conns[slot].fd) {
                if !self.connected_once {
                    // Nobody listens there: say so instead of retrying.
                    return Err(format!("connect {}: {e}", self.cfg.addr));
                }
                return self.fail(slot);
            }
            self.connected_once = true;
            self.conns[slot].connecting = false;
            self.ready.push(slot);
            return Ok(());
        }
        if self.conns[slot].unsent > 0 && bits & libc::EPOLLOUT as u32 != 0 {
            self.send(slot, Instant::now())?;
            if self.conns[slot].connecting || self.conns[slot].fd < 0 {
                // The write failed and the slot was replaced: `bits` were
                // the old socket's.
                return Ok(());
            }
        }
        let in_bits = (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32;
        if bits & in_bits == 0 {
            return Ok(());
        }
        // One read per readiness (level-triggered: the rest comes next turn).
        let fd = self.conns[slot].fd;
        // SAFETY: `buf` is valid for writes of its length.
        let k = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        let now = Instant::now();
        if k < 0 {
            return match last_err().kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Ok(()),
                _ => self.fail(slot),
            };
        }
        if k == 0 {
            // The server closed with a request in flight.
            return self.fail(slot);
        }
        let mut got = 0u32;
        let mut close = false;
        let mut non2xx = 0;
        let fed = self.conns[slot]
            .parser
            .feed(&buf[..k as usize], |r: Response| {
                got += 1;
                close |= r.close;
                if !(200..400).contains(&r.status) {
                    non2xx += 1;
                }
            });
        self.report.non2xx += non2xx;
        if fed.is_err() || got > 1 {
            // Malformed, or more responses than requests sent.
            return self.fail(slot);
        }
        if got == 0 {
            return Ok(());
        }
        let Some(sent) = self.conns[slot].sent.take() else {
            return self.fail(slot);
        };
        self.report.requests += 1;
        let us = now.duration_since(sent).as_micros();
        if !self.lat.record(u64::try_from(us).unwrap_or(u64::MAX)) {
            self.report.timeouts += 1;
        }
        if close {
            self.reopen(slot);
        } else {
            self.ready.push(slot);
        }
        Ok(())
    }
}

/// `sockaddr_storage` for `addr`, and its length.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The pending error of a socket whose connect finished (`SO_ERROR`).
fn so_error(fd: RawFd) -> Result<(), std::io::Error> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are valid for the call to write.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(last_err());
    }
    if err != 0 {
        return Err(std::io::Error::from_raw_os_error(err));
    }
    Ok(())
}

/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;

/// Runs the generator for `cfg.duration`; the report, or why it could not
/// run at all (errors during the run are counted in the report).
pub fn run(cfg: Config) -> Result<Report, String> {
    if !cfg.addr.ip().is_loopback() {
        return Err(format!("{}: loopback addresses only", cfg.addr));
    }
    if cfg.conns == 0 {
        return Err("needs at least one connection".into());
    }
    let ep = Epoll::new()?;
    let limit_us = usize::try_from(cfg.timeout.as_micros()).unwrap_or(usize::MAX);
    let mut g = Gen {
        cfg,
        ep,
        conns: Vec::with_capacity(cfg.conns),
        request: format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", cfg.addr).into_bytes(),
        lat: Latencies::new(limit_us),
        report: Report {
            requests: 0,
            secs: 0.0,
            p50_us: 0,
            p99_us: 0,
            max_us: 0,
            errors: 0,
            timeouts: 0,
            non2xx: 0,
        },
        connected_once: false,
        ready: Vec::with_capacity(cfg.conns),
    };
    let t0 = Instant::now();
    let deadline = t0 + cfg.duration;
    for slot in 0..cfg.conns {
        g.conns.push(Conn {
            fd: -1,
            connecting: true,
            parser: ResponseParser::default(),
            sent: None,
            unsent: 0,
            out_armed: false,
        });
        g.open(slot)?;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // Whole ms, rounded up, so the loop never spins just short of the end.
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: `events` is valid for EVENTS entries.
        let n = unsafe { libc::epoll_wait(g.ep.fd(), events.as_mut_ptr(), EVENTS as i32, ms) };
        if n < 0 {
            if last_err().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("epoll_wait: {}", last_err()));
        }
        for ev in &events[..n as usize] {
            let (slot, bits) = (ev.u64 as usize, ev.events);
            g.event(slot, bits, &mut buf)?;
        }
        let mut ready = std::mem::take(&mut g.ready);
        for &slot in &ready {
            // Each stamped as it goes out: latency starts at its own write.
            g.send(slot, Instant::now())?;
        }
        ready.clear();
        g.ready = ready;
    }
    let end = Instant::now();
    for c in &g.conns {
        if c.sent.is_some_and(|s| end.duration_since(s) >= cfg.timeout) {
            g.report.timeouts += 1;
        }
        if c.fd >= 0 {
            // SAFETY: our fd, closed once, at the end.
            unsafe { libc::close(c.fd) };
        }
    }
    g.report.secs = end.duration_since(t0).as_secs_f64();
    g.report.p50_us = g.lat.percentile(50.0);
    g.report.p99_us = g.lat.percentile(99.0);
    g.report.max_us = if g.lat.total == 0 {
        0
    } else {
        g.lat.max as u64
    };
    Ok(g.report)
}

/// The usage text of `corun-bench-load`.
pub const USAGE: &str = "usage: corun-bench-load ADDR CONNS MILLIS TIMEOUT_MILLIS
  e.g. corun-bench-load 127.0.0.1:8080 100 5000 2000
  (what `wrk -t1 -c100 -d5s --timeout 2s --latency http://127.0.0.1:8080/` does:
  one thread, CONNS keep-alive connections, `GET /` closed-loop for MILLIS ms;
  loopback only). Prints one line: requests= secs= req_per_s= p50_us= p99_us=
  max_us= errors= timeouts= non2xx=";

/// The whole `main` of `corun-bench-load`; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match args.as_slice() {
        [addr, conns, ms, timeout_ms] => {
            match (addr.parse(), conns.parse(), ms.parse(), timeout_ms.parse()) {
                (Ok(addr), Ok(conns), Ok(ms), Ok(t)) => Config {
                    addr,
                    conns,
                    duration: Duration::from_millis(ms),
                    timeout: Duration::from_millis(t),
                },
                _ => {
                    eprintln!("{USAGE}");
                    return 2;
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    crate::common::raise_nofile();
    match run(cfg) {
        Ok(r) => {
            println!("{}", r.line());
            0
        }
        Err(e) => {
            eprintln!("corun-bench-load: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

    fn feed_all(p: &mut ResponseParser, parts: &[&[u8]]) -> Vec<Vec<Response>> {
        parts
            .iter()
            .map(|part| {
                let mut got = Vec::new();
                p.feed(part, |r| got.push(r)).unwrap();
                got
            })
            .collect()
    }

    const R200: Response = Response {
        status: 200,
        close: false,
    };

    #[test]
    fn a_whole_response_in_one_read_completes_once() {
        let mut p = ResponseParser::default();
        assert_eq!(feed_all(&mut p, &[OK]), vec![vec![R200]]);
    }

    #[test]
    fn a_response_split_at_every_byte_completes_exactly_at_its_last_byte() {
        for cut in 1..OK.len() {
            let mut p = ResponseParser::default();
            let got = feed_all(&mut p, &[&OK[..cut], &OK[cut..]]);
            assert_eq!(got, vec![vec![], vec![R200]], "cut at {cut}");
        }
        // And one byte per read.
        let mut p = ResponseParser::default();
        let bytes: Vec<&[u8]> = OK.chunks(1).collect();
        let got = feed_all(&mut p, &bytes);
        assert!(got[..OK.len() - 1].iter().all(Vec::is_empty));
        assert_eq!(got[OK.len() - 1], vec![R200]);
    }

    #[test]
    fn pipelined_responses_in_one_read_complete_in_order_and_a_tail_waits() {
        let mut three = OK.repeat(3);
        three.extend_from_slice(&OK[..20]);
        let mut p = ResponseParser::default();
        let got = feed_all(&mut p, &[&three, &OK[20..]]);
        assert_eq!(got, vec![vec![R200; 3], vec![R200]]);
    }

    #[test]
    fn content_length_zero_completes_at_the_end_of_the_head() {
        let empty = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let mut both = empty.to_vec();
        both.extend_from_slice(OK);
        let mut p = ResponseParser::default();
        let r404 = Response {
            status: 404,
            close: false,
        };
        assert_eq!(feed_all(&mut p, &[empty]), vec![vec![r404]]);
        assert_eq!(feed_all(&mut p, &[&both]), vec![vec![r404, R200]]);
        // 204 carries no body even without a Content-Length.
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(feed_all(&mut p, &[no_content])[0][0].status, 204);
    }

    #[test]
    fn close_headers_and_http10_say_the_server_will_close() {
        let mut p = ResponseParser::default();
        let close = b"HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 2\r\n\r\nhi";
        assert!(feed_all(&mut p, &[close])[0][0].close);
        let h10 = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        assert!(feed_all(&mut p, &[h10])[0][0].close);
        let h10_ka = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi";
        assert!(!feed_all(&mut p, &[h10_ka])[0][0].close);
    }

    #[test]
    fn malformed_heads_are_errors() {
        for bad in [
            &b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
            b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        ] {
            let mut p = ResponseParser::default();
            assert!(
                p.feed(bad, |_| {}).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut p = ResponseParser::default();
        assert!(p.feed(&[b'x'; MAX_HEAD + 1], |_| {}).is_err());
    }

    #[test]
    fn percentiles_follow_wrks_rank_rule() {
        let mut l = Latencies::new(1000);
        assert_eq!(l.percentile(50.0), 0);
        for us in 1..=100 {
            assert!(l.record(us));
        }
        assert!(!l.record(1000));
        // rank = round(p% of count + 0.5): the 51st and the 100th value.
        assert_eq!(l.percentile(50.0), 51);
        assert_eq!(l.percentile(99.0), 100);
        assert_eq!(l.percentile(100.0), 100);
    }

    #[test]
    fn the_report_line_reads_back() {
        let r = Report {
            requests: 123_456,
            secs: 5.000_123,
            p50_us: 612,
            p99_us: 1_200,
            max_us: 9_000,
            errors: 1,
            timeouts: 2,
            non2xx: 3,
        };
        let text = format!("noise\n{}\n", r.line());
        assert_eq!(parse_line(&text), Ok(r));
        assert!(parse_line("requests=1 secs=1").is_err());
        assert!(parse_line("").is_err());
    }

    #[test]
    fn refuses_addresses_off_loopback() {
        let cfg = Config {
            addr: "192.0.2.1:80".parse().unwrap(),
            conns: 1,
            duration: Duration::from_millis(1),
            timeout: Duration::from_secs(2),
        };
        assert!(run(cfg).unwrap_err().contains("loopback"));
    }

    #[test]
    fn says_when_nobody_listens() {
        // A port just released: nothing listens there (loopback refuses).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let cfg = Config {
            addr,
            conns: 2,
            duration: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        };
        let e = run(cfg).unwrap_err();
        assert!(e.contains("connect") && e.contains("refused"), "{e}");
    }

    #[test]
    fn drives_a_keep_alive_server_closed_loop() {
        // A blocking std server, a thread per connection, answering every
        // request head with the canned response.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let conns = 4;
        let server = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..conns {
                let (mut s, _) = l.accept().unwrap();
                handlers.push(std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut heads = crate::common::HeadCounter::default();
                    let mut buf = [0u8; 4096];
                    let mut served = 0u64;
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return served,
                            Ok(k) => {
                                for _ in 0..heads.feed(&buf[..k]) {
                                    if s.write_all(OK).is_err() {
                                        return served;
                                    }
                                    served += 1;
                                }
                            }
                        }
                    }
                }));
            }
            handlers.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        let r = run(Config {
            addr,
            conns,
            duration: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
        })
        .unwrap();
        let served = server.join().unwrap();
        assert_eq!((r.errors, r.timeouts, r.non2xx), (0, 0, 0), "{r:?}");
        assert!(r.requests > 0, "{r:?}");
        // Every response counted was served; at most one per connection
        // was served but not read before the end.
        assert!(
            served >= r.requests && served <= r.requests + conns as u64,
            "{served} {r:?}"
        );
        assert!(r.p50_us <= r.p99_us && r.p99_us <= r.max_us, "{r:?}");
    }
}

//! hyper 1.x serving HTTP/1 on corun, through hyper's runtime traits.
//!
//! Run:
//!
//! ```text
//! cargo run --release -p corun --example hyper_server -- --port 3000
//! curl http://127.0.0.1:3000/    # Hello from hyper on corun
//! ```
//!
//! `hyper_server [--addr IP] [--port P] [--header-timeout-ms MS]` (default
//! 127.0.0.1:3000; `--port 0` picks a free port) prints `listening on ADDR`
//! first, then answers every request with `Hello from hyper on corun`.
//!
//! Hardening: a request head must be complete within `--header-timeout-ms`
//! (default 10 s) of its first byte, or hyper closes the connection.
//! On SIGINT or SIGTERM the server stops accepting, lets every connection
//! finish the request it is serving (hyper's graceful shutdown, at most
//! 5 s), prints `shutdown complete: N connections` and exits 0. Log lines
//! (failed accepts and connections) are rate-limited to 10 a second, the
//! rest counted and reported as suppressed, so a flood of bad clients
//! cannot turn into a flood of output.
//!
//! hyper needs no glue: `corun::hyper` (cargo feature `hyper`) provides
//! [`CorunIo`] (hyper's I/O traits over a corun stream, yielding every 16
//! operations as corun asks of loops over I/O that may stay ready),
//! [`CorunExecutor`] (spawns with `corun::spawn`, no `Send` needed) and
//! [`CorunTimer`] (corun's timers).
//!
//! This file is an application on corun: no `unsafe`, public API only.

#[path = "shared/signals.rs"]
mod signals;

use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corun::hyper::{CorunExecutor, CorunIo, CorunTimer};
use corun::net::TcpListener;
use corun::sync::Event;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::rt::Executor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello from hyper on corun",
    ))))
}

/// How long connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Log lines printed per [`LOG_WINDOW`]; the rest are counted.
const LOG_LINES_PER_WINDOW: u32 = 10;
const LOG_WINDOW: Duration = Duration::from_secs(1);

/// The command line.
#[derive(Clone, Copy)]
struct Config {
    addr: SocketAddr,
    header_timeout: Duration,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut cfg = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        header_timeout: Duration::from_secs(10),
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--port" => cfg.addr.set_port(value.parse().map_err(|_| bad())?),
            "--addr" => cfg.addr.set_ip(value.parse().map_err(|_| bad())?),
            "--header-timeout-ms" => {
                cfg.header_timeout = Duration::from_millis(value.parse().map_err(|_| bad())?)
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(cfg)
}

/// Rate-limits log lines: at most [`LOG_LINES_PER_WINDOW`] per
/// [`LOG_WINDOW`]; the first line of a later window first reports how many
/// were suppressed. `Cell`s: one per scheduler, never shared across threads.
struct LogLimiter {
    window_start: Cell<Instant>,
    printed: Cell<u32>,
    suppressed: Cell<u64>,
}

/// What [`LogLimiter::admit`] decides for one line.
#[derive(Debug, PartialEq)]
enum Admit {
    /// Print it, after a note of this many suppressed lines if not 0.
    Print { suppressed_before: u64 },
    /// Drop it (counted).
    Suppress,
}

impl LogLimiter {
    fn new(now: Instant) -> LogLimiter {
        LogLimiter {
            window_start: Cell::new(now),
            printed: Cell::new(0),
            suppressed: Cell::new(0),
        }
    }

    fn admit(&self, now: Instant) -> Admit {
        if now.saturating_duration_since(self.window_start.get()) >= LOG_WINDOW {
            self.window_start.set(now);
            self.printed.set(0);
        }
        if self.printed.get() >= LOG_LINES_PER_WINDOW {
            self.suppressed.set(self.suppressed.get().saturating_add(1));
            return Admit::Suppress;
        }
        self.printed.set(self.printed.get() + 1);
        Admit::Print {
            suppressed_before: self.suppressed.replace(0),
        }
    }

    /// Prints `line` on stderr unless over the rate.
    fn log(&self, line: std::fmt::Arguments<'_>) {
        if let Admit::Print { suppressed_before } = self.admit(Instant::now()) {
            if suppressed_before > 0 {
                eprintln!("hyper_server: {suppressed_before} log lines suppressed");
            }
            eprintln!("hyper_server: {line}");
        }
    }
}

/// Connections still running, so shutdown can wait for them: `drained` is
/// set whenever `count` drops to 0 (and cleared when it leaves 0).
struct Live {
    count: Cell<usize>,
    drained: Event,
    total: Cell<u64>,
}

/// Counts one connection in [`Live`] for as long as it exists.
struct LiveGuard(Rc<Live>);

impl LiveGuard {
    fn new(live: &Rc<Live>) -> LiveGuard {
        if live.count.get() == 0 {
            live.drained.clear();
        }
        live.count.set(live.count.get() + 1);
        live.total.set(live.total.get().saturating_add(1));
        LiveGuard(live.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let n = self.0.count.get() - 1;
        self.0.count.set(n);
        if n == 0 {
            self.0.drained.set();
        }
    }
}

fn main() {
    let cfg = parse_args(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!(
            "hyper_server: {e}\nusage: hyper_server [--addr IP] [--port P] [--header-timeout-ms MS]"
        );
        std::process::exit(2);
    });
    let result = corun::run(async move {
        let listener = TcpListener::bind(cfg.addr)?;
        let mut signals = signals::shutdown_signals()?;
        println!("listening on {}", listener.local_addr()?);
        let log = Rc::new(LogLimiter::new(Instant::now()));
        let stop = Rc::new(Event::new());
        let live = Rc::new(Live {
            count: Cell::new(0),
            drained: Event::new(),
            total: Cell::new(0),
        });
        live.drained.set();
        let acceptor = corun::spawn_named(
            "accept",
            accept_loop(listener, cfg, log.clone(), stop.clone(), live.clone()),
        );
        signals.recv().await;
        eprintln!("hyper_server: signal received, shutting down");
        corun::kill(acceptor.id()); // drops the listener: no new connections
        stop.set(); // each connection finishes its request, then closes
        if corun::timeout(SHUTDOWN_GRACE, live.drained.wait())
            .await
            .is_err()
        {
            eprintln!("hyper_server: grace period over, closing busy connections");
        }
        io::Result::Ok(live.total.get())
    });
    match result {
        Ok(total) => println!("shutdown complete: {total} connections"),
        Err(e) => {
            eprintln!("hyper_server: {}: {e}", cfg.addr);
            std::process::exit(1);
        }
    }
}

/// Accepts until killed, one task per connection.
async fn accept_loop(
    listener: TcpListener,
    cfg: Config,
    log: Rc<LogLimiter>,
    stop: Rc<Event>,
    live: Rc<Live>,
) {
    let exec = CorunExecutor;
    let mut unyielded = 0u32; // connections accepted since the last yield
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                log.log(format_args!("accept: {e}"));
                corun::sleep(Duration::from_millis(50)).await; // never spin
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let guard = LiveGuard::new(&live);
        let (log, stop) = (log.clone(), stop.clone());
        exec.execute(async move {
            let _guard = guard;
            let conn = http1::Builder::new()
                .timer(CorunTimer)
                .header_read_timeout(cfg.header_timeout)
                .serve_connection(CorunIo::new(stream), service_fn(hello));
            let mut conn = pin!(conn);
            let mut stopping = pin!(stop.wait());
            let mut stopped = false;
            let r = poll_fn(|cx| {
                if !stopped && stopping.as_mut().poll(cx).is_ready() {
                    stopped = true;
                    conn.as_mut().graceful_shutdown();
                }
                conn.as_mut().poll(cx)
            })
            .await;
            if let Err(e) = r {
                log.log(format_args!("connection: {e}"));
            }
        });
        // A flood of connects keeps `accept` ready and corun never yields
        // for us: let the connections just made run.
        unyielded += 1;
        if unyielded >= 16 {
            unyielded = 0;
            corun::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_limited_per_window_and_the_rest_reported() {
        let t0 = Instant::now();
        let log = LogLimiter::new(t0);
        for _ in 0..LOG_LINES_PER_WINDOW {
            assert_eq!(
                log.admit(t0),
                Admit::Print {
                    suppressed_before: 0
                }
            );
        }
        assert_eq!(log.admit(t0), Admit::Suppress);
        assert_eq!(log.admit(t0 + LOG_WINDOW / 2), Admit::Suppress);
        // The next window prints again, first reporting the two dropped.
        let t1 = t0 + LOG_WINDOW;
        assert_eq!(
            log.admit(t1),
            Admit::Print {
                suppressed_before: 2
            }
        );
        assert_eq!(
            log.admit(t1),
            Admit::Print {
                suppressed_before: 0
            }
        );
    }

    #[test]
    fn flags_are_checked() {
        let parse = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let c = parse(&["--port", "0", "--header-timeout-ms", "250"]).unwrap();
        assert_eq!(c.header_timeout, Duration::from_millis(250));
        assert_eq!(c.addr.port(), 0);
        assert!(parse(&["--header-timeout-ms", "x"]).is_err());
        assert!(parse(&["--bogus", "1"]).is_err());
    }
}

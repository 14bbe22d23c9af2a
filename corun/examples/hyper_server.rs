//! hyper 1.x serving HTTP/1 on corun, through hyper's runtime traits.
//!
//! Run:
//!
//! ```text
//! cargo run --release -p corun --example hyper_server -- --port 3000
//! curl http://127.0.0.1:3000/    # Hello from hyper on corun
//! ```
//!
//! `hyper_server [--addr IP] [--port P]` (default 127.0.0.1:3000; `--port 0`
//! picks a free port) prints `listening on ADDR` first, then answers every
//! request with `Hello from hyper on corun`. Runs until killed.
//!
//! hyper owns no runtime; it asks for four things, all adapted here in a
//! few lines each:
//!
//! * [`hyper::rt::Read`]/[`hyper::rt::Write`]: [`CorunIo`] wraps a
//!   [`corun::net::TcpStream`]. Reads go into a per-connection buffer and
//!   are handed over with `ReadBufCursor::put_slice`, the safe API (hyper's
//!   uninitialised-buffer path would need `unsafe`). Every 16th read or
//!   write yields first ([`CorunIo::poll_turn`]), as corun asks of any
//!   loop over I/O that may stay ready.
//! * [`hyper::rt::Executor`]: [`CorunExecutor`] spawns with `corun::spawn`,
//!   which needs no `Send` (hyper's HTTP/1 connection future is `!Send` when
//!   its I/O or service is).
//! * [`hyper::rt::Timer`]: [`CorunTimer`] hands out [`CorunSleep`], a
//!   `corun::Sleep` (which is `Send + Sync + Unpin`) in a newtype.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use corun::net::{TcpListener, TcpStream};
use futures_io::{AsyncRead, AsyncWrite};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

/// A corun TCP stream with hyper's I/O traits. `buf` is the connection's
/// read buffer: hyper's cursor may be uninitialised memory, which safe code
/// cannot read into directly, so bytes land here first.
struct CorunIo {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// Reads and writes done (returned `Ready`) since the last yield.
    ops: u32,
    /// The yield under way, once `ops` reached 16.
    yielding: Option<corun::YieldNow>,
}

impl CorunIo {
    fn new(stream: TcpStream) -> CorunIo {
        CorunIo {
            stream,
            buf: vec![0; 8 * 1024].into_boxed_slice(),
            ops: 0,
            yielding: None,
        }
    }

    /// Called before every read and write: once 16 operations are done,
    /// yields first. A peer that floods the connection keeps this I/O
    /// ready, corun never yields for us, and hyper bounds its request loop
    /// but not every loop it runs over this I/O (a streaming body writes
    /// while the socket takes it): the glue yields, so that the other
    /// connections run.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ops >= 16 {
            let y = self.yielding.get_or_insert_with(corun::yield_now);
            ready!(Pin::new(y).poll(cx));
            self.yielding = None;
            self.ops = 0;
        }
        Poll::Ready(())
    }
}

impl hyper::rt::Read for CorunIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_turn(cx)); // every 16th operation yields first
        let want = cursor.remaining().min(this.buf.len());
        let buf = &mut this.buf[..want];
        match Pin::new(&mut &this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.ops += 1;
                cursor.put_slice(&buf[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl hyper::rt::Write for CorunIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_turn(cx)); // every 16th operation yields first
        let r = Pin::new(&mut &this.stream).poll_write(cx, buf);
        if r.is_ready() {
            this.ops += 1;
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_turn(cx)); // every 16th operation yields first
        let r = Pin::new(&mut &this.stream).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            this.ops += 1;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(())) // writes go straight to the socket
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &self.stream).poll_close(cx)
    }
}

/// Runs hyper's background futures as corun tasks on the current scheduler.
#[derive(Clone, Copy)]
struct CorunExecutor;

impl<F> Executor<F> for CorunExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        corun::spawn(fut).detach();
    }
}

/// hyper's clock: sleeps are corun timers.
#[derive(Clone, Copy)]
struct CorunTimer;

/// A `corun::Sleep` with hyper's `Sleep` trait (a newtype: neither the trait
/// nor the type is ours to join directly).
struct CorunSleep(corun::Sleep);

impl Future for CorunSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Sleep for CorunSleep {}

impl Timer for CorunTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(CorunSleep(corun::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(CorunSleep(corun::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<CorunSleep>() {
            Some(mut s) => Pin::new(&mut s.0).reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello from hyper on corun",
    ))))
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--port" => addr.set_port(value.parse().map_err(|_| bad())?),
            "--addr" => addr.set_ip(value.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(addr)
}

fn main() {
    let addr = parse_args().unwrap_or_else(|e| {
        eprintln!("hyper_server: {e}\nusage: hyper_server [--addr IP] [--port P]");
        std::process::exit(2);
    });
    let result = corun::run(async move {
        let listener = TcpListener::bind(addr)?;
        println!("listening on {}", listener.local_addr()?);
        let exec = CorunExecutor;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("hyper_server: accept: {e}");
                    corun::sleep(Duration::from_millis(50)).await; // never spin
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let conn = http1::Builder::new()
                .timer(CorunTimer)
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(CorunIo::new(stream), service_fn(hello));
            exec.execute(async move {
                if let Err(e) = conn.await {
                    eprintln!("hyper_server: connection: {e}");
                }
            });
        }
        #[allow(unreachable_code)]
        io::Result::Ok(())
    });
    if let Err(e) = result {
        eprintln!("hyper_server: {addr}: {e}");
        std::process::exit(1);
    }
}

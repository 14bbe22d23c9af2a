//! hyper 1.x on corun, with no glue to write (cargo feature `hyper`):
//! [`CorunIo`] gives any corun stream hyper's I/O traits, [`CorunExecutor`]
//! runs hyper's background futures as corun tasks, and [`CorunTimer`] is
//! hyper's clock. They play the part hyper-util's `TokioIo`,
//! `TokioExecutor` and `TokioTimer` play for tokio.
//!
//! Serving:
//!
//! ```
//! use std::convert::Infallible;
//! use corun::hyper::{CorunExecutor, CorunIo, CorunTimer};
//! use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello".to_string()))
//! }
//!
//! corun::run(async {
//!     let listener = corun::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     corun::spawn(async move {
//!         loop {
//!             let (stream, _) = listener.accept().await.unwrap();
//!             let conn = http1::Builder::new()
//!                 .timer(CorunTimer)
//!                 .serve_connection(CorunIo::new(stream), service_fn(hello));
//!             corun::spawn(async move { let _ = conn.await; }).detach();
//!         }
//!     })
//!     .detach();
//!
//!     // Requesting, on the same scheduler.
//!     let stream = corun::net::TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, String>(CorunIo::new(stream))
//!         .await
//!         .unwrap();
//!     corun::spawn(async move { let _ = conn.await; }).detach();
//!     let req = Request::get("/").header("host", "localhost").body(String::new()).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     assert_eq!(res.status(), 200);
//! });
//! ```
//!
//! Fairness: corun never makes ready I/O `Pending`, and hyper does not
//! bound every loop it runs over a connection (a streaming body writes for
//! as long as the socket takes it), so [`CorunIo`] yields before every
//! 16th read or write, as corun asks of any loop over I/O that may stay
//! ready ([Fairness](crate#fairness-where-to-yield)).
//!
//! This module adapts traits only: it must not touch the scheduler, the
//! reactor or timers beyond their public API.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};

/// Reads and writes between two yields of a [`CorunIo`].
const OPS_PER_YIELD: u32 = 16;

/// A corun stream (anything `AsyncRead + AsyncWrite + Unpin` from
/// `futures-io`: [`TcpStream`](crate::net::TcpStream),
/// [`UnixStream`](crate::net::UnixStream), a TLS stream over one) with
/// hyper's `rt::Read` and `rt::Write`.
///
/// Reads land in a buffer of its own (8 KiB, allocated at the first read)
/// and are handed to hyper through its safe `put_slice`: hyper's cursor
/// may be uninitialised memory, which safe code cannot read into.
///
/// ```
/// use corun::hyper::CorunIo;
/// corun::run(async {
///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
///     let io = CorunIo::new(a);
///     let _a: corun::net::UnixStream = io.into_inner();
/// });
/// ```
#[derive(Debug)]
pub struct CorunIo<T> {
    inner: T,
    buf: Vec<u8>,
    /// Reads and writes done since the last yield.
    ops: u32,
    /// The yield under way, once `ops` reached [`OPS_PER_YIELD`].
    yielding: Option<crate::YieldNow>,
}

impl<T> CorunIo<T> {
    /// Wraps `inner`.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
    ///     let _io = corun::hyper::CorunIo::new(a);
    /// });
    /// ```
    pub fn new(inner: T) -> CorunIo<T> {
        CorunIo {
            inner,
            buf: Vec::new(),
            ops: 0,
            yielding: None,
        }
    }

    /// The stream inside.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
    ///     let io = corun::hyper::CorunIo::new(a);
    ///     assert!(io.get_ref().peer_addr().is_ok());
    /// });
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream inside, mutably.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
    ///     let mut io = corun::hyper::CorunIo::new(a);
    ///     let _stream: &mut corun::net::UnixStream = io.get_mut();
    /// });
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The stream inside, unwrapped.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
    ///     let _a = corun::hyper::CorunIo::new(a).into_inner();
    /// });
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Before every read and write: once [`OPS_PER_YIELD`] operations are
    /// done, yields first.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ops >= OPS_PER_YIELD {
            let y = self.yielding.get_or_insert_with(crate::yield_now);
            ready!(Pin::new(y).poll(cx));
            self.yielding = None;
            self.ops = 0;
        }
        Poll::Ready(())
    }

    /// Counts a finished operation.
    fn count<R>(&mut self, r: Poll<R>) -> Poll<R> {
        if r.is_ready() {
            self.ops += 1;
        }
        r
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for CorunIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_turn(cx));
        if this.buf.is_empty() {
            this.buf = vec![0; 8 * 1024];
        }
        let want = cursor.remaining().min(this.buf.len());
        let r = match Pin::new(&mut this.inner).poll_read(cx, &mut this.buf[..want]) {
            Poll::Ready(Ok(n)) => {
                cursor.put_slice(&this.buf[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        };
        this.count(r)
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for CorunIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_turn(cx));
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count(r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_turn(cx));
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.count(r)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// hyper's executor: runs its background futures (HTTP/2 streams, client
/// connections handed to it) as corun tasks on the current scheduler. No
/// `Send` needed: hyper's futures are `!Send` when its I/O or service is.
///
/// ```
/// use hyper::rt::Executor;
/// corun::run(async {
///     corun::hyper::CorunExecutor.execute(async { /* runs as a task */ });
///     corun::yield_now().await;
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CorunExecutor;

impl<F> Executor<F> for CorunExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        crate::spawn(fut).detach();
    }
}

/// hyper's clock: its timeouts (`header_read_timeout`, keep-alive) are
/// corun timers.
///
/// ```
/// let _builder = hyper::server::conn::http1::Builder::new().timer(corun::hyper::CorunTimer);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CorunTimer;

/// A [`Sleep`](crate::Sleep) with hyper's `Sleep` trait.
struct CorunSleep(crate::Sleep);

impl Future for CorunSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Sleep for CorunSleep {}

impl Timer for CorunTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(CorunSleep(crate::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(CorunSleep(crate::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<CorunSleep>() {
            Some(mut s) => Pin::new(&mut s.0).reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

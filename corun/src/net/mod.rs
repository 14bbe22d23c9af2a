//! Networking: TCP, UDP and Unix-domain sockets on the reactor.
//!
//! Every socket here is a std socket in non-blocking mode inside an
//! [`crate::io::Async`]: it is registered with the scheduler's reactor once,
//! for its whole life, and its readiness is cached, so an operation on a
//! socket already known to be ready makes exactly one syscall (the `recv`,
//! `send` or `accept` itself). An operation first *tries* the syscall (the
//! first one on a new or adopted socket always) and only waits when it
//! returns `WouldBlock`, or, for a stream read (inherent `read` and
//! `AsyncRead` alike), when the previous read drained the socket; a listener therefore accepts the whole queue of
//! pending connections per wake-up.
//!
//! * [`TcpListener`] (with [`TcpListenerBuilder`] for the backlog and
//!   `SO_REUSEPORT`) and its [`Incoming`] stream;
//! * [`TcpStream`], and its [`OwnedReadHalf`]/[`OwnedWriteHalf`] for two
//!   tasks reading and writing one connection at once;
//! * [`UdpSocket`];
//! * [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! Streams implement `futures-io`'s `AsyncRead`/`AsyncWrite` (`poll_close`
//! shuts the write direction down) and have inherent `read`, `write`,
//! `write_all`, `read_exact` methods taking `&self`, so several tasks may
//! share one socket (`Rc<TcpStream>`). The inherent methods give each waiting
//! task its own waker; the `AsyncRead`/`AsyncWrite` impls keep one waker per
//! direction, like every `poll_*` interface.
//!
//! # Loops over ready I/O
//!
//! An operation on a ready socket never returns `Pending`, so a loop over a
//! socket that stays ready (a peer that floods it) never gives the thread
//! back by itself. In such a loop, call [`crate::yield_now`] once every 16
//! operations, as
//! [Fairness: where to yield](crate#fairness-where-to-yield) explains:
//!
//! ```
//! async fn echo(stream: &corun::net::TcpStream) -> std::io::Result<()> {
//!     let mut buf = [0u8; 4096];
//!     let mut reads = 0u64;
//!     loop {
//!         let n = stream.read(&mut buf).await?;
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         stream.write_all(&buf[..n]).await?;
//!         reads += 1;
//!         if reads % 16 == 0 {
//!             corun::yield_now().await; // explicit: let other connections run
//!         }
//!     }
//! }
//! ```
//!
//! # Errors, not panics
//!
//! Nothing here panics on what the network or the user does: a refused
//! connection is `ErrorKind::ConnectionRefused`, a read after the peer closed
//! is `Ok(0)`, a write after the peer reset is an `Err` (`EPIPE` or
//! `ECONNRESET`), `EMFILE`/`ENFILE` from `accept` are returned to the caller
//! (who decides how to back off; corun never retries them in a loop).
//! Stream writes use `send(2)` with `MSG_NOSIGNAL`, so a write to a closed
//! socket never raises `SIGPIPE`, whatever the process's signal disposition.
//!
//! # Addresses
//!
//! The async calls that reach out ([`TcpStream::connect`],
//! [`UdpSocket::send_to`], [`lookup_host`]) take corun's own
//! [`ToSocketAddrs`]: a host *name* is resolved by the system resolver on
//! the blocking pool ([`crate::unblock`]), so a slow DNS answer stalls no
//! other task; socket addresses and IP literals skip the resolver.
//!
//! The synchronous calls (`bind`, and [`UdpSocket::connect`]) take std's
//! `ToSocketAddrs`, whose host names are resolved on the calling thread:
//! give them a `SocketAddr` or an IP literal (`"127.0.0.1:8080"`), or
//! resolve first with [`lookup_host`].
//!
//! # Memory
//!
//! A [`TcpStream`] is the 12-byte reactor registration plus the fd (20 bytes
//! on 64-bit Linux) and allocates nothing itself: no buffer exists before
//! the caller passes one. A pending `read` future is 32 bytes beside the
//! caller's buffer.
//!
//! This module only wraps sockets: it must NOT touch the reactor's internals,
//! the scheduler or timers except through `crate::io` and `crate::time`.

mod addr;
mod methods;
mod split;
mod tcp;
mod tcp_stream;
mod udp;
mod unix;
mod unix_datagram;

pub use addr::{ToSocketAddrs, lookup_host};
pub use split::{OwnedReadHalf, OwnedWriteHalf};
pub use tcp::{Incoming, TcpListener, TcpListenerBuilder};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};
pub use unix_datagram::UnixDatagram;

use std::future::Future;
use std::io::{self, IoSlice, Read};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use socket2::SockRef;

use crate::io::Async;

/// Default listen backlog: the kernel clamps it to `net.core.somaxconn`
/// (4096 on current Linux), so this asks for as much as is allowed by
/// default.
///
/// ```
/// assert!(corun::net::DEFAULT_BACKLOG >= 1024);
/// corun::run(async {
///     let b = corun::net::TcpListener::builder().backlog(corun::net::DEFAULT_BACKLOG);
///     assert!(b.bind("127.0.0.1:0").is_ok());
/// });
/// ```
pub const DEFAULT_BACKLOG: u32 = 4096;

/// Runs `f` on each address `addr` resolves to, until one succeeds; returns
/// the last error otherwise (or `InvalidInput` when there is no address).
fn each_addr<A: std::net::ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_address))
}

/// The error of an address list that resolved to nothing.
fn no_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}

/// `send(2)` with `MSG_NOSIGNAL` on a connected stream socket.
fn send<S: AsFd>(s: &S, buf: &[u8]) -> io::Result<usize> {
    SockRef::from(s).send_with_flags(buf, libc::MSG_NOSIGNAL)
}

/// `sendmsg(2)` with `MSG_NOSIGNAL` on a connected stream socket.
fn send_vectored<S: AsFd>(s: &S, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    SockRef::from(s).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
}

/// The shared bodies of the stream types' inherent I/O methods.
mod stream {
    use super::*;

    /// One read; `Ok(0)` at end of stream.
    pub(super) fn read<'a, S: AsFd>(
        io: &'a Async<S>,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + 'a
    where
        for<'b> &'b S: Read,
    {
        io.read_stream(buf)
    }

    /// Reads until `buf` is full; `UnexpectedEof` if the stream ends first.
    pub(super) async fn read_exact<S: AsFd>(io: &Async<S>, mut buf: &mut [u8]) -> io::Result<()>
    where
        for<'a> &'a S: Read,
    {
        while !buf.is_empty() {
            match read(io, buf).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended before the buffer was filled",
                    ));
                }
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// One write (`send` with `MSG_NOSIGNAL`).
    pub(super) async fn write<S: AsFd>(io: &Async<S>, buf: &[u8]) -> io::Result<usize> {
        io.write_with(|s| send(s, buf)).await
    }

    /// Writes all of `buf`; `WriteZero` if the socket accepts no byte.
    pub(super) async fn write_all<S: AsFd>(io: &Async<S>, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match write(io, buf).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the socket accepted no bytes",
                    ));
                }
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// `AsyncRead::poll_read`: the rules of [`read`] (no `WouldBlock` read
    /// right after a read that drained the socket).
    pub(super) fn poll_read<S: AsFd>(
        io: &Async<S>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: Read,
    {
        io.poll_read_stream(cx, buf)
    }

    /// `AsyncWrite::poll_write`.
    pub(super) fn poll_write<S: AsFd>(
        io: &Async<S>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        io.poll_write_with(cx, |s| send(s, buf))
    }

    /// `AsyncWrite::poll_write_vectored`.
    pub(super) fn poll_write_vectored<S: AsFd>(
        io: &Async<S>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        io.poll_write_with(cx, |s| send_vectored(s, bufs))
    }

    /// `AsyncWrite::poll_close`: shuts the write direction down. A socket
    /// that is already disconnected (`ENOTCONN`) counts as closed.
    pub(super) fn close<S: AsFd>(io: &Async<S>) -> Poll<io::Result<()>> {
        match SockRef::from(io.get_ref()).shutdown(std::net::Shutdown::Write) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Poll::Ready(Ok(())),
            r => Poll::Ready(r),
        }
    }
}

/// Implements `AsyncRead`/`AsyncWrite` for a stream type `$t` and `&$t`,
/// given an expression `$io` of type `&Async<_>` from `$s: &$t`.
macro_rules! impl_async_io {
    ($t:ty, $s:ident => $io:expr) => {
        $crate::net::impl_async_io!(@for $t, |this| &*this, $s => $io);
        $crate::net::impl_async_io!(@for &$t, |this| &**this, $s => $io);
    };
    // One implementing type `$ty`; `$deref` turns `$this: Pin<&mut $ty>`
    // into the `&$t` that `$io` reads.
    (@for $ty:ty, |$this:ident| $deref:expr, $s:ident => $io:expr) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self;
                let $s = $deref;
                crate::net::stream::poll_read($io, cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self;
                let $s = $deref;
                crate::net::stream::poll_write($io, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self;
                let $s = $deref;
                crate::net::stream::poll_write_vectored($io, cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = self;
                let $s = $deref;
                crate::net::stream::close($io)
            }
        }
    };
}
pub(crate) use impl_async_io;

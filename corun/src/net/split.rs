//! [`OwnedReadHalf`] and [`OwnedWriteHalf`]: the two directions of a
//! [`TcpStream`](super::TcpStream), owned (and awaited) by two tasks at once.
//!
//! Both halves share the registered socket through an `Arc` (an `Async` is
//! `Send` and `Sync`, so both halves are `Send`): splitting costs one small
//! allocation and no syscall, and keeps the cached readiness. The read half
//! only waits for readability and the write half only for writability, so
//! their `poll_*` wakers (one per direction) never displace each other.
//!
//! This file must NOT know how streams are created or accepted.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::methods::{addr_methods, read_methods, write_methods};
use super::stream;
use crate::io::Async;

/// The registered socket both halves share.
type SharedSocket = Arc<Async<std::net::TcpStream>>;

/// The reading half of a [`TcpStream`](super::TcpStream), from
/// [`into_split`](super::TcpStream::into_split).
///
/// ```
/// use corun::net::{TcpListener, TcpStream};
/// corun::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (b, _) = l.accept().await.unwrap();
///     let (r, _w) = b.into_split();
///     a.write_all(b"hi").await.unwrap();
///     let mut buf = [0; 2];
///     r.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
/// });
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf {
    io: SharedSocket,
}

/// The writing half of a [`TcpStream`](super::TcpStream), from
/// [`into_split`](super::TcpStream::into_split). Dropping it shuts the write
/// direction down: the peer reads end of stream.
///
/// ```
/// use corun::net::{TcpListener, TcpStream};
/// corun::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (b, _) = l.accept().await.unwrap();
///     let (_r, w) = b.into_split();
///     w.write_all(b"hi").await.unwrap();
///     drop(w);
///     let mut buf = [0; 2];
///     a.read_exact(&mut buf).await.unwrap();
///     assert_eq!(a.read(&mut buf).await.unwrap(), 0); // end of stream
/// });
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    io: SharedSocket,
}

impl OwnedReadHalf {
    /// Both halves of `io`.
    pub(super) fn pair(io: Async<std::net::TcpStream>) -> (OwnedReadHalf, OwnedWriteHalf) {
        let io = Arc::new(io);
        let read = OwnedReadHalf { io: io.clone() };
        (read, OwnedWriteHalf { io })
    }

    read_methods! {
        /// Reads some bytes; `Ok(0)` at end of stream. See
        /// [`TcpStream::read`](super::TcpStream::read).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     let (r, _w) = b.into_split();
        ///     drop(a);
        ///     assert_eq!(r.read(&mut [0; 4]).await.unwrap(), 0);
        /// });
        /// ```
        read;
        /// Reads exactly `buf.len()` bytes (`UnexpectedEof` if the stream ends).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     let (r, _w) = b.into_split();
        ///     a.write_all(b"xyz").await.unwrap();
        ///     let mut buf = [0; 3];
        ///     r.read_exact(&mut buf).await.unwrap();
        /// });
        /// ```
        read_exact;
        /// Waits until readable (or at end of stream, or in error).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     let (r, _w) = b.into_split();
        ///     a.write_all(b"r").await.unwrap();
        ///     assert!(r.readable().await.unwrap().is_readable());
        /// });
        /// ```
        readable;
        /// Reads without consuming. See [`TcpStream::peek`](super::TcpStream::peek).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     let (r, _w) = b.into_split();
        ///     a.write_all(b"p").await.unwrap();
        ///     assert_eq!(r.peek(&mut [0; 1]).await.unwrap(), 1);
        /// });
        /// ```
        peek;
    }

    addr_methods! {
        SocketAddr;
        /// This end's address.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (r, _w) = a.into_split();
        ///     assert!(r.local_addr().unwrap().ip().is_loopback());
        /// });
        /// ```
        local_addr;
        /// The peer's address.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (r, _w) = a.into_split();
        ///     assert_eq!(r.peer_addr().unwrap(), l.local_addr().unwrap());
        /// });
        /// ```
        peer_addr;
    }
}

impl OwnedWriteHalf {
    write_methods! {
        /// Writes some bytes. See [`TcpStream::write`](super::TcpStream::write).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (_r, w) = a.into_split();
        ///     assert_eq!(w.write(b"w").await.unwrap(), 1);
        /// });
        /// ```
        write;
        /// Writes all of `buf`.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (_r, w) = a.into_split();
        ///     w.write_all(b"everything").await.unwrap();
        /// });
        /// ```
        write_all;
        /// Waits until writable (or hung up, or in error).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (_r, w) = a.into_split();
        ///     assert!(w.writable().await.unwrap().is_writable());
        /// });
        /// ```
        writable;
    }

    /// Shuts the write direction down now (the peer reads end of stream);
    /// the read half keeps working.
    ///
    /// ```
    /// # use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = l.accept().await.unwrap();
    ///     let (_r, w) = a.into_split();
    ///     w.shutdown().unwrap();
    ///     assert_eq!(b.read(&mut [0; 1]).await.unwrap(), 0);
    /// });
    /// ```
    pub fn shutdown(&self) -> io::Result<()> {
        self.io.get_ref().shutdown(Shutdown::Write)
    }

    addr_methods! {
        SocketAddr;
        /// This end's address.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (_r, w) = a.into_split();
        ///     assert!(w.local_addr().unwrap().ip().is_loopback());
        /// });
        /// ```
        local_addr;
        /// The peer's address.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (_r, w) = a.into_split();
        ///     assert_eq!(w.peer_addr().unwrap(), l.local_addr().unwrap());
        /// });
        /// ```
        peer_addr;
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // Best effort: the socket may already be shut down or reset.
        let _ = self.io.get_ref().shutdown(Shutdown::Write);
    }
}

impl futures_io::AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        stream::poll_read(&self.io, cx, buf)
    }
}

impl futures_io::AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        stream::poll_write(&self.io, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        stream::poll_write_vectored(&self.io, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        stream::close(&self.io)
    }
}

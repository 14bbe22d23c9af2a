//! Unix-domain stream sockets on the reactor: [`UnixListener`] (and its
//! [`UnixIncoming`] stream) and [`UnixStream`] — the same shape as the TCP
//! types, with paths for addresses. Datagrams are in `unix_datagram.rs`.
//!
//! This file must NOT duplicate stream I/O logic: the shared bodies live in
//! `net::stream` (mod.rs).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use super::impl_async_io;
use super::methods::{addr_methods, read_methods, write_methods};
use crate::io::Async;

/// `accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: the new socket needs no
/// `fcntl` before it is registered.
fn accept_raw(
    listener: &std::os::unix::net::UnixListener,
) -> io::Result<(std::os::unix::net::UnixStream, SocketAddr)> {
    let (sock, addr) = SockRef::from(listener).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    Ok((sock.into(), std_addr(&addr)?))
}

/// The address `accept4` reported, as std spells it: a path, an abstract
/// name, or (a client that never bound, the usual case) unnamed.
fn std_addr(addr: &SockAddr) -> io::Result<SocketAddr> {
    if let Some(a) = addr.as_unix() {
        return Ok(a);
    }
    #[cfg(target_os = "linux")]
    if let Some(name) = addr.as_abstract_namespace() {
        use std::os::linux::net::SocketAddrExt;
        return SocketAddr::from_abstract_name(name);
    }
    if addr.is_unix() && addr.is_unnamed() {
        return unnamed();
    }
    Err(io::Error::other(
        "accepted a connection with a non-Unix address",
    ))
}

/// An unnamed address. std has no constructor for one, so it is read once
/// from an unbound socket and cloned from then on.
fn unnamed() -> io::Result<SocketAddr> {
    static UNNAMED: OnceLock<SocketAddr> = OnceLock::new();
    if let Some(a) = UNNAMED.get() {
        return Ok(a.clone());
    }
    let a = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| a).clone())
}

/// A Unix stream socket listening for connections.
///
/// ```
/// use corun::net::{UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("corun-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let p = path.clone();
/// corun::run(async move {
///     let path = &p;
///     let l = UnixListener::bind(&path).unwrap();
///     let c = UnixStream::connect(&path).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     c.write_all(b"hi").await.unwrap();
///     let mut buf = [0; 2];
///     s.read_exact(&mut buf).await.unwrap();
/// });
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: Async<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens, with a backlog
    /// of [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG) connections.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-bind-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let l = corun::net::UnixListener::bind(&path).unwrap();
    ///     assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        // The kernel caps it at `net.core.somaxconn`.
        socket.listen(super::DEFAULT_BACKLOG.min(i32::MAX as u32) as i32)?;
        // Made with `SOCK_NONBLOCK`: no `fcntl` needed.
        Ok(UnixListener {
            io: Async::from_nonblocking(socket.into())?,
        })
    }

    /// Wraps a listening std socket (made non-blocking and registered).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-std-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let std = std::os::unix::net::UnixListener::bind(&path).unwrap();
    ///     let l = corun::net::UnixListener::from_std(std).unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Async::new_owned(listener)?,
        })
    }

    /// Accepts one connection, waiting only if none is queued; errors
    /// (`EMFILE` included) are returned as they are.
    ///
    /// ```
    /// # use corun::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("corun-doc-acc-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let l = UnixListener::bind(&path).unwrap();
    ///     let _c = UnixStream::connect(&path).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     assert!(s.peer_addr().is_ok());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.io.read_with(accept_raw).await?;
        Ok((UnixStream::from_accepted(s)?, addr))
    }

    /// Poll form of [`accept`](UnixListener::accept) (one waker: the latest).
    ///
    /// ```
    /// # use corun::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("corun-doc-pacc-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let l = UnixListener::bind(&path).unwrap();
    ///     let _c = UnixStream::connect(&path).await.unwrap();
    ///     assert!(std::future::poll_fn(|cx| l.poll_accept(cx)).await.is_ok());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io
            .poll_read_with(cx, accept_raw)
            .map(|r| r.and_then(|(s, addr)| Ok((UnixStream::from_accepted(s)?, addr))))
    }

    /// The accepted connections as a never-ending `futures_core::Stream`.
    ///
    /// ```
    /// use futures_core::Stream;
    /// # use corun::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("corun-doc-inc-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let l = UnixListener::bind(&path).unwrap();
    ///     let _c = UnixStream::connect(&path).await.unwrap();
    ///     let mut inc = l.incoming();
    ///     let s = std::future::poll_fn(|cx| std::pin::Pin::new(&mut inc).poll_next(cx)).await;
    ///     assert!(s.unwrap().is_ok());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-la-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let l = corun::net::UnixListener::bind(&path).unwrap();
    ///     assert!(l.local_addr().unwrap().as_pathname().is_some());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// Stream of connections accepted by a [`UnixListener`].
///
/// ```
/// use futures_core::Stream;
/// let path = std::env::temp_dir().join(format!("corun-doc-ui-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let p = path.clone();
/// corun::run(async move {
///     let path = &p;
///     let l = corun::net::UnixListener::bind(&path).unwrap();
///     assert_eq!(l.incoming().size_hint(), (0, None));
/// });
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl futures_core::Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A connected Unix stream socket; like [`TcpStream`](super::TcpStream),
/// its methods take `&self` and it implements `AsyncRead`/`AsyncWrite`.
///
/// ```
/// corun::run(async {
///     let (a, b) = corun::net::UnixStream::pair().unwrap();
///     a.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
#[derive(Debug)]
pub struct UnixStream {
    io: Async<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the listener at `path`. Fails with `WouldBlock` when the
    /// listener's backlog is full (Unix sockets cannot wait for room).
    ///
    /// ```
    /// # use corun::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("corun-doc-con-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let _l = UnixListener::bind(&path).unwrap();
    ///     let c = UnixStream::connect(&path).await.unwrap();
    ///     assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
        let started = match socket.connect(&SockAddr::unix(path)?) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(e),
        };
        // Made with `SOCK_NONBLOCK`: no `fcntl` needed.
        let io = Async::from_nonblocking(std::os::unix::net::UnixStream::from(socket))?;
        if started {
            io.writable().await?;
            if let Some(e) = io.get_ref().take_error()? {
                return Err(e);
            }
        }
        Ok(UnixStream { io })
    }

    /// A connected pair of sockets.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, b) = corun::net::UnixStream::pair().unwrap();
    ///     drop(a);
    ///     assert_eq!(b.read(&mut [0; 1]).await.unwrap(), 0);
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        // `socketpair(2)` with `SOCK_NONBLOCK`: registered without `fcntl`.
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
        let wrap = |s: Socket| -> io::Result<UnixStream> {
            Ok(UnixStream {
                io: Async::from_nonblocking(s.into())?,
            })
        };
        Ok((wrap(a)?, wrap(b)?))
    }

    /// A stream fresh from `accept4` with `SOCK_NONBLOCK` (registered
    /// without an `fcntl`).
    fn from_accepted(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Async::from_nonblocking(stream)?,
        })
    }

    /// Wraps a connected std socket (made non-blocking and registered).
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let a = corun::net::UnixStream::from_std(a).unwrap();
    ///     assert!(a.peer_addr().is_ok());
    /// });
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Async::new_owned(stream)?,
        })
    }

    read_methods! {
        /// Reads some bytes; `Ok(0)` at end of stream.
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, b) = corun::net::UnixStream::pair().unwrap();
        ///     a.write_all(b"x").await.unwrap();
        ///     assert_eq!(b.read(&mut [0; 4]).await.unwrap(), 1);
        /// });
        /// ```
        read;
        /// Reads exactly `buf.len()` bytes (`UnexpectedEof` if the stream ends).
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, b) = corun::net::UnixStream::pair().unwrap();
        ///     a.write_all(b"xy").await.unwrap();
        ///     drop(a);
        ///     let err = b.read_exact(&mut [0; 3]).await.unwrap_err();
        ///     assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        /// });
        /// ```
        read_exact;
        /// Waits until readable (or at end of stream, or in error).
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, b) = corun::net::UnixStream::pair().unwrap();
        ///     drop(a);
        ///     assert!(b.readable().await.unwrap().is_read_closed());
        /// });
        /// ```
        readable;
    }

    write_methods! {
        /// Writes some bytes (`send` with `MSG_NOSIGNAL`: an `EPIPE` error, never
        /// `SIGPIPE`, once the peer is gone).
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, b) = corun::net::UnixStream::pair().unwrap();
        ///     drop(b);
        ///     assert!(a.write(b"x").await.is_err());
        /// });
        /// ```
        write;
        /// Writes all of `buf`.
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
        ///     a.write_all(b"all").await.unwrap();
        /// });
        /// ```
        write_all;
        /// Waits until writable (or hung up, or in error).
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
        ///     assert!(a.writable().await.unwrap().is_writable());
        /// });
        /// ```
        writable;
    }

    addr_methods! {
        SocketAddr;
        /// Shuts down the read, write or both directions.
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, b) = corun::net::UnixStream::pair().unwrap();
        ///     a.shutdown(std::net::Shutdown::Write).unwrap();
        ///     assert_eq!(b.read(&mut [0; 1]).await.unwrap(), 0);
        /// });
        /// ```
        shutdown;
        /// This end's address (unnamed for `pair` and client sockets).
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
        ///     assert!(a.local_addr().unwrap().is_unnamed());
        /// });
        /// ```
        local_addr;
        /// The peer's address.
        ///
        /// ```
        /// corun::run(async {
        ///     let (a, _b) = corun::net::UnixStream::pair().unwrap();
        ///     assert!(a.peer_addr().unwrap().is_unnamed());
        /// });
        /// ```
        peer_addr;
    }
}

impl_async_io!(UnixStream, s => &s.io);

macro_rules! impl_fd {
    ($($t:ty),*) => {$(
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.io.as_raw_fd()
            }
        }

        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.as_fd()
            }
        }
    )*};
}
impl_fd!(UnixListener, UnixStream);
pub(super) use impl_fd;

//! [`TcpStream`]: a TCP connection on the reactor — non-blocking connect
//! (with an optional deadline), reads, writes, peek, half-close, options.
//!
//! It must NOT hold buffers or any per-connection allocation: an idle stream
//! is its registration plus its fd. Splitting lives in `split.rs`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::methods::{addr_methods, read_methods, write_methods};
use super::split::{OwnedReadHalf, OwnedWriteHalf};
use super::{ToSocketAddrs, impl_async_io, no_address};
use crate::io::Async;

/// A TCP connection, registered with the current scheduler's reactor.
///
/// Methods take `&self`: several tasks may share one stream (through an
/// `Rc`), each awaiting its own read or write. It is `Send`, so it can be
/// moved into futures spawned on a [`crate::Scheduler`], but it works only
/// on the scheduler thread it was created on.
///
/// ```
/// use corun::net::{TcpListener, TcpStream};
/// corun::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = corun::spawn(async move {
///         let s = TcpStream::connect(addr).await.unwrap();
///         s.write_all(b"hello").await.unwrap();
///     });
///     let (s, _) = listener.accept().await.unwrap();
///     let mut buf = [0; 5];
///     s.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
///     client.await.unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: Async<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn
    /// (without blocking the scheduler while the handshake runs, nor while
    /// a host name is resolved: see [`ToSocketAddrs`]). Returns the last
    /// address's error when none accepts, e.g.
    /// `ErrorKind::ConnectionRefused`.
    ///
    /// ```
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(s.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for a in super::addr::resolve(&addr).await? {
            match connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    /// [`connect`](TcpStream::connect) with a deadline for the whole
    /// attempt: `ErrorKind::TimedOut` once `timeout` has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let s = TcpStream::connect_timeout(addr, Duration::from_secs(5)).await.unwrap();
    ///     assert_eq!(s.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub async fn connect_timeout<A: ToSocketAddrs>(
        addr: A,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        crate::time::timeout(timeout, TcpStream::connect(addr)).await?
    }

    /// Wraps a connected std stream (made non-blocking and registered).
    ///
    /// ```
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let s = TcpStream::from_std(std).unwrap();
    ///     assert!(s.peer_addr().is_ok());
    /// });
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Async::new_owned(stream)?,
        })
    }

    /// Deregisters the stream and returns the std one (still non-blocking).
    ///
    /// ```
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let s = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let std = s.into_std();
    ///     std.set_nonblocking(false).unwrap();
    /// });
    /// ```
    pub fn into_std(self) -> std::net::TcpStream {
        self.io.into_inner()
    }

    read_methods! {
        /// Reads some bytes into `buf`, waiting until at least one is available;
        /// `Ok(0)` once the peer has closed (or shut down) its write side.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     a.write_all(b"hi").await.unwrap();
        ///     drop(a);
        ///     let mut buf = [0; 8];
        ///     let mut got = 0;
        ///     loop {
        ///         match b.read(&mut buf[got..]).await.unwrap() {
        ///             0 => break,
        ///             n => got += n,
        ///         }
        ///     }
        ///     assert_eq!(&buf[..got], b"hi");
        /// });
        /// ```
        read;
        /// Reads exactly `buf.len()` bytes; `ErrorKind::UnexpectedEof` if the
        /// stream ends first.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     a.write_all(b"abcd").await.unwrap();
        ///     let mut buf = [0; 4];
        ///     b.read_exact(&mut buf).await.unwrap();
        ///     assert_eq!(&buf, b"abcd");
        /// });
        /// ```
        read_exact;
        /// Waits until the stream is readable, at end of stream, or in error,
        /// and returns the readiness seen. Any number of tasks may wait at once;
        /// all are woken. Costs no syscall when readiness is already known.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     drop(a);
        ///     assert!(b.readable().await.unwrap().is_read_closed());
        /// });
        /// ```
        readable;
        /// Reads some bytes into `buf` without taking them off the socket's
        /// queue, waiting until at least one is there (`Ok(0)` at end of stream).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     a.write_all(b"z").await.unwrap();
        ///     let mut buf = [0; 1];
        ///     assert_eq!(b.peek(&mut buf).await.unwrap(), 1);
        ///     assert_eq!(b.read(&mut buf).await.unwrap(), 1); // still there
        /// });
        /// ```
        peek;
    }

    write_methods! {
        /// Writes some bytes of `buf`, waiting until the socket accepts at least
        /// one; returns how many it took. Fails (`EPIPE`/`ECONNRESET`) once the
        /// peer is gone; never raises `SIGPIPE`.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     assert_eq!(a.write(b"x").await.unwrap(), 1);
        /// });
        /// ```
        write;
        /// Writes all of `buf`, waiting for socket space as needed.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     a.write_all(b"all of it").await.unwrap();
        /// });
        /// ```
        write_all;
        /// Waits until the stream is writable (or hung up, or in error).
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     assert!(a.writable().await.unwrap().is_writable());
        /// });
        /// ```
        writable;
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    ///
    /// ```
    /// # use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     a.set_nodelay(true).unwrap();
    ///     assert!(a.nodelay().unwrap());
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     assert!(!a.nodelay().unwrap());
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    addr_methods! {
        SocketAddr;
        /// Shuts down the read, write or both directions. After
        /// `Shutdown::Write` the peer reads end of stream while this side can
        /// still read what the peer sends.
        ///
        /// ```
        /// use std::net::Shutdown;
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     let (b, _) = l.accept().await.unwrap();
        ///     a.shutdown(Shutdown::Write).unwrap();
        ///     assert_eq!(b.read(&mut [0; 4]).await.unwrap(), 0);
        ///     b.write_all(b"still").await.unwrap();
        ///     let mut buf = [0; 5];
        ///     a.read_exact(&mut buf).await.unwrap();
        /// });
        /// ```
        shutdown;
        /// This end's address.
        ///
        /// ```
        /// # use corun::net::{TcpListener, TcpStream};
        /// corun::run(async {
        ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        ///     assert!(a.local_addr().unwrap().ip().is_loopback());
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
        ///     assert_eq!(a.peer_addr().unwrap(), l.local_addr().unwrap());
        /// });
        /// ```
        peer_addr;
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     assert!(a.take_error().unwrap().is_none());
    /// });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Splits the stream into a read half and a write half that two tasks
    /// can own and use at once. Both are `Send`. Dropping the write half
    /// shuts the write direction down (the peer reads end of stream); the
    /// socket closes when both halves are gone.
    ///
    /// The halves share this stream's registration: a split makes no
    /// syscall and keeps the cached readiness.
    ///
    /// ```
    /// # use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = l.accept().await.unwrap();
    ///     let (r, w) = b.into_split();
    ///     let echo = corun::spawn(async move {
    ///         let mut buf = [0; 4];
    ///         r.read_exact(&mut buf).await.unwrap();
    ///         buf
    ///     });
    ///     w.write_all(b"ping").await.unwrap();
    ///     a.write_all(b"pong").await.unwrap();
    ///     assert_eq!(&echo.await.unwrap(), b"pong");
    ///     let mut buf = [0; 4];
    ///     a.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"ping");
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        OwnedReadHalf::pair(self.io)
    }
}

/// Connects to one address without blocking: `connect(2)` on a
/// non-blocking socket; if the handshake is not over when it returns (over
/// loopback it usually is, though the call still says `EINPROGRESS`), a wait
/// for writability and a look at `SO_ERROR`.
async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    let pending = match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => !is_connected(&socket)?,
        Err(e) => return Err(e),
    };
    // Made with `SOCK_NONBLOCK`: no `fcntl` needed.
    let io = Async::from_nonblocking(std::net::TcpStream::from(socket))?;
    if pending {
        io.writable().await?;
        // Poll-style loop: `WouldBlock` (not connected yet, no error) makes
        // `write_with` clear the stale readiness and wait again.
        io.write_with(|s| match s.take_error()? {
            Some(e) => Err(e),
            None if is_connected(s)? => Ok(()),
            None => Err(io::ErrorKind::WouldBlock.into()),
        })
        .await?;
    }
    Ok(TcpStream { io })
}

/// Whether a socket whose `connect(2)` is under way has finished the
/// handshake: one `getpeername(2)`, `ENOTCONN` meaning not (yet, or it
/// failed: `SO_ERROR` says which).
fn is_connected(socket: impl AsFd) -> io::Result<bool> {
    match SockRef::from(&socket).peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
        Err(e) => Err(e),
    }
}

impl_async_io!(TcpStream, s => &s.io);

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

/// Crate-internal: a stream from a socket accepted with `SOCK_NONBLOCK`
/// (registered without an `fcntl`).
pub(super) fn from_accepted(stream: std::net::TcpStream) -> io::Result<TcpStream> {
    Ok(TcpStream {
        io: Async::from_nonblocking(stream)?,
    })
}

//! [`TcpListener`] (with its [`TcpListenerBuilder`] for the listen backlog,
//! `SO_REUSEADDR`, `SO_REUSEPORT` and steering to a pinned core's CPU with
//! `SO_INCOMING_CPU`) and the [`Incoming`] stream of accepted connections.
//!
//! Accepting tries `accept4(2)` first and waits only on `WouldBlock`, so one
//! wake-up drains the whole queue; every other error (notably `EMFILE` and
//! `ENFILE`) goes back to the caller at once. This file must NOT do stream
//! I/O (that is `tcp_stream.rs`).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::{DEFAULT_BACKLOG, TcpStream, each_addr, tcp_stream};
use crate::io::Async;

/// A TCP socket listening for connections, registered with the current
/// scheduler's reactor. Made with `SO_REUSEADDR` and a listen backlog of
/// [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG) unless a
/// [`TcpListenerBuilder`] says otherwise.
///
/// ```
/// use corun::net::{TcpListener, TcpStream};
/// corun::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     corun::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let (_stream, peer) = listener.accept().await.unwrap();
///     assert!(peer.ip().is_loopback());
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Async<std::net::TcpListener>,
}

/// Options of a [`TcpListener`] before it binds: listen backlog,
/// `SO_REUSEADDR` (on by default), `SO_REUSEPORT` (off by default; turn it
/// on to let one listener per core share a port, the kernel spreading new
/// connections among them).
///
/// ```
/// use corun::net::TcpListenerBuilder;
/// corun::run(async {
///     let a = TcpListenerBuilder::new().reuse_port(true).backlog(128).bind("127.0.0.1:0").unwrap();
///     let port = a.local_addr().unwrap().port();
///     // A second listener on the same port, as a thread-per-core server has.
///     let b = TcpListenerBuilder::new().reuse_port(true).bind(("127.0.0.1", port)).unwrap();
///     assert_eq!(b.local_addr().unwrap().port(), port);
/// });
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TcpListenerBuilder {
    backlog: u32,
    reuse_address: bool,
    reuse_port: bool,
    steer_to_core: bool,
}

impl Default for TcpListenerBuilder {
    fn default() -> TcpListenerBuilder {
        TcpListenerBuilder::new()
    }
}

impl TcpListenerBuilder {
    /// The defaults: backlog [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG),
    /// `SO_REUSEADDR` on, `SO_REUSEPORT` off.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListenerBuilder::new().bind("127.0.0.1:0").unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn new() -> TcpListenerBuilder {
        TcpListenerBuilder {
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
            steer_to_core: true,
        }
    }

    /// The listen backlog: how many fully established connections the
    /// kernel queues before `accept` (it caps this at `somaxconn`).
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListenerBuilder::new().backlog(16).bind("127.0.0.1:0").unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn backlog(mut self, backlog: u32) -> TcpListenerBuilder {
        self.backlog = backlog;
        self
    }

    /// Sets `SO_REUSEADDR` (default on): rebinding a port whose old
    /// connections are still in `TIME_WAIT` succeeds.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListenerBuilder::new().reuse_address(false).bind("127.0.0.1:0").unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn reuse_address(mut self, on: bool) -> TcpListenerBuilder {
        self.reuse_address = on;
        self
    }

    /// Sets `SO_REUSEPORT` (default off): several sockets (one per scheduler
    /// thread, typically) may bind the same address and port, and the kernel
    /// balances incoming connections among them.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListenerBuilder::new().reuse_port(true).bind("127.0.0.1:0").unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn reuse_port(mut self, on: bool) -> TcpListenerBuilder {
        self.reuse_port = on;
        self
    }

    /// Steers connections to this core (default on): a listener with
    /// `SO_REUSEPORT`, bound on a core [pinned](crate::Builder::pin_cores)
    /// to a CPU, asks the kernel (`SO_INCOMING_CPU`) for the connections
    /// whose first packet it handles on that CPU; the others are spread
    /// by the kernel's hash as without it. Over loopback the kernel handles
    /// a connection on the CPU of the task that makes it, so a client task
    /// on core `k` is served by core `k`'s listener and no round trip
    /// crosses cores; from the network, on the CPU that takes the network
    /// card's interrupt for it.
    ///
    /// The price: connections follow where the kernel handles them, not
    /// the cores' load, so if one CPU handles them all (one client thread
    /// making every connection, a network card with one interrupt), one
    /// core serves them all. Turn it off then, or leave the cores unpinned.
    /// Without `SO_REUSEPORT`, or on a core that is not pinned, it does
    /// nothing.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListenerBuilder::new()
    ///         .reuse_port(true)
    ///         .steer_to_core(false)
    ///         .bind("127.0.0.1:0")
    ///         .unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn steer_to_core(mut self, on: bool) -> TcpListenerBuilder {
        self.steer_to_core = on;
        self
    }

    /// Creates the socket, applies the options, binds to the first address
    /// of `addr` that works and listens. Must run on a scheduler thread.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListenerBuilder::new().bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(l.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpListener> {
        let listener = each_addr(addr, |a| self.bind_one(a))?;
        Ok(TcpListener {
            // `bind_one` made the socket with `SOCK_NONBLOCK`.
            io: Async::from_nonblocking(listener)?,
        })
    }

    fn bind_one(&self, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )?;
        if self.reuse_address {
            socket.set_reuse_address(true)?;
        }
        if self.reuse_port {
            socket.set_reuse_port(true)?;
            if let Some(cpu) =
                crate::scheduler::affinity::pinned_cpu().filter(|_| self.steer_to_core)
            {
                socket.set_cpu_affinity(cpu)?;
            }
        }
        socket.bind(&SockAddr::from(addr))?;
        let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
        socket.listen(backlog)?;
        Ok(socket.into())
    }
}

impl TcpListener {
    /// Binds a listener with the defaults of [`TcpListenerBuilder::new`]
    /// (`SO_REUSEADDR`, backlog [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG)).
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     assert!(l.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListenerBuilder::new().bind(addr)
    }

    /// Binds a listener with the given listen backlog.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListener::bind_with_backlog("127.0.0.1:0", 64).unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn bind_with_backlog<A: ToSocketAddrs>(addr: A, backlog: u32) -> io::Result<TcpListener> {
        TcpListenerBuilder::new().backlog(backlog).bind(addr)
    }

    /// The default options, to change before binding.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListener::builder().reuse_port(true).bind("127.0.0.1:0").unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn builder() -> TcpListenerBuilder {
        TcpListenerBuilder::new()
    }

    /// Wraps a bound, listening std listener (made non-blocking and
    /// registered).
    ///
    /// ```
    /// corun::run(async {
    ///     let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let l = corun::net::TcpListener::from_std(std).unwrap();
    ///     assert!(l.local_addr().is_ok());
    /// });
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Async::new_owned(listener)?,
        })
    }

    /// Accepts one connection, waiting only if none is queued. Errors such
    /// as `EMFILE`/`ENFILE` (out of file descriptors) are returned as they
    /// are: the caller decides whether and how long to back off.
    ///
    /// Any number of tasks may accept on one listener at once.
    ///
    /// ```
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, peer) = l.accept().await.unwrap();
    ///     assert_eq!(peer, c.local_addr().unwrap());
    ///     assert_eq!(s.peer_addr().unwrap(), peer);
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (sock, addr) = self.io.read_with(accept_raw).await?;
        Ok((tcp_stream::from_accepted(sock)?, addr))
    }

    /// Poll form of [`accept`](TcpListener::accept): keeps one waker (the
    /// latest), so it suits a single accepting task.
    ///
    /// ```
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = std::future::poll_fn(|cx| l.poll_accept(cx)).await.unwrap();
    ///     assert!(s.peer_addr().is_ok());
    /// });
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io
            .poll_read_with(cx, accept_raw)
            .map(|r| r.and_then(|(sock, addr)| Ok((tcp_stream::from_accepted(sock)?, addr))))
    }

    /// The accepted connections as a `futures_core::Stream`; it never ends
    /// (each accept error is an item, and the next poll tries again).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// use corun::net::{TcpListener, TcpStream};
    /// corun::run(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let mut incoming = l.incoming();
    ///     let next = poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx)).await;
    ///     assert!(next.unwrap().is_ok());
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// corun::run(async {
    ///     let l = corun::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(l.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// One `accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC` (so registering the
/// new socket needs no `F_SETFL`, nor a separate `FD_CLOEXEC`).
fn accept_raw(listener: &std::net::TcpListener) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    let (sock, addr) = SockRef::from(listener).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    let addr = addr
        .as_socket()
        .ok_or_else(|| io::Error::other("accepted a connection with a non-IP address"))?;
    Ok((sock.into(), addr))
}

/// Stream of connections accepted by a [`TcpListener`]; see
/// [`TcpListener::incoming`].
///
/// ```
/// use futures_core::Stream;
/// corun::run(async {
///     let l = corun::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let incoming = l.incoming();
///     assert_eq!(incoming.size_hint(), (0, None));
/// });
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

//! [`UnixDatagram`]: Unix-domain datagram sockets on the reactor — bound to
//! a path, unbound, or one of a connected pair; the same shape as
//! [`UdpSocket`](super::UdpSocket), with paths for addresses.
//!
//! This file must NOT hold buffers: every datagram goes straight between the
//! caller's slice and the kernel.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::unix::impl_fd;
use crate::io::Async;

/// A Unix datagram socket.
///
/// ```
/// corun::run(async {
///     let (a, b) = corun::net::UnixDatagram::pair().unwrap();
///     a.send(b"one").await.unwrap();
///     let mut buf = [0; 8];
///     assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
/// });
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    io: Async<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to `path` (which must not exist).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-dg-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let s = corun::net::UnixDatagram::bind(&path).unwrap();
    ///     assert_eq!(s.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let socket = Socket::new(Domain::UNIX, Type::DGRAM.nonblocking(), None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        UnixDatagram::from_nonblocking(socket)
    }

    /// A socket bound to no address (it can send, and receive replies once
    /// connected).
    ///
    /// ```
    /// corun::run(async {
    ///     let s = corun::net::UnixDatagram::unbound().unwrap();
    ///     assert!(s.local_addr().unwrap().is_unnamed());
    /// });
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_nonblocking(Socket::new(Domain::UNIX, Type::DGRAM.nonblocking(), None)?)
    }

    /// Registers a socket made with `SOCK_NONBLOCK` (no `fcntl` needed).
    fn from_nonblocking(socket: Socket) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Async::from_nonblocking(socket.into())?,
        })
    }

    /// A connected pair of sockets.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, b) = corun::net::UnixDatagram::pair().unwrap();
    ///     b.send(b"2").await.unwrap();
    ///     assert_eq!(a.recv(&mut [0; 2]).await.unwrap(), 1);
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        // `socketpair(2)` with `SOCK_NONBLOCK`: registered without `fcntl`.
        let (a, b) = Socket::pair(Domain::UNIX, Type::DGRAM.nonblocking(), None)?;
        Ok((
            UnixDatagram::from_nonblocking(a)?,
            UnixDatagram::from_nonblocking(b)?,
        ))
    }

    /// Wraps a std socket (made non-blocking and registered).
    ///
    /// ```
    /// corun::run(async {
    ///     let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
    ///     assert!(corun::net::UnixDatagram::from_std(s).is_ok());
    /// });
    /// ```
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Async::new_owned(socket)?,
        })
    }

    /// Sets the default peer to the socket bound at `path`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-dgc-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let server = corun::net::UnixDatagram::bind(&path).unwrap();
    ///     let client = corun::net::UnixDatagram::unbound().unwrap();
    ///     client.connect(&path).unwrap();
    ///     client.send(b"hey").await.unwrap();
    ///     assert_eq!(server.recv(&mut [0; 8]).await.unwrap(), 3);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends one datagram to the socket bound at `path`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-dgs-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let p = path.clone();
    /// corun::run(async move {
    ///     let path = &p;
    ///     let server = corun::net::UnixDatagram::bind(&path).unwrap();
    ///     let client = corun::net::UnixDatagram::unbound().unwrap();
    ///     assert_eq!(client.send_to(b"to", &path).await.unwrap(), 2);
    ///     assert_eq!(server.recv(&mut [0; 8]).await.unwrap(), 2);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.write_with(|s| s.send_to(buf, path)).await
    }

    /// Receives one datagram and its sender's address.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, b) = corun::net::UnixDatagram::pair().unwrap();
    ///     a.send(b"from").await.unwrap();
    ///     let (n, from) = b.recv_from(&mut [0; 8]).await.unwrap();
    ///     assert_eq!(n, 4);
    ///     assert!(from.is_unnamed());
    /// });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.recv_from(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixDatagram::pair().unwrap();
    ///     assert_eq!(a.send(b"abc").await.unwrap(), 3);
    /// });
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, b) = corun::net::UnixDatagram::pair().unwrap();
    ///     a.send(b"abc").await.unwrap();
    ///     assert_eq!(b.recv(&mut [0; 8]).await.unwrap(), 3);
    /// });
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.recv(buf)).await
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixDatagram::pair().unwrap();
    ///     assert!(a.local_addr().unwrap().is_unnamed());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// corun::run(async {
    ///     let (a, _b) = corun::net::UnixDatagram::pair().unwrap();
    ///     assert!(a.peer_addr().is_ok());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl_fd!(UnixDatagram);

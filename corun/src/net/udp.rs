//! [`UdpSocket`]: datagrams on the reactor — unconnected (`send_to`,
//! `recv_from`) and connected (`connect`, `send`, `recv`).
//!
//! This file must NOT hold buffers: every datagram goes straight between the
//! caller's slice and the kernel.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{each_addr, no_address};
use crate::io::{Async, Readiness};

/// A UDP socket registered with the current scheduler's reactor. Methods
/// take `&self`, so several tasks may send and receive on one socket.
///
/// ```
/// use corun::net::UdpSocket;
/// corun::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"hello", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr().unwrap()));
/// });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: Async<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// ```
    /// corun::run(async {
    ///     let s = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(s.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = each_addr(addr, |a| {
            // Made with `SOCK_NONBLOCK`, so registered without `fcntl`.
            let s = Socket::new(
                Domain::for_address(a),
                Type::DGRAM.nonblocking(),
                Some(Protocol::UDP),
            )?;
            s.bind(&SockAddr::from(a))?;
            Ok(std::net::UdpSocket::from(s))
        })?;
        Ok(UdpSocket {
            io: Async::from_nonblocking(socket)?,
        })
    }

    /// Wraps a bound std socket (made non-blocking and registered).
    ///
    /// ```
    /// corun::run(async {
    ///     let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let s = corun::net::UdpSocket::from_std(std).unwrap();
    ///     assert!(s.local_addr().is_ok());
    /// });
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Async::new_owned(socket)?,
        })
    }

    /// Sends one datagram to the first address of `target`, waiting for
    /// buffer space if needed. Returns the bytes sent.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert_eq!(a.send_to(b"x", b.local_addr().unwrap()).await.unwrap(), 1);
    /// });
    /// ```
    pub async fn send_to<A: super::ToSocketAddrs>(
        &self,
        buf: &[u8],
        target: A,
    ) -> io::Result<usize> {
        let target = super::addr::resolve(&target)
            .await?
            .into_iter()
            .next()
            .ok_or_else(no_address)?;
        self.io.write_with(|s| s.send_to(buf, target)).await
    }

    /// Receives one datagram and its sender, waiting until one arrives. A
    /// datagram longer than `buf` is truncated to it.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.send_to(b"self", a.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let (n, from) = a.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((n, from), (4, a.local_addr().unwrap()));
    /// });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.recv_from(buf)).await
    }

    /// Like [`recv_from`](UdpSocket::recv_from), but leaves the datagram
    /// queued.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.send_to(b"again", a.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.peek_from(&mut buf).await.unwrap().0, 5);
    ///     assert_eq!(a.recv_from(&mut buf).await.unwrap().0, 5);
    /// });
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.peek_from(buf)).await
    }

    /// Sets the default peer (the first address of `addr` that works): then
    /// [`send`](UdpSocket::send) goes there and [`recv`](UdpSocket::recv)
    /// only takes datagrams from it. Does not wait (UDP has no handshake).
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.io.get_ref().connect(a))
    }

    /// Sends one datagram to the connected peer. After the peer's port was
    /// found closed, fails with `ConnectionRefused`.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     assert_eq!(a.send(b"hi").await.unwrap(), 2);
    /// });
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     b.send(b"yo").await.unwrap();
    ///     let mut buf = [0; 4];
    ///     assert_eq!(a.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.recv(buf)).await
    }

    /// Waits until a datagram can be received (or an error is pending).
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.send_to(b"r", a.local_addr().unwrap()).await.unwrap();
    ///     assert!(a.readable().await.unwrap().is_readable());
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<Readiness> {
        self.io.readable().await
    }

    /// Waits until a datagram can be sent.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(a.writable().await.unwrap().is_writable());
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<Readiness> {
        self.io.writable().await
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(a.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address (`NotConnected` before
    /// [`connect`](UdpSocket::connect)).
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(a.peer_addr().is_err());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.set_broadcast(true).unwrap();
    ///     assert!(a.broadcast().unwrap());
    /// });
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(!a.broadcast().unwrap());
    /// });
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// corun::run(async {
    ///     let a = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert!(a.take_error().unwrap().is_none());
    /// });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

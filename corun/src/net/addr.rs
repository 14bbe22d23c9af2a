//! Addresses for the async connect calls: corun's own [`ToSocketAddrs`],
//! which resolves host names on the blocking pool ([`crate::unblock`]) so
//! a slow DNS answer never stalls the scheduler, and [`lookup_host`].
//!
//! Socket addresses, IP literals and `(ip, port)` pairs resolve at once,
//! on the calling thread, without touching the pool. Only names go there,
//! through the system resolver (`getaddrinfo`, as std does).
//!
//! This file must not open sockets; it only turns addresses into
//! `SocketAddr` lists.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What an address turns into: a list now, or a resolver call to run on
/// the blocking pool.
#[doc(hidden)]
pub enum Resolve {
    /// Resolved without the resolver (literals, socket addresses).
    Ready(io::Result<Vec<SocketAddr>>),
    /// A host name: the blocking lookup, for the pool.
    Lookup(Box<dyn FnOnce() -> io::Result<Vec<SocketAddr>> + Send>),
}

pub(crate) mod sealed {
    /// The method behind [`super::ToSocketAddrs`]; sealed so that corun may
    /// change how resolution works without breaking users.
    #[doc(hidden)]
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the lookup that finds them.
        fn to_resolve(&self) -> super::Resolve;
    }
}

/// Addresses the async connect calls take ([`TcpStream::connect`],
/// [`UdpSocket::send_to`], [`lookup_host`]): like
/// `std::net::ToSocketAddrs`, but a host name is resolved on the blocking
/// pool, not on the scheduler thread.
///
/// Implemented for `SocketAddr` (and its V4/V6 forms), `(IpAddr, u16)` (and
/// the V4/V6 forms), `"host:port"` strings (`&str`, `String`), `(&str, u16)`
/// and `(String, u16)` pairs, slices of `SocketAddr`, and references to any
/// of these. A literal (`"127.0.0.1:80"`, `("::1", 80)`) is parsed at once
/// and never reaches the resolver.
///
/// [`TcpStream::connect`]: super::TcpStream::connect
/// [`UdpSocket::send_to`]: super::UdpSocket::send_to
///
/// ```
/// use corun::net::{TcpListener, TcpStream};
///
/// corun::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let port = listener.local_addr().unwrap().port();
///     // A name, resolved off the scheduler thread, then a literal pair.
///     let a = TcpStream::connect(format!("localhost:{port}")).await.unwrap();
///     let b = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
///     assert_eq!(a.peer_addr().unwrap().port(), port);
///     assert_eq!(b.peer_addr().unwrap().port(), port);
/// });
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

/// Resolves `addr` to its socket addresses: at once for literals, on the
/// blocking pool for host names.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    match addr.to_resolve() {
        Resolve::Ready(r) => r,
        Resolve::Lookup(f) => crate::unblock(f).await,
    }
}

/// Resolves `host` (`"name:port"`, or any [`ToSocketAddrs`]) to socket
/// addresses without blocking the scheduler: a name goes to the system
/// resolver on the blocking pool while other tasks run; a literal resolves
/// at once. Fails with the resolver's error (for an unknown name, an error
/// saying so).
///
/// ```
/// corun::run(async {
///     let addrs: Vec<_> = corun::net::lookup_host("localhost:80").await.unwrap().collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
///     let literal: Vec<_> = corun::net::lookup_host("127.0.0.1:8080").await.unwrap().collect();
///     assert_eq!(literal, ["127.0.0.1:8080".parse().unwrap()]);
/// });
/// ```
pub async fn lookup_host<A: ToSocketAddrs>(host: A) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    resolve(&host).await.map(Vec::into_iter)
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> sealed::ToSocketAddrsPriv for &T {
    fn to_resolve(&self) -> Resolve {
        (**self).to_resolve()
    }
}

/// Implements the trait for types that are addresses already.
macro_rules! ready {
    ($($t:ty => |$s:ident| $e:expr),* $(,)?) => {$(
        impl ToSocketAddrs for $t {}
        impl sealed::ToSocketAddrsPriv for $t {
            fn to_resolve(&self) -> Resolve {
                let $s = self;
                Resolve::Ready(Ok($e))
            }
        }
    )*};
}

ready! {
    SocketAddr => |a| vec![*a],
    SocketAddrV4 => |a| vec![SocketAddr::V4(*a)],
    SocketAddrV6 => |a| vec![SocketAddr::V6(*a)],
    (IpAddr, u16) => |p| vec![SocketAddr::new(p.0, p.1)],
    (Ipv4Addr, u16) => |p| vec![SocketAddr::new(IpAddr::V4(p.0), p.1)],
    (Ipv6Addr, u16) => |p| vec![SocketAddr::new(IpAddr::V6(p.0), p.1)],
    [SocketAddr] => |s| s.to_vec(),
}

impl ToSocketAddrs for str {}
impl sealed::ToSocketAddrsPriv for str {
    fn to_resolve(&self) -> Resolve {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Resolve::Ready(Ok(vec![addr]));
        }
        let owned = self.to_owned();
        Resolve::Lookup(Box::new(move || {
            std::net::ToSocketAddrs::to_socket_addrs(owned.as_str()).map(Iterator::collect)
        }))
    }
}

impl ToSocketAddrs for String {}
impl sealed::ToSocketAddrsPriv for String {
    fn to_resolve(&self) -> Resolve {
        self.as_str().to_resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::ToSocketAddrsPriv for (&str, u16) {
    fn to_resolve(&self) -> Resolve {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Resolve::Ready(Ok(vec![SocketAddr::new(ip, port)]));
        }
        let owned = host.to_owned();
        Resolve::Lookup(Box::new(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&(owned.as_str(), port)).map(Iterator::collect)
        }))
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::ToSocketAddrsPriv for (String, u16) {
    fn to_resolve(&self) -> Resolve {
        (self.0.as_str(), self.1).to_resolve()
    }
}

//! The inherent I/O methods that every stream type (`TcpStream`,
//! `UnixStream`) and split half repeats, written once: each macro takes
//! the type's own doc comment for each method and supplies the signature
//! and the body, so every type keeps its own docs and examples.
//!
//! The methods reach the socket through a field `io` (an `Async<_>`, or an
//! `Arc` of one) and the bodies in `net::stream`. This file must not hold
//! any logic of its own.

/// `read`, `read_exact`, `readable` and, for TCP, `peek`, each preceded by
/// its docs.
macro_rules! read_methods {
    (
        $(#[$read:meta])* read;
        $(#[$read_exact:meta])* read_exact;
        $(#[$readable:meta])* readable;
        $(#[$peek:meta])* peek;
    ) => {
        $crate::net::methods::read_methods! {
            $(#[$read])* read;
            $(#[$read_exact])* read_exact;
            $(#[$readable])* readable;
        }

        $(#[$peek])*
        pub async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io.read_with(|s| s.peek(buf)).await
        }
    };
    (
        $(#[$read:meta])* read;
        $(#[$read_exact:meta])* read_exact;
        $(#[$readable:meta])* readable;
    ) => {
        $(#[$read])*
        pub fn read<'a>(
            &'a self,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
            $crate::net::stream::read(&self.io, buf)
        }

        $(#[$read_exact])*
        pub async fn read_exact(&self, buf: &mut [u8]) -> std::io::Result<()> {
            $crate::net::stream::read_exact(&self.io, buf).await
        }

        $(#[$readable])*
        pub async fn readable(&self) -> std::io::Result<$crate::io::Readiness> {
            self.io.readable().await
        }
    };
}

/// `write`, `write_all` and `writable`, each preceded by its docs.
macro_rules! write_methods {
    (
        $(#[$write:meta])* write;
        $(#[$write_all:meta])* write_all;
        $(#[$writable:meta])* writable;
    ) => {
        $(#[$write])*
        pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
            $crate::net::stream::write(&self.io, buf).await
        }

        $(#[$write_all])*
        pub async fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
            $crate::net::stream::write_all(&self.io, buf).await
        }

        $(#[$writable])*
        pub async fn writable(&self) -> std::io::Result<$crate::io::Readiness> {
            self.io.writable().await
        }
    };
}

/// `local_addr` and `peer_addr` returning `$addr` and, for a whole
/// stream, `shutdown`, each preceded by its docs.
macro_rules! addr_methods {
    (
        $addr:ty;
        $(#[$shutdown:meta])* shutdown;
        $(#[$local:meta])* local_addr;
        $(#[$peer:meta])* peer_addr;
    ) => {
        $(#[$shutdown])*
        pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            self.io.get_ref().shutdown(how)
        }

        $crate::net::methods::addr_methods! {
            $addr;
            $(#[$local])* local_addr;
            $(#[$peer])* peer_addr;
        }
    };
    (
        $addr:ty;
        $(#[$local:meta])* local_addr;
        $(#[$peer:meta])* peer_addr;
    ) => {
        $(#[$local])*
        pub fn local_addr(&self) -> std::io::Result<$addr> {
            self.io.get_ref().local_addr()
        }

        $(#[$peer])*
        pub fn peer_addr(&self) -> std::io::Result<$addr> {
            self.io.get_ref().peer_addr()
        }
    };
}

pub(super) use {addr_methods, read_methods, write_methods};

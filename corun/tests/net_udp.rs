//! UDP: datagrams to and from addresses, connected sockets, waking a
//! waiting receiver, truncation, peeking, refused peers, several receivers
//! on one socket.
//!
//! Tests only; sockets bind 127.0.0.1 port 0, loops are bounded, and each
//! scenario runs under a watchdog. Must not reach into corun internals.

use std::cell::Cell;
use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use corun::net::UdpSocket;

/// Runs `make()` in `corun::run` on its own thread; fails after 30 s.
fn run<F, Fut>(make: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            || corun::run(make()),
        )));
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("scenario hung (a lost wake-up?)"),
    }
}

#[test]
fn send_to_and_recv_from_carry_the_addresses() {
    run(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.send_to(b"ping", ba).await.unwrap(), 4);
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], aa));
        b.send_to(b"pong", from).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"pong"[..], ba));
    });
}

#[test]
fn a_waiting_receiver_is_woken_by_a_datagram() {
    run(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        let got = Rc::new(Cell::new(false));
        let g = got.clone();
        let receiver = corun::spawn(async move {
            let mut buf = [0; 8];
            let (n, _) = a.recv_from(&mut buf).await.unwrap();
            g.set(true);
            buf[..n].to_vec()
        });
        corun::yield_now().await;
        corun::yield_now().await;
        assert!(!got.get(), "nothing was sent yet");
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.send_to(b"wake", addr).await.unwrap();
        assert_eq!(receiver.await.unwrap(), b"wake");
    });
}

#[test]
fn connected_sockets_send_and_recv_only_with_their_peer() {
    run(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        // Filtered out by the kernel: not from the connected peer.
        stranger
            .send_to(b"spam", a.local_addr().unwrap())
            .await
            .unwrap();
        b.send(b"from b").await.unwrap();
        let mut buf = [0; 16];
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"from b");
        a.send(b"from a").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"from a");
    });
}

#[test]
fn sending_to_a_closed_port_is_refused_on_a_connected_socket() {
    run(|| async {
        let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(addr).unwrap();
        a.send(b"hello?").await.unwrap();
        // The ICMP port-unreachable comes back as a pending socket error,
        // which wakes the receiver and is returned, not panicked on.
        let err = a.recv(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn a_long_datagram_is_truncated_to_the_buffer() {
    run(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        a.send_to(&[7; 100], addr).await.unwrap();
        a.send_to(b"next", addr).await.unwrap();
        let mut small = [0; 10];
        assert_eq!(a.recv_from(&mut small).await.unwrap().0, 10);
        assert_eq!(small, [7; 10]);
        // The rest of the long datagram is gone; the next one is whole.
        let mut buf = [0; 16];
        let (n, _) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");
    });
}

#[test]
fn peek_from_leaves_the_datagram_queued() {
    run(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        a.send_to(b"twice", addr).await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(a.peek_from(&mut buf).await.unwrap(), (5, addr));
        assert_eq!(a.recv_from(&mut buf).await.unwrap(), (5, addr));
        assert_eq!(&buf[..5], b"twice");
    });
}

#[test]
fn several_receivers_share_one_socket() {
    const N: usize = 16;
    run(|| async {
        let a = Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = a.local_addr().unwrap();
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let a = a.clone();
                corun::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..N / 4 {
                        let mut buf = [0; 1];
                        a.recv_from(&mut buf).await.unwrap();
                        got.push(buf[0]);
                    }
                    got
                })
            })
            .collect();
        corun::yield_now().await;
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..N as u8 {
            b.send_to(&[i], addr).await.unwrap();
        }
        let mut all = Vec::new();
        for r in receivers {
            all.extend(r.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (0..N as u8).collect::<Vec<_>>());
    });
}

#[test]
fn bad_addresses_are_errors() {
    run(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let none: &[SocketAddr] = &[];
        let err = a.send_to(b"x", none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            UdpSocket::bind(none).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(a.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        assert!(a.take_error().unwrap().is_none());
    });
}

#[test]
fn udp_socket_is_send() {
    fn send<T: Send>() {}
    send::<UdpSocket>();
}

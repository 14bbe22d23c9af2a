//! TCP: accept (many, as a stream, EMFILE), connect (refused, timeout),
//! end of stream, reset, half-close, hang-up readiness, many readers of one
//! socket, split halves in two tasks, peek, nodelay, `futures-io` traits, a
//! dup outliving its dropped stream.
//!
//! Tests only; every server binds 127.0.0.1 port 0, every loop is bounded,
//! and every scenario runs under a watchdog that turns a hang into a failure.
//! Must not reach into corun internals.

use std::cell::Cell;
use std::io::ErrorKind;
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use corun::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
use futures_util::StreamExt;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::{fork_lock, run, run_child};

/// A connected pair: (client, server side).
async fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

#[test]
fn read_after_peer_close_returns_zero() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        c.write_all(b"last words").await.unwrap();
        drop(c);
        let mut buf = [0; 10];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"last words");
        assert_eq!(s.read(&mut buf).await.unwrap(), 0);
        assert_eq!(s.read(&mut buf).await.unwrap(), 0, "EOF is sticky");
        let err = s.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}

#[test]
fn write_after_peer_reset_is_an_error() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        // Linger 0: closing sends RST instead of FIN.
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
        let r = c.readable().await.unwrap();
        assert!(r.is_read_closed() || r.is_error(), "{r:?}");
        let err = c.write(b"anyone?").await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
        // Still an error (not a panic) on the next write, and the read side
        // reports the reset or end of stream.
        assert!(c.write_all(b"again").await.is_err());
        match c.read(&mut [0; 4]).await {
            Ok(0) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
            Ok(n) => panic!("read {n} bytes from a reset connection"),
        }
    });
}

#[test]
fn shutdown_write_is_a_half_close() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        c.write_all(b"request").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut req = Vec::new();
        let mut buf = [0; 4];
        for _ in 0..100 {
            match s.read(&mut buf).await.unwrap() {
                0 => break,
                n => req.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(req, b"request");
        // The other direction still works.
        s.write_all(b"response").await.unwrap();
        drop(s);
        let mut resp = [0; 8];
        c.read_exact(&mut resp).await.unwrap();
        assert_eq!(&resp, b"response");
        assert_eq!(c.read(&mut buf).await.unwrap(), 0);
        // Writing after our own shutdown fails cleanly.
        assert!(c.write(b"x").await.is_err());
    });
}

#[test]
fn hang_up_makes_the_stream_readable_and_read_closed() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        let waiter = corun::spawn(async move {
            let r = s.readable().await.unwrap();
            (r.is_read_closed(), s.read(&mut [0; 1]).await.unwrap())
        });
        corun::yield_now().await;
        drop(c);
        assert_eq!(waiter.await.unwrap(), (true, 0));
    });
}

/// True if `fd` is closed on exec (so child processes do not inherit it).
fn cloexec(fd: &impl std::os::fd::AsRawFd) -> bool {
    // SAFETY: F_GETFD on a descriptor owned by a live object; reads flags only.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "fcntl: {}", std::io::Error::last_os_error());
    flags & libc::FD_CLOEXEC != 0
}

#[test]
fn every_socket_is_close_on_exec() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = corun::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (accepted, _) = l.accept().await.unwrap();
        let connected = c.await.unwrap();
        let timed = TcpStream::connect_timeout(addr, Duration::from_secs(3600))
            .await
            .unwrap();
        let u = corun::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(cloexec(&l), "listener");
        assert!(cloexec(&accepted), "accepted stream");
        assert!(cloexec(&connected), "connected stream");
        assert!(cloexec(&timed), "stream from connect_timeout");
        assert!(cloexec(&u), "udp socket");
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    // No child process may hold a copy of the closed listener below.
    let _no_fork = fork_lock();
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let err = TcpStream::connect_timeout(addr, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn connect_with_no_address_is_invalid_input() {
    run(|| async {
        let none: &[std::net::SocketAddr] = &[];
        let err = TcpStream::connect(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn connect_timeout_succeeds_in_time_and_times_out_on_a_full_backlog() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let ok = TcpStream::connect_timeout(addr, Duration::from_secs(10)).await;
        assert_eq!(ok.unwrap().peer_addr().unwrap(), addr);

        // A listener that never accepts, with backlog 0: once its queue is
        // full the kernel drops further SYNs, so a connect cannot complete.
        let full = TcpListener::bind_with_backlog("127.0.0.1:0", 0).unwrap();
        let addr = full.local_addr().unwrap();
        let mut kept = Vec::new();
        let mut timed_out = false;
        for _ in 0..16 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(200)).await {
                Ok(s) => kept.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(
            timed_out,
            "{} connects to a full backlog succeeded",
            kept.len()
        );
    });
}

#[test]
fn many_tasks_awaiting_one_socket_are_all_woken() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        let s = Rc::new(s);
        let woken = Rc::new(Cell::new(0));
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (s, woken) = (s.clone(), woken.clone());
                corun::spawn(async move {
                    assert!(s.readable().await.unwrap().is_readable());
                    woken.set(woken.get() + 1);
                })
            })
            .collect();
        // Let every waiter reach its await; nothing to read yet.
        for _ in 0..4 {
            corun::yield_now().await;
        }
        assert_eq!(woken.get(), 0);
        c.write_all(b"!").await.unwrap();
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(woken.get(), 8);
        // Several readers: each byte goes to exactly one of them.
        c.write_all(b"abcd").await.unwrap();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                corun::spawn(async move { s.read(&mut [0; 1]).await.unwrap() })
            })
            .collect();
        let mut total = 0;
        for r in readers {
            total += r.await.unwrap();
        }
        assert_eq!(total, 4);
        assert_eq!(s.read(&mut [0; 1]).await.unwrap(), 1, "the '!' is left");
    });
}

#[test]
fn split_halves_work_in_two_tasks_at_once() {
    const LEN: usize = 1 << 20;
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        // Echo server over split halves: one task reads, one writes.
        let (sr, sw) = s.into_split();
        let (tx, mut rx) = corun::sync::mpsc::channel::<Vec<u8>>(8);
        let reader = corun::spawn(async move {
            let mut buf = vec![0; 4096];
            loop {
                let n = sr.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                tx.send(buf[..n].to_vec()).await.unwrap();
            }
        });
        let writer = corun::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                sw.write_all(&chunk).await.unwrap();
            }
            // Dropping the write half shuts the write direction down.
        });
        // The client also splits: it writes 1 MiB while reading the echo,
        // which only works if both directions run concurrently.
        let (cr, cw) = c.into_split();
        let sent = corun::spawn(async move {
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            cw.write_all(&data).await.unwrap();
            cw.shutdown().unwrap();
            data
        });
        let mut got = Vec::new();
        let mut buf = vec![0; 8192];
        loop {
            let n = cr.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            assert!(got.len() <= LEN);
        }
        assert_eq!(got, sent.await.unwrap());
        reader.await.unwrap();
        writer.await.unwrap();
    });
}

#[test]
fn streams_and_halves_are_send() {
    fn send<T: Send>() {}
    send::<TcpStream>();
    send::<TcpListener>();
    send::<OwnedReadHalf>();
    send::<OwnedWriteHalf>();
    // And they work inside a future spawned on a Scheduler from outside.
    let sched = corun::Scheduler::start().unwrap();
    let task = sched
        .spawn(async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let (c, s) = pair(&l).await;
            let (r, w) = s.into_split();
            w.write_all(b"hi").await.unwrap();
            c.write_all(b"yo").await.unwrap();
            let mut buf = [0; 2];
            r.read_exact(&mut buf).await.unwrap();
            c.read_exact(&mut buf).await.unwrap();
            buf
        })
        .unwrap();
    let ids = [task.id()];
    sched.join_all(&ids).unwrap();
    sched.shutdown().unwrap();
}

#[test]
fn accepts_a_thousand_connections_from_a_client_task() {
    const N: usize = 1000;
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let client = corun::spawn(async move {
            let mut ok = 0;
            for i in 0..N {
                let s = TcpStream::connect(addr).await.unwrap();
                s.write_all(&(i as u32).to_le_bytes()).await.unwrap();
                ok += 1;
            }
            ok
        });
        let mut seen = vec![false; N];
        for _ in 0..N {
            let (s, peer) = l.accept().await.unwrap();
            assert!(peer.ip().is_loopback());
            let mut id = [0; 4];
            s.read_exact(&mut id).await.unwrap();
            let id = u32::from_le_bytes(id) as usize;
            assert!(!seen[id], "connection {id} accepted twice");
            seen[id] = true;
        }
        assert_eq!(client.await.unwrap(), N);
        assert!(seen.iter().all(|&s| s));
    });
}

#[test]
fn incoming_is_a_stream_of_connections() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let client = corun::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(TcpStream::connect(addr).await.unwrap());
            }
            v
        });
        let mut incoming = l.incoming();
        let mut n = 0;
        while n < 5 {
            let s = incoming.next().await.expect("never ends").unwrap();
            assert!(s.peer_addr().is_ok());
            n += 1;
        }
        assert_eq!(client.await.unwrap().len(), 5);
    });
}

#[test]
fn reuse_port_lets_two_listeners_share_a_port() {
    run(|| async {
        let a = TcpListener::builder()
            .reuse_port(true)
            .bind("127.0.0.1:0")
            .unwrap();
        let port = a.local_addr().unwrap().port();
        let b = TcpListener::builder()
            .reuse_port(true)
            .bind(("127.0.0.1", port))
            .unwrap();
        assert_eq!(b.local_addr().unwrap().port(), port);
        // Without SO_REUSEPORT the port is taken.
        let err = TcpListener::bind(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
}

#[test]
fn peek_leaves_the_bytes_queued() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        let peeker = corun::spawn(async move {
            let mut buf = [0; 8];
            let n = s.peek(&mut buf).await.unwrap();
            (s, buf[..n].to_vec())
        });
        corun::yield_now().await;
        c.write_all(b"peekaboo").await.unwrap();
        let (s, peeked) = peeker.await.unwrap();
        assert!(!peeked.is_empty() && b"peekaboo".starts_with(&peeked));
        let mut buf = [0; 8];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"peekaboo");
    });
}

#[test]
fn nodelay_round_trips() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        assert!(!c.nodelay().unwrap());
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        s.set_nodelay(true).unwrap();
        c.set_nodelay(false).unwrap();
        assert!(!c.nodelay().unwrap());
        assert!(s.nodelay().unwrap());
    });
}

#[test]
fn futures_io_traits_work_with_futures_util() {
    run(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut c, s) = pair(&l).await;
        let server = corun::spawn(async move {
            // Through `&TcpStream` and through the halves.
            let mut req = Vec::new();
            (&s).read_to_end(&mut req).await.unwrap();
            let (mut r, mut w) = s.into_split();
            // Trait methods, not the inherent ones of the same name.
            assert_eq!(AsyncReadExt::read(&mut r, &mut [0; 1]).await.unwrap(), 0);
            AsyncWriteExt::write_all(&mut w, &req).await.unwrap();
            w.flush().await.unwrap();
            w.close().await.unwrap();
        });
        AsyncWriteExt::write_all(&mut c, b"echo me").await.unwrap();
        c.close().await.unwrap(); // shutdown(Write)
        let mut resp = String::new();
        c.read_to_string(&mut resp).await.unwrap();
        assert_eq!(resp, "echo me");
        server.await.unwrap();
    });
}

/// The parent half of the EMFILE test: reruns this binary's
/// `emfile_child` (which lowers its own fd limit) in a child process.
#[test]
fn accept_reports_emfile_as_an_error() {
    let out = run_child(
        &[
            "--exact",
            "emfile_child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ],
        ("CORUN_NET_EMFILE_CHILD", "1"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("EMFILE-OK"),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by accept_reports_emfile_as_an_error in a child process"]
fn emfile_child() {
    assert!(
        std::env::var_os("CORUN_NET_EMFILE_CHILD").is_some(),
        "only meaningful in the child process"
    );
    corun::run(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let _c1 = std::net::TcpStream::connect(addr).unwrap();
        let _c2 = std::net::TcpStream::connect(addr).unwrap();
        // Use up every fd below a low limit.
        let lim = libc::rlimit {
            rlim_cur: 256,
            rlim_max: 20_000,
        };
        // SAFETY: setrlimit with a valid pointer to an initialised struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        let mut files = Vec::new();
        for _ in 0..300 {
            match std::fs::File::open("/dev/null") {
                Ok(f) => files.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                    break;
                }
            }
        }
        assert!(files.len() < 300, "the fd limit did not apply");
        let err = l.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err:?}");
        // The caller backs off (frees fds); accepting then works again.
        files.truncate(files.len() - 4);
        let (s, _) = l.accept().await.unwrap();
        assert!(s.peer_addr().is_ok());
        let (s2, _) = l.accept().await.unwrap();
        assert!(s2.peer_addr().is_ok());
    });
    println!("EMFILE-OK");
}

#[test]
fn an_idle_stream_is_small_and_owns_no_buffer() {
    // The registration (32 bytes) plus the fd; nothing on the heap.
    assert!(
        std::mem::size_of::<TcpStream>() <= 40,
        "{}",
        std::mem::size_of::<TcpStream>()
    );
    println!(
        "size_of::<TcpStream>() = {}",
        std::mem::size_of::<TcpStream>()
    );
}

#[test]
fn a_dup_outliving_its_dropped_stream_works_and_new_streams_are_unaffected() {
    run(|| async {
        use std::os::fd::AsFd;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = pair(&l).await;
        let dup = c.as_fd().try_clone_to_owned().unwrap();
        // The close keeps the file open (the dup): its epoll entry lingers.
        drop(c);
        s.write_all(b"old").await.unwrap();
        // New connections (reusing the freed reactor slot) are not disturbed
        // by the lingering entry's events.
        let (c2, s2) = pair(&l).await;
        s2.write_all(b"new").await.unwrap();
        let mut buf = [0; 3];
        c2.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"new");
        // The dup, wrapped again, reads what was sent to the first stream.
        let again = TcpStream::from_std(std::net::TcpStream::from(dup)).unwrap();
        again.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"old");
        drop(s);
        assert_eq!(again.read(&mut buf).await.unwrap(), 0);
    });
}

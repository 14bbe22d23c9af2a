//! fd readiness: many waiters per fd in both directions, hang-up, the
//! readiness value returned, regular files, invalid and closed fds, and
//! `Async<T>` over Unix socket pairs, TCP on 127.0.0.1 and a regular file,
//! and its binding to the scheduler thread that made it.
//!
//! Tests only; must not reach into corun internals.

mod common;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use common::{run_watched, yield_n};
use corun::TaskState;
use corun::io::{Async, Interest};

/// Writes into `s` (non-blocking) until its buffers are full.
fn fill(s: &UnixStream) {
    s.set_nonblocking(true).unwrap();
    let chunk = [0u8; 4096];
    loop {
        match (&*s).write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

/// Reads everything `s` has (non-blocking).
fn drain(s: &UnixStream) -> usize {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 65536];
    let mut total = 0;
    loop {
        match (&*s).read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("drain: {e}"),
        }
    }
}

/// The states of the given tasks, in the order given.
fn states(ids: &[corun::TaskId]) -> Vec<TaskState> {
    let all = corun::tasks();
    ids.iter()
        .map(|id| all.iter().find(|i| i.id == *id).unwrap().state.clone())
        .collect()
}

#[test]
fn two_readers_and_a_writer_on_one_fd_are_all_woken() {
    run_watched("2 readers + 1 writer on one fd", || async {
        let (a, b) = UnixStream::pair().unwrap();
        fill(&a); // so the writer really has to wait
        let a = Rc::new(a);
        let fd = a.as_raw_fd();
        let reader = |a: Rc<UnixStream>| {
            corun::spawn(async move { corun::io::readable(&*a).await.unwrap() })
        };
        let r1 = reader(a.clone());
        let r2 = reader(a.clone());
        let w = {
            let a = a.clone();
            corun::spawn(async move { corun::io::writable(&*a).await.unwrap() })
        };
        yield_n(2).await;
        let read = TaskState::Io {
            fd,
            interest: Interest::Read,
        };
        let write = TaskState::Io {
            fd,
            interest: Interest::Write,
        };
        assert_eq!(
            states(&[r1.id(), r2.id(), w.id()]),
            vec![read.clone(), read, write]
        );
        (&b).write_all(b"hello").unwrap(); // a becomes readable
        assert!(drain(&b) > 0); // a becomes writable
        let (x, y, z) = (r1.await.unwrap(), r2.await.unwrap(), w.await.unwrap());
        assert!(x.is_readable() && y.is_readable(), "{x:?} {y:?}");
        assert!(z.is_writable(), "{z:?}");
    });
}

#[test]
fn many_readers_of_one_fd_are_all_woken() {
    run_watched("50 readers on one fd", || async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = Rc::new(a);
        let readers: Vec<_> = (0..50)
            .map(|_| {
                let a = a.clone();
                corun::spawn(async move { corun::io::readable(&*a).await.unwrap() })
            })
            .collect();
        yield_n(2).await;
        (&b).write_all(b"x").unwrap();
        for r in readers {
            assert!(r.await.unwrap().is_readable());
        }
    });
}

#[test]
fn hang_up_wakes_both_a_reader_and_a_writer() {
    run_watched("hang-up with reader and writer", || async {
        let (a, b) = UnixStream::pair().unwrap();
        fill(&a);
        let a = Rc::new(a);
        let r = {
            let a = a.clone();
            corun::spawn(async move { corun::io::readable(&*a).await })
        };
        let w = {
            let a = a.clone();
            corun::spawn(async move { corun::io::writable(&*a).await })
        };
        yield_n(2).await;
        assert!(matches!(states(&[r.id()])[0], TaskState::Io { .. }));
        assert!(matches!(states(&[w.id()])[0], TaskState::Io { .. }));
        drop(b);
        let rr = r.await.unwrap().expect("reader woken by hang-up");
        let wr = w.await.unwrap().expect("writer woken by hang-up");
        assert!(rr.is_read_closed() || rr.is_readable(), "{rr:?}");
        assert!(
            wr.is_write_closed() || wr.is_writable() || wr.is_error(),
            "{wr:?}"
        );
        // The next operations report the condition.
        // End of stream, or a reset (the peer closed with our data unread).
        match (&*a).read(&mut [0u8; 8]) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("read after hang-up: {other:?}"),
        }
        let e = (&*a).write(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn writable_returns_writable_readiness_and_readable_readable() {
    run_watched("readiness values", || async {
        let (a, b) = UnixStream::pair().unwrap();
        let r = corun::io::writable(&a).await.unwrap();
        assert!(r.is_writable(), "{r:?}");
        // After a full buffer is drained, the wake-up says writable.
        fill(&a);
        let a = Rc::new(a);
        let w = {
            let a = a.clone();
            corun::spawn(async move { corun::io::writable(&*a).await.unwrap() })
        };
        yield_n(2).await;
        drain(&b);
        assert!(w.await.unwrap().is_writable());
        // And readable says readable.
        (&b).write_all(b"y").unwrap();
        let r = corun::io::readable(&*a).await.unwrap();
        assert!(r.is_readable(), "{r:?}");
    });
}

#[test]
fn readable_and_writable_on_a_regular_file_return_at_once() {
    run_watched("regular file", || async {
        let path = std::env::temp_dir().join(format!("corun-io-test-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let r = corun::io::readable(&f).await.unwrap();
        let w = corun::io::writable(&f).await.unwrap();
        assert!(r.is_readable() && w.is_writable(), "{r:?} {w:?}");
        drop(f);
        std::fs::remove_file(path).unwrap();
    });
}

#[test]
fn invalid_and_closed_fds_give_ebadf_without_panicking() {
    run_watched("EBADF", || async {
        let minus_one: RawFd = -1;
        for e in [
            corun::io::readable(&minus_one).await.unwrap_err(),
            corun::io::writable(&minus_one).await.unwrap_err(),
        ] {
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        }
        // A closed fd: a high number nobody else in this process gets.
        let f = std::fs::File::open("/dev/null").unwrap();
        // SAFETY: F_DUPFD on an open fd; the copy is closed right after.
        let closed = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 15_000) };
        assert!(
            closed >= 15_000,
            "dup failed: {}",
            io::Error::last_os_error()
        );
        // SAFETY: `closed` is our own fd, used by nothing else.
        assert_eq!(unsafe { libc::close(closed) }, 0);
        let e = corun::io::readable(&closed).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        let e = corun::io::writable(&closed).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        // The scheduler runs on.
        assert_eq!(corun::spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn async_read_with_and_write_with_over_a_unix_pair() {
    run_watched("Async<UnixStream>", || async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        let b = Async::new(b).unwrap();
        const LEN: usize = 1 << 20; // far more than the socket buffers
        let writer = corun::spawn(async move {
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            let mut off = 0;
            while off < LEN {
                off += a
                    .write_with(|s| (&*s).write(&data[off..(off + 8192).min(LEN)]))
                    .await
                    .unwrap();
            }
            // a drops here: the reader sees end of stream.
        });
        let mut got = Vec::with_capacity(LEN);
        let mut buf = [0u8; 5000];
        loop {
            let n = b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8));
    });
}

#[test]
fn async_read_with_and_write_with_over_tcp_on_localhost() {
    run_watched("Async over TCP", || async {
        let listener = Async::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let server = corun::spawn(async move {
            let (conn, _) = listener.read_with(|l| l.accept()).await.unwrap();
            let conn = Async::new(conn).unwrap();
            let mut buf = [0u8; 64];
            let mut total = Vec::new();
            while !total.ends_with(b"\n") {
                let n = conn.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
                assert!(n > 0, "client closed early");
                total.extend_from_slice(&buf[..n]);
            }
            total.reverse();
            conn.write_with(|s| (&*s).write(&total[1..])).await.unwrap()
        });
        let client = Async::new(TcpStream::connect(addr).unwrap()).unwrap();
        client
            .write_with(|s| (&*s).write(b"corun\n"))
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = client.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"nuroc");
        assert_eq!(server.await.unwrap(), 5);
    });
}

#[test]
fn async_needs_a_scheduler_thread_and_stays_bound_to_it() {
    let (a, _b) = UnixStream::pair().unwrap();
    assert!(Async::new(a).is_err(), "no scheduler on this thread");
    run_watched("bound to its thread", || async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        let a = std::thread::spawn(move || {
            use futures_util::FutureExt;
            let res = a.readable().now_or_never();
            assert!(matches!(res, Some(Err(_))), "a wait elsewhere: {res:?}");
            a
        })
        .join()
        .unwrap();
        b.write_all(b"x").unwrap();
        assert!(a.readable().await.unwrap().is_readable());
    });
}

#[test]
fn async_over_a_regular_file_is_ready_at_once() {
    run_watched("async regular file", || async {
        let path = std::env::temp_dir().join(format!("corun-io-async-{}", std::process::id()));
        let f = Async::new(std::fs::File::create(&path).unwrap()).unwrap();
        assert!(f.readable().await.unwrap().is_readable());
        assert!(f.writable().await.unwrap().is_writable());
        drop(f);
        std::fs::remove_file(path).unwrap();
    });
}

//! corun adds no hidden yield: an operation that can complete at once
//! completes without returning `Pending`, the first one on a new or adopted
//! object included. Each test spawns a witness task (ready from then on) and
//! runs an operation `N` times while it stays ready; the witness runs only
//! if one of them returned `Pending`, so it must not have run in between.
//!
//! Setup that may legitimately wait (connecting, accepting) happens before
//! the witness exists; data is made to be queued with blocking syscalls that
//! corun does not see (`poll(2)`, `FIONREAD`), never with a corun wait.

mod common;

use std::cell::Cell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corun::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use corun::sync::{Event, Notify, Semaphore, local, mpsc, oneshot};

/// Operations per test.
const N: usize = 1000;
/// Bytes per stream read and write.
const CHUNK: usize = 8;

/// A task spawned now that records whether it ran.
struct Witness(Rc<Cell<bool>>);

impl Witness {
    fn spawn() -> Witness {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        corun::spawn(async move { r.set(true) }).detach();
        Witness(ran)
    }

    /// Fails if the witness ran, i.e. operation `i` of `what` yielded.
    fn check(&self, what: &str, i: usize) {
        assert!(
            !self.0.get(),
            "{what}: operation {i} returned Pending although it could complete at once"
        );
    }

    /// Yields once, proving the witness was ready all along.
    async fn end(self) {
        corun::yield_now().await;
        assert!(self.0.get(), "the witness task never ran");
    }
}

/// Blocks the thread (invisibly to corun) until `fd` has `bytes` queued.
fn wait_queued(fd: &impl AsRawFd, bytes: usize) {
    let t0 = Instant::now();
    loop {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through a valid pointer.
        assert_eq!(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) },
            0
        );
        if n as usize >= bytes {
            return;
        }
        assert!(t0.elapsed() < common::WATCHDOG, "data never arrived");
        std::thread::yield_now();
    }
}

/// Blocks the thread (invisibly to corun) until `fd` is readable.
fn wait_readable(fd: &impl AsRawFd) {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, common::WATCHDOG.as_millis() as i32) };
    assert_eq!(n, 1, "fd never became readable");
}

/// Runs `f` on a fresh runtime under the watchdog.
fn run<Fut: std::future::Future<Output = ()> + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Fut + Send + 'static,
) {
    common::run_watched(what, f);
}

/// `N` times: writes `CHUNK` bytes with `$w`, waits until they are queued
/// for `$r` (whose fd is `$fd`), reads them with `$r`. Each read takes all
/// that is queued and fills its buffer, so `$r` stays known readable.
macro_rules! stream_loop {
    ($what:expr, $r:expr, $w:expr, $fd:expr) => {{
        let witness = Witness::spawn();
        let mut buf = [0u8; CHUNK];
        for i in 0..N {
            assert_eq!($w.write(&buf).await.unwrap(), CHUNK);
            witness.check(concat!($what, " write"), i);
            wait_queued($fd, CHUNK);
            assert_eq!($r.read(&mut buf).await.unwrap(), CHUNK);
            witness.check(concat!($what, " read"), i);
        }
        witness.end().await;
    }};
}

/// A connected std TCP pair over 127.0.0.1.
fn std_tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    (a, l.accept().unwrap().0)
}

#[test]
fn first_read_on_from_std_tcp_stream_does_not_yield() {
    run("from_std tcp", || async {
        let (a, b) = std_tcp_pair();
        let a = TcpStream::from_std(a).unwrap();
        let b = TcpStream::from_std(b).unwrap();
        stream_loop!("from_std TcpStream", a, b, &a);
    });
}

#[test]
fn connected_and_accepted_tcp_streams_do_not_yield() {
    run("connect/accept tcp", || async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        stream_loop!("connected TcpStream", c, s, &c);
        stream_loop!("accepted TcpStream", s, c, &s);
    });
}

#[test]
fn split_tcp_halves_do_not_yield() {
    run("split tcp", || async {
        let (a, b) = std_tcp_pair();
        let (fd_a, fd_b) = (a.as_raw_fd(), b.as_raw_fd());
        let (ra, wa) = TcpStream::from_std(a).unwrap().into_split();
        let (rb, wb) = TcpStream::from_std(b).unwrap().into_split();
        stream_loop!("TcpStream halves", ra, wb, &fd_a);
        stream_loop!("TcpStream halves", rb, wa, &fd_b);
    });
}

#[test]
fn accept_with_queued_connections_does_not_yield() {
    run("accept", || async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let clients: Vec<_> = (0..100)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        wait_readable(&l);
        let witness = Witness::spawn();
        for i in 0..clients.len() {
            l.accept().await.unwrap();
            witness.check("TcpListener::accept", i);
        }
        witness.end().await;
    });
}

#[test]
fn udp_send_to_and_recv_from_do_not_yield() {
    run("udp", || async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = b.local_addr().unwrap();
        let witness = Witness::spawn();
        let mut buf = [0u8; 16];
        for i in 0..N {
            a.send_to(b"datagram", to).await.unwrap();
            witness.check("UdpSocket::send_to", i);
            wait_readable(&b);
            assert_eq!(b.recv_from(&mut buf).await.unwrap().0, 8);
            witness.check("UdpSocket::recv_from", i);
        }
        witness.end().await;
    });
}

#[test]
fn first_read_on_unix_stream_pair_does_not_yield() {
    run("unix pair", || async {
        let (a, b) = UnixStream::pair().unwrap();
        stream_loop!("UnixStream::pair", a, b, &a);
    });
}

#[test]
fn first_read_on_from_std_unix_stream_does_not_yield() {
    run("from_std unix", || async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = UnixStream::from_std(a).unwrap();
        let b = UnixStream::from_std(b).unwrap();
        stream_loop!("from_std UnixStream", a, b, &a);
    });
}

#[test]
fn connected_and_accepted_unix_streams_do_not_yield() {
    run("connect/accept unix", || async {
        let path = std::env::temp_dir().join(format!("corun-noyield-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        let c = UnixStream::connect(&path).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        std::fs::remove_file(&path).unwrap();
        stream_loop!("connected UnixStream", c, s, &c);
        stream_loop!("accepted UnixStream", s, c, &s);
    });
}

#[test]
fn unix_datagrams_do_not_yield() {
    run("unix datagram", || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let (c, d) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let (c, d) = (
            UnixDatagram::from_std(c).unwrap(),
            UnixDatagram::from_std(d).unwrap(),
        );
        let witness = Witness::spawn();
        let mut buf = [0u8; 16];
        for i in 0..N {
            for (tx, rx) in [(&a, &b), (&d, &c)] {
                assert_eq!(tx.send(b"dgram").await.unwrap(), 5);
                witness.check("UnixDatagram::send", i);
                assert_eq!(rx.recv(&mut buf).await.unwrap(), 5);
                witness.check("UnixDatagram::recv", i);
            }
        }
        witness.end().await;
    });
}

#[test]
fn readiness_waits_on_ready_fds_do_not_yield() {
    run("io::readable", || async {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        let (c, d) = std::os::unix::net::UnixStream::pair().unwrap();
        (&d).write_all(b"y").unwrap();
        let (e, mut f) = std::os::unix::net::UnixStream::pair().unwrap();
        f.write_all(b"z").unwrap();
        let stream = UnixStream::from_std(e).unwrap();
        let adopted = corun::io::Async::new(c).unwrap();
        let witness = Witness::spawn();
        for i in 0..N {
            assert!(corun::io::readable(&a).await.unwrap().is_readable());
            witness.check("io::readable", i);
            assert!(corun::io::writable(&a).await.unwrap().is_writable());
            witness.check("io::writable", i);
            assert!(adopted.readable().await.unwrap().is_readable());
            witness.check("Async::readable", i);
            assert!(stream.readable().await.unwrap().is_readable());
            witness.check("UnixStream::readable", i);
            assert!(stream.writable().await.unwrap().is_writable());
            witness.check("UnixStream::writable", i);
        }
        witness.end().await;
    });
}

#[test]
fn channels_with_room_or_a_message_do_not_yield() {
    run("channels", || async {
        let (tx, mut rx) = mpsc::channel(1);
        let (utx, mut urx) = mpsc::unbounded_channel();
        let (ltx, mut lrx) = local::channel(1);
        let (lutx, mut lurx) = local::unbounded_channel();
        let witness = Witness::spawn();
        for i in 0..N {
            tx.send(i).await.unwrap();
            witness.check("mpsc send", i);
            assert_eq!(rx.recv().await, Some(i));
            witness.check("mpsc recv", i);
            utx.send(i).unwrap();
            assert_eq!(urx.recv().await, Some(i));
            witness.check("mpsc unbounded recv", i);
            ltx.send(i).await.unwrap();
            witness.check("local send", i);
            assert_eq!(lrx.recv().await, Some(i));
            witness.check("local recv", i);
            lutx.send(i).unwrap();
            assert_eq!(lurx.recv().await, Some(i));
            witness.check("local unbounded recv", i);
            let (otx, orx) = oneshot::channel();
            otx.send(i).unwrap();
            assert_eq!(orx.await, Ok(i));
            witness.check("oneshot recv", i);
        }
        witness.end().await;
    });
}

#[test]
fn free_permits_and_stored_notifications_do_not_yield() {
    run("semaphore/notify/event", || async {
        let sem = Semaphore::new(1);
        let notify = Notify::new();
        let event = Event::new();
        event.set();
        let witness = Witness::spawn();
        for i in 0..N {
            drop(sem.acquire().await.unwrap());
            witness.check("Semaphore::acquire", i);
            notify.notify_one();
            notify.notified().await;
            witness.check("Notify::notified", i);
            event.wait().await;
            witness.check("Event::wait", i);
        }
        witness.end().await;
    });
}

#[test]
fn due_timers_and_timeouts_around_ready_futures_do_not_yield() {
    run("time", || async {
        let past = Instant::now();
        let witness = Witness::spawn();
        for i in 0..N {
            corun::sleep(Duration::ZERO).await;
            witness.check("sleep(0)", i);
            corun::time::sleep_until(past).await;
            witness.check("sleep_until(past)", i);
            assert_eq!(
                corun::timeout(Duration::from_secs(60), async { i }).await,
                Ok(i)
            );
            witness.check("timeout", i);
            corun::interval(Duration::from_secs(60)).tick().await;
            witness.check("interval's first tick", i);
        }
        witness.end().await;
    });
}

#[test]
fn awaiting_finished_tasks_does_not_yield() {
    run("join", || async {
        let tasks: Vec<_> = (0..N).map(|i| corun::spawn(async move { i })).collect();
        corun::yield_now().await;
        let witness = Witness::spawn();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i);
            witness.check("Task await", i);
        }
        witness.end().await;
    });
}

/// Writes are the documented exception (see `corun::fs`): with another
/// task ready, a write may move to the write lane.
#[test]
fn cached_file_reads_do_not_yield() {
    run("fs read", || async {
        let path = std::env::temp_dir().join(format!("corun-noyield-{}.bin", std::process::id()));
        std::fs::write(&path, [8; N * CHUNK]).unwrap();
        let mut f = corun::fs::File::open(&path).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let witness = Witness::spawn();
        let mut buf = [0u8; CHUNK];
        for i in 0..N {
            assert_eq!(f.read(&mut buf).await.unwrap(), CHUNK);
            witness.check("File::read", i);
        }
        witness.end().await;
    });
}

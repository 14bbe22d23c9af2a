//! The httpd reference row, "epoll (raw, no runtime)": a keep-alive
//! HTTP/1.1 server written straight on libc, one thread, one level-triggered
//! `epoll` set, the same listener, request splitter and canned answer as the
//! runtimes' servers. It is the floor a runtime's server CPU per request is
//! held against, not a peer: it runs httpd only.
//!
//! Per readable connection it makes one `read` and one `write` (another
//! `write` only when the socket buffer is full, then waits for `EPOLLOUT`);
//! no speculative reads, no timers, no task machinery. Nothing here knows
//! about any runtime or prints.

use std::collections::HashMap;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::common::{self, HeadCounter, Outcome, Work};
use crate::raw_epoll::{Epoll, last_err, set_nodelay};

/// Runs one workload: httpd only.
pub fn run(work: &Work) -> Result<Outcome, String> {
    match work {
        Work::Httpd { secs } => httpd(*secs),
        _ => Err("n/a: the raw epoll loop is httpd's reference row only".into()),
    }
}

/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;
/// The epoll token of the listener (connections use their fd, never this).
const LISTENER: u64 = u64::MAX;

/// One keep-alive connection.
struct Conn {
    heads: HeadCounter,
    /// Answer bytes the socket did not take yet.
    pending: Vec<u8>,
}

/// Closes a connection's fd (which also drops it from the epoll set).
fn close(conns: &mut HashMap<RawFd, Conn>, fd: RawFd) {
    conns.remove(&fd);
    // SAFETY: `fd` came from accept4 and is closed once (it leaves `conns`).
    unsafe { libc::close(fd) };
}

/// Writes as much of `buf` as the socket takes; the number written, or
/// `None` on an error other than a full buffer.
fn write_some(fd: RawFd, buf: &[u8]) -> Option<usize> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &buf[done..];
        // SAFETY: `rest` is valid for reads of its length.
        let k = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if k < 0 {
            let e = last_err();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock => Some(done),
                std::io::ErrorKind::Interrupted => continue,
                _ => None,
            };
        }
        done += k as usize;
    }
    Some(done)
}

/// Accepts every queued connection: non-blocking, no delay, level-triggered
/// `EPOLLIN`.
fn accept_all(
    l: RawFd,
    ep: &Epoll,
    conns: &mut HashMap<RawFd, Conn>,
    stop: &AtomicBool,
) -> Result<bool, String> {
    loop {
        // SAFETY: null address arguments are allowed; the fd is checked.
        let fd = unsafe {
            libc::accept4(
                l,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = last_err();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock => Ok(false),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::ConnectionAborted => continue,
                _ => Err(format!("accept: {e}")),
            };
        }
        if stop.load(Ordering::SeqCst) {
            // SAFETY: just accepted, closed once.
            unsafe { libc::close(fd) };
            return Ok(true);
        }
        set_nodelay(fd);
        ep.ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, fd as u64)?;
        conns.insert(
            fd,
            Conn {
                heads: HeadCounter::default(),
                pending: Vec::new(),
            },
        );
    }
}

/// Handles one event of connection `fd`.
fn serve(
    ep: &Epoll,
    conns: &mut HashMap<RawFd, Conn>,
    fd: RawFd,
    events: u32,
    buf: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let Some(c) = conns.get_mut(&fd) else {
        return Ok(());
    };
    if !c.pending.is_empty() {
        // Waiting for EPOLLOUT: flush, and read again only once empty.
        if events & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32 == 0 {
            return Ok(());
        }
        match write_some(fd, &c.pending) {
            None => close(conns, fd),
            Some(k) => {
                c.pending.drain(..k);
                if c.pending.is_empty() {
                    ep.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32, fd as u64)?;
                }
            }
        }
        return Ok(());
    }
    // SAFETY: `buf` is valid for writes of its length.
    let k = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if k <= 0 {
        if k < 0 && last_err().kind() == std::io::ErrorKind::WouldBlock {
            return Ok(());
        }
        close(conns, fd);
        return Ok(());
    }
    out.clear();
    for _ in 0..c.heads.feed(&buf[..k as usize]) {
        out.extend_from_slice(common::HTTPD_RESPONSE);
    }
    if out.is_empty() {
        return Ok(());
    }
    match write_some(fd, out) {
        None => close(conns, fd),
        Some(k) if k < out.len() => {
            c.pending.extend_from_slice(&out[k..]);
            ep.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLOUT as u32, fd as u64)?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn httpd(secs: u64) -> Result<Outcome, String> {
    let l: TcpListener = common::listener(1024).map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let ep = Epoll::new()?;
    ep.ctl(
        libc::EPOLL_CTL_ADD,
        l.as_raw_fd(),
        libc::EPOLLIN as u32,
        LISTENER,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let load = std::thread::Builder::new()
        .name("load-driver".into())
        .spawn(move || {
            let r = common::run_load(addr, secs);
            stop2.store(true, Ordering::SeqCst);
            // Wake the loop so it sees `stop`.
            let _ = std::net::TcpStream::connect(addr);
            r
        })
        .map_err(|e| format!("thread: {e}"))?;
    let t0 = Instant::now();
    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    'run: loop {
        // SAFETY: `events` is valid for EVENTS entries.
        let n = unsafe { libc::epoll_wait(ep.fd(), events.as_mut_ptr(), EVENTS as i32, -1) };
        if n < 0 {
            if last_err().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("epoll_wait: {}", last_err()));
        }
        for ev in &events[..n as usize] {
            let (token, bits) = (ev.u64, ev.events);
            if token == LISTENER {
                if accept_all(l.as_raw_fd(), &ep, &mut conns, &stop)? {
                    break 'run;
                }
            } else {
                serve(&ep, &mut conns, token as RawFd, bits, &mut buf, &mut out)?;
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let fds: Vec<RawFd> = conns.keys().copied().collect();
    for fd in fds {
        close(&mut conns, fd);
    }
    let run = load.join().map_err(|_| "load thread panicked")??;
    Ok(run.outcome(elapsed))
}

//! Waiting for file descriptors: [`readable`], [`writable`], and the
//! [`Async`] wrapper that registers an I/O object once for its whole life
//! (with the reactor at once; with epoll only at its first wait, so an
//! object whose operations never block costs no `epoll_ctl`).
//!
//! These are thin layers over the reactor (`crate::reactor`): readiness is
//! cached per fd, so a wait on an fd already known to be ready returns at
//! once without a syscall. Any number of tasks may wait on one fd, for
//! reading and writing at the same time; all are woken.
//!
//! **Regular files** cannot be watched by epoll; like `poll(2)`, corun
//! treats them as always readable and writable, so a wait on one returns at
//! once. Use [`crate::fs`] for file I/O that does not block the scheduler.
//!
//! This module never blocks the thread and never touches the ready queue.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::reactor::{Registration, Wait};
use crate::scheduler::context;

pub use crate::reactor::{Interest, Readiness};

use crate::outside::error as outside;

/// A registration of `fd` that enters epoll at its first wait that finds
/// it not ready; still bound to this thread's reactor. A new slot guesses
/// both directions ready: nothing was tried on it yet, so the first
/// operation, or the first wait's `poll(2)`, is what finds out (see
/// `Reactor::register_lazy`).
fn register_lazy(fd: RawFd) -> io::Result<Registration> {
    let untried = Readiness::READABLE | Readiness::WRITABLE;
    context::with_reactor(|r| r.register_lazy(fd, untried.bits())).ok_or_else(outside)?
}

/// Waits until `fd` is readable (or hung up, or in error: the next read
/// reports which). Errors with `EBADF` for a closed or invalid fd.
///
/// Closing `fd` while a task waits here does not wake that task: the
/// kernel drops a closed fd from epoll without an event, so the wait lasts
/// until the task is killed or its future dropped. Close an fd only after
/// its waiters are done (or kill them first); shutting a socket down with
/// `shutdown(2)` instead of closing it does wake them.
///
/// ```
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
/// corun::run(async {
///     let (a, mut b) = UnixStream::pair().unwrap();
///     b.write_all(b"hi").unwrap();
///     assert!(corun::io::readable(&a).await.unwrap().is_readable());
/// });
/// ```
pub async fn readable<T: AsRawFd + ?Sized>(fd: &T) -> io::Result<Readiness> {
    wait(fd.as_raw_fd(), Interest::Read).await
}

/// Waits until `fd` is writable (or hung up, or in error).
///
/// ```
/// use std::os::unix::net::UnixStream;
/// corun::run(async {
///     let (a, _b) = UnixStream::pair().unwrap();
///     assert!(corun::io::writable(&a).await.unwrap().is_writable());
/// });
/// ```
pub async fn writable<T: AsRawFd + ?Sized>(fd: &T) -> io::Result<Readiness> {
    wait(fd.as_raw_fd(), Interest::Write).await
}

async fn wait(fd: RawFd, interest: Interest) -> io::Result<Readiness> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    let reg = register_lazy(fd)?;
    reg.ready(interest).await
}

/// An I/O object registered with the reactor for its whole life, in
/// non-blocking mode. `read_with`/`write_with` run an operation and, if it
/// would block, wait for readiness and try again.
///
/// It implements `futures-io`'s `AsyncRead`/`AsyncWrite` when `&T` is
/// `Read`/`Write`, so ecosystem code can use it.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use corun::io::Async;
/// corun::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let a = Async::new(a).unwrap();
///     let b = Async::new(b).unwrap();
///     b.write_with(|s| (&*s).write(b"ping")).await.unwrap();
///     let mut buf = [0; 4];
///     let n = a.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
#[derive(Debug)]
pub struct Async<T: AsFd> {
    // Declared before `io`: the registration must go before the fd closes.
    reg: Registration,
    io: Option<T>,
    /// `T` closes its fd when dropped (set only by corun's own constructors,
    /// for std socket types): dropping the `Async` then releases the
    /// registration without `EPOLL_CTL_DEL`, the close removing the epoll
    /// entry. A user's `T` may not own its fd (`&TcpStream`, `BorrowedFd`),
    /// so `Async::new` keeps the DEL. (Free: fits the padding after an
    /// fd-sized `T`.)
    closes_fd: bool,
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        // `io` is `None` after `into_inner`: the fd lives on, so the
        // registration's own drop deregisters it.
        if self.closes_fd && self.io.is_some() {
            self.reg.release_closing();
        }
        // Then `reg` drops (inert if released above) and `io` closes the fd.
    }
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the current
    /// scheduler's reactor. Must be called on a scheduler thread; the object
    /// stays bound to that thread. The fd enters epoll only at its first
    /// wait (an error epoll gives, such as running out of
    /// `max_user_watches`, is reported by that wait).
    ///
    /// ```
    /// use std::net::TcpListener;
    /// corun::run(async {
    ///     let l = corun::io::Async::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    ///     assert!(l.get_ref().local_addr().is_ok());
    /// });
    /// ```
    pub fn new(io: T) -> io::Result<Async<T>> {
        set_nonblocking(io.as_fd())?;
        Async::registered(io, false)
    }

    /// Like [`Async::new`], for an object that closes its fd when dropped
    /// (std sockets handed to a `from_std`): dropping the `Async` then makes
    /// no `EPOLL_CTL_DEL`.
    pub(crate) fn new_owned(io: T) -> io::Result<Async<T>> {
        set_nonblocking(io.as_fd())?;
        Async::registered(io, true)
    }

    /// Registers `io`, which its creator already made non-blocking
    /// (`SOCK_NONBLOCK`, `accept4`), without [`Async::new`]'s `fcntl` check;
    /// `io` must close its fd when dropped, as [`Async::new_owned`]'s does.
    /// Only for objects corun itself created that way: a blocking fd here
    /// would block the scheduler thread (debug builds assert it).
    pub(crate) fn from_nonblocking(io: T) -> io::Result<Async<T>> {
        debug_assert!(
            is_nonblocking(io.as_fd()),
            "Async::from_nonblocking given a blocking fd"
        );
        Async::registered(io, true)
    }

    /// Registers `io` with this thread's reactor; epoll hears of it at its
    /// first wait that finds it not ready.
    fn registered(io: T, closes_fd: bool) -> io::Result<Async<T>> {
        let reg = register_lazy(io.as_fd().as_raw_fd())?;
        Ok(Async {
            reg,
            io: Some(io),
            closes_fd,
        })
    }

    /// The inner object.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     a.get_ref().peer_addr().unwrap();
    /// });
    /// ```
    pub fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("inner object present until into_inner")
    }

    /// The inner object, mutably. Do not replace or close its fd.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let mut a = corun::io::Async::new(a).unwrap();
    ///     a.get_mut().set_nonblocking(true).unwrap();
    /// });
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.io
            .as_mut()
            .expect("inner object present until into_inner")
    }

    /// Deregisters and returns the inner object (still non-blocking).
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap().into_inner();
    ///     a.set_nonblocking(false).unwrap();
    /// });
    /// ```
    pub fn into_inner(mut self) -> T {
        let io = self
            .io
            .take()
            .expect("inner object present until into_inner");
        // `self` drops here: the registration goes, the fd stays open.
        io
    }

    /// Waits until readable (or hung up / in error).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, mut b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     b.write_all(b"x").unwrap();
    ///     a.readable().await.unwrap();
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<Readiness> {
        self.reg.ready(Interest::Read).await
    }

    /// Waits until writable (or hung up / in error).
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     a.writable().await.unwrap();
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<Readiness> {
        self.reg.ready(Interest::Write).await
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for
    /// readability in between.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, mut b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     b.write_all(b"abc").unwrap();
    ///     let mut buf = [0; 8];
    ///     let n = a.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
    ///     assert_eq!(n, 3);
    /// });
    /// ```
    pub fn read_with<R, F>(&self, op: F) -> IoWith<'_, T, F>
    where
        F: FnMut(&T) -> io::Result<R>,
    {
        IoWith::new(self, op, Wait::idle(Interest::Read))
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for
    /// writability in between.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     let n = a.write_with(|s| (&*s).write(b"abc")).await.unwrap();
    ///     assert_eq!(n, 3);
    /// });
    /// ```
    pub fn write_with<R, F>(&self, op: F) -> IoWith<'_, T, F>
    where
        F: FnMut(&T) -> io::Result<R>,
    {
        IoWith::new(self, op, Wait::idle(Interest::Write))
    }

    /// One read of a byte stream into `buf` (`Ok(0)` at its end), waiting
    /// while it would block. Unlike [`read_with`](Async::read_with), it
    /// consults the cached readiness before the first attempt: when the fd
    /// is known not to be readable, it waits instead of making a read that
    /// could only return `WouldBlock`. An object's first read is always
    /// tried: nothing is known before it (no hidden yield). A read that fills
    /// less than `buf` has drained the kernel queue, so it forgets the
    /// readiness and the next read waits for an event instead of making a
    /// wasted `WouldBlock` read (safe with edge-triggered readiness: data
    /// arriving later raises a new event). Only for stream sockets and pipes.
    pub(crate) fn read_stream<'a>(&'a self, buf: &'a mut [u8]) -> ReadStream<'a, T>
    where
        for<'b> &'b T: Read,
    {
        ReadStream {
            io: self,
            buf,
            wait: Wait::armed(Interest::Read, true),
        }
    }

    /// Poll form of [`read_stream`](Async::read_stream), for the stream
    /// types' `AsyncRead`: the same rules (cached readiness consulted before
    /// the attempt, readiness forgotten after a short read), kept in the
    /// reactor's slot since a poll call has no future to keep a wait in; its
    /// waker is the registration's one read waiter, as `AsyncRead` expects.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>
    where
        for<'b> &'b T: Read,
    {
        match self.reg.poll_ready_or_guess(cx, Interest::Read) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(_)) => {}
        }
        let len = buf.len();
        self.poll_with(cx, Interest::Read, |s| {
            let n = (&mut &*s).read(buf)?;
            if n > 0 && n < len {
                // A short read drained the socket (see `read_stream`).
                self.reg.clear_readiness(Interest::Read);
            }
            Ok(n)
        })
    }

    /// Poll form of [`read_with`](Async::read_with), for `AsyncRead`-style
    /// implementations.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, mut b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     b.write_all(b"z").unwrap();
    ///     let mut buf = [0; 1];
    ///     let n = std::future::poll_fn(|cx| a.poll_read_with(cx, |s| (&*s).read(&mut buf))).await.unwrap();
    ///     assert_eq!(n, 1);
    /// });
    /// ```
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(cx, Interest::Read, op)
    }

    /// Poll form of [`write_with`](Async::write_with).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// corun::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let a = corun::io::Async::new(a).unwrap();
    ///     let n = std::future::poll_fn(|cx| a.poll_write_with(cx, |s| (&*s).write(b"z"))).await.unwrap();
    ///     assert_eq!(n, 1);
    /// });
    /// ```
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(cx, Interest::Write, op)
    }

    fn poll_with<R>(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg.clear_readiness(interest);
                    match self.reg.poll_ready(cx, interest) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(_)) => continue,
                    }
                }
                res => return Poll::Ready(res),
            }
        }
    }
}

/// Future of [`Async::read_with`] and [`Async::write_with`]: runs the
/// operation, and while it returns `WouldBlock`, waits for readiness (each
/// such future is its own waiter, so any number of tasks may wait on one
/// object) and runs it again. A named future rather than an `async fn` so it
/// stays small: one lives in every task blocked on a socket. It is the
/// object's reference, the operation, and one word for the wait (its
/// direction, and its waiter node while queued); the operation gets the
/// object from here, so it need not capture it.
#[must_use = "futures do nothing unless awaited"]
pub struct IoWith<'a, T: AsFd, F> {
    io: &'a Async<T>,
    op: F,
    /// Idle: run `op` next. Active: poll the wait first.
    wait: Wait,
}

// No field is ever pinned: the operation is only called through `&mut`.
impl<T: AsFd, F> Unpin for IoWith<'_, T, F> {}

impl<'a, T: AsFd, F> IoWith<'a, T, F> {
    /// Runs `op` on `io`, waiting with `wait` (its direction) whenever `op`
    /// would block; an active `wait` is polled before the first attempt.
    fn new(io: &'a Async<T>, op: F, wait: Wait) -> Self {
        IoWith { io, op, wait }
    }
}

impl<T: AsFd, F, R> std::future::Future for IoWith<'_, T, F>
where
    F: FnMut(&T) -> io::Result<R>,
{
    type Output = io::Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let this = self.get_mut();
        let op = &mut this.op;
        poll_op(this.io, &mut this.wait, cx, |io| op(io.get_ref()))
    }
}

impl<T: AsFd, F> Drop for IoWith<'_, T, F> {
    fn drop(&mut self) {
        cancel(self.io, &mut self.wait);
    }
}

/// The body of [`IoWith`] and [`ReadStream`]: polls `wait` while it is
/// active, runs `op`, and on `WouldBlock` forgets the readiness of the
/// wait's direction and arms it. A ready operation never returns `Pending`.
fn poll_op<T: AsFd, R>(
    io: &Async<T>,
    wait: &mut Wait,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&Async<T>) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        if wait.is_active() {
            match io.reg.poll_wait_for(cx.waker(), wait) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // The wait is idle again.
                Poll::Ready(Ok(_)) => {}
            }
        }
        match op(io) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let interest = wait.interest();
                io.reg.clear_readiness(interest);
                *wait = Wait::armed(interest, false);
            }
            res => return Poll::Ready(res),
        }
    }
}

/// Drop of a future holding `wait`: dropped while waiting (cancelled), its
/// waiter node leaves the list.
fn cancel<T: AsFd>(io: &Async<T>, wait: &mut Wait) {
    if wait.is_active() {
        io.reg.cancel_wait(wait);
    }
}

/// Future of [`Async::read_stream`]: the object, the buffer and one word
/// for the wait (32 bytes; an idle connection's task holds one).
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct ReadStream<'a, T: AsFd> {
    io: &'a Async<T>,
    buf: &'a mut [u8],
    wait: Wait,
}

impl<T: AsFd> std::future::Future for ReadStream<'_, T>
where
    for<'b> &'b T: Read,
{
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let buf = &mut *this.buf;
        poll_op(this.io, &mut this.wait, cx, |io| {
            let len = buf.len();
            let n = io.get_ref().read(buf)?;
            if n > 0 && n < len {
                // A short read drained the socket: skip the WouldBlock read
                // the next call would otherwise make.
                io.reg.clear_readiness(Interest::Read);
            }
            Ok(n)
        })
    }
}

impl<T: AsFd> Drop for ReadStream<'_, T> {
    fn drop(&mut self) {
        cancel(self.io, &mut self.wait);
    }
}

impl<T: AsFd + std::fmt::Debug, F> std::fmt::Debug for IoWith<'_, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoWith")
            .field("io", self.io)
            .field("wait", &self.wait)
            .finish()
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> futures_io::AsyncRead for Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, |mut io| io.read(buf))
    }
}

impl<T: AsFd> futures_io::AsyncWrite for Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut io| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_with(cx, |mut io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// Sets `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a borrowed (hence open) fd with F_GETFL/F_SETFL has
    // no memory-safety preconditions.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether `O_NONBLOCK` is set on `fd` (false if `F_GETFL` fails); for the
/// debug check of [`Async::from_nonblocking`].
fn is_nonblocking(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: fcntl with F_GETFL on a borrowed (hence open) fd has no
    // memory-safety preconditions.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;

    use super::Async;

    /// A stream socket that counts its `read` calls.
    struct Counting {
        s: UnixStream,
        reads: AtomicUsize,
    }

    impl AsFd for Counting {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.s.as_fd()
        }
    }

    impl Read for &Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            (&self.s).read(buf)
        }
    }

    /// The stream `AsyncRead` path: a new object's first read is tried; a
    /// read that drained the socket makes the next poll wait for an event
    /// without a `WouldBlock` read; the event's wake-up then reads once.
    #[test]
    fn a_poll_read_after_a_short_read_waits_without_reading() {
        crate::run(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let io = Async::new(Counting {
                s: a,
                reads: AtomicUsize::new(0),
            })
            .unwrap();
            let reads = || io.get_ref().reads.load(Ordering::Relaxed);
            let mut buf = [0u8; 64];
            b.write_all(b"hello").unwrap();
            let n = std::future::poll_fn(|cx| io.poll_read_stream(cx, &mut buf)).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(reads(), 1, "the first read is tried at once");
            let again =
                std::future::poll_fn(|cx| Poll::Ready(io.poll_read_stream(cx, &mut buf))).await;
            assert!(again.is_pending(), "a drained socket waits for an event");
            assert_eq!(reads(), 1, "no WouldBlock read after a short read");
            b.write_all(b"again").unwrap();
            let n = std::future::poll_fn(|cx| io.poll_read_stream(cx, &mut buf)).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(reads(), 2, "one read once the event came");
            assert_eq!(&buf[..5], b"again");
        });
    }
}

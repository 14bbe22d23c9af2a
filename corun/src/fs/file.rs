//! [`File`]: an open file whose operations run inline when the kernel will
//! not block (see `inline.rs`) and on the blocking pool otherwise.
//!
//! A `File` holds the std file behind an `Arc` (shared with the one job in
//! flight) and a state machine: `Idle` with a reusable buffer, or `Busy` with
//! one operation on the pool. At most one operation is in flight per file,
//! so operations happen in the order they were issued.
//!
//! The buffer moves into each job and back: a pool write copies the caller's
//! bytes into it once, a pool read copies out of it once; inline reads and
//! writes use the caller's slice directly. A write that `spread` moves to
//! the write lane copies into the ticket's buffer instead (and is still the
//! one operation in flight). No other copies.
//! `buf.data[buf.pos..]` is read-ahead: bytes the OS already returned but the
//! reader has not taken (after a read whose future was dropped, or a read
//! asking less than was read). Any non-read operation first seeks back over
//! the read-ahead, so the file position stays what the user expects.
//!
//! Cancellation: if the future of an operation is dropped while its job
//! runs, the job finishes anyway and its outcome stays in the `File`; the next
//! operation settles it first (read data is kept as read-ahead; an error of a
//! write, `set_len` or sync is returned by that next operation).
//!
//! Borrowed writes are in `write.rs`, owned writes in `owned.rs`, and the
//! read path in `read.rs`; where each write runs is decided by
//! `fs::placement` (`File::route`). This file and its children must not
//! know how the pool or the lane work (only their `submit` and
//! `pool::job`) nor how placement decides, nor touch the scheduler or the
//! reactor.

use std::fs::{Metadata, Permissions};
use std::future::Future;
use std::future::poll_fn;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

mod owned;
mod read;
mod traits;
mod write;

use super::placement::Route;

use super::create;
use super::inline::Policy;
use crate::unblock::{self as pool, Pending};

/// Largest single read or write job; bigger requests are split.
pub(super) const MAX_CHUNK: usize = 2 * 1024 * 1024;

/// An open file on the file system, for use inside corun tasks.
///
/// Reads of cached data and small buffered writes run inline on the
/// scheduler thread (they complete without yielding, like a read from a
/// ready socket); everything that may block runs on corun's blocking pool,
/// so the scheduler keeps running other tasks meanwhile (see "What blocks
/// and what does not" in [`crate::fs`]). The inherent methods
/// (`read`, `write_all`, ...) complete when the OS call has completed; the
/// `futures-io` `AsyncWrite` impl buffers one write in flight, so call
/// `flush` or `close` (from `futures` `AsyncWriteExt`) to see its outcome.
///
/// Dropping a `File` with an operation in flight is fine: the operation
/// completes on its thread (the pool, or the write lane for a moved
/// write, whose bytes were copied before it started), then the file is
/// closed; no written byte is lost, but that operation's error, if any,
/// is (call `flush` first to see it).
///
/// ```
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-file-{}", std::process::id()));
///     let mut f = corun::fs::File::create(&path).await.unwrap();
///     f.write_all(b"hello").await.unwrap();
///     let mut f = corun::fs::File::open(&path).await.unwrap();
///     let mut s = String::new();
///     f.read_to_string(&mut s).await.unwrap();
///     assert_eq!(s, "hello");
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    state: State,
    /// Which operations may run inline on the scheduler thread.
    inline: Policy,
}

/// The buffer that travels between the file and its jobs.
#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    /// `data[pos..]` is read-ahead not yet given to a reader.
    pos: usize,
}

impl Buf {
    fn ahead(&self) -> usize {
        self.data.len() - self.pos
    }

    fn clear(&mut self) {
        self.data.clear();
        self.pos = 0;
    }
}

enum State {
    /// No job in flight; the buffer is home.
    Idle(Buf),
    /// One job in flight; the buffer is with it.
    Busy(Pending<(Op, Buf)>),
}

/// What a finished job reports.
enum Op {
    /// A read into the buffer: bytes read (the buffer holds them).
    Read(io::Result<usize>),
    /// A read to end into its own vector.
    ReadToEnd(io::Result<usize>, Vec<u8>),
    /// A write of the whole buffer.
    Write(io::Result<()>),
    /// A write of a caller's vector, which comes back (`write_all_owned`).
    WriteVec(io::Result<()>, Vec<u8>),
    /// A seek: the new position.
    Seek(io::Result<u64>),
    /// set_len, sync_all, sync_data, set_permissions.
    Unit(io::Result<()>),
    /// metadata.
    Meta(io::Result<Metadata>),
}

/// Seeks the OS position back over unread read-ahead and drops it, so the
/// OS position is the user's position again.
fn rewind(f: &std::fs::File, buf: &mut Buf) -> io::Result<()> {
    let ahead = buf.ahead();
    buf.clear();
    if ahead > 0 {
        // `ahead` is at most MAX_CHUNK, far below i64::MAX.
        (&*f).seek(SeekFrom::Current(-(ahead as i64)))?;
    }
    Ok(())
}

fn busy_error() -> io::Error {
    io::Error::other("corun::fs::File: operation finished without a result")
}

impl File {
    /// Opens a file read-only (like [`std::fs::File::open`]).
    ///
    /// ```
    /// corun::run(async {
    ///     let err = corun::fs::File::open("/no/such/corun/file").await.err().unwrap();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true);
        File::open_with(opts, path.as_ref()).await
    }

    /// Opens a file write-only, creating it or truncating it (like
    /// [`std::fs::File::create`]).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-create-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.write_all(b"abc").await.unwrap();
    ///     assert_eq!(f.metadata().await.unwrap().len(), 3);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        File::open_with_create(opts, path.as_ref(), true).await
    }

    /// Opens `path` with `opts` (which do not create) on the pool.
    pub(super) async fn open_with(opts: std::fs::OpenOptions, path: &Path) -> io::Result<File> {
        File::open_with_create(opts, path, false).await
    }

    /// Opens `path` with `opts` on the pool, deciding the inline policy
    /// there too (its `fstat` and `fcntl` stay off the scheduler thread).
    /// An open that may create the file (`creates`) waits for the other
    /// creates in its directory (`fs::create`).
    pub(super) async fn open_with_create(
        opts: std::fs::OpenOptions,
        path: &Path,
        creates: bool,
    ) -> io::Result<File> {
        let path = path.to_owned();
        let queue = creates.then(|| (create::dir_of(&path), path.clone()));
        let (job, pending) = pool::job(move || {
            let f = opts.open(path)?;
            let inline = Policy::probe(&f);
            io::Result::Ok((f, inline))
        });
        match queue {
            None => pool::submit(job),
            Some((dir, check)) => create::submit(
                dir,
                Box::new(move || {
                    // A FIFO or device may block in open: not in the queue.
                    if create::may_queue(&check) {
                        job();
                    } else {
                        pool::submit(job);
                    }
                }),
            ),
        }
        let (f, inline) = pending.await?;
        Ok(File {
            std: Arc::new(f),
            state: State::Idle(Buf::default()),
            inline,
        })
    }

    /// True if every read and write of this file goes to the blocking pool
    /// (`O_DIRECT`, `O_SYNC` or `O_DSYNC` files, non-regular files, and
    /// every file on systems other than Linux). For tests.
    #[doc(hidden)]
    pub fn uses_pool(&self) -> bool {
        self.inline.pool_only()
    }

    /// Starts `job` on the pool with the buffer. Only call when idle.
    fn start(&mut self, job: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static) {
        self.start_via(pool::submit, job);
    }

    /// Starts `job` with the buffer, handing it to `submit` (the pool's or
    /// the write lane's). Only call when idle.
    fn start_via(
        &mut self,
        submit: fn(pool::Job),
        job: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static,
    ) {
        let mut buf = match &mut self.state {
            State::Idle(buf) => std::mem::take(buf),
            State::Busy(_) => unreachable!("File::start while busy"),
        };
        let file = self.std.clone();
        let (job, pending) = pool::job(move || {
            let op = job(&file, &mut buf);
            (op, buf)
        });
        submit(job);
        self.state = State::Busy(pending);
    }

    /// Waits for the job in flight, if any, and returns its report.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Option<Op>> {
        match &mut self.state {
            State::Idle(_) => Poll::Ready(None),
            State::Busy(p) => {
                let (op, buf) = ready!(Pin::new(p).poll(cx));
                self.state = State::Idle(buf);
                Poll::Ready(Some(op))
            }
        }
    }

    /// Takes in the outcome of an operation whose caller has gone: keeps
    /// read data as read-ahead, returns deferred errors.
    fn settle(&mut self, op: Op) -> io::Result<()> {
        match op {
            Op::Read(r) => r.map(drop),
            Op::ReadToEnd(r, v) => {
                if let State::Idle(buf) = &mut self.state {
                    // The job started with no read-ahead; its bytes become
                    // the read-ahead (whatever was read is kept).
                    buf.data = v;
                    buf.pos = 0;
                }
                r.map(drop)
            }
            Op::Write(r) | Op::Unit(r) | Op::WriteVec(r, _) => r,
            Op::Seek(r) => r.map(drop),
            Op::Meta(_) => Ok(()),
        }
    }

    /// Waits until no job is in flight, settling the last one.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.poll_finish(cx)) {
            Some(op) => Poll::Ready(self.settle(op)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Runs one non-read operation to completion: settles the previous one,
    /// rewinds read-ahead, runs `job`, and hands its report to `take`.
    async fn run<R>(
        &mut self,
        job: impl FnOnce(&std::fs::File) -> Op + Send + 'static,
        take: fn(Op) -> Option<io::Result<R>>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        self.start(move |f, buf| match rewind(f, buf) {
            Ok(()) => job(f),
            Err(e) => Op::Unit(Err(e)),
        });
        match poll_fn(|cx| self.poll_finish(cx)).await {
            Some(Op::Unit(Err(e))) => Err(e),
            Some(op) => take(op).unwrap_or_else(|| Err(busy_error())),
            None => Err(busy_error()),
        }
    }

    /// Writes some bytes from `buf`; returns how many, once they are written.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-write-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     assert_eq!(f.write(b"abc").await.unwrap(), 3);
    ///     assert_eq!(corun::fs::read(&path).await.unwrap(), b"abc");
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = poll_fn(|cx| self.poll_write_inner(cx, buf)).await?;
        poll_fn(|cx| self.poll_idle(cx)).await?;
        Ok(n)
    }

    /// Writes all of `buf`; returns once it is written (handed to the OS).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-wall-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.write_all(&[1u8; 5000]).await.unwrap();
    ///     assert_eq!(corun::fs::metadata(&path).await.unwrap().len(), 5000);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = poll_fn(|cx| self.poll_write_inner(cx, buf)).await?;
            buf = &buf[n..];
        }
        poll_fn(|cx| self.poll_idle(cx)).await
    }

    /// Waits for any write in flight (from the `AsyncWrite` impl or a
    /// dropped future) and returns its error, if any.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-flush-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.flush().await.unwrap();
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_idle(cx)).await
    }

    /// Moves the file position; returns the new position from the start.
    ///
    /// ```
    /// use std::io::SeekFrom;
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-seek-{}", std::process::id()));
    ///     corun::fs::write(&path, b"0123456789").await.unwrap();
    ///     let mut f = corun::fs::File::open(&path).await.unwrap();
    ///     assert_eq!(f.seek(SeekFrom::Start(7)).await.unwrap(), 7);
    ///     let mut b = [0u8; 3];
    ///     f.read(&mut b).await.unwrap();
    ///     assert_eq!(&b, b"789");
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(
            move |f| Op::Seek((&*f).seek(pos)),
            |op| match op {
                Op::Seek(r) => Some(r),
                _ => None,
            },
        )
        .await
    }

    /// Queries metadata (length, times, permissions).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-fmeta-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.write_all(b"1234").await.unwrap();
    ///     let m = f.metadata().await.unwrap();
    ///     assert!(m.is_file());
    ///     assert_eq!(m.len(), 4);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        self.run(
            |f| Op::Meta(f.metadata()),
            |op| match op {
                Op::Meta(r) => Some(r),
                _ => None,
            },
        )
        .await
    }

    /// Truncates or extends the file to `size` bytes; the position is
    /// unchanged.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-setlen-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.set_len(10).await.unwrap();
    ///     assert_eq!(f.metadata().await.unwrap().len(), 10);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.run(move |f| Op::Unit(f.set_len(size)), unit).await
    }

    /// Flushes data and metadata to the device (`fsync`).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-sync-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.write_all(b"durable").await.unwrap();
    ///     f.sync_all().await.unwrap();
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.run(|f| Op::Unit(f.sync_all()), unit).await
    }

    /// Flushes data (not necessarily metadata) to the device (`fdatasync`).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-sdata-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.write_all(b"data").await.unwrap();
    ///     f.sync_data().await.unwrap();
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.run(|f| Op::Unit(f.sync_data()), unit).await
    }

    /// Changes the file's permissions.
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-perm-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     f.set_permissions(std::fs::Permissions::from_mode(0o600)).await.unwrap();
    ///     assert_eq!(f.metadata().await.unwrap().permissions().mode() & 0o777, 0o600);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn set_permissions(&mut self, perm: Permissions) -> io::Result<()> {
        self.run(move |f| Op::Unit(f.set_permissions(perm)), unit)
            .await
    }
}

fn unit(op: Op) -> Option<io::Result<()>> {
    match op {
        Op::Unit(r) => Some(r),
        _ => None,
    }
}

impl From<std::fs::File> for File {
    /// Wraps an open std file (e.g. one opened before the scheduler ran).
    /// Decides the inline policy here, with an `fstat` and an
    /// `fcntl(F_GETFL)` on the calling thread.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corun-doc-from-{}", std::process::id()));
    /// let std_file = std::fs::File::create(&path).unwrap();
    /// corun::run(async move {
    ///     let mut f = corun::fs::File::from(std_file);
    ///     f.write_all(b"ok").await.unwrap();
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    fn from(f: std::fs::File) -> File {
        let inline = Policy::probe(&f);
        File {
            std: Arc::new(f),
            state: State::Idle(Buf::default()),
            inline,
        }
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.std.as_raw_fd())
            .field("busy", &matches!(self.state, State::Busy(_)))
            .field("pool_only", &self.inline.pool_only())
            .finish()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.std.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.std.as_fd()
    }
}

//! Files and directories, without blocking the scheduler.
//!
//! # Why a thread pool
//!
//! corun waits for I/O with epoll, and epoll cannot watch regular files:
//! `epoll_ctl` refuses them with `EPERM`, because a regular file is always
//! "ready" — a read or write on it never returns `EWOULDBLOCK`, it simply
//! blocks the thread for as long as the disk (or page cache) takes. So
//! [`crate::io::readable`] and [`crate::io::writable`] on a regular file
//! return at once (regular files count as always readable and writable, as
//! with `poll(2)`), and reading or writing the file right after would still
//! block the whole scheduler.
//!
//! Hence this module runs file system calls that may block on a small
//! blocking pool of OS threads, and the calling task awaits the result;
//! meanwhile the scheduler runs other tasks. The same pool runs any blocking
//! closure you hand to [`crate::unblock`]. But a trip to the pool costs context
//! switches (a pool thread wakes, then wakes the scheduler), far more than a
//! cached read or a buffered write itself, so [`File`] does those inline.
//!
//! # What blocks and what does not
//!
//! * **Reads** ([`File::read`], `read_to_end`, `AsyncRead`) first try
//!   `preadv2(.., RWF_NOWAIT)` on the scheduler thread: the kernel copies
//!   the bytes if they are in the page cache, and answers `EAGAIN` instead
//!   of waiting for the disk. Only then does the read go to the pool. Where
//!   the kernel or file system does not support the flag (`EOPNOTSUPP`,
//!   `ENOSYS`), that file's reads all use the pool. Linux only; elsewhere
//!   reads use the pool.
//! * **Writes** of at most 256 KiB to a regular file are a plain `write(2)`
//!   on the scheduler thread: a buffered write copies into the page cache
//!   and normally takes microseconds. It can stall when the kernel throttles
//!   processes that dirty pages faster than the disk takes them; so each
//!   inline write is timed, and one that takes over 2 ms sends that file's
//!   next 128 writes to the pool (with a `tracing` debug event), after
//!   which it tries inline again. Bigger writes go to the pool. (Linux has
//!   no non-blocking buffered write: `pwritev2(.., RWF_NOWAIT)` answers
//!   `EOPNOTSUPP` on ext4.)
//! * **Spreading writes over the cores**: inline, all the copying into the
//!   page cache happens on the scheduler's core. When the scheduler has
//!   other work queued (other tasks ready, or wakes waiting) and the lane
//!   has room (at most 16 such writes in flight per lane thread,
//!   process-wide), an inline-able write is copied into a recycled buffer
//!   and handed to the *write lane* — one thread per core beyond the
//!   first, sleeping when idle — while the task yields and the scheduler
//!   runs the other tasks, whose writes go inline or to the lane in turn.
//!   A lone writer (nothing else ready) always writes inline. A write
//!   that runs inline starts a run: the file's next 3 writes run inline
//!   too, without asking (so a task may keep the scheduler for 4 writes in
//!   a row, about 10 µs per 32 KiB each). On one core nothing moves.
//!   [`File::write`] and [`File::write_all`] still complete only when the
//!   OS has taken the bytes, errors included.
//! * **io_uring, opt-in**: with `CORUN_FS_URING=1` a write moved off the
//!   scheduler thread goes to this thread's io_uring instead of the lane
//!   (same copy, same table; falls back to the lane where io_uring cannot
//!   be set up). Not the default while the lane is faster on ext4 (why and
//!   the figures: `docs/design/uring-files.md`).
//! * **Always the pool**: every read and write of a file opened with
//!   `O_DIRECT`, `O_SYNC` or `O_DSYNC` (checked once at open with
//!   `fcntl(F_GETFL)`; see [`OpenOptions::custom_flags`]) or of anything
//!   that is not a regular file (a FIFO, a device); `open`/`create`
//!   (an open that may create a file waits for the other creates in its
//!   directory: the kernel runs them one at a time anyway, and one pool
//!   thread running them back to back needs no lock hand-overs),
//!   `sync_all`, `sync_data`, `metadata`, `set_len`, `seek`,
//!   `set_permissions`, and every free function of this module ([`read`],
//!   [`write()`], [`metadata`], ...).
//!
//! An inline operation completes without a yield, like a read from a
//! socket that is already readable: the `.await` returns at once. A task
//! that only does inline file I/O keeps the scheduler until it awaits
//! something that is not ready, or calls [`crate::yield_now`].
//!
//! **The exception to corun's "no hidden yield"**: a file operation that
//! does not run inline suspends the task (returns `Pending` at least once)
//! even when the OS could have completed it at once: a write moved to the
//! write lane (which happens precisely when other tasks are ready), a big
//! or throttled write, a read where `RWF_NOWAIT` is unsupported, and
//! everything listed under "Always the pool". Reads of cached data, and
//! small writes while nothing else is ready, never yield.
//!
//! # The pool
//!
//! The pool is corun's blocking pool, the one behind [`crate::unblock`]
//! (process-global, lazy, bounded by [`crate::max_blocking_threads`], FIFO;
//! its docs have the details). A job always runs to completion; dropping
//! the future that awaits it only discards its result.
//!
//! # Data copies
//!
//! Inline reads and writes use the caller's slice directly: no copy. For
//! the pool, a [`File`] owns a buffer that moves into each job and back: a
//! pool write copies the caller's bytes into it once (the caller's slice
//! cannot go to another thread); a pool read copies out of it once. A
//! write moved to the write lane copies once too, into one of a few
//! recycled buffers shared by all files, with streaming stores from 4 KiB
//! up (the lane thread on another core reads it next; see
//! `docs/design/write-placement.md`).
//! [`File::write_all_owned`] takes a `Vec` by value instead: it goes to the
//! lane or the pool itself and comes back, so no write copies.
//! `read_to_end` into an empty vector and [`read`] copy nothing.
//!
//! ```
//! corun::run(async {
//!     let dir = std::env::temp_dir().join(format!("corun-doc-fsmod-{}", std::process::id()));
//!     corun::fs::create_dir_all(&dir).await.unwrap();
//!     let path = dir.join("hello.txt");
//!     corun::fs::write(&path, "hello, file").await.unwrap();
//!     assert_eq!(corun::fs::read_to_string(&path).await.unwrap(), "hello, file");
//!     corun::fs::remove_dir_all(&dir).await.unwrap();
//! });
//! ```
//!
//! This module (and its files) must not touch the scheduler, the reactor or
//! task internals: its links to them are the `Waker` and one question
//! `placement` asks the scheduler (is other work queued?).

mod create;
mod file;
mod inline;
mod lane;
mod options;
mod placement;
mod spread;
#[cfg(target_os = "linux")]
mod uring;
/// No io_uring elsewhere: every moved write takes the lane.
#[cfg(not(target_os = "linux"))]
mod uring {
    pub(super) type Finish = crate::unblock::JobWith<std::io::Result<()>>;
    pub(super) fn enabled() -> bool {
        false
    }
    pub(super) fn write(
        _file: &std::sync::Arc<std::fs::File>,
        ticket: super::spread::Ticket,
        _finish: impl FnOnce() -> Finish,
    ) -> Result<(), super::spread::Ticket> {
        Err(ticket)
    }
    pub(crate) fn reap() -> bool {
        false
    }
    /// Always 0 here (no io_uring).
    #[doc(hidden)]
    pub fn uring_writes() -> u64 {
        0
    }
}

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

use crate::unblock;

pub use file::File;
pub use options::OpenOptions;
#[doc(hidden)]
pub use spread::spread_writes;
/// The scheduler's hook: reaps this thread's io_uring after a park.
pub(crate) use uring::reap as reap_ring;
#[doc(hidden)]
pub use uring::uring_writes;

/// Runs `f` with an owned copy of `path` on the pool.
async fn with_path<T, F>(path: &Path, f: F) -> io::Result<T>
where
    F: FnOnce(PathBuf) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.to_owned();
    unblock(move || f(path)).await
}

/// Reads a whole file into a vector.
///
/// ```
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-fsread-{}", std::process::id()));
///     corun::fs::write(&path, [1u8, 2, 3]).await.unwrap();
///     assert_eq!(corun::fs::read(&path).await.unwrap(), [1, 2, 3]);
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    with_path(path.as_ref(), std::fs::read).await
}

/// Reads a whole file as UTF-8 (`InvalidData` if it is not).
///
/// ```
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-fsrts-{}", std::process::id()));
///     corun::fs::write(&path, "text").await.unwrap();
///     assert_eq!(corun::fs::read_to_string(&path).await.unwrap(), "text");
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    with_path(path.as_ref(), std::fs::read_to_string).await
}

/// Writes `contents` to a file, creating or truncating it.
///
/// The contents move to the pool thread as a `Vec<u8>`: an owned `Vec` or
/// `String` is not copied.
///
/// ```
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-fswrite-{}", std::process::id()));
///     corun::fs::write(&path, String::from("owned, not copied")).await.unwrap();
///     assert_eq!(corun::fs::read(&path).await.unwrap(), b"owned, not copied");
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
    let contents = contents.into();
    with_path(path.as_ref(), move |p| std::fs::write(p, contents)).await
}

/// Removes a file.
///
/// ```
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-fsrm-{}", std::process::id()));
///     corun::fs::write(&path, "x").await.unwrap();
///     corun::fs::remove_file(&path).await.unwrap();
///     assert!(corun::fs::metadata(&path).await.is_err());
/// });
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::remove_file).await
}

/// Creates one directory (its parent must exist).
///
/// ```
/// corun::run(async {
///     let dir = std::env::temp_dir().join(format!("corun-doc-mkdir-{}", std::process::id()));
///     corun::fs::create_dir(&dir).await.unwrap();
///     assert!(corun::fs::metadata(&dir).await.unwrap().is_dir());
///     corun::fs::remove_dir(&dir).await.unwrap();
/// });
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::create_dir).await
}

/// Creates a directory and any missing parents.
///
/// ```
/// corun::run(async {
///     let top = std::env::temp_dir().join(format!("corun-doc-mkdirs-{}", std::process::id()));
///     corun::fs::create_dir_all(top.join("a/b")).await.unwrap();
///     assert!(corun::fs::metadata(top.join("a/b")).await.unwrap().is_dir());
///     corun::fs::remove_dir_all(&top).await.unwrap();
/// });
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::create_dir_all).await
}

/// Removes an empty directory.
///
/// ```
/// corun::run(async {
///     let dir = std::env::temp_dir().join(format!("corun-doc-rmdir-{}", std::process::id()));
///     corun::fs::create_dir(&dir).await.unwrap();
///     corun::fs::remove_dir(&dir).await.unwrap();
///     assert!(corun::fs::metadata(&dir).await.is_err());
/// });
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::remove_dir).await
}

/// Removes a directory and everything in it.
///
/// ```
/// corun::run(async {
///     let dir = std::env::temp_dir().join(format!("corun-doc-rmall-{}", std::process::id()));
///     corun::fs::create_dir_all(dir.join("sub")).await.unwrap();
///     corun::fs::write(dir.join("sub/f"), "x").await.unwrap();
///     corun::fs::remove_dir_all(&dir).await.unwrap();
///     assert!(corun::fs::metadata(&dir).await.is_err());
/// });
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::remove_dir_all).await
}

/// Queries metadata of a path, following symlinks.
///
/// ```
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-meta-{}", std::process::id()));
///     corun::fs::write(&path, "12345").await.unwrap();
///     assert_eq!(corun::fs::metadata(&path).await.unwrap().len(), 5);
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    with_path(path.as_ref(), std::fs::metadata).await
}

/// Queries metadata of a path without following a final symlink.
///
/// ```
/// corun::run(async {
///     let m = corun::fs::symlink_metadata(std::env::temp_dir()).await.unwrap();
///     assert!(m.is_dir() || m.is_symlink());
/// });
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    with_path(path.as_ref(), std::fs::symlink_metadata).await
}

/// Renames a file or directory, replacing `to` if it is a file.
///
/// ```
/// corun::run(async {
///     let a = std::env::temp_dir().join(format!("corun-doc-mv-a-{}", std::process::id()));
///     let b = std::env::temp_dir().join(format!("corun-doc-mv-b-{}", std::process::id()));
///     corun::fs::write(&a, "moved").await.unwrap();
///     corun::fs::rename(&a, &b).await.unwrap();
///     assert_eq!(corun::fs::read_to_string(&b).await.unwrap(), "moved");
///     corun::fs::remove_file(&b).await.unwrap();
/// });
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let to = to.as_ref().to_owned();
    with_path(from.as_ref(), move |from| std::fs::rename(from, to)).await
}

/// Copies a file's contents and permissions; returns the bytes copied.
///
/// ```
/// corun::run(async {
///     let a = std::env::temp_dir().join(format!("corun-doc-cp-a-{}", std::process::id()));
///     let b = std::env::temp_dir().join(format!("corun-doc-cp-b-{}", std::process::id()));
///     corun::fs::write(&a, "copy me").await.unwrap();
///     assert_eq!(corun::fs::copy(&a, &b).await.unwrap(), 7);
///     assert_eq!(corun::fs::read(&b).await.unwrap(), b"copy me");
///     corun::fs::remove_file(&a).await.unwrap();
///     corun::fs::remove_file(&b).await.unwrap();
/// });
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let to = to.as_ref().to_owned();
    with_path(from.as_ref(), move |from| std::fs::copy(from, to)).await
}

/// Sets the permissions of a path.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// corun::run(async {
///     let path = std::env::temp_dir().join(format!("corun-doc-chmod-{}", std::process::id()));
///     corun::fs::write(&path, "x").await.unwrap();
///     corun::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).await.unwrap();
///     let mode = corun::fs::metadata(&path).await.unwrap().permissions().mode();
///     assert_eq!(mode & 0o777, 0o640);
///     corun::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    with_path(path.as_ref(), move |p| std::fs::set_permissions(p, perm)).await
}

/// Lists a directory: the entries' paths, in the order the OS gives them
/// (not sorted; without `.` and `..`).
///
/// ```
/// corun::run(async {
///     let dir = std::env::temp_dir().join(format!("corun-doc-ls-{}", std::process::id()));
///     corun::fs::create_dir_all(&dir).await.unwrap();
///     corun::fs::write(dir.join("one"), "1").await.unwrap();
///     let entries = corun::fs::read_dir(&dir).await.unwrap();
///     assert_eq!(entries, vec![dir.join("one")]);
///     corun::fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    with_path(path.as_ref(), |p| {
        std::fs::read_dir(p)?.map(|e| e.map(|e| e.path())).collect()
    })
    .await
}

//! The inline fast path of [`File`](super::File): reads and writes done on
//! the scheduler thread itself when the kernel will not block, and the
//! per-file policy that decides when that is (see "What blocks and what does
//! not" in [`crate::fs`]).
//!
//! * Reads try `preadv2(.., RWF_NOWAIT)` at the current offset (Linux only):
//!   it returns the bytes when they are in the page cache and `EAGAIN` when
//!   it would have to wait for the disk; the caller then uses the pool.
//! * Writes of at most [`MAX_INLINE_WRITE`] bytes are a plain `write(2)`,
//!   timed: one slower than [`SLOW_WRITE`] (dirty-page throttling, a stalled
//!   journal) sends this file's next [`POOL_WRITES_AFTER_SLOW`] writes to
//!   the pool.
//! * Files opened with `O_DIRECT`, `O_SYNC` or `O_DSYNC`, and anything that
//!   is not a regular file (pipes, devices), never go inline.
//!
//! This file only makes syscalls on a borrowed std file and keeps per-file
//! counters: it must not touch the pool, `File`'s state machine, the
//! scheduler or the reactor.

use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Largest write done inline; bigger ones go to the pool.
pub(super) const MAX_INLINE_WRITE: usize = 256 * 1024;
/// An inline write slower than this moves the file's writes to the pool.
pub(super) const SLOW_WRITE: Duration = Duration::from_millis(2);
/// How many writes go to the pool after a slow inline write.
pub(super) const POOL_WRITES_AFTER_SLOW: u32 = 128;

/// Per-file decision: which operations may run on the scheduler thread.
#[derive(Clone, Copy, Debug)]
pub(super) struct Policy {
    /// Inline reads and writes allowed at all (a regular file without
    /// `O_DIRECT`/`O_SYNC`/`O_DSYNC`, on Linux).
    enabled: bool,
    /// `preadv2` with `RWF_NOWAIT` still worth trying (cleared when the
    /// kernel or file system does not support it).
    nowait_reads: bool,
    /// Writes still to send to the pool after a slow inline write.
    pool_writes: u32,
    /// Writes of this file still to run inline, in a row, before a write
    /// may move to the lane again.
    run_left: u32,
}

/// What to do after one `preadv2(RWF_NOWAIT)` attempt.
#[derive(Debug)]
pub(super) enum NowaitRead {
    /// The read completed inline with this many bytes (0: end of file).
    Done(usize),
    /// The data is not cached (or the call was interrupted): use the pool.
    Pool,
    /// Unsupported here: use the pool, and stop trying for this file.
    Disable,
    /// A real error, the same a blocking read would return.
    Fail(io::Error),
}

/// Classifies the outcome of `preadv2(RWF_NOWAIT)`: `ret` is its return
/// value and `errno` the error number when `ret < 0`.
pub(super) fn classify_nowait_read(ret: isize, errno: i32) -> NowaitRead {
    if ret >= 0 {
        return NowaitRead::Done(ret as usize);
    }
    match errno {
        libc::EAGAIN | libc::EINTR => NowaitRead::Pool,
        // Old kernel (no preadv2, no RWF_NOWAIT) or a file system that
        // refuses the flag.
        libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL => NowaitRead::Disable,
        e => NowaitRead::Fail(io::Error::from_raw_os_error(e)),
    }
}

/// How many of the next writes go to the pool after an inline write that
/// took `took`.
pub(super) fn pool_writes_after(took: Duration) -> u32 {
    if took > SLOW_WRITE {
        POOL_WRITES_AFTER_SLOW
    } else {
        0
    }
}

impl Policy {
    /// Everything on the pool.
    pub(super) const POOL: Policy = Policy {
        enabled: false,
        nowait_reads: false,
        pool_writes: 0,
        run_left: 0,
    };

    /// Decides once, at open, whether `f` may be read and written inline.
    /// Makes two non-blocking syscalls (`fstat`, `fcntl(F_GETFL)`).
    #[cfg(target_os = "linux")]
    pub(super) fn probe(f: &std::fs::File) -> Policy {
        use std::os::fd::AsRawFd;
        match f.metadata() {
            Ok(m) if m.file_type().is_file() => {}
            _ => return Policy::POOL,
        }
        // SAFETY: F_GETFL reads the open file's status flags; it takes no
        // pointer and `f` keeps the fd open for the duration of the call.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 || flags & (libc::O_DIRECT | libc::O_SYNC | libc::O_DSYNC) != 0 {
            return Policy::POOL;
        }
        Policy {
            enabled: true,
            nowait_reads: true,
            pool_writes: 0,
            run_left: 0,
        }
    }

    /// Elsewhere every operation uses the pool.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn probe(_f: &std::fs::File) -> Policy {
        Policy::POOL
    }

    /// True if no operation on this file runs inline.
    pub(super) fn pool_only(&self) -> bool {
        !self.enabled
    }

    /// Tries to read into `out` at the file's current offset without
    /// blocking. `None`: go to the pool.
    pub(super) fn read(&mut self, f: &std::fs::File, out: &mut [u8]) -> Option<io::Result<usize>> {
        // SAFETY: `out` is valid for writes of `out.len()` bytes.
        unsafe { self.read_raw(f, out.as_mut_ptr(), out.len()) }
    }

    /// Like [`Policy::read`], into the spare capacity of `out` (growing it
    /// first if little is left); the bytes read are appended to `out`.
    pub(super) fn read_append(
        &mut self,
        f: &std::fs::File,
        out: &mut Vec<u8>,
    ) -> Option<io::Result<usize>> {
        if out.capacity() - out.len() < 8 * 1024 {
            out.reserve(out.len().clamp(32 * 1024, super::file::MAX_CHUNK));
        }
        let spare = out.spare_capacity_mut();
        let r = {
            // SAFETY: the spare capacity is allocated and valid for writes
            // of `spare.len()` bytes; the kernel writes plain bytes there.
            unsafe { self.read_raw(f, spare.as_mut_ptr().cast(), spare.len()) }
        };
        if let Some(Ok(n)) = r {
            // SAFETY: the kernel initialised the first `n` spare bytes
            // (preadv2 returned `n`, at most the spare length).
            unsafe { out.set_len(out.len() + n) };
        }
        r
    }

    /// # Safety
    /// `ptr` must be valid for writes of `len` bytes.
    #[cfg(target_os = "linux")]
    unsafe fn read_raw(
        &mut self,
        f: &std::fs::File,
        ptr: *mut u8,
        len: usize,
    ) -> Option<io::Result<usize>> {
        use std::os::fd::AsRawFd;
        if !self.enabled || !self.nowait_reads {
            return None;
        }
        let iov = libc::iovec {
            iov_base: ptr.cast(),
            iov_len: len.min(isize::MAX as usize),
        };
        // SAFETY: `iov` describes memory valid for writes (the caller's
        // contract) and lives across the call; offset -1 reads at (and
        // advances) the file position, like read(2); `f` keeps the fd open.
        let ret = unsafe { libc::preadv2(f.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT) };
        let errno = if ret < 0 {
            io::Error::last_os_error().raw_os_error().unwrap_or(0)
        } else {
            0
        };
        match classify_nowait_read(ret, errno) {
            NowaitRead::Done(n) => Some(Ok(n)),
            NowaitRead::Pool => None,
            NowaitRead::Disable => {
                self.nowait_reads = false;
                None
            }
            NowaitRead::Fail(e) => Some(Err(e)),
        }
    }

    /// # Safety
    /// None needed here; same signature as the Linux version.
    #[cfg(not(target_os = "linux"))]
    unsafe fn read_raw(
        &mut self,
        _f: &std::fs::File,
        _ptr: *mut u8,
        _len: usize,
    ) -> Option<io::Result<usize>> {
        None
    }

    /// Whether a write of `len` bytes may run inline; counts down the
    /// writes still due to the pool after a slow one.
    pub(super) fn may_write(&mut self, len: usize) -> bool {
        if !self.enabled || len > MAX_INLINE_WRITE {
            return false;
        }
        if self.pool_writes > 0 {
            self.pool_writes -= 1;
            return false;
        }
        true
    }

    /// Whether this write stays inline as part of a run; counts it down.
    pub(super) fn in_run(&mut self) -> bool {
        if self.run_left > 0 {
            self.run_left -= 1;
            return true;
        }
        false
    }

    /// Starts a run: the next `n` writes of this file stay inline.
    pub(super) fn start_run(&mut self, n: u32) {
        self.run_left = n;
    }

    /// Writes (a prefix of) non-empty `src` on this thread, timed; only
    /// after [`Policy::may_write`] said yes.
    pub(super) fn write_now(&mut self, f: &std::fs::File, src: &[u8]) -> io::Result<usize> {
        let t0 = Instant::now();
        let r = loop {
            match (&*f).write(src) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                r => break r,
            }
        };
        let took = t0.elapsed();
        self.pool_writes = pool_writes_after(took);
        if self.pool_writes > 0 {
            tracing::debug!(
                took_us = took.as_micros() as u64,
                bytes = src.len(),
                pool_writes = self.pool_writes,
                "corun::fs: slow inline file write; next writes of this file go to the blocking pool"
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nowait_read_outcomes() {
        assert!(matches!(classify_nowait_read(0, 0), NowaitRead::Done(0)));
        assert!(matches!(classify_nowait_read(42, 0), NowaitRead::Done(42)));
        // Not in the page cache: fall back to the pool, keep trying later.
        assert!(matches!(
            classify_nowait_read(-1, libc::EAGAIN),
            NowaitRead::Pool
        ));
        assert!(matches!(
            classify_nowait_read(-1, libc::EINTR),
            NowaitRead::Pool
        ));
        for e in [libc::EOPNOTSUPP, libc::ENOSYS, libc::EINVAL] {
            assert!(matches!(classify_nowait_read(-1, e), NowaitRead::Disable));
        }
        match classify_nowait_read(-1, libc::EISDIR) {
            NowaitRead::Fail(e) => assert_eq!(e.raw_os_error(), Some(libc::EISDIR)),
            other => panic!("EISDIR classified as {other:?}"),
        }
    }

    #[test]
    fn slow_write_moves_writes_to_the_pool() {
        assert_eq!(pool_writes_after(Duration::from_micros(30)), 0);
        assert_eq!(pool_writes_after(SLOW_WRITE), 0);
        assert_eq!(
            pool_writes_after(SLOW_WRITE + Duration::from_micros(1)),
            POOL_WRITES_AFTER_SLOW
        );
    }

    #[test]
    fn pool_writes_count_down_then_inline_again() {
        let path = std::env::temp_dir().join(format!("corun-inline-unit-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let mut p = Policy::probe(&f);
        if p.pool_only() {
            // Not Linux: nothing runs inline.
            assert!(!p.may_write(1));
        } else {
            p.pool_writes = 2;
            assert!(!p.may_write(1));
            assert!(!p.may_write(1));
            assert!(p.may_write(1));
            // Too big for inline, whatever the counter says.
            assert!(!p.may_write(MAX_INLINE_WRITE + 1));
            assert!(p.may_write(MAX_INLINE_WRITE));
            // Last: the write is timed, and a slow one (under valgrind, say)
            // rightly sends the next writes to the pool again.
            assert_eq!(p.write_now(&f, b"c").unwrap(), 1);
            assert_eq!(std::fs::read(&path).unwrap(), b"c");
        }
        std::fs::remove_file(&path).unwrap();
    }
}

//! Waiting for a child to exit without blocking the scheduler: a pidfd
//! (Linux 5.3+) registered with the reactor, readable once the child has
//! exited; where pidfds are unavailable, `SIGCHLD` through
//! [`crate::signal`]. Either way the exit is collected with `waitpid`
//! (`std::process::Child::try_wait`), which also reaps the child.
//!
//! A watcher must be made before the first `try_wait` that finds the child
//! running: the `SIGCHLD` listener sees only deliveries after it was made.
//!
//! This file must not decide what happens to children nobody waits for
//! (`reaper.rs` does) nor touch task or scheduler internals.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::ExitStatus;
use std::task::{Context, Poll};

use crate::io::Async;
use crate::signal::{self, Signal, SignalKind};

/// What wakes a waiting task when the child exits.
pub(crate) enum Watcher {
    /// Readable once the process has exited.
    Pidfd(Async<OwnedFd>),
    /// Any child's exit; the waiter then asks about its own.
    Sigchld(Signal),
}

impl Watcher {
    /// A watcher for child `pid`, bound to this thread's reactor.
    pub(crate) fn new(pid: u32) -> io::Result<Watcher> {
        if !force_sigchld() {
            match pidfd_open(pid) {
                Ok(fd) => return Ok(Watcher::Pidfd(Async::new_owned(fd)?)),
                // No pidfd support (old kernel, seccomp filter): fall back.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSYS | libc::EPERM | libc::EINVAL)
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Watcher::Sigchld(signal::signal(SignalKind::child())?))
    }

    /// Ready with the exit status once `child` has exited (and is reaped).
    pub(crate) fn poll_exit(
        &mut self,
        child: &mut std::process::Child,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ExitStatus>> {
        match self {
            Watcher::Pidfd(fd) => fd.poll_read_with(cx, |_| match child.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            }),
            Watcher::Sigchld(sig) => loop {
                if let Some(status) = child.try_wait()? {
                    return Poll::Ready(Ok(status));
                }
                match sig.poll_recv(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }
}

/// For tests of the fallback: `CORUN_PROCESS_SIGCHLD=1` makes every new
/// watcher use `SIGCHLD`, as on a kernel without pidfds.
fn force_sigchld() -> bool {
    static FORCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCE.get_or_init(|| std::env::var_os("CORUN_PROCESS_SIGCHLD").is_some_and(|v| v == "1"))
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: pidfd_open takes a pid and flags (none) and returns a new fd
    // or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

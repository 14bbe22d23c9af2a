//! The few libc pieces the two programs written straight on epoll share:
//! the load generator (`load`) and the raw httpd reference row
//! (`peers::epoll_raw`). An owned epoll set, `TCP_NODELAY`, the last OS
//! error. No runtime, no policy: each caller keeps its own loop.

use std::os::fd::RawFd;

/// An owned epoll instance.
pub(crate) struct Epoll(RawFd);

impl Epoll {
    /// A new epoll set (close-on-exec).
    pub(crate) fn new() -> Result<Epoll, String> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(format!("epoll_create1: {}", last_err()));
        }
        Ok(Epoll(fd))
    }

    /// The set's fd, for `epoll_wait`.
    pub(crate) fn fd(&self) -> RawFd {
        self.0
    }

    /// `EPOLL_CTL_ADD` or `_MOD` of `fd` for `events`, tagged `token`.
    pub(crate) fn ctl(
        &self,
        op: libc::c_int,
        fd: RawFd,
        events: u32,
        token: u64,
    ) -> Result<(), String> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid event for the duration of the call.
        if unsafe { libc::epoll_ctl(self.0, op, fd, &mut ev) } < 0 {
            return Err(format!("epoll_ctl: {}", last_err()));
        }
        Ok(())
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own this fd and close it once.
        unsafe { libc::close(self.0) };
    }
}

/// Sets `TCP_NODELAY` on a TCP socket, best effort (a failure only costs
/// latency).
pub(crate) fn set_nodelay(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a valid int option value for the call; `fd` is the
    // caller's open socket.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// The calling thread's last OS error.
pub(crate) fn last_err() -> std::io::Error {
    std::io::Error::last_os_error()
}

//! [`Alarm`]: ends a park at an exact instant.
//!
//! `epoll_wait` takes its timeout in whole milliseconds (mio rounds a
//! `Duration` up), and the kernel lets a long one run late by its timer
//! slack (0.1 % of the timeout: a full millisecond for a one-second wait).
//! A timerfd armed on `CLOCK_MONOTONIC` with an absolute expiry has neither
//! limit: it fires at the nanosecond asked for, without slack. The alarm is
//! one such timerfd in the reactor's epoll set (edge-triggered, under its own
//! token); each expiry wakes `epoll_wait` once, and it is never read (a new
//! `timerfd_settime` resets it).
//!
//! It is re-armed only when the wanted instant changes or after it fired, so
//! a scheduler that parks again and again for the same timer makes one
//! `timerfd_settime` call, and one that parks with no timer makes none (an
//! alarm left armed for a cancelled timer costs at most one early wake-up).
//!
//! `std::time::Instant` reads `CLOCK_MONOTONIC` on Linux; the alarm maps
//! instants onto that clock from one pair of readings taken when it is made
//! (see [`Alarm::new`]), erring late by the nanoseconds between the two,
//! never early. An early wake-up would be harmless anyway: the scheduler
//! fires a timer only once its own clock reading has passed the deadline.
//!
//! This file knows instants only: nothing of timers, ticks or wakers.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A timerfd that ends a park at an exact instant (see the module docs).
pub(super) struct Alarm {
    fd: OwnedFd,
    /// An instant read just before `mono`.
    origin: Instant,
    /// `CLOCK_MONOTONIC` read just after `origin`: it is at or after the
    /// clock's value at `origin`.
    mono: Duration,
    /// The instant the timerfd is armed for; `None` when it is not armed
    /// (new, or it has fired).
    armed: Cell<Option<Instant>>,
}

impl Alarm {
    /// Creates the timerfd and registers it with `registry` under `token`.
    pub(super) fn new(registry: &Registry, token: Token) -> io::Result<Alarm> {
        // Miri has no timerfd (an unknown foreign call stops it, it does not
        // fail the call); the reactor already runs without an alarm, so
        // under Miri there is none and parks wait in whole milliseconds.
        if cfg!(miri) {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        // SAFETY: `timerfd_create` takes no pointers; it returns a new fd
        // or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid fd just returned to us and owned by
        // nothing else; `OwnedFd` closes it once, on drop.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let origin = Instant::now();
        let mono = monotonic_now()?;
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Alarm {
            fd,
            origin,
            mono,
            armed: Cell::new(None),
        })
    }

    /// Arms the alarm to go off at `at` (at once if `at` has passed),
    /// replacing any earlier setting. No syscall if it is already armed
    /// for exactly `at`.
    pub(super) fn set(&self, at: Instant) -> io::Result<()> {
        if self.armed.get() == Some(at) {
            return Ok(());
        }
        let expiry = match at.checked_duration_since(self.origin) {
            Some(ahead) => self.mono.saturating_add(ahead),
            // Before the alarm was made: long past, so "at once". Any
            // non-zero expiry in the past does that (zero would disarm).
            None => Duration::from_nanos(1),
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: timespec(expiry),
        };
        // SAFETY: `spec` is a valid `itimerspec` that outlives the call, the
        // old-value pointer may be null, and `self.fd` is our open timerfd.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            self.armed.set(None);
            return Err(io::Error::last_os_error());
        }
        self.armed.set(Some(at));
        Ok(())
    }

    /// Notes that the alarm went off (its event was seen): the next
    /// [`Alarm::set`] arms it again even for the same instant.
    pub(super) fn fired(&self) {
        self.armed.set(None);
    }

    /// The instant the alarm is armed for, if any.
    #[cfg(test)]
    pub(super) fn armed(&self) -> Option<Instant> {
        self.armed.get()
    }
}

/// The current `CLOCK_MONOTONIC` time.
fn monotonic_now() -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let secs = u64::try_from(ts.tv_sec).map_err(|_| io::Error::other("negative clock"))?;
    Ok(Duration::new(secs, ts.tv_nsec as u32))
}

/// `d` as a `timespec`, saturating at the largest representable time.
fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

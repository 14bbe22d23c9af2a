//! Behaviour tests of lazy registration (`Reactor::register_lazy`): the fd
//! enters epoll at its first wait and not before, no readiness is lost to
//! the late add, a creator's guess lets a pre-operation check pass without
//! epoll, a real wait on a guessed direction of a ready fd asks `poll(2)`
//! instead of returning Pending, and regular files are found out at the
//! first wait. Whether an fd
//! is in epoll is read from `/proc/self/fdinfo` of the reactor's epoll fd.
//!
//! Uses the helpers of `tests`; must NOT depend on the scheduler.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::task::Poll;

use super::tests::{counter, enter_reactor, pair, park_until, poll, wakes, woken_ready};
use super::{Interest, Reactor, Readiness};

/// Whether `fd` is in the reactor's epoll set (the `tfd:` lines of the
/// epoll fd's fdinfo).
fn in_epoll(r: &Reactor, fd: RawFd) -> bool {
    let epfd = r.poll.borrow().as_raw_fd();
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{epfd}")).unwrap();
    info.lines()
        .filter_map(|l| l.strip_prefix("tfd:"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<RawFd>().ok())
        .any(|t| t == fd)
}

#[test]
fn a_lazy_registration_enters_epoll_at_its_first_wait_and_loses_nothing() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let reg = r.register_lazy(a.as_raw_fd(), 0).unwrap();
        assert_eq!(r.registrations(), 1);
        assert!(!in_epoll(r, a.as_raw_fd()));
        // Data that arrives before the add is reported right after it.
        b.write_all(b"early").unwrap();
        let (c, w) = counter();
        // No guess: a pre-operation check waits like a real wait.
        let mut wait = reg.ready_or_guess(Interest::Read);
        assert!(poll(&mut wait, &w).is_pending(), "first wait is Pending");
        assert!(in_epoll(r, a.as_raw_fd()));
        assert!(woken_ready(r, &mut wait, &c, &w).is_readable());
        drop(wait);
        drop(reg);
        assert!(!in_epoll(r, a.as_raw_fd()), "deregistered on drop");
    });
}

#[test]
fn a_guess_passes_the_check_before_an_operation_but_not_a_real_wait() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let reg = r
            .register_lazy(a.as_raw_fd(), Readiness::READABLE.bits())
            .unwrap();
        let (c, w) = counter();
        assert!(poll(&mut reg.ready_or_guess(Interest::Read), &w).is_ready());
        assert!(!in_epoll(r, a.as_raw_fd()), "a guess costs no epoll_ctl");
        // A real wait ignores the guess: the socket has no data.
        let mut wait = reg.ready(Interest::Read);
        assert!(poll(&mut wait, &w).is_pending());
        assert!(in_epoll(r, a.as_raw_fd()));
        // Now in epoll, the guess is gone: checks go by what epoll reports.
        assert!(poll(&mut reg.ready_or_guess(Interest::Read), &w).is_pending());
        b.write_all(b"x").unwrap();
        park_until(r, || wakes(&c) > 0);
        assert!(poll(&mut wait, &w).is_ready());
    });
}

#[test]
fn a_real_wait_on_a_guessed_direction_of_a_ready_fd_is_ready_at_once() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let both = Readiness::READABLE | Readiness::WRITABLE;
        let reg = r.register_lazy(a.as_raw_fd(), both.bits()).unwrap();
        b.write_all(b"x").unwrap();
        let (_c, w) = counter();
        let Poll::Ready(Ok(got)) = poll(&mut reg.ready(Interest::Read), &w) else {
            panic!("a ready fd's first wait returned Pending");
        };
        assert!(got.is_readable());
        assert!(!in_epoll(r, a.as_raw_fd()), "found ready: no epoll_ctl");
        // Once an operation found it drained, waits go by epoll.
        (&a).read_exact(&mut [0; 1]).unwrap();
        reg.clear_readiness(Interest::Read);
        assert!(poll(&mut reg.ready(Interest::Read), &w).is_pending());
        assert!(in_epoll(r, a.as_raw_fd()));
    });
}

#[test]
fn a_cleared_guess_makes_the_next_check_wait_in_epoll() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let reg = r
            .register_lazy(a.as_raw_fd(), Readiness::READABLE.bits())
            .unwrap();
        // An operation found nothing (WouldBlock) and cleared the guess.
        reg.clear_readiness(Interest::Read);
        let (c, w) = counter();
        let mut wait = reg.ready_or_guess(Interest::Read);
        assert!(poll(&mut wait, &w).is_pending());
        assert!(in_epoll(r, a.as_raw_fd()));
        b.write_all(b"x").unwrap();
        park_until(r, || wakes(&c) > 0);
        assert!(poll(&mut wait, &w).is_ready());
    });
}

#[test]
fn a_lazy_regular_file_is_always_ready_from_its_first_wait() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let path = std::env::temp_dir().join(format!("corun-lazy-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let reg = r.register_lazy(file.as_raw_fd(), 0).unwrap();
        let (_c, w) = counter();
        for interest in [Interest::Read, Interest::Write] {
            let Poll::Ready(Ok(got)) = poll(&mut reg.ready(interest), &w) else {
                panic!("a regular file is ready at once");
            };
            assert!(got.is_readable() && got.is_writable());
        }
        assert!(!in_epoll(r, file.as_raw_fd()));
    });
}

#[test]
fn an_eager_registration_sharing_a_lazy_slot_puts_it_in_epoll() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, _b) = pair();
        let lazy = r.register_lazy(a.as_raw_fd(), 0).unwrap();
        assert!(!in_epoll(r, a.as_raw_fd()));
        let eager = r.register(a.as_raw_fd()).unwrap();
        assert_eq!(r.registrations(), 1);
        assert!(in_epoll(r, a.as_raw_fd()));
        drop(eager);
        drop(lazy);
        assert!(!in_epoll(r, a.as_raw_fd()));
    });
}

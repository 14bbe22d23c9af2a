//! Behaviour tests of the reactor: readiness, sharing, wake-all, hang-up,
//! errors, cleanup and unpark. Each test installs a fresh reactor as the
//! thread's reactor and drives futures by hand with counting wakers.
//!
//! Must NOT depend on the scheduler: the reactor is installed through a
//! test-only thread-local that `registration::with_reactor` consults first.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::{Interest, Reactor, Readiness, Registration, scheduled_io};

thread_local! {
    static INSTALLED: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

/// The reactor installed by [`enter_reactor`] on this thread.
pub(super) fn installed() -> Option<Rc<Reactor>> {
    INSTALLED.with(|c| c.borrow().clone())
}

/// Installs `reactor` as this thread's reactor while `f` runs.
pub(super) fn enter_reactor<R>(reactor: Reactor, f: impl FnOnce(&Reactor) -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            INSTALLED.with(|c| c.borrow_mut().take());
        }
    }
    let rc = Rc::new(reactor);
    INSTALLED.with(|c| *c.borrow_mut() = Some(rc.clone()));
    let _reset = Reset;
    f(&rc)
}

/// Safety net only: a park that should return at once never waits this long
/// unless the reactor is broken, in which case the test fails instead of
/// hanging.
pub(super) const NET: Option<Duration> = Some(Duration::from_secs(10));

pub(super) struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub(super) fn counter() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

pub(super) fn wakes(c: &Counter) -> usize {
    c.0.load(Ordering::SeqCst)
}

pub(super) fn poll<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// Parks until `done()` holds (at most 20 rounds).
pub(super) fn park_until(r: &Reactor, mut done: impl FnMut() -> bool) {
    for _ in 0..20 {
        if done() {
            return;
        }
        r.park(NET).unwrap();
    }
    assert!(done(), "condition not reached after 20 parks");
}

/// Parks until `c` has counted a wake, then polls `wait` again, which must
/// now be ready; returns the readiness it reports.
pub(super) fn woken_ready<F>(r: &Reactor, wait: &mut F, c: &Counter, w: &Waker) -> Readiness
where
    F: Future<Output = io::Result<Readiness>> + Unpin,
{
    park_until(r, || wakes(c) > 0);
    match poll(wait, w) {
        Poll::Ready(res) => res.unwrap(),
        Poll::Pending => panic!("woken but not ready"),
    }
}

pub(super) fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Fills `s`'s send buffer and clears its cached write readiness.
/// Runs `f` on a fresh reactor with one end `a` of a socket pair
/// registered: `f(reactor, a, the peer, a's registration)`. The
/// registration is dropped before either end closes.
fn with_pair<R>(f: impl FnOnce(&Reactor, &UnixStream, &mut UnixStream, &Registration) -> R) -> R {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let reg = r.register(a.as_raw_fd()).unwrap();
        f(r, &a, &mut b, &reg)
    })
}

/// A wait for readability on `reg`, polled once with `w`: it waits.
fn waiting_read<'a>(reg: &'a Registration, w: &Waker) -> super::Ready<'a> {
    let mut fut = reg.ready(Interest::Read);
    assert!(poll(&mut fut, w).is_pending());
    fut
}

fn fill(reg: &Registration, mut s: &UnixStream) {
    let chunk = [0u8; 65536];
    loop {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    reg.clear_readiness(Interest::Write);
}

fn ready_now(reg: &Registration, interest: Interest) -> Readiness {
    let (_c, w) = counter();
    match poll(&mut reg.ready(interest), &w) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("expected {interest:?} readiness"),
    }
}

#[test]
fn socketpair_becomes_readable_after_peer_writes() {
    with_pair(|r, _a, b, reg| {
        let (c, w) = counter();
        let mut fut = waiting_read(reg, &w);
        b.write_all(b"x").unwrap();
        let got = woken_ready(r, &mut fut, &c, &w);
        assert_eq!(wakes(&c), 1);
        assert!(got.is_readable() && !got.is_read_closed());
    });
}

#[test]
fn tcp_listener_readable_on_connect_and_stream_writable() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let lreg = r.register(listener.as_raw_fd()).unwrap();
        let (c, w) = counter();
        let mut accept = lreg.ready(Interest::Read);
        assert!(poll(&mut accept, &w).is_pending());
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_nonblocking(true).unwrap();
        let creg = r.register(client.as_raw_fd()).unwrap();
        let (cw, ww) = counter();
        let mut writable = creg.ready(Interest::Write);
        park_until(r, || {
            wakes(&c) > 0 && (wakes(&cw) > 0 || poll(&mut writable, &ww).is_ready())
        });
        assert!(poll(&mut accept, &w).is_ready());
        assert!(listener.accept().is_ok());
        assert!(ready_now(&creg, Interest::Write).is_writable());
    });
}

#[test]
fn two_readers_and_a_writer_on_one_fd_are_all_woken() {
    with_pair(|r, a, b, reg| {
        r.park(Some(Duration::ZERO)).unwrap();
        fill(reg, a);
        let waiters: Vec<_> = [Interest::Read, Interest::Read, Interest::Write]
            .into_iter()
            .map(|i| (i, counter()))
            .collect();
        let mut futs: Vec<_> = waiters.iter().map(|(i, _)| reg.ready(*i)).collect();
        for (fut, (_, (_, w))) in futs.iter_mut().zip(&waiters) {
            assert!(poll(fut, w).is_pending());
        }
        b.write_all(b"ping").unwrap();
        // Drain the peer so `a` gets send-buffer space back.
        let mut sink = vec![0u8; 1 << 20];
        while b.read(&mut sink).is_ok() {}
        park_until(r, || waiters.iter().all(|(_, (c, _))| wakes(c) > 0));
        for (fut, (i, (c, w))) in futs.iter_mut().zip(&waiters) {
            assert_eq!(wakes(c), 1, "{i:?} waiter woken once");
            assert!(poll(fut, w).is_ready(), "{i:?} waiter ready");
        }
    });
}

#[test]
fn hang_up_wakes_reader_and_writer() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, b) = pair();
        let reg = r.register(a.as_raw_fd()).unwrap();
        r.park(Some(Duration::ZERO)).unwrap();
        fill(&reg, &a);
        let (rc, rw) = counter();
        let (wc, ww) = counter();
        let mut reader = reg.ready(Interest::Read);
        let mut writer = reg.ready(Interest::Write);
        assert!(poll(&mut reader, &rw).is_pending());
        assert!(poll(&mut writer, &ww).is_pending());
        drop(b);
        park_until(r, || wakes(&rc) > 0 && wakes(&wc) > 0);
        let Poll::Ready(Ok(got)) = poll(&mut reader, &rw) else {
            panic!("reader not ready after hang-up");
        };
        assert!(got.is_read_closed());
        let Poll::Ready(Ok(got)) = poll(&mut writer, &ww) else {
            panic!("writer not ready after hang-up");
        };
        assert!(got.is_write_closed() || got.is_error());
    });
}

#[test]
fn cached_readiness_answers_without_parking() {
    with_pair(|r, a, b, reg| {
        b.write_all(b"x").unwrap();
        let (_c, w) = counter();
        let mut first = reg.ready(Interest::Read);
        park_until(r, || poll(&mut first, &w).is_ready());
        drop(first);
        // No park between: answered from the cache, twice.
        assert!(ready_now(reg, Interest::Read).is_readable());
        assert!(ready_now(reg, Interest::Read).is_readable());
        // After the user saw WouldBlock and cleared, it waits again.
        let mut buf = [0u8; 8];
        assert_eq!((&*a).read(&mut buf).unwrap(), 1);
        assert_eq!(
            (&*a).read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        reg.clear_readiness(Interest::Read);
        let (c, w) = counter();
        let mut again = waiting_read(reg, &w);
        // Nothing new arrives: a zero-timeout park wakes no one.
        r.park(Some(Duration::ZERO)).unwrap();
        assert_eq!(wakes(&c), 0);
        assert!(poll(&mut again, &w).is_pending());
    });
}

#[test]
fn invalid_and_closed_fds_give_ebadf() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let err = r.register(-1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        // A closed fd number far above the ones other tests use, so no
        // concurrent test can reuse it in between.
        let (a, _b) = pair();
        // SAFETY: F_DUPFD_CLOEXEC on a valid fd only creates a new fd, which
        // this test owns and closes below.
        let high: RawFd = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 700) };
        assert!(high >= 700);
        // SAFETY: `high` was just created above and is closed exactly once.
        assert_eq!(unsafe { libc::close(high) }, 0);
        let err = r.register(high).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        assert_eq!(r.registrations(), 0);
    });
}

#[test]
fn regular_file_is_always_ready() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let path = std::env::temp_dir().join(format!("corun-reactor-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let reg = r.register(file.as_raw_fd()).unwrap();
        for interest in [Interest::Read, Interest::Write] {
            let got = ready_now(&reg, interest);
            assert!(got.is_readable() && got.is_writable());
            reg.clear_readiness(interest);
            assert!(ready_now(&reg, interest).contains(Readiness::READABLE | Readiness::WRITABLE));
        }
        assert_eq!(r.registrations(), 1);
        drop(reg);
        assert_eq!(r.registrations(), 0);
    });
}

#[test]
fn registrations_of_one_fd_share_a_slot_and_deregister_on_last_drop() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let long_lived = r.register(a.as_raw_fd()).unwrap();
        let one_shot = r.register(a.as_raw_fd()).unwrap();
        assert_eq!(r.registrations(), 1);
        b.write_all(b"x").unwrap();
        let (_c, w) = counter();
        let mut wait = one_shot.ready(Interest::Read);
        park_until(r, || poll(&mut wait, &w).is_ready());
        drop(wait);
        // The readiness seen through one is cached for the other.
        assert!(ready_now(&long_lived, Interest::Read).is_readable());
        drop(one_shot);
        assert_eq!(r.registrations(), 1);
        drop(long_lived);
        assert_eq!(r.registrations(), 0);
        // EPOLL_CTL_DEL happened: a fresh ADD of the same fd succeeds (it
        // would fail with EEXIST otherwise) and sees the pending data again.
        let again = r.register(a.as_raw_fd()).unwrap();
        let mut wait = again.ready(Interest::Read);
        park_until(r, || poll(&mut wait, &w).is_ready());
    });
}

#[test]
fn dropped_waiter_is_removed_and_never_woken() {
    with_pair(|r, _a, b, reg| {
        let (gone, gone_w) = counter();
        let (kept, kept_w) = counter();
        let mut dropped = reg.ready(Interest::Read);
        let mut live = reg.ready(Interest::Read);
        assert!(poll(&mut dropped, &gone_w).is_pending());
        assert!(poll(&mut live, &kept_w).is_pending());
        assert_eq!(r.table.borrow().queued_waiters(), 2);
        drop(dropped);
        assert_eq!(r.table.borrow().queued_waiters(), 1);
        b.write_all(b"x").unwrap();
        park_until(r, || wakes(&kept) > 0);
        assert_eq!(wakes(&gone), 0);
        assert_eq!(r.table.borrow().queued_waiters(), 0);
    });
}

#[test]
fn woken_waiter_dropped_late_does_not_remove_the_next_waiter() {
    with_pair(|r, a, b, reg| {
        let (first, first_w) = counter();
        let early = waiting_read(reg, &first_w);
        b.write_all(b"x").unwrap();
        park_until(r, || wakes(&first) > 0);
        // Consume and clear so the next waiter really waits; its node reuses
        // the freed one while `early` still holds the old key.
        let mut buf = [0u8; 8];
        assert_eq!((&*a).read(&mut buf).unwrap(), 1);
        reg.clear_readiness(Interest::Read);
        let (second, second_w) = counter();
        let mut late = waiting_read(reg, &second_w);
        drop(early);
        assert_eq!(r.table.borrow().queued_waiters(), 1);
        b.write_all(b"y").unwrap();
        park_until(r, || wakes(&second) > 0);
        assert!(poll(&mut late, &second_w).is_ready());
    });
}

#[test]
fn repeated_poll_ready_keeps_one_waiter_and_registration_drop_frees_it() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, _b) = pair();
        let reg = r.register(a.as_raw_fd()).unwrap();
        let (_c, w) = counter();
        for _ in 0..5 {
            assert!(
                reg.poll_ready(&mut Context::from_waker(&w), Interest::Read)
                    .is_pending()
            );
        }
        assert_eq!(r.table.borrow().queued_waiters(), 1);
        drop(reg);
        assert_eq!(r.table.borrow().queued_waiters(), 0);
        assert_eq!(r.registrations(), 0);
    });
}

#[test]
fn registrations_of_one_fd_keep_their_own_poll_ready_waiters() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let first = r.register(a.as_raw_fd()).unwrap();
        let second = r.register(a.as_raw_fd()).unwrap();
        let (c1, w1) = counter();
        let (c2, w2) = counter();
        for (reg, w) in [(&first, &w1), (&second, &w2), (&first, &w1)] {
            assert!(
                reg.poll_ready(&mut Context::from_waker(w), Interest::Read)
                    .is_pending()
            );
        }
        assert_eq!(r.table.borrow().queued_waiters(), 2);
        b.write_all(b"x").unwrap();
        park_until(r, || wakes(&c1) > 0 && wakes(&c2) > 0);
        drop(first);
        // The second registration's entry is still its own after the
        // first's was freed and taken by a third.
        let (a2, _b2) = pair();
        let third = r.register(a2.as_raw_fd()).unwrap();
        let (_c3, w3) = counter();
        assert!(
            third
                .poll_ready(&mut Context::from_waker(&w3), Interest::Read)
                .is_pending()
        );
        assert!(
            second
                .poll_ready(&mut Context::from_waker(&w2), Interest::Read)
                .is_ready()
        );
        assert_eq!(r.table.borrow().queued_waiters(), 1);
    });
}

#[test]
fn a_wait_keeps_its_direction_and_node_in_one_word() {
    use super::Wait;
    for interest in [Interest::Read, Interest::Write] {
        assert!(!Wait::idle(interest).is_active());
        assert_eq!(Wait::idle(interest).interest(), interest);
        let armed = Wait::armed(interest, true);
        assert!(armed.is_active());
        assert_eq!(armed.interest(), interest);
    }
}

#[test]
fn unpark_from_another_thread_ends_park_none() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let unparker = r.unparker();
        let t = std::thread::spawn(move || unparker.unpark());
        assert_eq!(r.park(None).unwrap(), 0);
        t.join().unwrap();
        // Zero timeout only polls.
        assert_eq!(r.park(Some(Duration::ZERO)).unwrap(), 0);
    });
}

#[test]
fn foreign_thread_use_errors_and_foreign_drop_is_released_at_next_park() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, _b) = pair();
        let reg = r.register(a.as_raw_fd()).unwrap();
        let err = std::thread::spawn(move || {
            let (_c, w) = counter();
            let res = reg.poll_ready(&mut Context::from_waker(&w), Interest::Read);
            let Poll::Ready(Err(e)) = res else {
                panic!("expected an error off the reactor thread");
            };
            (e.kind(), reg)
        })
        .join()
        .unwrap();
        assert_eq!(err.0, io::ErrorKind::Other);
        let reg = err.1;
        std::thread::spawn(move || drop(reg)).join().unwrap();
        assert_eq!(r.registrations(), 1);
        r.park(Some(Duration::ZERO)).unwrap();
        assert_eq!(r.registrations(), 0);
    });
}

#[test]
fn per_fd_state_is_compact() {
    let (slot, node) = scheduled_io::sizes();
    assert!(slot <= 24, "slot is {slot} bytes");
    assert!(node <= 24, "waiter node is {node} bytes");
    assert!(std::mem::size_of::<Registration>() <= 12);
    assert_eq!(std::mem::size_of::<super::Wait>(), 8);
}

/// A table holding fd 3 with one reader and one writer waiting: the
/// table, the slot, its generation, and the two wake counters.
fn reader_and_writer() -> (scheduled_io::Table, u32, u32, Arc<Counter>, Arc<Counter>) {
    let mut table = scheduled_io::Table::default();
    let (idx, generation) = table.insert(3).unwrap();
    let (rc, rw) = counter();
    let (wc, ww) = counter();
    table.add_waiter(idx, Interest::Read, rw).unwrap();
    table.add_waiter(idx, Interest::Write, ww).unwrap();
    (table, idx, generation, rc, wc)
}

#[test]
fn hang_up_or_error_bits_alone_wake_both_directions() {
    for bits in [
        Readiness::READ_CLOSED | Readiness::WRITE_CLOSED,
        Readiness::ERROR,
    ] {
        let (mut table, idx, generation, rc, wc) = reader_and_writer();
        let mut woken = Vec::new();
        table.set_ready(idx, generation, u32::MAX, bits.bits(), &mut woken);
        woken.into_iter().for_each(Waker::wake);
        assert_eq!((wakes(&rc), wakes(&wc)), (1, 1), "{bits:?}");
        assert_eq!(table.queued_waiters(), 0);
    }
}

#[test]
fn readable_alone_wakes_only_readers_and_stale_tokens_are_ignored() {
    let (mut table, idx, generation, rc, wc) = reader_and_writer();
    let mut woken = Vec::new();
    table.set_ready(
        idx,
        generation.wrapping_add(1),
        u32::MAX,
        Readiness::READABLE.bits(),
        &mut woken,
    );
    assert!(
        woken.is_empty(),
        "event of an older registration of the slot"
    );
    table.set_ready(
        idx,
        generation,
        u32::MAX,
        Readiness::READABLE.bits(),
        &mut woken,
    );
    woken.into_iter().for_each(Waker::wake);
    assert_eq!((wakes(&rc), wakes(&wc)), (1, 0));
    assert_eq!(table.queued_waiters(), 1);
}

#[test]
fn registration_is_send_and_unparker_is_send_sync_clone() {
    fn send<T: Send>() {}
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    send::<Registration>();
    send_sync_clone::<super::Unparker>();
}

/// A watchdog that unparks `r` after a long while, so that a park the
/// alarm failed to end makes the test fail (the alarm still armed) rather
/// than hang.
fn watchdog(r: &Reactor) -> std::thread::JoinHandle<()> {
    let unparker = r.unparker();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(10));
        unparker.unpark();
    })
}

#[test]
fn park_until_never_returns_before_its_instant() {
    use std::time::Instant;
    let r = Reactor::new().unwrap();
    assert!(r.alarm.is_some(), "timerfd available on Linux");
    let _dog = watchdog(&r);
    for ahead in [0, 1, 150_000, 1_000_000, 2_300_000] {
        let at = Instant::now() + Duration::from_nanos(ahead);
        assert_eq!(r.park_until(at).unwrap(), 0);
        assert!(Instant::now() >= at, "woke before the instant ({ahead} ns)");
        assert_eq!(
            r.alarm.as_ref().unwrap().armed(),
            None,
            "the alarm ended it"
        );
    }
}

#[test]
fn park_until_rearms_for_the_same_instant_after_it_fired() {
    use std::time::Instant;
    let r = Reactor::new().unwrap();
    let _dog = watchdog(&r);
    let at = Instant::now();
    r.park_until(at).unwrap();
    // Same instant, already past: the alarm must go off again at once.
    r.park_until(at).unwrap();
    assert_eq!(
        r.alarm.as_ref().unwrap().armed(),
        None,
        "the alarm ended it"
    );
    // An instant from before the reactor existed counts as past too.
    let long_ago = Instant::now().checked_sub(Duration::from_secs(1));
    if let Some(then) = long_ago {
        r.park_until(then).unwrap();
        assert_eq!(r.alarm.as_ref().unwrap().armed(), None);
    }
}

#[test]
fn park_until_keeps_the_alarm_armed_across_an_unpark() {
    use std::time::Instant;
    let r = Reactor::new().unwrap();
    let at = Instant::now() + Duration::from_secs(3600);
    r.unparker().unpark();
    assert_eq!(r.park_until(at).unwrap(), 0);
    assert_eq!(r.alarm.as_ref().unwrap().armed(), Some(at));
    // Still armed for an hour ahead: a plain poll reports nothing.
    assert_eq!(r.park(Some(Duration::ZERO)).unwrap(), 0);
    assert_eq!(r.alarm.as_ref().unwrap().armed(), Some(at));
}

/// `park_until` ends a park with nothing to report at the instant asked
/// for, and never before it: through the timerfd alarm, and through the
/// poller's own timeout where no timerfd could be made (the fallback that
/// `Reactor::new` takes when `Alarm::new` fails).
#[test]
fn park_until_ends_at_the_instant_with_or_without_the_alarm() {
    use std::time::Instant;
    for with_alarm in [true, false] {
        let mut r = Reactor::new().unwrap();
        assert!(r.alarm.is_some(), "this kernel makes timerfds");
        if !with_alarm {
            r.alarm = None;
        }
        for wait_ms in [0, 3, 15] {
            let at = Instant::now() + Duration::from_millis(wait_ms);
            // Nothing is registered: only the deadline can end the park.
            let events = r.park_until(at).unwrap();
            assert_eq!(events, 0);
            assert!(
                Instant::now() >= at,
                "park ended before the instant (alarm: {with_alarm}, {wait_ms} ms)"
            );
        }
    }
}

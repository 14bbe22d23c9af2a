//! Behaviour tests of closing releases (`Registration::release_closing`,
//! which skips `EPOLL_CTL_DEL`): an epoll entry that outlives the close
//! through a dup must neither wake the slot's next user nor block a new
//! registration of the same file under the same fd number; and a slot whose
//! generation wrapped is never reused.
//!
//! Uses the helpers of `tests` (installed reactor, counting wakers); must NOT
//! depend on the scheduler.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::tests::{NET, counter, enter_reactor, pair, poll, wakes, woken_ready};
use super::{Interest, Reactor, scheduled_io};

#[test]
fn a_dups_events_after_a_closing_release_do_not_wake_the_slots_next_user() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let mut reg_a = r.register(a.as_raw_fd()).unwrap();
        let (old_idx, old_gen) = reg_a.slot();
        r.park(Some(Duration::ZERO)).unwrap(); // a's first state report
        // The dup keeps a's open file alive, so the close below does not
        // remove its epoll entry, which now carries a stale token.
        let dup = a.try_clone().unwrap();
        reg_a.release_closing();
        drop(a);
        drop(reg_a);
        assert_eq!(r.registrations(), 0);

        let (c, mut d) = pair();
        let reg_c = r.register(c.as_raw_fd()).unwrap();
        let (idx, generation) = reg_c.slot();
        assert_eq!(idx, old_idx, "the freed slot is reused");
        assert_ne!(generation, old_gen);
        let (cc, cw) = counter();
        let mut wait_c = reg_c.ready(Interest::Read);
        assert!(poll(&mut wait_c, &cw).is_pending());
        r.park(Some(Duration::ZERO)).unwrap(); // c's first report: writable

        // An event on the dup's entry (old token, same slot index) ...
        b.write_all(b"to the dup").unwrap();
        assert!(
            r.park(NET).unwrap() >= 1,
            "the dup's entry survived the close"
        );
        // ... neither wakes nor marks the slot's new user.
        assert_eq!(wakes(&cc), 0);
        assert!(poll(&mut wait_c, &cw).is_pending());

        d.write_all(b"to c").unwrap();
        assert!(woken_ready(r, &mut wait_c, &cc, &cw).is_readable());
        drop(dup);
    });
}

#[test]
fn same_file_under_the_same_fd_number_registers_again_after_a_closing_release() {
    enter_reactor(Reactor::new().unwrap(), |r| {
        let (a, mut b) = pair();
        let fd = a.as_raw_fd();
        let mut reg = r.register(fd).unwrap();
        r.park(Some(Duration::ZERO)).unwrap();
        let dup = a.try_clone().unwrap();
        reg.release_closing();
        drop(reg);
        // The user's `dup2(dup, fd)`: closes `fd` and makes it name the same
        // open file again, atomically (no other thread can take the number
        // in between). The (file, fd) epoll entry is still there.
        // SAFETY: both fds are open and owned here; `dup2` only replaces the
        // fd `a` owns with another reference to the same file, so `a` still
        // owns a valid fd afterwards and nothing else uses that number.
        let rc = unsafe { libc::dup2(dup.as_raw_fd(), fd) };
        assert_eq!(rc, fd, "{}", std::io::Error::last_os_error());

        // `EPOLL_CTL_ADD` says EEXIST; the reactor takes the entry over.
        let reg = r.register(fd).unwrap();
        let (c, w) = counter();
        let mut wait = reg.ready(Interest::Read);
        assert!(poll(&mut wait, &w).is_pending());
        b.write_all(b"x").unwrap();
        assert!(woken_ready(r, &mut wait, &c, &w).is_readable());
        drop(wait);
        // An ordinary release deregisters it: a fresh ADD succeeds again.
        drop(reg);
        assert!(r.register(fd).is_ok());
    });
}

#[test]
fn a_slot_whose_generation_wrapped_is_retired() {
    let mut table = scheduled_io::Table::default();
    let mut out = Vec::new();
    let (idx, generation) = table.insert(3).unwrap();
    table.release(idx, generation, &mut out);
    let (again, _) = table.insert(3).unwrap();
    assert_eq!(again, idx, "a freed slot is reused");
    table.set_generation(idx, u32::MAX);
    table.release(idx, u32::MAX, &mut out);
    let (next, next_gen) = table.insert(3).unwrap();
    assert_ne!(next, idx, "a slot back at generation 0 is not reused");
    assert_eq!(next_gen, 0);
    assert_eq!(table.live(), 1);
}

//! Tests of the io_uring write path: the ring alone (ownership of bytes in
//! flight, errors, drop), the probe's fallback, and a write reaped by the
//! scheduler's hook.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::ring::{Ring, Step, outcome_of};
use super::*;
use crate::fs::spread::test_ticket;
use crate::unblock as pool;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("corun-uring-{name}-{}", std::process::id()))
}

/// A pattern no zeroed or reused buffer would hold by chance.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// A ring, or `None` where this kernel or sandbox has no io_uring (then the
/// probe test below checks the fallback instead).
fn ring() -> Option<Ring> {
    Ring::new(8, 1).ok()
}

/// A finish that records its outcome.
fn recorder() -> (Finish, Arc<Mutex<Option<io::Result<()>>>>) {
    let out = Arc::new(Mutex::new(None));
    let o = out.clone();
    let finish: Finish = Box::new(move |r| *o.lock().unwrap() = Some(r));
    (finish, out)
}

fn reap_all(ring: &mut Ring) {
    for _ in 0..1000 {
        if ring.in_flight() == 0 {
            return;
        }
        ring.wait().unwrap();
        ring.reap();
    }
    panic!("io_uring writes never completed");
}

#[test]
fn cqe_results_become_steps_and_io_errors() {
    assert!(matches!(outcome_of(10, 32), Step::Wrote(10)));
    assert!(matches!(outcome_of(64, 32), Step::Wrote(32)));
    assert!(matches!(outcome_of(-libc::EINTR, 32), Step::Again));
    assert!(matches!(outcome_of(-libc::EAGAIN, 32), Step::Again));
    match outcome_of(0, 32) {
        Step::Done(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::WriteZero),
        other => panic!("0 bytes gave {other:?}"),
    }
    match outcome_of(-libc::ENOSPC, 32) {
        Step::Done(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSPC)),
        other => panic!("ENOSPC gave {other:?}"),
    }
}

#[test]
fn a_dropped_future_leaves_the_bytes_to_the_ring_until_the_completion() {
    let Some(mut ring) = ring() else { return };
    let path = temp("dropped");
    let file = Arc::new(std::fs::File::create(&path).unwrap());
    let data = pattern(256 * 1024);
    // The task's side: a job and its future, as `File::start_ring` makes.
    let (finish, pending) = pool::job_with(|r: io::Result<()>| r.expect("the write succeeds"));
    ring.write(file.clone(), test_ticket(&data), finish);
    ring.write(file.clone(), test_ticket(&data), Box::new(drop));
    // The future and the caller's file go while the writes are in flight;
    // the caller's bytes too (the ring has its own copy).
    drop(pending);
    drop(file);
    drop(data);
    reap_all(&mut ring);
    let mut want = pattern(256 * 1024);
    want.extend(pattern(256 * 1024));
    assert_eq!(std::fs::read(&path).unwrap(), want);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn dropping_the_ring_waits_for_its_writes() {
    let Some(mut ring) = ring() else { return };
    let path = temp("ringdrop");
    let file = Arc::new(std::fs::File::create(&path).unwrap());
    let (finish, out) = recorder();
    ring.write(file, test_ticket(&pattern(100_000)), finish);
    drop(ring);
    assert!(matches!(*out.lock().unwrap(), Some(Ok(()))));
    assert_eq!(std::fs::read(&path).unwrap(), pattern(100_000));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_failed_write_finishes_with_the_os_error() {
    let Some(mut ring) = ring() else { return };
    let path = temp("rdonly");
    std::fs::write(&path, b"x").unwrap();
    // Read-only: the kernel refuses the write with EBADF.
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    let (finish, out) = recorder();
    ring.write(file, test_ticket(b"abc"), finish);
    reap_all(&mut ring);
    match out.lock().unwrap().take() {
        Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF)),
        other => panic!("write to a read-only file gave {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"x");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_failed_setup_turns_the_path_off_once() {
    use std::sync::atomic::AtomicUsize;
    static OFF: AtomicBool = AtomicBool::new(false);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // As `kernel.io_uring_disabled` or seccomp would answer.
    fn failing(_: u32, _: u32) -> io::Result<Ring> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
    crate::run(async {
        assert!(with_ring_in(&OFF, failing, |_| ()).is_none());
        assert!(OFF.load(Ordering::Relaxed));
        // Probed once: no second setup, still no ring.
        assert!(with_ring_in(&OFF, failing, |_| ()).is_none());
    });
    assert_eq!(CALLS.load(Ordering::Relaxed), 1);
    // Off a scheduler thread there is no ring either, and no setup.
    static ON: AtomicBool = AtomicBool::new(false);
    assert!(with_ring_in(&ON, failing, |_| ()).is_none());
    assert!(!ON.load(Ordering::Relaxed));
    assert_eq!(CALLS.load(Ordering::Relaxed), 1);
}

#[test]
fn a_ring_write_is_reaped_by_the_scheduler_and_wakes_its_task() {
    let available = ring().is_some();
    let path = temp("sched");
    let file = Arc::new(std::fs::File::create(&path).unwrap());
    let data = pattern(64 * 1024);
    let d = data.clone();
    crate::run(async move {
        let mut pending = None;
        let started = write(&file, test_ticket(&d), || {
            let (finish, p) = pool::job_with(|r: io::Result<()>| r);
            pending = Some(p);
            finish
        });
        match started {
            Ok(()) => {
                assert!(available, "a ring where io_uring does not work");
                // Nothing else runs: the scheduler parks until the ring's
                // completion ends the park, then reaps it and wakes us.
                pending.expect("finish made").await.unwrap();
            }
            Err(ticket) => {
                // No io_uring here: the ticket comes back untouched.
                assert!(!available, "io_uring works but the write was refused");
                assert_eq!(ticket.bytes(), &d[..]);
                assert!(pending.is_none());
                (&*file).write_all(ticket.bytes()).unwrap();
            }
        }
    });
    assert_eq!(std::fs::read(&path).unwrap(), data);
    std::fs::remove_file(&path).unwrap();
}

use std::io::Write as _;

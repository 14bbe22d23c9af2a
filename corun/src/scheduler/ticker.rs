//! The coarse clock: a process-wide count of microseconds that one
//! background thread (`corun-ticker`) advances every [`PERIOD`] while any
//! scheduler is awake.
//!
//! Schedulers read it with one relaxed load, so they can ask "has time
//! passed?" after every poll without reading a real clock: the loop cuts a
//! batch of polls short when the count moves (so the OS poller is looked at
//! on time), and a poll during which it moved is measured for the slow-poll
//! detector and the snapshot's longest poll.
//!
//! # Protocol (no lost wake-up, no idle ticking)
//!
//! * `AWAKE` counts schedulers that are not blocked in the OS poller. A
//!   scheduler calls [`awake`] when it starts running and after every
//!   blocking wait, [`asleep`] before every blocking wait and when it stops.
//! * The ticker, after [`IDLE_TICKS`] ticks in a row with `AWAKE == 0`,
//!   stores `PARKED = true`, then reads `AWAKE`; it parks only if that is
//!   still 0. [`awake`] increments `AWAKE`, then reads `PARKED` and unparks
//!   the ticker if it is set. All four accesses are `SeqCst`, so either the
//!   ticker sees the increment or the scheduler sees `PARKED`.
//!
//! So an idle process wakes the ticker at most [`IDLE_TICKS`] times after
//! its last scheduler blocked, then not at all.
//!
//! This file only keeps time; it must not touch schedulers, tasks or the
//! reactor.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How often the coarse clock advances while a scheduler is awake: the
/// bound on how long ready I/O can go unseen while tasks keep yielding
/// (plus the poll in progress).
pub(crate) const PERIOD: Duration = Duration::from_micros(250);

/// Ticks with no scheduler awake before the ticker parks.
const IDLE_TICKS: u32 = 40;

/// Microseconds since the ticker started, as of its last tick.
static NOW_US: AtomicU64 = AtomicU64::new(0);
static AWAKE: AtomicUsize = AtomicUsize::new(0);
static PARKED: AtomicBool = AtomicBool::new(false);
static TICKER: OnceLock<Option<Thread>> = OnceLock::new();

/// The coarse clock in microseconds: exact to within [`PERIOD`] (and the
/// ticker's scheduling delay) while a scheduler is awake.
#[inline]
pub(crate) fn now_us() -> u64 {
    NOW_US.load(Ordering::Relaxed)
}

/// A scheduler stops blocking (or starts running).
pub(crate) fn awake() {
    AWAKE.fetch_add(1, Ordering::SeqCst);
    let ticker = TICKER.get_or_init(start);
    if let Some(t) = ticker {
        if PARKED.load(Ordering::SeqCst) {
            t.unpark();
        }
    }
}

/// A scheduler is about to block (or stops running).
pub(crate) fn asleep() {
    AWAKE.fetch_sub(1, Ordering::SeqCst);
}

/// Starts the ticker thread. `None` if the OS refuses a thread: schedulers
/// then look at the poller by count only, and no poll is measured.
fn start() -> Option<Thread> {
    let spawned = std::thread::Builder::new()
        .name("corun-ticker".into())
        .stack_size(64 * 1024)
        .spawn(run);
    match spawned {
        Ok(handle) => Some(handle.thread().clone()),
        Err(e) => {
            tracing::warn!("corun: no ticker thread ({e}); I/O is checked by poll count only");
            None
        }
    }
}

fn run() {
    let base = Instant::now();
    let mut idle = 0;
    loop {
        std::thread::sleep(PERIOD);
        NOW_US.store(base.elapsed().as_micros() as u64, Ordering::Relaxed);
        if AWAKE.load(Ordering::SeqCst) != 0 {
            idle = 0;
            continue;
        }
        idle += 1;
        if idle < IDLE_TICKS {
            continue;
        }
        PARKED.store(true, Ordering::SeqCst);
        while AWAKE.load(Ordering::SeqCst) == 0 {
            std::thread::park();
        }
        PARKED.store(false, Ordering::SeqCst);
        idle = 0;
    }
}

/// Keeps the count of awake schedulers right on every way out of a run,
/// panics included.
pub(crate) struct AwakeGuard(());

impl AwakeGuard {
    pub(crate) fn new() -> AwakeGuard {
        awake();
        AwakeGuard(())
    }
}

impl Drop for AwakeGuard {
    fn drop(&mut self) {
        asleep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_while_a_scheduler_is_awake() {
        let _g = AwakeGuard::new();
        let t0 = now_us();
        // Bounded: the ticker advances every PERIOD; give it 10 s at most.
        let deadline = Instant::now() + Duration::from_secs(10);
        while now_us() == t0 {
            assert!(Instant::now() < deadline, "the coarse clock never moved");
            std::thread::sleep(PERIOD);
        }
        assert!(now_us() > t0);
    }
}

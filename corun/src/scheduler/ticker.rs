//! The coarse clock: a process-wide count of microseconds since the time
//! base (`time::clock_base`) that one background thread (`corun-ticker`)
//! advances while any scheduler is awake: every [`PERIOD`] while some
//! scheduler's batches of polls run long, backing off to every
//! [`SLOW_PERIOD`] while none does.
//!
//! Schedulers read it with one relaxed load, so they can ask "has time
//! passed?" after every poll without reading a real clock: the loop cuts a
//! batch of polls short when the count moves (so the OS poller is looked at
//! on time), and a poll during which it moved is measured for the
//! slow-poll detector and the snapshot's longest poll.
//!
//! # Cadence (`docs/design/cadence.md`)
//!
//! A scheduler says after each batch whether it ran long
//! ([`AwakeGuard::batch_ended`]: the clock or the budget ended it, tasks
//! still ready, after half a [`PERIOD`] or more). While any scheduler's
//! last batch did, the gap stays [`PERIOD`]; otherwise each tick doubles
//! it, up to [`SLOW_PERIOD`]; the first long batch after none unparks the
//! ticker, so the next gap is a [`PERIOD`] at once. A server whose batches end by themselves (its tasks
//! wait on I/O) costs the process one wake-up per [`SLOW_PERIOD`], not one
//! per [`PERIOD`]. A batch that timed its lone yielder itself (the core's
//! `lone_polls`) does not count as long either: a server with one busy
//! connection among idle ones, or one CPU-bound job that yields, keeps the
//! gap at [`SLOW_PERIOD`] too.
//!
//! # Protocol (no lost wake-up, no idle ticking)
//!
//! * `AWAKE` counts schedulers that are not blocked in the OS poller. A
//!   scheduler calls [`awake`] when it starts running and after every
//!   blocking wait, [`asleep`] before every blocking wait and when it stops.
//! * The ticker, after [`IDLE_PARK`] of ticks in a row with `AWAKE == 0`,
//!   stores `PARKED = true`, then reads `AWAKE`; it parks only if that is
//!   still 0. [`awake`] increments `AWAKE`, then reads `PARKED` and unparks
//!   the ticker if it is set. All four accesses are `SeqCst`, so either the
//!   ticker sees the increment or the scheduler sees `PARKED`.
//!
//! So an idle process wakes the ticker a few times after its last
//! scheduler blocked, then not at all.
//!
//! This file only keeps time; it must not touch schedulers, tasks or the
//! reactor.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

/// The gap between ticks while batches run long: the bound on how long
/// ready I/O goes unseen while tasks keep yielding (plus the poll in
/// progress).
pub(crate) const PERIOD: Duration = Duration::from_micros(250);
/// [`PERIOD`] in the clock's unit.
pub(crate) const PERIOD_US: u64 = 250;

/// The longest gap between ticks, reached while no batch runs long: the
/// bound for the first long batch after such a quiet spell.
pub(crate) const SLOW_PERIOD: Duration = Duration::from_millis(2);

/// How long no scheduler may be awake before the ticker parks.
const IDLE_PARK: Duration = Duration::from_millis(10);

/// Microseconds since the time base, as of the last tick.
static NOW_US: AtomicU64 = AtomicU64::new(0);
static AWAKE: AtomicUsize = AtomicUsize::new(0);
static PARKED: AtomicBool = AtomicBool::new(false);
/// Schedulers whose last batch of polls ran long.
static LONG: AtomicUsize = AtomicUsize::new(0);
static TICKER: OnceLock<Option<Thread>> = OnceLock::new();

/// The coarse clock in microseconds since the time base: exact to within
/// the current gap between ticks ([`PERIOD`] to [`SLOW_PERIOD`], plus the
/// ticker's scheduling delay) while a scheduler is awake.
#[inline]
pub(crate) fn now_us() -> u64 {
    NOW_US.load(Ordering::Relaxed)
}

/// Starts the ticker now, on the calling thread's CPUs, if it is not
/// running yet. The builder calls it before it pins a core: a thread
/// inherits its creator's CPUs, and a ticker started by a pinned core
/// would share that one CPU with it for the life of the process, so that
/// core, carrying every tick's wake-up, would finish its share of a
/// fan-out last (`docs/design/many-cores.md`).
pub(crate) fn start_before_pinning() {
    TICKER.get_or_init(start);
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
    // While this may still be the process's only thread (`fd_table`).
    crate::reactor::fd_table::grow_ahead();
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

/// The gap after a tick that found `long` (some scheduler's last batch
/// ran long) and followed a gap of `gap`.
fn next_gap(gap: Duration, long: bool) -> Duration {
    if long {
        PERIOD
    } else {
        (gap * 2).min(SLOW_PERIOD)
    }
}

fn run() {
    let base = crate::time::clock_base();
    let mut gap = PERIOD;
    let mut idle = Duration::ZERO;
    loop {
        // A park, not a sleep: the first long batch after a quiet spell
        // unparks it, so the next tick comes a PERIOD later, not a SLOW_PERIOD.
        std::thread::park_timeout(gap);
        NOW_US.store(base.elapsed().as_micros() as u64, Ordering::Relaxed);
        let slept = gap;
        gap = next_gap(gap, LONG.load(Ordering::Relaxed) != 0);
        if AWAKE.load(Ordering::SeqCst) != 0 {
            idle = Duration::ZERO;
            continue;
        }
        idle += slept;
        if idle < IDLE_PARK {
            continue;
        }
        PARKED.store(true, Ordering::SeqCst);
        while AWAKE.load(Ordering::SeqCst) == 0 {
            std::thread::park();
        }
        PARKED.store(false, Ordering::SeqCst);
        idle = Duration::ZERO;
        gap = PERIOD;
    }
}

/// Keeps the count of awake schedulers, and of those whose batches run
/// long, right on every way out of a run, panics included.
pub(crate) struct AwakeGuard {
    long: std::cell::Cell<bool>,
}

impl AwakeGuard {
    pub(crate) fn new() -> AwakeGuard {
        awake();
        AwakeGuard {
            long: std::cell::Cell::new(false),
        }
    }

    /// The scheduler's last batch ran long (`true`) or not: while any
    /// scheduler's did, the ticker keeps its short gap.
    #[inline]
    pub(crate) fn batch_ended(&self, long: bool) {
        if long != self.long.get() {
            self.long.set(long);
            if long {
                if LONG.fetch_add(1, Ordering::Relaxed) == 0 {
                    // The gap may be SLOW_PERIOD: shorten it now.
                    if let Some(Some(t)) = TICKER.get() {
                        t.unpark();
                    }
                }
            } else {
                LONG.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for AwakeGuard {
    fn drop(&mut self) {
        self.batch_ended(false);
        asleep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_clock_moves_while_a_scheduler_is_awake() {
        let _g = AwakeGuard::new();
        let t0 = now_us();
        // Bounded: the ticker advances every SLOW_PERIOD at most; give it
        // 10 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        while now_us() == t0 {
            assert!(Instant::now() < deadline, "the coarse clock never moved");
            std::thread::sleep(PERIOD);
        }
        assert!(now_us() > t0);
    }

    #[test]
    fn the_gap_backs_off_to_the_slow_period_and_a_long_batch_resets_it() {
        let mut gap = PERIOD;
        let mut gaps = Vec::new();
        for _ in 0..6 {
            gap = next_gap(gap, false);
            gaps.push(gap.as_micros());
        }
        assert_eq!(gaps, [500, 1000, 2000, 2000, 2000, 2000]);
        assert_eq!(next_gap(SLOW_PERIOD, true), PERIOD);
        assert_eq!(u128::from(PERIOD_US), PERIOD.as_micros());
    }
}

//! Time: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`].
//!
//! All of them rest on [`Sleep`], which arms one entry in the scheduler's
//! timing wheel (`wheel`, ticks of 2^17 ns ≈ 131 µs, O(1) insert and
//! cancel) and removes it when dropped. Deadlines use the monotonic clock
//! and never fire early; they fire within about a tick after the deadline
//! (the scheduler parks until the exact instant a tick starts). Any duration
//! works, `Duration::MAX` included (it never fires). This module does not
//! touch the reactor or the ready queue.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::scheduler::context;
use crate::task::{Waiting, set_waiting};

mod deadline;
pub(crate) mod wheel;

use deadline::Deadline;
/// The instant scheduler clocks count their ticks from (that of deadlines).
pub(crate) use deadline::base as clock_base;

/// The current instant on corun's clock: the scheduler's virtual clock
/// inside a scheduler built with
/// [`Builder::virtual_time`](crate::Builder::virtual_time), the monotonic
/// clock (`Instant::now()`) everywhere else. Every corun timer measures
/// against it.
///
/// ```
/// use std::time::Duration;
///
/// let slept = corun::Builder::new().virtual_time(true).run(async {
///     let t0 = corun::time::now();
///     corun::sleep(Duration::from_secs(3600)).await; // returns at once
///     corun::time::now() - t0
/// });
/// assert!(slept >= Duration::from_secs(3600));
/// ```
pub fn now() -> Instant {
    context::with_core(|c| c.clock_now()).unwrap_or_else(Instant::now)
}

/// Waits until `duration` has passed.
///
/// ```
/// use std::time::{Duration, Instant};
/// corun::run(async {
///     let t0 = Instant::now();
///     corun::sleep(Duration::from_millis(20)).await;
///     assert!(t0.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    // A long sleep polled right away cannot be due yet: its first poll may
    // trust the scheduler's clock reading (see `Sleep::check_clock`).
    let check_clock = duration < SURELY_AHEAD;
    // A short sleep's first poll asks `Instant` whether it is due, so its
    // deadline is placed with `Instant` too: `sleep(ZERO)` is then ready at
    // once, exactly. Virtual time reads the scheduler's clock.
    if check_clock || context::with_core(|c| c.is_virtual()) == Some(true) {
        return Sleep::new(now().checked_add(duration), check_clock);
    }
    // A long one on the real clock: read as nanoseconds from the deadlines'
    // base, the same deadline as `now() + duration` (or a few nanoseconds
    // later), without `Instant` arithmetic.
    Sleep {
        deadline: Deadline::after(deadline::real_now_nanos(), duration),
        key: wheel::TimerKey::NONE,
        state: 0,
    }
}

/// Waits until `deadline` (at once if it has passed).
///
/// ```
/// use std::time::{Duration, Instant};
/// corun::run(async {
///     let when = Instant::now() + Duration::from_millis(5);
///     corun::sleep_until(when).await;
///     assert!(Instant::now() >= when);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(Some(deadline), true)
}

/// A first poll reads the clock itself for deadlines this close (in ticks:
/// 2 ms) to the scheduler's last clock reading, whatever `check_clock` says.
const NEAR_TICKS: u64 = 2_000_000 / crate::scheduler::core::TICK_NS;

/// `sleep(d)` for `d` at least this long skips the clock read on its
/// first poll (unless the deadline is near the scheduler's reading).
const SURELY_AHEAD: Duration = Duration::from_millis(10);

/// A timer future; see [`sleep`]. Dropping it cancels the timer.
///
/// It is `Send`, so it can live in futures given to
/// [`Scheduler::spawn`](crate::Scheduler::spawn); it arms its timer on the
/// scheduler that first polls it.
///
/// A `Sleep` is 20 bytes, 4-byte aligned: a million sleeping tasks each
/// carry one, and 8-byte alignment would round it up to 24 and a typical
/// sleeping task's cell from 96 to 104 bytes.
///
/// # Panics
///
/// When polled outside a corun scheduler thread (it needs that scheduler's
/// timing wheel); creating or dropping it anywhere is fine.
#[must_use = "futures do nothing unless awaited"]
#[repr(C, packed(4))]
pub struct Sleep {
    /// When it fires (never: `Duration::MAX`, or beyond ~292 years).
    deadline: Deadline,
    /// The pending wheel entry, valid while [`Sleep::sched`] is not 0.
    key: wheel::TimerKey,
    /// [`SCHED_MASK`] bits: the scheduler whose wheel holds `key`, or 0
    /// when not armed (scheduler numbers start at 1). [`CHECK_CLOCK`]: the
    /// deadline may already have passed when first polled (an explicit
    /// instant, a short or reset sleep), so that poll reads the clock
    /// rather than trusting the scheduler's last reading. One word for
    /// both keeps `Sleep` at 20 bytes.
    state: u32,
}

/// `Sleep::state`: the scheduler-number bits.
const SCHED_MASK: u32 = u32::MAX >> 1;
/// `Sleep::state`: the check-the-clock bit.
const CHECK_CLOCK: u32 = !SCHED_MASK;

/// A scheduler's number as a `Sleep` records it (numbers are unique
/// among the schedulers of the process until 2^31 have been created).
fn sched_number(core_id: u32) -> u32 {
    core_id & SCHED_MASK
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("armed", &(self.sched() != 0))
            .finish()
    }
}

impl Sleep {
    fn new(deadline: Option<Instant>, check_clock: bool) -> Sleep {
        Sleep {
            deadline: Deadline::new(deadline),
            key: wheel::TimerKey::NONE,
            state: if check_clock { CHECK_CLOCK } else { 0 },
        }
    }

    /// The scheduler whose wheel holds the entry, or 0 when not armed.
    fn sched(&self) -> u32 {
        self.state & SCHED_MASK
    }

    fn set_sched(&mut self, sched: u32) {
        self.state = (self.state & CHECK_CLOCK) | sched_number(sched);
    }

    /// See [`CHECK_CLOCK`].
    fn check_clock(&self) -> bool {
        self.state & CHECK_CLOCK != 0
    }

    /// When this sleep ends; `None` if never (`Duration::MAX`, or any
    /// deadline more than about 292 years away: such a sleep never fires).
    ///
    /// ```
    /// let s = corun::sleep(std::time::Duration::MAX);
    /// assert!(s.deadline().is_none());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline.get()
    }

    /// Moves the deadline (keeps the timer entry if armed).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// corun::run(async {
    ///     let mut s = Box::pin(corun::sleep(Duration::from_secs(3600)));
    ///     s.as_mut().reset(Instant::now());
    ///     s.await;
    /// });
    /// ```
    pub fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.set_deadline(Some(deadline));
    }

    /// Cancels the timer (if armed) and sets a new deadline.
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.cancel();
        self.deadline = Deadline::new(deadline);
        self.state |= CHECK_CLOCK;
    }

    /// Removes the wheel entry, if armed. Inline: a sleep that fired is
    /// disarmed already, and its completion and drop call this twice.
    #[inline]
    fn cancel(&mut self) {
        if self.sched() != 0 {
            self.cancel_armed();
        }
    }

    #[inline(never)]
    fn cancel_armed(&mut self) {
        let sched = self.sched();
        self.set_sched(0);
        let key = self.key;
        context::with_core(|core| {
            if sched_number(core.id()) == sched {
                core.timer_cancel(key);
            }
        });
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(nanos) = self.deadline.nanos() else {
            set_waiting(Waiting::SleepForever);
            return Poll::Pending;
        };
        let this = &mut *self;
        let ready = context::with_core(|core| {
            let sched = sched_number(core.id());
            // The scheduler's clock counts from the deadlines' base: no
            // `Instant` arithmetic on this path, polled twice per sleep.
            let tick = core.tick_of_nanos(nanos);
            if tick > wheel::MAX_DEADLINE {
                // Beyond what the wheel holds (not reachable with today's
                // ~292-year deadlines and 2^17 ns ticks): never fires.
                set_waiting(Waiting::SleepForever);
                return false;
            }
            if this.sched() == sched {
                if core.now_tick() >= tick {
                    // The scheduler fires every due timer right after it
                    // reads the clock, so this entry is gone already:
                    // forget the key instead of looking it up (at a million
                    // timers, that lookup is a cache miss per sleep). Should
                    // the wheel lag (the very first turn of a loop), the
                    // entry fires on the next turn as a harmless extra wake.
                    this.set_sched(0);
                    return true;
                }
                if !core.timer_set_waker(this.key, cx.waker()) {
                    // Fired, but the clock reading lags: re-arm.
                    this.key = core.timer_insert(tick, cx.waker());
                }
            } else {
                // The clock reading may lag; a fresh one (a syscall-free but
                // measurable vDSO call, once per sleep) only when the
                // deadline may have passed already (`check_clock`) or is
                // within `NEAR_TICKS` of the reading. Otherwise, should the
                // deadline have passed anyway (the thread stalled between
                // creating and polling a long sleep), it fires next turn.
                let now = core.now_tick();
                let fresh = this.check_clock() || tick.saturating_sub(now) <= NEAR_TICKS;
                if now >= tick || (fresh && this.deadline.get().is_some_and(|d| self::now() >= d)) {
                    return true;
                }
                // Armed on another scheduler before (it moved): that
                // entry fires there harmlessly; arm one here.
                this.key = core.timer_insert(tick, cx.waker());
                this.set_sched(sched);
            }
            set_waiting(Waiting::Sleep(tick));
            false
        });
        match ready {
            Some(true) => {
                this.cancel();
                Poll::Ready(())
            }
            Some(false) => Poll::Pending,
            None => panic!("{}", crate::outside::MESSAGE),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The error of [`timeout`]: the time ran out first.
///
/// ```
/// let e = corun::time::Elapsed(());
/// assert_eq!(e.to_string(), "deadline has elapsed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(pub ());

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline has elapsed")
    }
}

/// Runs `future`, giving up after `duration`: `Err(Elapsed)` then (and the
/// future is dropped).
///
/// The future is polled before the timer is looked at, so a future that is
/// ready at once wins even against a zero `duration`: `timeout(ZERO, f)`
/// asks "is `f` ready without waiting?", and never turns a ready result
/// into `Elapsed`.
///
/// ```
/// use std::time::Duration;
/// corun::run(async {
///     let slow = corun::timeout(Duration::from_millis(5), corun::sleep(Duration::from_secs(60)));
///     assert!(slow.await.is_err());
///     let fast = corun::timeout(Duration::from_secs(60), async { 3 });
///     assert_eq!(fast.await, Ok(3));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: never moved out of the
        // pinned `Timeout`, and `Timeout` has no `Drop` that moves it.
        let future = unsafe { self.as_mut().map_unchecked_mut(|t| &mut t.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // SAFETY: `Sleep` is `Unpin`; this is a plain mutable borrow.
        let sleep = unsafe { &mut self.get_unchecked_mut().sleep };
        match Pin::new(sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Ticks every `period`; the first tick is immediate. Ticks missed because
/// the task was busy are skipped, not bunched. A zero period is raised to
/// one millisecond rather than spinning. A period too long for the clock
/// (such as `Duration::MAX`) gives the immediate first tick and then none.
///
/// ```
/// use std::time::Duration;
/// corun::run(async {
///     let mut every = corun::interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         every.tick().await;
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    let period = period.max(Duration::from_millis(1));
    Interval {
        period,
        sleep: sleep_until(now()),
    }
}

/// Stream of ticks; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// corun::run(async {
    ///     let mut i = corun::interval(Duration::from_millis(1));
    ///     let a = i.tick().await;
    ///     let b = i.tick().await;
    ///     assert!(b > a);
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    ///
    /// ```
    /// use std::time::Duration;
    /// corun::run(async {
    ///     let mut i = corun::interval(Duration::from_millis(1));
    ///     std::future::poll_fn(|cx| i.poll_tick(cx)).await;
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let Some(at) = self.sleep.deadline() else {
            return Poll::Pending;
        };
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let now = now();
        let mut next = at.checked_add(self.period);
        if let Some(n) = next {
            if n <= now {
                // Behind schedule: skip the missed ticks.
                next = now.checked_add(self.period);
            }
        }
        self.sleep.set_deadline(next);
        Poll::Ready(at)
    }

    /// The period.
    ///
    /// ```
    /// let i = corun::interval(std::time::Duration::ZERO);
    /// assert_eq!(i.period(), std::time::Duration::from_millis(1));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sleeping task carries one: 20 bytes, 4-byte aligned.
    #[test]
    fn sleep_stays_small() {
        assert_eq!(std::mem::size_of::<Sleep>(), 20);
        assert_eq!(std::mem::align_of::<Sleep>(), 4);
    }

    /// The scheduler number and the clock flag share a word without
    /// disturbing each other.
    #[test]
    fn sched_and_check_clock_share_a_word() {
        let mut s = sleep_until(Instant::now());
        assert!(s.check_clock() && s.sched() == 0);
        s.set_sched(u32::MAX);
        assert_eq!(s.sched(), SCHED_MASK);
        assert!(s.check_clock());
        s.set_sched(0);
        assert!(s.check_clock() && s.sched() == 0);
        let mut t = sleep(Duration::from_secs(60));
        assert!(!t.check_clock());
        t.set_sched(7);
        assert_eq!((t.sched(), t.check_clock()), (7, false));
        // Disarmed again: dropping must not look for a wheel entry.
        t.set_sched(0);
    }

    /// Far deadlines: a century still sleeps on a timer; a millennium is
    /// beyond the compact deadline and sleeps forever. Neither fires.
    #[test]
    fn far_deadlines_sleep_and_never_fire() {
        use std::time::Duration;
        const YEAR: u64 = 86_400 * 365;
        crate::run(async {
            let century = crate::spawn(crate::sleep(Duration::from_secs(100 * YEAR)));
            let millennium = crate::spawn(crate::sleep(Duration::from_secs(1000 * YEAR)));
            crate::yield_now().await;
            let infos = crate::tasks();
            let state = |id| infos.iter().find(|i| i.id == id).map(|i| i.state.clone());
            assert!(matches!(
                state(century.id()),
                Some(crate::TaskState::Sleeping { .. })
            ));
            assert_eq!(
                state(millennium.id()),
                Some(crate::TaskState::SleepingForever)
            );
            assert!(!century.is_finished() && !millennium.is_finished());
        });
    }

    /// A long sleep created, then first polled only after the scheduler's
    /// clock reading has passed its deadline, is ready at once (no overflow
    /// in the "is it near" check).
    #[test]
    fn long_sleep_first_polled_after_its_deadline_is_ready() {
        use std::task::{Context, Waker};
        use std::time::Duration;
        crate::run(async {
            let mut s = crate::sleep(Duration::from_millis(10));
            // Blocks the thread past the deadline, then lets the scheduler
            // read its clock (a short sleep parks: one loop turn).
            std::thread::sleep(Duration::from_millis(12));
            crate::sleep(Duration::from_millis(1)).await;
            let mut cx = Context::from_waker(Waker::noop());
            assert!(std::pin::Pin::new(&mut s).poll(&mut cx).is_ready());
        });
    }

    /// A sleep that is due when first polled is ready at once, even when
    /// the scheduler read its clock long before (its first poll must not
    /// trust that reading for short sleeps or explicit instants).
    #[test]
    fn due_sleeps_are_ready_at_once_with_a_stale_clock_reading() {
        use std::task::{Context, Waker};
        use std::time::{Duration, Instant};
        crate::run(async {
            let mut cx = Context::from_waker(Waker::noop());
            // Blocks the scheduler thread: its clock reading is now at
            // least 5 ms old.
            std::thread::sleep(Duration::from_millis(5));
            let mut zero = crate::sleep(Duration::ZERO);
            assert!(std::pin::Pin::new(&mut zero).poll(&mut cx).is_ready());
            std::thread::sleep(Duration::from_millis(5));
            let mut now = crate::sleep_until(Instant::now());
            assert!(std::pin::Pin::new(&mut now).poll(&mut cx).is_ready());
        });
    }
}

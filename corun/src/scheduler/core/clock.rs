//! The scheduler's clock (ticks of [`TICK_NS`] nanoseconds since the
//! process-wide time base of `time::deadline`, read once per loop turn) and
//! its timing wheel. Futures of `crate::time` arm and cancel entries through
//! these methods; firing happens here, once per turn. This file converts
//! instants to ticks and back; it does not know how the wheel stores entries
//! (`time::wheel`) nor how a park waits (`reactor`).

use std::ptr::NonNull;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::Core;
use crate::scheduler::ticker;
use crate::task::raw::{self, Header};
use crate::task::slim_waker::SlimWaker;
use crate::time::wheel::TimerKey;

/// Length of a timer tick: 2^17 ns (about 131 µs). A deadline is rounded
/// up to a tick, so timers fire at most one tick late (plus the wake-up
/// latency of the park, which ends at the tick's exact instant). A power of
/// two keeps the conversions to shifts; 2^17 ns with 128-slot wheel levels
/// keeps a one-second sleep in the wheel's second level, so it is moved
/// (cascaded) once before it fires, like with millisecond ticks.
pub(crate) const TICK_NS: u64 = 1 << 17;

/// The shortest poll of a lone yielder that the batch times itself
/// (`Core::lone_polls`). Shorter polls are left to the budget and the
/// ticker: timing them would only add clock readings (`docs/design/cadence.md`).
const LONE_MIN_POLL_NS: u64 = 2_000;

impl Core {
    /// Ticks since the time base, as of the last clock reading.
    pub(crate) fn now_tick(&self) -> u64 {
        self.now_tick.get()
    }

    /// The first tick at or after the instant `nanos` nanoseconds after the
    /// time base (a deadline never fires early); 0 for instants before it.
    pub(crate) fn tick_of_nanos(&self, nanos: i64) -> u64 {
        // `origin` is the time base itself (see `Core::new`).
        u64::try_from(nanos).map_or(0, |ns| ns.div_ceil(TICK_NS))
    }

    /// The instant a tick stands for (its start).
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        let ns = u128::from(tick) * u128::from(TICK_NS);
        let d = Duration::new(
            u64::try_from(ns / 1_000_000_000).unwrap_or(u64::MAX),
            (ns % 1_000_000_000) as u32,
        );
        self.origin
            .checked_add(d)
            .unwrap_or(self.origin + Duration::from_secs(86400 * 365 * 100))
    }

    /// The instant on this scheduler's clock: virtual, or real.
    pub(crate) fn clock_now(&self) -> Instant {
        match &self.virtual_ns {
            Some(ns) => self.origin + Duration::from_nanos(ns.get()),
            None => Instant::now(),
        }
    }

    /// True if the clock is virtual.
    pub(crate) fn is_virtual(&self) -> bool {
        self.virtual_ns.is_some()
    }

    /// Moves the virtual clock forward to the start of `tick` (never back).
    pub(super) fn jump_to(&self, tick: u64) {
        if let Some(ns) = &self.virtual_ns {
            let at = tick.saturating_mul(TICK_NS);
            if at > ns.get() {
                ns.set(at);
            }
        }
    }

    pub(super) fn update_clock(&self) -> Instant {
        let now = self.clock_now();
        let ns = now.saturating_duration_since(self.origin).as_nanos();
        let ticks = ns / u128::from(TICK_NS);
        self.now_tick
            .set(u64::try_from(ticks).unwrap_or(u64::MAX - 1));
        // On the coarse clock's scale (microseconds since the same base),
        // but exact: the start of the batch that follows (`run_until` times
        // batches with it, `clock_moved` polls). Virtual time: the coarse
        // clock will do.
        let us = if self.is_virtual() {
            ticker::now_us()
        } else {
            u64::try_from(ns / 1000).unwrap_or(u64::MAX)
        };
        self.clock_us.set(us);
        self.since_us.set(us);
        self.batch_ns.set(u64::try_from(ns).unwrap_or(u64::MAX));
        now
    }

    /// A task yielded while no other task was ready, and the batch could
    /// poll it again at once (`yield_alone`): returns how many more polls
    /// it may give the task before the batch ends (0: end it now).
    ///
    /// The task's poll length is the batch's whole age at the first check
    /// of a batch (an upper bound), the time per poll since the last check
    /// at later ones. Polls of [`LONE_MIN_POLL_NS`] or more: as many as
    /// fit in a tick [`ticker::PERIOD`] from the batch's start, and the
    /// batch counts as timed (`lone_timed`: it does not keep the ticker
    /// fast, `docs/design/cadence.md`). Shorter polls: no limit, as
    /// before (the budget or a tick ends the batch). Cold: a check or two
    /// per batch of short polls, one per poll for polls near a tick gap.
    #[cold]
    #[inline(never)]
    pub(super) fn lone_polls(&self, left: usize) -> usize {
        if self.is_virtual() {
            // The real clock must not shape a replayable schedule.
            return usize::MAX;
        }
        let now = Instant::now().saturating_duration_since(self.origin);
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let began = self.batch_ns.get();
        let age = now_ns.saturating_sub(began).max(1);
        let per_poll = if self.lone_batch.get() == began {
            let polls = self.lone_left.get().saturating_sub(left).max(1) as u64;
            (age.saturating_sub(self.lone_age.get()) / polls).max(1)
        } else {
            age
        };
        self.lone_batch.set(began);
        self.lone_age.set(age);
        self.lone_left.set(left);
        if per_poll < LONE_MIN_POLL_NS {
            self.lone_timed.set(u64::MAX);
            usize::MAX
        } else {
            self.lone_timed.set(began);
            let more = (ticker::PERIOD_US * 1000).saturating_sub(age) / per_poll;
            usize::try_from(more).unwrap_or(usize::MAX)
        }
    }

    /// The coarse clock moved during a poll of `h` that began at or after
    /// the tick `start`: measures the poll (`slow_poll`). Runs at most once
    /// per tick, so it may read the real clock.
    #[cold]
    #[inline(never)]
    pub(super) fn clock_moved(&self, h: &Header, start: u64) {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        let now = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // The poll began after the tick `start`, after the batch began, and
        // after the last poll this function measured.
        let began = start.max(self.since_us.get());
        self.since_us.set(now);
        let ran = now.saturating_sub(began);
        if ran > 0 {
            self.long_poll(h, ran);
        }
    }

    /// Arms a timer for `waker` (a task waker is stored as its task
    /// pointer, with one reference count increment: no clone is built).
    pub(crate) fn timer_insert(&self, tick: u64, waker: &Waker) -> TimerKey {
        self.wheel
            .borrow_mut()
            .insert(tick, SlimWaker::from_ref(waker))
    }

    pub(crate) fn timer_set_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        self.wheel.borrow_mut().set_waker(key, waker)
    }

    pub(crate) fn timer_cancel(&self, key: TimerKey) {
        // Take the waker out under the borrow, drop it after: a foreign
        // waker's drop may run user code that touches timers again.
        let removed = self.wheel.borrow_mut().remove(key);
        drop(removed);
    }

    /// Wakes task `ptr` and gives up the reference the caller owned: queues
    /// it here if it is this scheduler's, else sends it to its owner (what
    /// its waker's `wake` does, without the thread-local lookup).
    ///
    /// # Safety
    /// The caller owns a reference to the live task `ptr` and gives it up.
    #[inline]
    unsafe fn wake_owned(&self, ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the task alive.
        let h = unsafe { raw::header(ptr) };
        if std::ptr::eq(h.owner_ptr(), self.shared_ptr()) {
            self.schedule(ptr);
        } else {
            h.owner().wake_remote(ptr);
        }
        // SAFETY: the caller's reference, given up once.
        unsafe { raw::ref_dec(ptr) };
    }

    pub(super) fn fire_timers(&self) -> bool {
        let now = self.now_tick.get();
        let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
        let mut any = false;
        let seeded = self.rng.is_some();
        self.wheel.borrow_mut().advance(now, |w| {
            any = true;
            // Task wakers only queue their task: wake them right here
            // instead of collecting a million of them, from the task
            // pointer (no `Waker` rebuilt, no call through its vtable).
            // Foreign wakers may run any code (even touch timers): wake
            // them after the borrow. A seeded schedule wakes them all in
            // its own order.
            if seeded {
                fired.push(w.into_waker());
                return;
            }
            match w.into_task() {
                // SAFETY: the entry owned this reference; it is given up
                // here, once.
                Ok(ptr) => unsafe { self.wake_owned(ptr) },
                Err(w) => fired.push(w),
            }
        });
        if let Some(rng) = &self.rng {
            rng.shuffle(&mut fired);
        }
        for w in fired.drain(..) {
            w.wake();
        }
        *self.fired.borrow_mut() = fired;
        any
    }
}

//! The scheduler's clock (milliseconds since it started, read once per
//! loop turn) and its timing wheel. Futures of `crate::time` arm and cancel
//! entries through these methods; firing happens here, once per turn.

use std::task::Waker;
use std::time::{Duration, Instant};

use super::Core;
use crate::time::wheel::TimerKey;

impl Core {
    /// Milliseconds since this scheduler started, as of the last reading.
    pub(crate) fn now_tick(&self) -> u64 {
        self.now_tick.get()
    }

    /// The first tick at or after `t` (a deadline never fires early).
    pub(crate) fn tick_at(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.origin);
        let ms = d.as_millis();
        let ms = if d.subsec_nanos() % 1_000_000 != 0 {
            ms + 1
        } else {
            ms
        };
        u64::try_from(ms).unwrap_or(u64::MAX - 1).min(u64::MAX - 1)
    }

    /// The instant a tick stands for.
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        self.origin
            .checked_add(Duration::from_millis(tick))
            .unwrap_or(self.origin + Duration::from_secs(86400 * 365 * 100))
    }

    pub(super) fn update_clock(&self) -> Instant {
        let now = Instant::now();
        let ms = now.saturating_duration_since(self.origin).as_millis();
        self.now_tick.set(u64::try_from(ms).unwrap_or(u64::MAX - 1));
        now
    }

    pub(crate) fn timer_insert(&self, tick: u64, waker: Waker) -> TimerKey {
        self.wheel.borrow_mut().insert(tick, waker)
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

    pub(super) fn fire_timers(&self) -> bool {
        let now = self.now_tick.get();
        let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
        let mut any = false;
        self.wheel.borrow_mut().advance(now, |w| {
            any = true;
            // Task wakers only queue their task: wake them right here
            // instead of collecting a million of them. Foreign wakers may
            // run any code (even touch timers): wake them after the borrow.
            if crate::task::waker::is_task_waker(&w) {
                w.wake();
            } else {
                fired.push(w);
            }
        });
        for w in fired.drain(..) {
            w.wake();
        }
        *self.fired.borrow_mut() = fired;
        any
    }
}
